//! ws-api: wiring only. The token secret is read from AWS Secrets Manager on the first `$connect`
//! and again every five minutes (lambda_kit::secrets::CachedSecret); with `JWT_ISSUER` set
//! (AuthMode JWT) the issuer's keys are fetched on the first JWT (ws_api::jwt). Init makes no
//! network call.

use lambda_kit::config;
use lambda_kit::secrets::{CachedSecret, REFRESH_AFTER};
use std::convert::Infallible;

use lambda_runtime::{Error, LambdaEvent};
use realtime::connections::ConnectionsTable;
use realtime::token::TokenKey;
use serde_json::Value;
use ws_api::jwks::OidcJwks;
use ws_api::jwt::{JwtCheck, JwtRules};
use ws_api::{WsApi, WsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let ((table, secret_id, jwt), aws) = lambda_kit::function::init(|| {
        Ok::<_, config::ConfigError>((
            config::required("CONNECTIONS_TABLE")?,
            config::required("WS_TOKEN_SECRET_ARN")?,
            JwtRules::from_env()?,
        ))
    })
    .await?;
    let tokens = CachedSecret::new(&aws, secret_id, REFRESH_AFTER, |text| Ok(TokenKey::new(text)?));
    let jwt = match jwt {
        Some(rules) => {
            // The trust store init read: Mozilla's roots compiled in, and AWS_CA_BUNDLE's CAs.
            let source = OidcJwks::new(rules.issuer(), lambda_kit::tls::TrustStore::process()?)?;
            Some(JwtCheck::new(rules, source))
        }
        None => None,
    };
    let api = WsApi::new(
        ConnectionsTable::new(aws_sdk_dynamodb::Client::new(&aws), table),
        tokens,
    )
    .with_jwt(jwt);

    // Every event gets an answer (a status for API Gateway): the invocation itself never fails.
    lambda_kit::function::run(async |event: LambdaEvent<Value>| {
        Ok::<_, Infallible>(api.handle(WsEvent::read(event.payload)).await)
    })
    .await
}
