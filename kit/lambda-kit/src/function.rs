//! The two ends of every function's `main`: [`init`] before the clients are built, [`run`] once
//! the handler exists. What lies between (which clients, which handler) is the function's own.

use aws_config::SdkConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::BoxError;
use crate::telemetry::ErrorChain;
use crate::tls::TrustStore;

/// Sets up logging (see [`crate::telemetry`]), reads the function's configuration with `config`
/// (a failure is logged once, as one line, and ends the init: Lambda reports it as an init error
/// and retries the cold start), reads the process's trust store ([`TrustStore::process`]: the
/// compiled-in roots and `AWS_CA_BUNDLE`), and loads the SDK configuration every client is built
/// from.
pub async fn init<C, E>(config: impl FnOnce() -> Result<C, E>) -> Result<(C, SdkConfig), BoxError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    crate::telemetry::init();
    let config = config().inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let trust = TrustStore::process()
        .inspect_err(|error| tracing::error!(error = %ErrorChain(*error), "trust store unusable"))?;
    Ok((config, crate::aws::load_with(trust).await))
}

/// Runs `handler` on the Lambda runtime for events of type `T`: each invocation's answer is
/// `handler`'s `Ok`, and its `Err` fails the invocation (the event source's retry rules apply).
/// Counts the cold start first (`ColdStart`, [`crate::metrics`]).
///
/// The handler's future is boxed: a batch handler's future is deep enough to overflow rustc's
/// layout query depth when the runtime's own future types wrap it unboxed.
pub async fn run<T, R, E>(handler: impl AsyncFn(LambdaEvent<T>) -> Result<R, E>) -> Result<(), lambda_runtime::Error>
where
    T: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError>,
{
    let handler = &handler;
    // Once per process, just before its first invocation (see crate::metrics).
    crate::metrics::cold_start();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<T>| async move {
        Box::pin(handler(event)).await.map_err(Into::<BoxError>::into)
    }))
    .await
}
