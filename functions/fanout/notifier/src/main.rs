//! notifier: wiring only.

use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};
use notifier::Notifier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (table, aws) = lambda_kit::function::init(|| config::required("NOTIFICATIONS_TABLE")).await?;
    let notifier = Notifier::new(DynamoDbRecords::new(aws_sdk_dynamodb::Client::new(&aws), table, "id"));

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| notifier.handle(event.payload).await).await
}
