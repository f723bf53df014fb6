//! The criterion benchmarks' bodies, run a given number of times, for `valgrind --tool=callgrind`:
//! instruction counts do not move with the machine's load the way times do. bench/run.py runs
//! each benchmark with 1 and with 1 + N iterations and divides the difference by N, so set-up
//! and process start cancel out.
//!
//!     instructions <benchmark id> <iterations>     e.g. instructions sqs_batch/records_1KiB/10 11
//!     instructions --list
//!
//! `--list` (which bench/run.py calls first) also makes the RSA key the `ws_connect` benchmarks
//! sign with, once, beside the binary: a key made per run would add a random number of
//! instructions (prime search) to one run and not the other.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;

use test_support::jwt::SigningKey;

use handler_cost::{
    ORDERS_API_SAMPLES, SQS_BATCH_SIZES, SQS_BODY_BYTES, WS_CONNECT_TOKENS, order_events, orders_api,
    orders_api_request, production_logging_into_sink, publish_batch_entries, sample_event, sqs_batch,
    sqs_batch_overhead, ws_connect, ws_connect_request,
};

fn benchmark_ids() -> Vec<String> {
    let mut ids: Vec<String> = ORDERS_API_SAMPLES
        .iter()
        .map(|name| format!("orders_api/{name}"))
        .collect();
    ids.extend(
        SQS_BATCH_SIZES
            .iter()
            .map(|records| format!("sqs_batch/records_1KiB/{records}")),
    );
    ids.extend([
        "events/envelope".to_owned(),
        "events/publish_batch_entries_100".to_owned(),
    ]);
    ids.extend(WS_CONNECT_TOKENS.iter().map(|name| format!("ws_connect/{name}")));
    ids
}

/// Where the `ws_connect` benchmarks' signing key is kept (PKCS#1 DER).
fn jwt_key_file() -> PathBuf {
    std::env::current_exe()
        .expect("the binary's path")
        .with_file_name("ws-connect-key.der")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        let key = jwt_key_file();
        if !key.exists() {
            std::fs::write(&key, test_support::tls::rsa_key_der()).expect("the key file is written");
        }
        println!("{}", benchmark_ids().join("\n"));
        return ExitCode::SUCCESS;
    }
    let (Some(id), Some(Ok(iterations))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: instructions <benchmark id> <iterations> | --list");
        return ExitCode::from(2);
    };
    production_logging_into_sink();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    match id.split('/').collect::<Vec<_>>().as_slice() {
        ["orders_api", name] if ORDERS_API_SAMPLES.contains(name) => {
            let api = orders_api();
            let event = sample_event("orders-api", name);
            for _ in 0..iterations {
                runtime.block_on(orders_api_request(&api, &event));
            }
        }
        ["sqs_batch", "records_1KiB", records] => {
            let Ok(records) = records.parse() else {
                eprintln!("not a batch size: {records}");
                return ExitCode::from(2);
            };
            let event = sqs_batch(records, SQS_BODY_BYTES);
            for _ in 0..iterations {
                runtime.block_on(sqs_batch_overhead(&event));
            }
        }
        ["events", "envelope"] => {
            for _ in 0..iterations {
                black_box(order_events(1));
            }
        }
        ["events", "publish_batch_entries_100"] => {
            let events = order_events(100);
            for _ in 0..iterations {
                publish_batch_entries(&events);
            }
        }
        ["ws_connect", name] if WS_CONNECT_TOKENS.contains(name) => {
            let Ok(der) = std::fs::read(jwt_key_file()) else {
                eprintln!("no {}: run with --list first", jwt_key_file().display());
                return ExitCode::from(2);
            };
            let (api, events) = ws_connect(&SigningKey::from_der("key-1", &der));
            let (_, event) = events
                .iter()
                .find(|(token, _)| token == name)
                .expect("an event per token");
            // The key set in hand first, as in the criterion benchmark; with 1 and 1 + N
            // iterations it cancels out like the rest of the set-up.
            runtime.block_on(ws_connect_request(&api, &events[1].1));
            for _ in 0..iterations {
                runtime.block_on(ws_connect_request(&api, event));
            }
        }
        _ => {
            eprintln!("unknown benchmark {id}; --list names them");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
