//! customer-activity: wiring only.

use customer_activity::CustomerActivity;
use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (table, aws) = lambda_kit::function::init(|| config::required("CUSTOMER_ACTIVITY_TABLE")).await?;
    let activity = CustomerActivity::new(DynamoDbRecords::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        "customer_id",
    ));

    lambda_kit::function::run(async |event: LambdaEvent<Value>| activity.handle(event.payload).await).await
}
