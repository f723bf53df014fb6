//! One record's life, and the batch answer.
//!
//! | what the record is                       | what happens                          | answer      |
//! |------------------------------------------|---------------------------------------|-------------|
//! | not a job message (poison)               | nothing                               | failure: redelivered, then DLQ |
//! | a job that does not exist                | nothing                               | failure: redelivered, then DLQ |
//! | a finished job (repeated delivery)       | nothing: no side effect repeats       | success     |
//! | a job another run holds (lease valid)    | nothing                               | failure: comes back later |
//! | a job that succeeds                      | `SUCCEEDED` with its result           | success     |
//! | a job that fails permanently             | `FAILED` with the reason              | success: not retried |
//! | a job that fails transiently             | back to `QUEUED` with the reason      | failure: redelivered |
//! | ... on the message's last run            | `FAILED`: the reason, and that it gave up | success: no DLQ |
//! | a job whose run panics                   | `FAILED`: it would panic again        | success: not retried |
//! | the final delivery (the last run died)   | `FAILED` without a run                | success: no DLQ |
//!
//! No accepted job is left `QUEUED` or `RUNNING` when its message runs out of deliveries. Of
//! the queue's `maxReceiveCount` deliveries ([`Worker::with_max_receives`]) all but the final
//! one run the job; a transient failure on the last run fails it for good. The final delivery
//! comes only if that last run's invocation died (out of memory, killed): it fails the job
//! without running it again. Each way the job ends `FAILED` with its `job.failed` event and
//! callback, and the message is done with instead of dead-lettered. A run is also cut short a
//! little before the invocation's deadline ([`DEADLINE_MARGIN_MILLIS`]) and counts as a
//! transient failure, so a job that runs out of time ends like one that failed, not with the
//! invocation's timeout. What still reaches the dead-letter queue: messages that are no job's.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use chrono::Utc;
use contracts::Contract; // starter: with fanout|events
use contracts::job::{JobFailed, JobSucceeded}; // starter: with fanout|events
use jobs::kinds::{self, JobError, Registration, Services};
use jobs::model::JobMessage;
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::BoxError;
use lambda_kit::events::Envelope; // starter: with fanout|events
use lambda_kit::metrics::Tally;
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

use crate::ports::JobLedger;

// starter: with fanout|events
/// The event a finished run publishes (`job.succeeded` v1 or `job.failed` v1, with the customer
/// and the callback URL the job named, if any, and with a callback URL whose receiver it is: the
/// job's owner); none for a run that goes back to the queue.
fn finished_event(job: &jobs::model::Job, finish: &Finish) -> Result<Option<Envelope>, serde_json::Error> {
    let (job_id, job_type, attempts, customer_id, callback_url) = (
        job.id.clone(),
        job.job_type.as_str().to_owned(),
        job.attempts,
        job.customer_id.clone(),
        job.callback_url.clone(),
    );
    let callback_owner = callback_url.as_ref().and(job.owner.clone());
    let now = Utc::now();
    match finish {
        Finish::Succeeded(result) => JobSucceeded {
            job_id,
            job_type,
            attempts,
            result: result.clone(),
            customer_id,
            callback_url,
            callback_owner,
        }
        .envelope(SOURCE, now)
        .map(Some),
        Finish::Failed(reason) => JobFailed {
            job_id,
            job_type,
            attempts,
            error: reason.clone(),
            customer_id,
            callback_url,
            callback_owner,
        }
        .envelope(SOURCE, now)
        .map(Some),
        Finish::Requeue(_) => Ok(None),
    }
}

/// The `source` of the events this function publishes.
const SOURCE: &str = "job-worker";
// starter: end

/// How long a run holds its job when the invocation's deadline is unknown (outside Lambda).
const DEFAULT_LEASE_MILLIS: i64 = 60_000;

/// How long before the invocation's deadline a run is cut short: time to record the outcome.
pub const DEADLINE_MARGIN_MILLIS: i64 = 2_000;

/// `maxReceiveCount` of the jobs queue's redrive policy, unless told otherwise: five runs and
/// the final delivery.
pub const DEFAULT_MAX_RECEIVES: u32 = 6;

/// Why a record is reported as failed (and so delivered again).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("poison message: {0}")]
    Poison(String),
    #[error("job {0} does not exist")]
    UnknownJob(String),
    #[error("job {0} is running in another invocation")]
    Busy(String),
    /// The reason is on the job record; the log shows the cause through the error chain.
    #[error("job {job_id} failed transiently")]
    Transient {
        job_id: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error(transparent)]
    Store(#[from] JobStoreError),
}

