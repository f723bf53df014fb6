//! large-order-alert: wiring only.

use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_runtime::{Error, LambdaEvent};
use large_order_alert::LargeOrderAlert;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (table, aws) = lambda_kit::function::init(|| config::required("NOTIFICATIONS_TABLE")).await?;
    let alert = LargeOrderAlert::new(DynamoDbRecords::new(aws_sdk_dynamodb::Client::new(&aws), table, "id"));

    lambda_kit::function::run(async |event: LambdaEvent<Value>| alert.handle(event.payload).await).await
}
