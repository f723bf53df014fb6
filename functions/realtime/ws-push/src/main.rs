//! ws-push: wiring only.

use lambda_kit::config;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};
use realtime::connections::ConnectionsTable;
use ws_push::{ManagementApi, Pusher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let ((table, endpoint), aws) = lambda_kit::function::init(|| {
        config::required("CONNECTIONS_TABLE").and_then(|table| Ok((table, config::required("WS_MANAGEMENT_ENDPOINT")?)))
    })
    .await?;
    let pusher = Pusher::new(
        ConnectionsTable::new(aws_sdk_dynamodb::Client::new(&aws), table),
        ManagementApi::new(&aws, &endpoint),
    );

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| pusher.handle(event.payload).await).await
}
