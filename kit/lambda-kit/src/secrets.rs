//! Secrets read at init from AWS Secrets Manager (feature `secrets`): the way the kit's functions
//! get key material, never through an environment variable, which the template only gives the
//! secret's ARN.

use crate::aws::SdkConfig;
use crate::telemetry::ErrorChain;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} could not be read")]
    Unreadable(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("secret {0} has no string value")]
    NotAString(String),
}

/// The string value of the secret `id` (an ARN or a name). Called once per execution environment;
/// a rotated secret reaches the next cold start.
pub async fn secret_string(aws: &SdkConfig, id: &str) -> Result<String, SecretError> {
    let output = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|error| {
            tracing::error!(secret = id, error = %ErrorChain(&error), "secret not readable");
            SecretError::Unreadable(id.to_owned(), Box::new(error))
        })?;
    output
        .secret_string
        .ok_or_else(|| SecretError::NotAString(id.to_owned()))
}
