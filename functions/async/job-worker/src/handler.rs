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

use chrono::Utc;
use contracts::Contract; // starter: with fanout
use contracts::job::{JobFailed, JobSucceeded}; // starter: with fanout
use jobs::kinds::{self, JobError, Registration, Services};
use jobs::model::JobMessage;
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::BoxError;
use lambda_kit::events::Envelope; // starter: with fanout
use lambda_kit::metrics::Tally;
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

use crate::ports::JobLedger;

// starter: with fanout
/// The event a finished run publishes (`job.succeeded` v1 or `job.failed` v1, with the callback
/// URL the job named, if any); none for a run that goes back to the queue.
fn finished_event(job: &jobs::model::Job, finish: &Finish) -> Result<Option<Envelope>, serde_json::Error> {
    let (job_id, job_type, attempts, callback_url) = (
        job.id.clone(),
        job.job_type.as_str().to_owned(),
        job.attempts,
        job.callback_url.clone(),
    );
    let now = Utc::now();
    match finish {
        Finish::Succeeded(result) => JobSucceeded {
            job_id,
            job_type,
            attempts,
            result: result.clone(),
            callback_url,
        }
        .envelope(SOURCE, now)
        .map(Some),
        Finish::Failed(reason) => JobFailed {
            job_id,
            job_type,
            attempts,
            error: reason.clone(),
            callback_url,
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
        }
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

        let (finish, cause) = match kinds::run(self.kinds, &job, &self.services).await {
            Ok(result) => (Finish::Succeeded(result), None),
            Err(JobError::Permanent(reason)) => (Finish::Failed(reason), None),
            Err(JobError::Transient { reason, source }) => (Finish::Requeue(reason), Some(source)),
        };
        // starter: with fanout
        let event =
            finished_event(&job, &finish).map_err(|error| RecordError::Store(JobStoreError::Failed(error.into())))?;
        // starter: end
        if !self
            .ledger
            .finish(
                &job.id,
                job.attempts,
                &finish,
                Utc::now(),
                event.as_ref(), // starter: with fanout
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
                    job_id: job.id,
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

// starter: with fanout
#[cfg(test)]
mod tests {
    use jobs::model::{Job, JobRequest};
    use serde_json::json;

    use super::*;

    fn job(callback_url: Option<&str>) -> Job {
        let request = JobRequest {
            job_type: jobs::model::JobType::named("report"),
            input: json!({"seconds": 0}),
            callback_url: callback_url.map(str::to_owned),
        };
        let mut job = Job::queued("j-1".into(), request, Utc::now());
        job.attempts = 1;
        job
    }

    #[test]
    fn a_finished_run_reports_its_outcome_and_where_to_deliver_it() {
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
                   "callback_url": "https://hooks.example.com/jobs"})
        );
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
