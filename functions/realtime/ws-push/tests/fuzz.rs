//! Fuzzing ws-push's batch handling: batches of the sample's records, some damaged anywhere, with
//! bodies valid, damaged or garbage (test_support::check_batch states the properties). Poison is
//! what `parse_incoming` refuses, or a known event that breaks its contract; the stand-ins accept
//! everything, so nothing else fails.

use chrono::{DateTime, Utc};
use lambda_kit::sqs::SqsBatch;
use proptest::prelude::*;
use realtime::connections::{ConnectionStore, StoreError};
use realtime::topic::Topic;
use test_support::{check_batch, config, is_poison_event, sqs_batches_like};
use ws_push::{ConnectionPusher, PushError, Pusher};

/// Every topic has one follower, and every push lands.
struct Everyone;

impl ConnectionStore for Everyone {
    async fn open(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn customer_of(&self, _: &str, _: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        Ok(Some("c-42".into()))
    }
    async fn subscribe(&self, _: &str, _: &[Topic], _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn subscribers(&self, topic: &Topic, _: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(vec![topic.key()])
    }
    async fn close(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

impl ConnectionPusher for Everyone {
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
        let outcome = runtime.block_on(Pusher::new(Everyone, Everyone).handle(batch));
        check_batch(&records, &outcome, is_poison_event)?;
    }
}
