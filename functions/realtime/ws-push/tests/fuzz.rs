//! Fuzzing ws-push's batch handling: batches of the sample's records, some damaged anywhere, with
//! bodies valid, damaged or garbage (test_support::check_batch states the properties). Poison is
//! what `parse_incoming` refuses, or a known event that breaks its contract; the stand-ins accept
//! everything, so nothing else fails.

use lambda_kit::sqs::SqsBatch;
use proptest::prelude::*;
use realtime::connections::Everyone;
use test_support::{check_batch, config, is_poison_event, sqs_batches_like};
use ws_push::{ConnectionPusher, PushError, Pusher};

/// Every push lands.
struct Lands;

impl ConnectionPusher for Lands {
    async fn push(&self, _: &str, _: &[u8]) -> Result<(), PushError> {
        Ok(())
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_pushed_or_reported_by_its_own_id((text, records) in sqs_batches_like("ws-push", "job-and-order-events")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(Pusher::new(Everyone, Lands).handle(batch));
        check_batch(&records, &outcome, is_poison_event)?;
    }
}
