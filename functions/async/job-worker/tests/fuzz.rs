//! Fuzzing the worker's batch handling: batches of the sample's records, some damaged anywhere,
//! with job messages valid, damaged or garbage (test_support::check_batch states the
//! properties). Behind the worker, every job starts and is a report that succeeds, so a record
//! fails only when its message is not a job message.

use chrono::{DateTime, Utc};
use job_worker::handler::Worker;
use job_worker::ports::JobLedger;
use jobs::kinds::{KINDS, Services};
use jobs::model::{Job, JobMessage, JobRequest, JobType};
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::events::Envelope; // starter: with fanout|events
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use serde_json::json;
use test_support::{check_batch, config, sqs_batches_like};

struct EveryJobStarts;

impl JobLedger for EveryJobStarts {
    async fn start(&self, id: &str, now: DateTime<Utc>, _: i64) -> Result<Start, JobStoreError> {
        let request = JobRequest {
            job_type: JobType::named("report"),
            input: json!({ "seconds": 0 }),
            customer_id: None,
            callback_url: None,
        };
        let mut job = Job::queued(id.to_owned(), request, now);
        job.attempts = 1;
        Ok(Start::Started(job))
    }

    async fn finish(
        &self,
        _: &str,
        _: u32,
        _: &Finish,
        _: DateTime<Utc>,
        _: Option<&Envelope>, // starter: with fanout|events
    ) -> Result<bool, JobStoreError> {
        Ok(true)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_run_or_reported_by_its_own_id((text, records) in sqs_batches_like("job-worker", "mixed-batch")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let worker = Worker::new(EveryJobStarts, KINDS, services(), 4);
        let outcome = runtime.block_on(worker.handle(LambdaEvent::new(batch, Context::default())));
        check_batch(&records, &outcome, |body| serde_json::from_str::<JobMessage>(body.unwrap_or_default()).is_err())?;
    }
}

fn services() -> Services {
    Services {
        orders: Box::new(jobs::kinds::invoice::MemoryOrders::default()), // starter: with sync
    }
}
