//! ws-api: wiring only. The token secret is read from AWS Secrets Manager on the first `$connect`
//! and again every five minutes (lambda_kit::secrets::CachedSecret): init makes no network call.

use lambda_kit::config;
use lambda_kit::secrets::{CachedSecret, REFRESH_AFTER};
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
    let tokens = CachedSecret::new(&aws, secret_id, REFRESH_AFTER, |text| Ok(TokenKey::new(text)?));
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
