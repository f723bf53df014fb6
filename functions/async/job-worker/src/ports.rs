//! What the worker needs: the job ledger (state changes). What a job type needs is that type's
//! own port, beside its runner (`work::invoice::OrderReader`).

use std::future::Future;

use chrono::{DateTime, Utc};
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::events::Envelope;

pub trait JobLedger: Send + Sync {
    fn start(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease_until_millis: i64,
    ) -> impl Future<Output = Result<Start, JobStoreError>> + Send;

    /// Records how a run ended and, in the same write, the event that reports it (if any).
    fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<&Envelope>,
    ) -> impl Future<Output = Result<bool, JobStoreError>> + Send;
}
