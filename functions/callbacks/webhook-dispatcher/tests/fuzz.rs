//! Fuzzing the dispatcher's batch handling: batches of the sample's records, some damaged anywhere,
//! with bodies valid, damaged or garbage (test_support::check_batch states the properties). Poison
//! is what `parse_incoming` refuses, or a known event that breaks its contract; every delivery is
//! accepted here, so nothing else may fail.

use contracts::callback::{CallbackUrl, Policy};
use http::StatusCode;
use lambda_kit::sqs::SqsBatch;
use proptest::prelude::*;
use std::sync::Arc;
use test_support::{check_batch, config, is_poison_event, sqs_batches_like};
use webhook_dispatcher::{Dispatcher, SendError, SignedHeaders, WebhookSender};
use webhooks::signature::SigningKeys;

struct Accepting;

impl WebhookSender for Accepting {
    async fn post(&self, _: &CallbackUrl, _: &SignedHeaders, _: Vec<u8>) -> Result<StatusCode, SendError> {
        Ok(StatusCode::OK)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_delivered_or_reported_by_its_own_id((text, records) in sqs_batches_like("webhook-dispatcher", "job-events")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let key = SigningKeys::from_secret("a-fuzzing-signing-secret-of-enough-bytes").expect("key");
        let outcome = runtime.block_on(Dispatcher::new(Accepting, Arc::new(key), Policy::default()).handle(batch));
        check_batch(&records, &outcome, is_poison_event)?;
    }
}
