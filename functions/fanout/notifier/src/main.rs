//! notifier: wiring only.

use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use notifier::Notifier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let table = config::required("NOTIFICATIONS_TABLE")
        .inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let notifier = Notifier::new(DynamoDbRecords::new(aws_sdk_dynamodb::Client::new(&aws), table, "id"));

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsBatch>| async {
        Box::pin(notifier.handle(event.payload)).await.map_err(Error::from)
    }))
    .await
}
