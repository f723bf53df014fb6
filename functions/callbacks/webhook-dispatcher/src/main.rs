//! webhook-dispatcher: wiring only. The signing secret is read from AWS Secrets Manager once per
//! execution environment (never from an environment variable), the HTTPS client built once
//! with the process's trust store.

use contracts::callback::Policy;
use lambda_kit::config;
use lambda_kit::local::{self, ALLOW_LOOPBACK_CALLBACKS};
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};
use webhook_dispatcher::Dispatcher;
use webhook_dispatcher::sender::HttpsSender;
use webhooks::signature::SigningKey;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (secret_id, aws) = lambda_kit::function::init(|| config::required("WEBHOOK_SECRET_ARN")).await?;
    let policy = Policy {
        allow_loopback_http: local::switch(ALLOW_LOOPBACK_CALLBACKS),
    };
    let secret = lambda_kit::secrets::secret_string(&aws, &secret_id).await?;
    let key =
        SigningKey::from_secret(&secret).inspect_err(|error| tracing::error!(%error, "signing secret unusable"))?;
    // The trust store init read: Mozilla's roots compiled in, and AWS_CA_BUNDLE's CAs.
    let trust = lambda_kit::tls::TrustStore::process()?;
    let dispatcher = Dispatcher::new(HttpsSender::new(policy, trust), key, policy);

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| dispatcher.handle(event.payload).await).await
}
