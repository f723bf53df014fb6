//! audit-log: wiring only.

use audit_log::AuditLog;
use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (table, aws) = lambda_kit::function::init(|| config::required("AUDIT_LOG_TABLE")).await?;
    let audit_log = AuditLog::new(DynamoDbRecords::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        "event_id",
    ));

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| audit_log.handle(event.payload).await).await
}
