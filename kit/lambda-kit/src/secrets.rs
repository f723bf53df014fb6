//! Secrets from AWS Secrets Manager (feature `secrets`): the way the kit's functions get key
//! material, never through an environment variable, which the template only gives the secret's
//! ARN.
//!
//! [`CachedSecret`] reads the secret on first use, not at init, and again once the value it
//! holds is older than its `max_age` ([`REFRESH_AFTER`] by default, the AWS Parameters and
//! Secrets Lambda extension's default TTL): a rotated secret reaches every running function
//! within that time. Init stays free of a network call (`make bench` measures both).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::aws::SdkConfig;
use crate::keys::{KeyUnavailable, Keys};
use crate::telemetry::ErrorChain;

/// How long a secret's value is used before it is read again.
pub const REFRESH_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} could not be read")]
    Unreadable(String, #[source] BoxError),
    #[error("secret {0} has no string value")]
    NotAString(String),
    #[error("secret {0} is not usable")]
    Unusable(String, #[source] BoxError),
}

/// The string value of the secret `id` (an ARN or a name), read now.
pub async fn secret_string(client: &aws_sdk_secretsmanager::Client, id: &str) -> Result<String, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|error| SecretError::Unreadable(id.to_owned(), Box::new(error)))?;
    output
        .secret_string
        .ok_or_else(|| SecretError::NotAString(id.to_owned()))
}

/// A secret turned into a `T` (a key) on first use and again every `max_age`.
///
/// When a refresh fails, the value already held is kept and used (a Secrets Manager outage does
/// not stop a function that has a key); the next use tries again. Without a value, the use
/// fails with [`KeyUnavailable`]: the caller answers 503 or reports its record for a retry.
pub struct CachedSecret<T> {
    client: aws_sdk_secretsmanager::Client,
    id: String,
    max_age: Duration,
    parse: fn(&str) -> Result<T, BoxError>,
    held: tokio::sync::Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> CachedSecret<T> {
    /// Nothing is read here: the first [`CachedSecret::get`] reads.
    pub fn new(
        aws: &SdkConfig,
        id: impl Into<String>,
        max_age: Duration,
        parse: fn(&str) -> Result<T, BoxError>,
    ) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(aws),
            id: id.into(),
            max_age,
            parse,
            held: tokio::sync::Mutex::new(None),
        }
    }

    /// The current value: the one held while it is younger than `max_age`, else read again.
    /// Concurrent callers wait for one read.
    pub async fn get(&self) -> Result<Arc<T>, SecretError> {
        let mut held = self.held.lock().await;
        if let Some((read_at, value)) = held.as_ref()
            && read_at.elapsed() < self.max_age
        {
            return Ok(Arc::clone(value));
        }
        let fresh = secret_string(&self.client, &self.id)
            .await
            .and_then(|text| (self.parse)(&text).map_err(|error| SecretError::Unusable(self.id.clone(), error)));
        match (fresh, held.as_ref()) {
            (Ok(value), _) => {
                let value = Arc::new(value);
                *held = Some((Instant::now(), Arc::clone(&value)));
                Ok(value)
            }
            (Err(error), Some((_, value))) => {
                tracing::warn!(secret = %self.id, error = %ErrorChain(&error), "secret not refreshed; the value read before is used");
                Ok(Arc::clone(value))
            }
            (Err(error), None) => Err(error),
        }
    }
}

impl<T> Keys<T> for CachedSecret<T> {
    async fn current(&self) -> Result<Arc<T>, KeyUnavailable> {
        self.get().await.map_err(|error| {
            tracing::error!(secret = %self.id, error = %ErrorChain(&error), "secret not readable");
            KeyUnavailable
        })
    }
}
