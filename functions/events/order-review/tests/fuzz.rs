//! Fuzzing order-review's batch handling: batches of the sample's records, some damaged anywhere,
//! with bodies valid, damaged or garbage (test_support::check_batch states the properties). Poison
//! is what is not a bus event (or whose detail-type is not its event's type), or a known event
//! that breaks its contract; everything else is stored or ignored.

use lambda_kit::dynamodb::MemoryRecords;
use lambda_kit::events::Event;
use lambda_kit::sqs::SqsBatch;
use order_review::{OrderReview, bus_event_in};
use proptest::prelude::*;
use test_support::{check_batch, config, sqs_batches_like};

fn is_poison(body: Option<&str>) -> bool {
    match bus_event_in(body.unwrap_or_default()) {
        Err(_) => true,
        Ok(event) => Event::read(&event.detail).is_err(),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_stored_or_reported_by_its_own_id((text, records) in sqs_batches_like("order-review", "review-batch")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(OrderReview::new(MemoryRecords::new("event_id")).handle(batch));
        check_batch(&records, &outcome, is_poison)?;
    }
}
