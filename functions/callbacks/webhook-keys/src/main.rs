//! webhook-keys: wiring only. The stack's signing secret is read from AWS Secrets Manager on the
//! first request and again every five minutes (never from an environment variable; init makes no
//! network call).

use lambda_http::Error;
use lambda_kit::config;
use lambda_kit::secrets::{CachedSecret, REFRESH_AFTER};
use webhook_keys::KeysApi;
use webhooks::signature::SigningKeys;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (secret_id, aws) = lambda_kit::function::init(|| config::required("WEBHOOK_SECRET_ARN")).await?;
    let keys = CachedSecret::new(&aws, secret_id, REFRESH_AFTER, |text| {
        Ok(SigningKeys::from_secret(text)?)
    });
    let api = KeysApi::new(keys)?;

    // lambda_http::run, but a malformed event gets a 400 instead of a failed invocation.
    lambda_kit::http::run(|request| api.handle(request)).await
}
