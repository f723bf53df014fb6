//! Fuzzing the notifier's batch handling: batches of the sample's records, some damaged anywhere,
//! with bodies valid, damaged or garbage (test_support::check_batch states the properties). Poison
//! is what `parse_incoming` refuses, or a known event that breaks its contract; everything else is
//! stored.

use lambda_kit::dynamodb::MemoryRecords;
use lambda_kit::sqs::SqsBatch;
use notifier::Notifier;
use proptest::prelude::*;
use test_support::{check_batch, config, is_poison_event, sqs_batches_like};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_stored_or_reported_by_its_own_id((text, records) in sqs_batches_like("notifier", "raw-events")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(Notifier::new(MemoryRecords::new("id")).handle(batch));
        check_batch(&records, &outcome, is_poison_event)?;
    }
}
