//! One orders-api request, from the bytes Lambda sends to the answer it returns: the payload-2.0
//! event parsed into a request, routed, the body read and validated, the order priced, its
//! event built, the 201 (or problem) body serialized and the request's log line written.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use handler_cost::{production_logging_into_sink, sample_event};
use orders_api::config::Settings;
use orders_api::handler::OrdersApi;
use orders_api::ports::AcceptingStore;

fn orders_api(c: &mut Criterion) {
    production_logging_into_sink();
    let api = OrdersApi::new(AcceptingStore, Settings::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("orders_api");
    for name in [
        "create-order",
        "create-order-idempotent",
        "invalid-fields",
        "malformed-json",
        "unknown-route",
    ] {
        let event = sample_event("orders-api", name);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let request = lambda_http::request::from_str(black_box(&event)).expect("a sample event parses");
                let response = api.handle(request).await;
                black_box(response.into_body())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, orders_api);
criterion_main!(benches);
