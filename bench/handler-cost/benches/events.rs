//! The event-publishing path without the network: building `order.created` envelopes and
//! turning a stream batch's worth (100) into `PublishBatch` entries, ten per call.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use handler_cost::{order_events, publish_batch_entries};

fn events(c: &mut Criterion) {
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(1));
    group.bench_function("envelope", |b| b.iter(|| black_box(order_events(1))));

    let events = order_events(100);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("publish_batch_entries_100", |b| {
        b.iter(|| publish_batch_entries(&events))
    });
    group.finish();
}

criterion_group!(benches, events);
criterion_main!(benches);
