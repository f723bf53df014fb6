//! The function's settings, read once from the environment at init.

use lambda_kit::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    pub jobs_table: String,
    /// `ORDERS_TABLE`: the sync pattern's orders, which the invoice job reads. Set where that
    /// pattern is deployed; without it the worker runs no invoice jobs (the API takes none).
    pub orders_table: Option<String>,
    /// `OUTBOX_TABLE`: where the events of finished jobs go. Set where the fan-out pattern is
    /// deployed; without it jobs finish and no event leaves.
    pub outbox_table: Option<String>,
    /// `WORKER_CONCURRENCY`: records of one batch run at the same time (default 10, the batch size).
    pub concurrency: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: config::required("JOBS_TABLE")?,
            orders_table: config::optional("ORDERS_TABLE"),
            outbox_table: config::optional("OUTBOX_TABLE"),
            concurrency: config::parsed_or("WORKER_CONCURRENCY", 10)?,
        })
    }
}
