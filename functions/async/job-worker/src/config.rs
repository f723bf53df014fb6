//! The function's settings, read once from the environment at init.

use lambda_kit::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    pub jobs_table: String,
    /// `ORDERS_TABLE`: the orders orders-api keeps, which the invoice job reads. // starter: with sync
    pub orders_table: String, // starter: with sync
    /// `OUTBOX_TABLE`: where the events of finished jobs go. // starter: with fanout|events
    pub outbox_table: String, // starter: with fanout|events
    /// `WORKER_CONCURRENCY`: records of one batch run at the same time (default 10, the batch size).
    pub concurrency: usize,
    /// `JOBS_MAX_RECEIVES`: the jobs queue's `maxReceiveCount` (default 5): on that delivery a
    /// transient failure fails the job instead of dead-lettering its message.
    pub max_receives: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: config::required("JOBS_TABLE")?,
            orders_table: config::required("ORDERS_TABLE")?, // starter: with sync
            outbox_table: config::required("OUTBOX_TABLE")?, // starter: with fanout|events
            concurrency: config::parsed_or("WORKER_CONCURRENCY", 10)?,
            max_receives: config::parsed_or("JOBS_MAX_RECEIVES", crate::handler::DEFAULT_MAX_RECEIVES)?,
        })
    }
}
