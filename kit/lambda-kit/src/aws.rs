//! AWS SDK configuration shared by every client of a function.

pub use aws_config::SdkConfig;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::tls::{TlsError, TrustStore};

/// The SDK configuration with the process's trust store ([`TrustStore::process`]); fails only
/// when `AWS_CA_BUNDLE` names an unusable file. [`crate::function::init`] calls [`load_with`].
pub async fn load() -> Result<SdkConfig, &'static TlsError> {
    Ok(load_with(TrustStore::process()?).await)
}

/// Loads the SDK configuration once, at init; build every client from it.
///
/// The standard settings apply: on Lambda the region and credentials come from the execution
/// environment; locally `AWS_ENDPOINT_URL` points every client at the emulator. Loading it once
/// and sharing it keeps the credential and HTTP connection set-up out of the request path.
///
/// The HTTPS client trusts the roots of [`crate::tls`] (compiled in, plus `AWS_CA_BUNDLE`), not
/// the platform's certificate store: reading that store was most of a cold start's init.
///
/// Credentials: Lambda puts the function's role credentials in the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so where they are there,
/// only the environment is read. The default chain (profiles, web identity, container and
/// instance metadata) builds an STS client and more at init — about a third of a function's init
/// instructions (`make bench`) — and is used only where the environment has no key.
pub async fn load_with(trust: &TrustStore) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(trust.sdk())
        .build_https();
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client);
    let loader = if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|key| !key.is_empty()) {
        loader.credentials_provider(EnvironmentVariableCredentialsProvider::new())
    } else {
        loader
    };
    loader.load().await
}