impl RecordFailure for RecordError {
    /// A message that is not a job message, or names a job that does not exist.
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_) | RecordError::UnknownJob(_))
    }
}

pub struct Worker<L> {
    ledger: L,
    kinds: &'static [Registration],
    services: Services,
    concurrency: usize,
    max_receives: u32,
}

impl<L: JobLedger> Worker<L> {
    /// A worker that runs the jobs of `kinds` (`jobs::kinds::KINDS`: what jobs-api accepts) with
    /// `services`, `concurrency` records of a batch at a time.
    pub fn new(ledger: L, kinds: &'static [Registration], services: Services, concurrency: usize) -> Self {
        Self {
            ledger,
            kinds,
            services,
            concurrency,
            max_receives: DEFAULT_MAX_RECEIVES,
        }
    }

    /// The queue's `maxReceiveCount`: the deliveries before it run the job (a transient failure
    /// on the last of them fails it for good); that final delivery, which comes only after the
    /// last run's invocation died, fails the job without running it. Either way its event and
    /// callback go out and the message is not dead-lettered.
    pub fn with_max_receives(mut self, max_receives: u32) -> Self {
        self.max_receives = max_receives.max(2);
        self
    }

    /// Runs a batch and reports the failed records by `messageId`.
    pub async fn handle(&self, event: LambdaEvent<SqsBatch>) -> Result<SqsBatchResponse, BatchError> {
        let deadline = i64::try_from(event.context.deadline).unwrap_or(0);
        let jobs = Tally::new("Jobs", ["succeeded", "failed", "retried"]);
        let response = process_batch(event.payload, self.concurrency, |message| {
            self.process(message, deadline, &jobs)
        })
        .await?;
        jobs.emit();
        info!(failed = response.batch_item_failures.len(), "batch done");
        Ok(response)
    }

    async fn process(&self, message: SqsMessage, deadline_millis: i64, jobs: &Tally<3>) -> Result<(), RecordError> {
        let body = message
            .body
            .as_deref()
            .ok_or_else(|| RecordError::Poison("no body".into()))?;
        let job_message: JobMessage =
            serde_json::from_str(body).map_err(|error| RecordError::Poison(format!("not a job message: {error}")))?;
        // The X-Ray trace of the request that queued the job (jobs-api sends it as the message's
        // AWSTraceHeader): logged with the job's outcome, so the two invocations' logs meet.
        let sender_trace = message.attributes.get("AWSTraceHeader").map_or("", String::as_str);
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse::<u32>().ok())
            .unwrap_or(1);
        let now = Utc::now();
        let lease_until = if deadline_millis > now.timestamp_millis() {
            deadline_millis
        } else {
            now.timestamp_millis() + DEFAULT_LEASE_MILLIS
        };
        let job = match self.ledger.start(&job_message.job_id, now, lease_until).await? {
            Start::Started(job) => job,
            Start::AlreadyFinished(job) => {
                info!(job_id = %job.id, status = job.status.as_str(), "job already finished; repeated delivery ignored");
                return Ok(());
            }
            Start::Busy => return Err(RecordError::Busy(job_message.job_id)),
            Start::Unknown => return Err(RecordError::UnknownJob(job_message.job_id)),
        };

