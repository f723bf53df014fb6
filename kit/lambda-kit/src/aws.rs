//! AWS SDK configuration shared by every client of a function.

pub use aws_config::SdkConfig;

/// Loads the SDK configuration once, at init; build every client from it.
///
/// The standard settings apply: on Lambda the region and credentials come from the execution
/// environment; locally `AWS_ENDPOINT_URL` points every client at the emulator. Loading it once
/// and sharing it keeps the credential and HTTP connection set-up out of the request path.
pub async fn load() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
