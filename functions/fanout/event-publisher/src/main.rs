//! event-publisher: wiring only.

use event_publisher::Publisher;
use lambda_kit::config;
use lambda_kit::events::EventPublisher;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// Calls per failed-through-no-fault entry before it is left to the stream's own retry.
const PUBLISH_ATTEMPTS: u32 = 3;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let topic_arn = config::required("DOMAIN_EVENTS_TOPIC_ARN")
        .inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let publisher = Publisher::new(EventPublisher::new(
        aws_sdk_sns::Client::new(&aws),
        topic_arn,
        PUBLISH_ATTEMPTS,
    ));

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        Box::pin(publisher.handle(event.payload)).await.map_err(Error::from)
    }))
    .await
}