        if receives >= self.max_receives {
            // Only a run whose invocation died leaves a job for this delivery: no run again.
            let reason = format!(
                "its last run stopped without an outcome (given up after {} deliveries)",
                receives - 1
            );
            warn!(job_id = %job.id, attempt = job.attempts, receives, "final delivery: the job fails without another run");
            return self
                .finish(&job, Finish::Failed(reason), None, jobs, sender_trace)
                .await;
        }
        let run = AssertUnwindSafe(kinds::run(self.kinds, &job, &self.services)).catch_unwind();
        let time_left = lease_until - Utc::now().timestamp_millis() - DEADLINE_MARGIN_MILLIS;
        let outcome = match tokio::time::timeout(Duration::from_millis(time_left.max(0) as u64), run).await {
            Ok(Ok(outcome)) => outcome,
            // The same input would panic again: the job fails now, with its event and callback,
            // rather than after every delivery with the message dead-lettered and the job RUNNING.
            Ok(Err(panic)) => {
                warn!(job_id = %job.id, panic = lambda_kit::sqs::panic_message(panic.as_ref()), "the job's run panicked");
                Err(JobError::Permanent("the run failed unexpectedly".into()))
            }
            Err(_) => Err(JobError::Transient {
                reason: "the run ran out of time".into(),
                source: "cut short before the invocation's deadline".into(),
            }),
        };
        let (finish, cause) = match outcome {
            Ok(result) => (Finish::Succeeded(result), None),
            Err(JobError::Permanent(reason)) => (Finish::Failed(reason), None),
            // The job's last run: failing it would leave nothing but the final delivery.
            Err(JobError::Transient { reason, source }) if receives + 1 >= self.max_receives => {
                warn!(job_id = %job.id, error = %lambda_kit::telemetry::ErrorChain(source.as_ref()), receives, "transient failure on the last run: the job fails");
                (
                    Finish::Failed(format!("{reason} (gave up after {receives} runs)")),
                    None,
                )
            }
            Err(JobError::Transient { reason, source }) => (Finish::Requeue(reason), Some(source)),
        };
        self.finish(&job, finish, cause, jobs, sender_trace).await
    }

    /// Records how a run ended (with its event, in the same transaction), counts it, and answers
    /// for the record: a failure only for a job that goes back to the queue.
    async fn finish(
        &self,
        job: &jobs::model::Job,
        finish: Finish,
        cause: Option<BoxError>,
        jobs: &Tally<3>,
        sender_trace: &str,
    ) -> Result<(), RecordError> {
        // starter: with fanout|events
        let event =
            finished_event(job, &finish).map_err(|error| RecordError::Store(JobStoreError::Failed(error.into())))?;
        // starter: end
        if !self
            .ledger
            .finish(
                &job.id,
                job.attempts,
                &finish,
                Utc::now(),
                event.as_ref(), // starter: with fanout|events
            )
            .await?
        {
            // Our lease ran out and another run took the job over: its outcome stands.
            warn!(job_id = %job.id, attempt = job.attempts, "job taken over by another run; this outcome is dropped");
            return Ok(());
        }
        match finish {
            Finish::Requeue(_) => {
                jobs.add("retried");
                Err(RecordError::Transient {
                    job_id: job.id.clone(),
                    source: cause,
                })
            }
            Finish::Succeeded(_) => {
                jobs.add("succeeded");
                info!(job_id = %job.id, attempt = job.attempts, sender_trace, "job succeeded");
                Ok(())
            }
            Finish::Failed(reason) => {
                jobs.add("failed");
                info!(job_id = %job.id, attempt = job.attempts, %reason, sender_trace, "job failed permanently");
                Ok(())
            }
        }
    }
}

// starter: with fanout|events
#[cfg(test)]
mod tests {
    use jobs::model::{Job, JobRequest};
    use serde_json::json;

    use super::*;

    fn job(callback_url: Option<&str>) -> Job {
        let request = JobRequest {
            job_type: jobs::model::JobType::named("report"),
            input: json!({"seconds": 0}),
            customer_id: None,
            callback_url: callback_url.map(str::to_owned),
        };
        let mut job = Job::queued("j-1".into(), request, Utc::now()).owned_by(Some("0wner".into()));
        job.attempts = 1;
        job
    }

    #[test]
    fn a_finished_run_reports_its_outcome_and_where_and_to_whom_to_deliver_it() {
        let succeeded = finished_event(
            &job(Some("https://hooks.example.com/jobs")),
            &Finish::Succeeded(json!({"rows": 0})),
        )
        .unwrap()
        .expect("an event");
        assert_eq!((succeeded.event_type.as_str(), succeeded.version), ("job.succeeded", 1));
        assert_eq!(
            succeeded.data,
            json!({"job_id": "j-1", "type": "report", "attempts": 1, "result": {"rows": 0},
                   "callback_url": "https://hooks.example.com/jobs", "callback_owner": "0wner"})
        );
        // Without a callback URL the owner stays out of the event.
        let failed = finished_event(&job(None), &Finish::Failed("no such order".into()))
            .unwrap()
            .expect("an event");
        assert_eq!(
            failed.data,
            json!({"job_id": "j-1", "type": "report", "attempts": 1, "error": "no such order"})
        );
        assert!(
            finished_event(&job(None), &Finish::Requeue("throttled".into()))
                .unwrap()
                .is_none()
        );
    }
}
// starter: end
