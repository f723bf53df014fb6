//! webhook-dispatcher: wiring only. The signing secret is read from AWS Secrets Manager once per
//! execution environment (never from an environment variable), the HTTPS client built once.

use contracts::callback::Policy;
use lambda_kit::config;
use lambda_kit::local::{self, ALLOW_LOOPBACK_CALLBACKS};
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use webhook_dispatcher::Dispatcher;
use webhook_dispatcher::sender::HttpsSender;
use webhooks::signature::SigningKey;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let secret_id =
        config::required("WEBHOOK_SECRET_ARN").inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let policy = Policy {
        allow_loopback_http: local::switch(ALLOW_LOOPBACK_CALLBACKS),
    };
    let aws = lambda_kit::aws::load().await;
    let secret = lambda_kit::secrets::secret_string(&aws, &secret_id).await?;
    let key =
        SigningKey::from_secret(&secret).inspect_err(|error| tracing::error!(%error, "signing secret unusable"))?;
    let dispatcher = Dispatcher::new(HttpsSender::new(policy)?, key, policy);

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsBatch>| async {
        Box::pin(dispatcher.handle(event.payload)).await.map_err(Error::from)
    }))
    .await
}
