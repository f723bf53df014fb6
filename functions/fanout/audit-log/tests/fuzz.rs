//! Fuzzing the audit log's batch handling: batches of the sample's records, some damaged
//! anywhere, with bodies valid, damaged or garbage (test_support::check_batch states the
//! properties). Poison is what `parse_incoming` refuses; everything else is stored.

use audit_log::AuditLog;
use lambda_kit::dynamodb::MemoryRecords;
use lambda_kit::events::parse_incoming;
use lambda_kit::sqs::SqsBatch;
use proptest::prelude::*;
use test_support::{check_batch, config, sqs_batches_like};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_stored_or_reported_by_its_own_id((text, records) in sqs_batches_like("audit-log", "sns-notifications")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(AuditLog::new(MemoryRecords::new("event_id")).handle(batch));
        check_batch(&records, &outcome, |body| parse_incoming(body.unwrap_or_default()).is_err())?;
    }
}
