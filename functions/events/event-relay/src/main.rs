//! event-relay: wiring only.

use event_relay::{PutEventsBus, Relay};
use lambda_kit::config;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// Calls per entry that failed through no fault of its own before it is left to the stream's retry.
const PUT_ATTEMPTS: u32 = 3;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (bus, aws) = lambda_kit::function::init(|| config::required("EVENT_BUS_NAME")).await?;
    let relay = Relay::new(
        PutEventsBus::new(aws_sdk_eventbridge::Client::new(&aws), bus),
        PUT_ATTEMPTS,
    );

    lambda_kit::function::run(async |event: LambdaEvent<Value>| relay.handle(event.payload).await).await
}
