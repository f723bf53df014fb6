//! Fuzzing the worker's batch handling: batches of the sample's records, some damaged anywhere,
//! with job messages valid, damaged or garbage (test_support::check_batch states the
//! properties). Behind the worker, every job starts and is an invoice of an order that exists,
//! so a record fails only when its message is not a job message.

use chrono::{DateTime, Utc};
use contracts::order::Order;
use job_worker::handler::Worker;
use job_worker::ports::JobLedger;
use job_worker::work::Runners;
use job_worker::work::invoice::{Invoice, OrderReadError, OrderReader};
use jobs::model::{Job, JobMessage, JobRequest};
use jobs::store::{Finish, JobStoreError, Start};
use lambda_kit::events::Envelope;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use serde_json::json;
use test_support::{check_batch, config, contract_order, sqs_batches_like};

const ORDER_ID: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01";

struct EveryJobStarts;

impl JobLedger for EveryJobStarts {
    async fn start(&self, id: &str, now: DateTime<Utc>, _: i64) -> Result<Start, JobStoreError> {
        let request = JobRequest {
            job_type: jobs::kinds::invoice::JOB_TYPE,
            input: json!({ "order_id": ORDER_ID }),
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
        _: Option<&Envelope>,
    ) -> Result<bool, JobStoreError> {
        Ok(true)
    }
}

struct OneOrder;

impl OrderReader for OneOrder {
    async fn order(&self, id: &str) -> Result<Option<Order>, OrderReadError> {
        Ok(Some(contract_order(id, "c-42", "EUR", &[("BOOK-1", 2, 1250)])))
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_is_run_or_reported_by_its_own_id((text, records) in sqs_batches_like("job-worker", "mixed-batch")) {
        let batch: SqsBatch = serde_json::from_str(&text).expect("the batch itself is intact");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let worker = Worker::new(EveryJobStarts, Runners::new().with(Invoice::new(OneOrder)), 4);
        let outcome = runtime.block_on(worker.handle(LambdaEvent::new(batch, Context::default())));
        check_batch(&records, &outcome, |body| serde_json::from_str::<JobMessage>(body.unwrap_or_default()).is_err())?;
    }
}
