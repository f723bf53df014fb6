//! One orders-api request per iteration (`handler_cost::orders_api_request`).

use criterion::{Criterion, criterion_group, criterion_main};
use handler_cost::{ORDERS_API_SAMPLES, orders_api, orders_api_request, production_logging_into_sink, sample_event};

fn orders_api_requests(c: &mut Criterion) {
    production_logging_into_sink();
    let api = orders_api();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("orders_api");
    for name in ORDERS_API_SAMPLES {
        let event = sample_event("orders-api", name);
        group.bench_function(name, |b| b.to_async(&runtime).iter(|| orders_api_request(&api, &event)));
    }
    group.finish();
}

criterion_group!(benches, orders_api_requests);
criterion_main!(benches);
