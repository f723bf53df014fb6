//! ws-api: wiring only. The token secret is read from AWS Secrets Manager once per execution
//! environment.

use lambda_kit::config;
use std::convert::Infallible;

use lambda_runtime::{Error, LambdaEvent};
use realtime::connections::ConnectionsTable;
use realtime::token::TokenKey;
use serde_json::Value;
use ws_api::{WsApi, WsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let ((table, secret_id), aws) = lambda_kit::function::init(|| {
        config::required("CONNECTIONS_TABLE").and_then(|table| Ok((table, config::required("WS_TOKEN_SECRET_ARN")?)))
    })
    .await?;
    let secret = lambda_kit::secrets::secret_string(&aws, &secret_id).await?;
    let tokens = TokenKey::new(&secret).inspect_err(|error| tracing::error!(%error, "token secret unusable"))?;
    let api = WsApi::new(
        ConnectionsTable::new(aws_sdk_dynamodb::Client::new(&aws), table),
        tokens,
    );

    // Every event gets an answer (a status for API Gateway): the invocation itself never fails.
    lambda_kit::function::run(async |event: LambdaEvent<Value>| {
        Ok::<_, Infallible>(api.handle(WsEvent::read(event.payload)).await)
    })
    .await
}
