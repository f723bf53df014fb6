//! What each job type does. A job either succeeds with a result, fails permanently (its input
//! cannot be processed: retrying would not help), or fails transiently (a dependency failed:
//! the queue delivers it again).
//!
//! Job types are pluggable: each is a [`Runner`], and `main.rs` registers the ones this
//! deployment runs in [`Runners`]: [`report::Report`],
//! and the synchronous pattern's [`invoice::Invoice`] (an order's invoice). // starter: with sync
//! A new type is one `Runner` here, one `jobs::kinds::JobKind` for the API to check its input,
//! and one line in each `main.rs`.

pub mod invoice; // starter: with sync
pub mod report;

use std::future::Future;
use std::pin::Pin;

use jobs::model::{Job, JobType};
use lambda_kit::BoxError;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Permanent(String),
    /// `reason` is what the job record shows; `source` what failed underneath (throttled, access
    /// denied, unreachable), for the log only.
    #[error("{reason}")]
    Transient {
        reason: String,
        #[source]
        source: BoxError,
    },
}

/// One run of a job: its result, or why it failed.
pub type BoxedRun<'a> = Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send + 'a>>;

/// Runs the jobs of one type.
pub trait Runner: Send + Sync {
    /// The type it runs, as requests and job records name it.
    fn job_type(&self) -> JobType;
    /// Runs a job with `input` (checked by the API when the job was submitted).
    fn run<'a>(&'a self, input: &'a Value) -> BoxedRun<'a>;
}

/// The job types this worker runs.
#[derive(Default)]
pub struct Runners {
    runners: Vec<Box<dyn Runner>>,
}

impl Runners {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job type; a second runner for a type replaces the first.
    pub fn with(mut self, runner: impl Runner + 'static) -> Self {
        self.runners.retain(|known| known.job_type() != runner.job_type());
        self.runners.push(Box::new(runner));
        self
    }

    /// Runs `job` with the runner of its type. A type this worker does not run fails the job
    /// permanently: the API accepted it, so the deployment is missing a runner, and another
    /// delivery to the same worker would not help.
    pub async fn run(&self, job: &Job) -> Result<Value, JobError> {
        match self.runners.iter().find(|runner| runner.job_type() == job.job_type) {
            Some(runner) => runner.run(&job.input).await,
            None => Err(JobError::Permanent(format!(
                "this worker runs no {} jobs",
                job.job_type.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use jobs::model::JobRequest;
    use serde_json::json;

    use super::*;

    fn job(job_type: JobType, input: Value) -> Job {
        let request = JobRequest {
            job_type,
            input,
            callback_url: None,
        };
        Job::queued("j-1".into(), request, Utc::now())
    }

    #[tokio::test]
    async fn a_job_runs_on_the_runner_of_its_type_and_an_unknown_type_fails_for_good() {
        let runners = Runners::new().with(report::Report);
        let done = runners
            .run(&job(jobs::kinds::report::JOB_TYPE, json!({"seconds": 0})))
            .await
            .expect("a report");
        assert_eq!(done, json!({"seconds": 0, "rows": 0}));
        let error = runners
            .run(&job(JobType::named("export"), json!({})))
            .await
            .expect_err("no export runner");
        assert!(matches!(&error, JobError::Permanent(reason) if reason == "this worker runs no export jobs"));
    }
}
