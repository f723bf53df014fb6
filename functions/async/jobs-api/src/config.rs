//! The function's settings, read once from the environment at init.

use std::time::Duration;

use contracts::callback::{Policy, Ports}; // starter: with callbacks
use lambda_kit::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    pub jobs_table: String,
    pub idempotency_table: String,
    pub jobs_queue_url: String,
    /// `IDEMPOTENCY_TTL_SECONDS`, default one day.
    pub idempotency_ttl: Duration,
    /// `JWT_CUSTOMER_CLAIM`, set with AuthMode JWT only: the claim of the caller's token that
    /// names the customer its jobs are for (see `JobsApi::with_customer_claim`).
    pub customer_claim: Option<String>,
    // starter: with callbacks
    /// Which callback URLs jobs may name: https on public hosts, and under the local stack with
    /// `LOCAL_WEBHOOKS_ALLOW_LOOPBACK=true` also http on loopback.
    pub callbacks: Policy,
    // starter: end
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: config::required("JOBS_TABLE")?,
            idempotency_table: config::required("IDEMPOTENCY_TABLE")?,
            jobs_queue_url: config::required("JOBS_QUEUE_URL")?,
            idempotency_ttl: Duration::from_secs(config::parsed_or("IDEMPOTENCY_TTL_SECONDS", 86_400)?),
            customer_claim: config::optional("JWT_CUSTOMER_CLAIM"),
            // starter: with callbacks
            callbacks: Policy {
                allow_loopback_http: lambda_kit::local::switch(lambda_kit::local::ALLOW_LOOPBACK_CALLBACKS),
                ports: config::parsed_or("CALLBACK_PORTS", Ports::DEFAULT)?,
            },
            // starter: end
        })
    }
}
