//! The function's settings, read once from the environment at init.

use lambda_kit::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    pub jobs_table: String,
    pub orders_table: String,
    pub outbox_table: String,
    /// `WORKER_CONCURRENCY`: records of one batch run at the same time (default 10, the batch size).
    pub concurrency: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: config::required("JOBS_TABLE")?,
            orders_table: config::required("ORDERS_TABLE")?,
            outbox_table: config::required("OUTBOX_TABLE")?,
            concurrency: config::parsed_or("WORKER_CONCURRENCY", 10)?,
        })
    }
}
