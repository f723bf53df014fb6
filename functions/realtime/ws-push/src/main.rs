//! ws-push: wiring only.

use lambda_kit::config;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use realtime::connections::ConnectionsTable;
use ws_push::{ManagementApi, Pusher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let (table, endpoint) = config::required("CONNECTIONS_TABLE")
        .and_then(|table| Ok((table, config::required("WS_MANAGEMENT_ENDPOINT")?)))
        .inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let pusher = Pusher::new(
        ConnectionsTable::new(aws_sdk_dynamodb::Client::new(&aws), table),
        ManagementApi::new(&aws, &endpoint),
    );

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsBatch>| async {
        Box::pin(pusher.handle(event.payload)).await.map_err(Error::from)
    }))
    .await
}
