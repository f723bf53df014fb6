//! audit-log: wiring only.

use audit_log::AuditLog;
use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let table =
        config::required("AUDIT_LOG_TABLE").inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let audit_log = AuditLog::new(DynamoDbRecords::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        "event_id",
    ));

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsBatch>| async {
        Box::pin(audit_log.handle(event.payload)).await.map_err(Error::from)
    }))
    .await
}
