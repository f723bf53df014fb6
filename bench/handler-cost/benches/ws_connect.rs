//! One ws-api `$connect` per iteration (`handler_cost::ws_connect_request`): with the kit's own
//! token (an HMAC-SHA256) and with a JWT (an RS256 signature, the claims), the key set at hand.

use criterion::{Criterion, criterion_group, criterion_main};
use handler_cost::{production_logging_into_sink, ws_connect, ws_connect_request};

fn ws_connects(c: &mut Criterion) {
    production_logging_into_sink();
    let (api, events) = ws_connect(&test_support::jwt::SigningKey::new("key-1"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    // The first JWT puts the key set in hand; the iterations measure the check alone.
    runtime.block_on(ws_connect_request(&api, &events[1].1));
    let mut group = c.benchmark_group("ws_connect");
    for (name, event) in &events {
        group.bench_function(*name, |b| b.to_async(&runtime).iter(|| ws_connect_request(&api, event)));
    }
    group.finish();
}

criterion_group!(benches, ws_connects);
criterion_main!(benches);
