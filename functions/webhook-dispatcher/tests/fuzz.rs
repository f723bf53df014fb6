//! Fuzzing the dispatcher's batch handling: batches of the sample's records, some damaged
//! anywhere, with bodies valid, damaged or garbage (test_support::check_batch states the
//! properties). Poison is what `parse_incoming` refuses; every delivery is accepted here, so
//! nothing else may fail.

use http::StatusCode;
use lambda_kit::events::parse_incoming;
use lambda_kit::sqs::SqsBatch;
use proptest::prelude::*;
use test_support::{check_batch, config, sqs_batches_like};
use webhook_dispatcher::{Dispatcher, SendError, SignedHeaders, WebhookSender};
use webhooks::signature::SigningKey;
use webhooks::target::{CallbackUrl, Policy};

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
        let key = SigningKey::from_secret("a-fuzzing-signing-secret-of-enough-bytes").expect("key");
        let outcome = runtime.block_on(Dispatcher::new(Accepting, key, Policy::default()).handle(batch));
        check_batch(&records, &outcome, |body| parse_incoming(body.unwrap_or_default()).is_err())?;
    }
}
