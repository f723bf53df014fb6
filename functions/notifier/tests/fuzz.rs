//! Fuzzing the notifier's batch handling: batches of the sample's records, some damaged
//! anywhere, with bodies valid, damaged or garbage (test_support::check_batch states the
//! properties). Poison is what `parse_incoming` refuses; everything else is stored.

use lambda_kit::dynamodb::{BoxError, Item, RecordStore};
use lambda_kit::events::parse_incoming;
use lambda_kit::sqs::SqsBatch;
use notifier::Notifier;
use proptest::prelude::*;
use test_support::{check_batch, config, sample_event, sqs_batch, sqs_bodies};

struct Accepting;

impl RecordStore for Accepting {
    async fn put_once(&self, _: Item) -> Result<bool, BoxError> {
        Ok(true)
    }
}

fn batches() -> impl Strategy<Value = (String, Vec<test_support::FuzzRecord>)> {
    let sample = sample_event("notifier", "raw-events");
    let records = sample["Records"].as_array().cloned().unwrap_or_default();
    let bodies = records
        .iter()
        .filter_map(|r| r["body"].as_str().map(str::to_owned))
        .collect();
    sqs_batch(records[0].clone(), sqs_bodies(bodies))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_stored_or_reported_by_its_own_id((text, records) in batches()) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(Notifier::new(Accepting).handle(batch));
        check_batch(&records, &outcome, |body| parse_incoming(body.unwrap_or_default()).is_err())?;
    }
}
