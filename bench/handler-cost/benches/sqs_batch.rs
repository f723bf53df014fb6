//! The per-record overhead of `lambda_kit::sqs::process_batch`: the event's bytes parsed, each
//! record deserialized on its own, run under its own span and panic guard, and the answer
//! built. The record function itself does nothing, so what is left is the helper's cost.
//! Throughput is per record: criterion reports the time per element.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use handler_cost::{production_logging_into_sink, sqs_batch};
use lambda_kit::sqs::{SqsBatch, process_batch};

const BODY_BYTES: usize = 1024;

fn sqs_batch_overhead(c: &mut Criterion) {
    production_logging_into_sink();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("sqs_batch");
    for records in [10, 10_000] {
        let event = sqs_batch(records, BODY_BYTES);
        group.throughput(Throughput::Elements(records as u64));
        group.bench_with_input(BenchmarkId::new("records_1KiB", records), &event, |b, event| {
            b.to_async(&runtime).iter(|| async {
                let event: SqsBatch = serde_json::from_slice(black_box(event)).expect("the batch parses");
                let response = process_batch(event, 10, |message| async move {
                    black_box(message.body.as_deref().map(str::len));
                    Ok::<(), Infallible>(())
                })
                .await
                .expect("a well-formed batch");
                black_box(response.batch_item_failures.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sqs_batch_overhead);
criterion_main!(benches);
