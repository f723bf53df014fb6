//! order-review: wiring only.

use lambda_kit::config;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};
use order_review::OrderReview;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (table, aws) = lambda_kit::function::init(|| config::required("REVIEWS_TABLE")).await?;
    let review = OrderReview::new(DynamoDbRecords::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        "event_id",
    ));

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| review.handle(event.payload).await).await
}
