//! The function's settings, read once from the environment at init.

use std::time::Duration;

use lambda_kit::config::{self, ConfigError};

use crate::order::TaxRate;

/// Everything the orders API reads from its environment (set by `template.yaml`).
#[derive(Debug, Clone)]
pub struct Config {
    pub orders_table: String,
    pub idempotency_table: String,
    /// `OUTBOX_TABLE`: where order events go, in the transaction of the order. // starter: with fanout|events
    pub outbox_table: String, // starter: with fanout|events
    pub settings: Settings,
}

/// The behaviour settings of the API, apart from where data lives.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TAX_RATE_BASIS_POINTS`, default 2000 (20 %).
    pub tax_rate: TaxRate,
    /// `IDEMPOTENCY_TTL_SECONDS`, default one day: how long a key protects against duplicates.
    pub idempotency_ttl: Duration,
    /// `JWT_CUSTOMER_CLAIM`, set with AuthMode JWT only: the claim of the caller's token that
    /// names the customer it acts for; an order for any other customer is refused (403). Unset,
    /// the body's `customer_id` is taken as sent: IAM callers are services acting for customers,
    /// and on an open API nothing tells callers apart.
    pub customer_claim: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tax_rate: TaxRate::DEFAULT,
            idempotency_ttl: Duration::from_secs(86_400),
            customer_claim: None,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        Ok(Self {
            orders_table: config::required("ORDERS_TABLE")?,
            idempotency_table: config::required("IDEMPOTENCY_TABLE")?,
            outbox_table: config::required("OUTBOX_TABLE")?, // starter: with fanout|events
            settings: Settings {
                tax_rate: config::parsed_or("TAX_RATE_BASIS_POINTS", defaults.tax_rate)?,
                idempotency_ttl: Duration::from_secs(config::parsed_or(
                    "IDEMPOTENCY_TTL_SECONDS",
                    defaults.idempotency_ttl.as_secs(),
                )?),
                customer_claim: config::optional("JWT_CUSTOMER_CLAIM"),
            },
        })
    }
}
