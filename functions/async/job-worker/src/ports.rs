//! What the worker needs: the job ledger (state changes). What a kind of job needs is that
//! kind's own port, beside it in `jobs::kinds` (filled in `jobs::kinds::Services`).
//! The invoice job's is `jobs::kinds::invoice::OrderReader`. // starter: with sync

use std::future::Future;

use chrono::{DateTime, Utc};
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::events::Envelope; // starter: with fanout|events

pub trait JobLedger: Send + Sync {
    fn start(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease_until_millis: i64,
    ) -> impl Future<Output = Result<Start, JobStoreError>> + Send;

    /// Records how a run ended.
    /// In the same write, the event that reports it (if any). // starter: with fanout|events
    fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<&Envelope>, // starter: with fanout|events
    ) -> impl Future<Output = Result<bool, JobStoreError>> + Send;
}
