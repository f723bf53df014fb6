//! event-publisher: wiring only.

use event_publisher::Publisher;
use lambda_kit::config;
use lambda_kit::sns::EventPublisher;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// Calls per failed-through-no-fault entry before it is left to the stream's own retry.
const PUBLISH_ATTEMPTS: u32 = 3;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (topic_arn, aws) = lambda_kit::function::init(|| config::required("DOMAIN_EVENTS_TOPIC_ARN")).await?;
    let publisher = Publisher::new(EventPublisher::new(
        aws_sdk_sns::Client::new(&aws),
        topic_arn,
        PUBLISH_ATTEMPTS,
    ));

    lambda_kit::function::run(async |event: LambdaEvent<Value>| publisher.handle(event.payload).await).await
}
