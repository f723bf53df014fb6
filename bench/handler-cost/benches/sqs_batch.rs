//! The per-record overhead of `lambda_kit::sqs::process_batch` (`handler_cost::sqs_batch_overhead`):
//! the event's bytes parsed, each record read on its own, run under its own span and panic
//! guard, and the answer built. Throughput is per record: criterion reports the time per element.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use handler_cost::{SQS_BATCH_SIZES, SQS_BODY_BYTES, production_logging_into_sink, sqs_batch, sqs_batch_overhead};

fn sqs_batch_per_record(c: &mut Criterion) {
    production_logging_into_sink();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("sqs_batch");
    for records in SQS_BATCH_SIZES {
        let event = sqs_batch(records, SQS_BODY_BYTES);
        group.throughput(Throughput::Elements(records as u64));
        group.bench_with_input(BenchmarkId::new("records_1KiB", records), &event, |b, event| {
            b.to_async(&runtime).iter(|| sqs_batch_overhead(event))
        });
    }
    group.finish();
}

criterion_group!(benches, sqs_batch_per_record);
criterion_main!(benches);
