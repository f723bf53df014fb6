//! ws-api: wiring only. The token secret is read from AWS Secrets Manager once per execution
//! environment.

use lambda_kit::config;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use realtime::connections::ConnectionsTable;
use realtime::token::TokenKey;
use serde_json::Value;
use ws_api::{WsApi, WsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let (table, secret_id) = config::required("CONNECTIONS_TABLE")
        .and_then(|table| Ok((table, config::required("WS_TOKEN_SECRET_ARN")?)))
        .inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let secret = lambda_kit::secrets::secret_string(&aws, &secret_id).await?;
    let tokens = TokenKey::new(&secret).inspect_err(|error| tracing::error!(%error, "token secret unusable"))?;
    let api = WsApi::new(
        ConnectionsTable::new(aws_sdk_dynamodb::Client::new(&aws), table),
        tokens,
    );

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<_, Error>(api.handle(WsEvent::read(event.payload)).await)
    }))
    .await
}
