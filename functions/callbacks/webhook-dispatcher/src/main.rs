//! webhook-dispatcher: wiring only. The signing secret (the current key, and while rotating the
//! previous one after it) is read from AWS Secrets Manager on the first delivery and again every
//! five minutes (never from an environment variable; init makes
//! no network call), the HTTPS client built once with the process's trust store.

use contracts::callback::{Policy, Ports};
use lambda_kit::config;
use lambda_kit::local::{self, ALLOW_LOOPBACK_CALLBACKS};
use lambda_kit::secrets::{CachedSecret, REFRESH_AFTER};
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};
use webhook_dispatcher::Dispatcher;
use webhook_dispatcher::sender::HttpsSender;
use webhooks::signature::SigningKeys;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let ((secret_id, ports), aws) = lambda_kit::function::init(|| {
        Ok::<_, config::ConfigError>((
            config::required("WEBHOOK_SECRET_ARN")?,
            config::parsed_or("CALLBACK_PORTS", Ports::DEFAULT)?,
        ))
    })
    .await?;
    let policy = Policy {
        allow_loopback_http: local::switch(ALLOW_LOOPBACK_CALLBACKS),
        ports,
    };
    let keys = CachedSecret::new(&aws, secret_id, REFRESH_AFTER, |text| {
        Ok(SigningKeys::from_secret(text)?)
    });
    // The trust store init read: Mozilla's roots compiled in, and AWS_CA_BUNDLE's CAs.
    let trust = lambda_kit::tls::TrustStore::process()?;
    let dispatcher = Dispatcher::new(HttpsSender::new(policy, trust), keys, policy);

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| dispatcher.handle(event.payload).await).await
}
