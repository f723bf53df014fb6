//! job-worker against the local DynamoDB (moto) through the real SDK: the sample batches, and
//! each way a record can end.

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client as DynamoDb;
use chrono::Utc;
use job_worker::adapters::JobsLedger;
use job_worker::adapters::OrdersTable; // starter: with sync
use job_worker::handler::Worker;
use jobs::kinds::invoice::Invoice; // starter: with sync
use jobs::kinds::report::Report;
use jobs::kinds::{Input, JobError, KINDS, Kind, Registration, Run, Services};
use jobs::model::{Job, JobRequest, JobStatus, JobType};
use jobs::store::{JobStoreError, Start};
use jobs::table::JobsTable;
use lambda_kit::outbox::OutboxTable; // starter: with fanout|events
use lambda_kit::sqs::{SqsBatch, SqsBatchResponse};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use test_support::contract_order; // starter: with sync
use test_support::expected::Expectations;

struct Local {
    dynamodb: DynamoDb,
    jobs_table: String,
    orders_table: String, // starter: with sync
    outbox_table: String, // starter: with fanout|events
}

async fn local() -> Local {
    test_support::assert_local_aws();
    let config = job_worker::config::Config::from_env().expect("the function's environment");
    Local {
        dynamodb: DynamoDb::new(&lambda_kit::aws::load().await.expect("the trust store")),
        jobs_table: config.jobs_table,
        orders_table: config.orders_table, // starter: with sync
        outbox_table: config.outbox_table, // starter: with fanout|events
    }
}

impl Local {
    fn jobs(&self) -> JobsTable {
        JobsTable::new(self.dynamodb.clone(), &self.jobs_table)
    }

    fn ledger(&self) -> JobsLedger {
        JobsLedger::new(
            self.jobs(),
            OutboxTable::new(&self.outbox_table), // starter: with fanout|events
        )
    }

    /// The worker as main.rs wires it.
    fn worker(&self) -> Worker<JobsLedger> {
        self.worker_with(KINDS)
    }

    /// The worker as main.rs wires it, running the jobs of `kinds`.
    fn worker_with(&self, kinds: &'static [Registration]) -> Worker<JobsLedger> {
        let services = Services {
            orders: Box::new(OrdersTable::new(self.dynamodb.clone(), &self.orders_table)), // starter: with sync
        };
        Worker::new(self.ledger(), kinds, services, 10)
    }

    async fn seed(&self, id: &str, job_type: JobType, input: Value) {
        self.seed_owned(id, job_type, input, None).await;
    }

    /// A job asked for by `owner` (a caller's digest).
    async fn seed_owned(&self, id: &str, job_type: JobType, input: Value, owner: Option<String>) {
        let job = Job::queued(
            id.into(),
            JobRequest {
                job_type,
                input,
                customer_id: None,
                callback_url: None,
            },
            Utc::now(),
        )
        .owned_by(owner);
        match self.jobs().insert(&job).await {
            Ok(()) | Err(JobStoreError::AlreadyExists) => {}
            Err(error) => panic!("seeding failed: {error}"),
        }
    }

    async fn job(&self, id: &str) -> Job {
        self.jobs().get(id).await.expect("read").expect("the job exists")
    }
}

fn event(name: &str) -> Value {
    let path = test_support::events_dir("job-worker").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

fn batch(records: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(), "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:JobsQueue"}))
        .collect();
    json!({"Records": records})
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

async fn handle<L: job_worker::ports::JobLedger>(worker: &Worker<L>, payload: Value) -> SqsBatchResponse {
    worker
        .handle(LambdaEvent::new(
            SqsBatch::try_from(payload).expect("an SQS batch"),
            Context::default(),
        ))
        .await
        .expect("a batch answer")
}

fn unique_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

const CLEAN_BATCH_JOBS: [&str; 3] = [
    "0195f3a4-7c1e-7b2a-9d4e-0000000b0001",
    "0195f3a4-7c1e-7b2a-9d4e-0000000b0002",
    "0195f3a4-7c1e-7b2a-9d4e-0000000b0003",
];
const MIXED_BATCH_REPORT: &str = "0195f3a4-7c1e-7b2a-9d4e-0000000c0001";
const MIXED_BATCH_INVOICE: &str = "0195f3a4-7c1e-7b2a-9d4e-0000000c0002";
/// Why the mixed batch's invoice job fails for good here: the first line that applies.
const MIXED_BATCH_INVOICE_FAILS_AS: &[&str] = &[
    "order 0195f3a4-7c1e-7b2a-9d4e-0000000cdead does not exist", // starter: with sync
    "this worker runs no invoice jobs",
];

/// The queued jobs the sample batches name.
async fn seed_sample_jobs(local: &Local) {
    for id in CLEAN_BATCH_JOBS.into_iter().chain([MIXED_BATCH_REPORT]) {
        local.seed(id, Report::job_type(), json!({"seconds": 0})).await;
    }
    // An invoice for an order that does not exist: fails permanently.
    local
        .seed(
            MIXED_BATCH_INVOICE,
            JobType::named("invoice"),
            json!({"order_id": "0195f3a4-7c1e-7b2a-9d4e-0000000cdead"}),
        )
        .await;
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_sample_batch_gets_the_expected_answer() {
    let local = local().await;
    let worker = local.worker();
    seed_sample_jobs(&local).await;
    let expectations = Expectations::of("job-worker");

    for expected in &expectations.events {
        let response = handle(&worker, event(&expected.event)).await;
        expected.check(&serde_json::to_value(&response).expect("an answer serializes"));
        match expected.event.as_str() {
            "clean-batch.json" => {
                for id in CLEAN_BATCH_JOBS {
                    assert_eq!(local.job(id).await.status, JobStatus::Succeeded);
                }
            }
            "mixed-batch.json" => {
                // Not JSON, no job id, an unknown job: reported, so they reach the DLQ in the end.
                assert_eq!(local.job(MIXED_BATCH_REPORT).await.status, JobStatus::Succeeded);
                // Failed for good, not retried.
                let invoice = local.job(MIXED_BATCH_INVOICE).await;
                assert_eq!(invoice.status, JobStatus::Failed);
                let why = MIXED_BATCH_INVOICE_FAILS_AS[0];
                assert!(invoice.error.as_deref().is_some_and(|e| e.contains(why)), "{invoice:?}");
            }
            other => panic!("events/job-worker/{other}: say what it leaves in the jobs table"),
        }
    }
}

/// What `make sam-local` needs in the local AWS before it sends the sample batches to the
/// `sam build` artifact: the queued jobs they name.
#[tokio::test]
#[ignore = "fixtures for make sam-local, which runs it"]
async fn sample_event_fixtures() {
    seed_sample_jobs(&local().await).await;
}

// starter: with sync
#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_invoice_job_renders_the_invoice_of_its_callers_stored_order_only() {
    let local = local().await;
    let order_id = unique_id();
    let (alice, bob) = (
        lambda_kit::owner::digest("iam:arn:aws:iam::000000000000:user/alice"),
        lambda_kit::owner::digest("iam:arn:aws:iam::000000000000:user/bob"),
    );
    // The order as orders-api keeps it: its contract, through serde, in the orders table, and
    // the digest of the caller who created it beside it.
    let order = contract_order(&order_id, "c-7", "EUR", &[("LAMP-2", 3, 2999)]);
    let mut item: lambda_kit::dynamodb::Item = serde_dynamo::to_item(&order).expect("an item");
    item.insert("owner".into(), lambda_kit::dynamodb::s(&alice));
    local
        .dynamodb
        .put_item()
        .table_name(&local.orders_table)
        .set_item(Some(item))
        .send()
        .await
        .expect("order stored");
    let (job_id, others_job) = (unique_id(), unique_id());
    for (id, owner) in [(&job_id, &alice), (&others_job, &bob)] {
        local
            .seed_owned(
                id,
                Invoice::job_type(),
                json!({"order_id": order_id}),
                Some(owner.clone()),
            )
            .await;
    }

    let response = handle(
        &local.worker(),
        batch(&[
            ("m1", json!({"job_id": job_id, "type": "invoice"})),
            ("m2", json!({"job_id": others_job, "type": "invoice"})),
        ]),
    )
    .await;

    assert!(failed(&response).is_empty());
    // Another caller's order reads as one that does not exist.
    let refused = local.job(&others_job).await;
    assert_eq!(refused.status, JobStatus::Failed);
    assert_eq!(
        refused.error.as_deref(),
        Some(format!("order {order_id} does not exist").as_str())
    );
    let job = local.job(&job_id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    let result = job.result.expect("a result");
    assert_eq!(
        (
            result["subtotal"].as_u64(),
            result["tax"].as_u64(),
            result["total"].as_u64()
        ),
        (Some(8997), Some(1799), Some(10796))
    );
    assert!(result["text"].as_str().is_some_and(|text| text.contains("107.96 EUR")));
}
// starter: end

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_repeated_delivery_of_a_finished_job_changes_nothing() {
    let local = local().await;
    let job_id = unique_id();
    local.seed(&job_id, Report::job_type(), json!({"seconds": 0})).await;
    let message = batch(&[("m1", json!({"job_id": job_id, "type": "report"}))]);
    handle(&local.worker(), message.clone()).await;
    let finished = local.job(&job_id).await;

    let again = handle(&local.worker(), message).await;

    assert!(failed(&again).is_empty(), "acknowledged, not retried");
    assert_eq!(local.job(&job_id).await, finished, "no state change, no second run");
    assert_eq!(finished.attempts, 1);
}

/// How often a [`Flaky`] job has run (one test runs it).
static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A kind of job whose dependency is out of reach the first time it runs.
struct Flaky;

impl Kind for Flaky {
    const NAME: &'static str = "flaky";

    fn read(_: &mut Input<'_>) -> Option<Self> {
        Some(Flaky)
    }

    async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
        if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(JobError::Transient {
                reason: "reading the source failed".into(),
                source: std::io::Error::other("connection reset").into(),
            });
        }
        Ok(json!({"done": true}))
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_transient_failure_is_reported_and_the_redelivery_succeeds() {
    let local = local().await;
    const FLAKY: &[Registration] = &[Registration::of::<Flaky>()];
    let worker = local.worker_with(FLAKY);
    let job_id = unique_id();
    local.seed(&job_id, Flaky::job_type(), json!({})).await;
    let message = batch(&[("m1", json!({"job_id": job_id, "type": "flaky"}))]);

    let first = handle(&worker, message.clone()).await;
    let after_first = local.job(&job_id).await;
    let second = handle(&worker, message).await;

    assert_eq!(failed(&first), ["m1"]);
    assert_eq!(after_first.status, JobStatus::Queued, "back in the queue's hands");
    assert!(
        after_first
            .error
            .as_deref()
            .is_some_and(|e| e.contains("reading the source failed")),
        "{after_first:?}"
    );
    assert!(failed(&second).is_empty());
    let job = local.job(&job_id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
}

/// A kind of job whose dependency is never in reach.
struct Unreachable;

impl Kind for Unreachable {
    const NAME: &'static str = "unreachable";

    fn read(_: &mut Input<'_>) -> Option<Self> {
        Some(Unreachable)
    }

    async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
        Err(JobError::Transient {
            reason: "reading the source failed".into(),
            source: std::io::Error::other("connection refused").into(),
        })
    }
}

/// A kind of job whose run panics (a bug in it, or an input it cannot take).
struct Panicking;

impl Kind for Panicking {
    const NAME: &'static str = "panicking";

    fn read(_: &mut Input<'_>) -> Option<Self> {
        Some(Panicking)
    }

    async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
        panic!("index out of bounds: the len is 0 but the index is 0")
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_job_whose_run_panics_fails_at_once_and_its_message_is_done_with() {
    let local = local().await;
    const PANICKING: &[Registration] = &[Registration::of::<Panicking>()];
    let job_id = unique_id();
    local.seed(&job_id, Panicking::job_type(), json!({})).await;

    let response = handle(
        &local.worker_with(PANICKING),
        batch(&[("m1", json!({"job_id": job_id, "type": "panicking"}))]),
    )
    .await;

    assert!(failed(&response).is_empty(), "not delivered again only to panic again");
    let job = local.job(&job_id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    assert_eq!(job.error.as_deref(), Some("the run failed unexpectedly"));
}

/// `records` as SQS delivers them for the `receives`-th time.
fn delivered(receives: u32, records: &[(&str, Value)]) -> Value {
    let mut batch = batch(records);
    for record in batch["Records"].as_array_mut().expect("records") {
        record["attributes"]["ApproximateReceiveCount"] = Value::from(receives.to_string());
    }
    batch
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_transient_failure_on_the_last_run_fails_the_job_instead_of_dead_lettering_it() {
    let local = local().await;
    const UNREACHABLE: &[Registration] = &[Registration::of::<Unreachable>()];
    let worker = local.worker_with(UNREACHABLE).with_max_receives(6);
    let job_id = unique_id();
    local.seed(&job_id, Unreachable::job_type(), json!({})).await;
    let message = [("m1", json!({"job_id": job_id, "type": "unreachable"}))];

    let fourth = handle(&worker, delivered(4, &message)).await;
    assert_eq!(failed(&fourth), ["m1"], "retried while deliveries are left");
    assert_eq!(local.job(&job_id).await.status, JobStatus::Queued);

    let last = handle(&worker, delivered(5, &message)).await;
    assert!(failed(&last).is_empty(), "the message is done with, not dead-lettered");
    let job = local.job(&job_id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 2));
    assert_eq!(
        job.error.as_deref(),
        Some("reading the source failed (gave up after 5 runs)")
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_final_delivery_after_a_run_that_died_fails_the_job_without_running_it() {
    let local = local().await;
    const PANICKING: &[Registration] = &[Registration::of::<Panicking>()];
    let job_id = unique_id();
    local.seed(&job_id, Panicking::job_type(), json!({})).await;
    // The fifth run's invocation died: RUNNING, its lease (the invocation deadline) past.
    local
        .jobs()
        .start(&job_id, Utc::now(), Utc::now().timestamp_millis() - 1)
        .await
        .expect("start");

    // The sixth delivery: a run would panic here; none happens.
    let response = handle(
        &local.worker_with(PANICKING).with_max_receives(6),
        delivered(6, &[("m1", json!({"job_id": job_id, "type": "panicking"}))]),
    )
    .await;

    assert!(
        failed(&response).is_empty(),
        "the message is done with, not dead-lettered"
    );
    let job = local.job(&job_id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.error.as_deref(),
        Some("its last run stopped without an outcome (given up after 5 deliveries)")
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_job_whose_run_crashed_is_taken_up_once_the_lease_ran_out() {
    let local = local().await;
    let job_id = unique_id();
    local.seed(&job_id, Report::job_type(), json!({"seconds": 0})).await;
    // A run started and died: RUNNING, its lease (the invocation deadline) already past.
    let started = local
        .jobs()
        .start(&job_id, Utc::now(), Utc::now().timestamp_millis() - 1)
        .await
        .expect("start");
    assert!(matches!(started, Start::Started(_)));

    let response = handle(
        &local.worker(),
        batch(&[("m1", json!({"job_id": job_id, "type": "report"}))]),
    )
    .await;

    assert!(failed(&response).is_empty());
    let job = local.job(&job_id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_job_another_run_holds_is_not_run_twice_at_once() {
    let local = local().await;
    let job_id = unique_id();
    local.seed(&job_id, Report::job_type(), json!({"seconds": 0})).await;
    local
        .jobs()
        .start(&job_id, Utc::now(), Utc::now().timestamp_millis() + 60_000)
        .await
        .expect("start");

    let response = handle(
        &local.worker(),
        batch(&[("m1", json!({"job_id": job_id, "type": "report"}))]),
    )
    .await;

    assert_eq!(failed(&response), ["m1"], "comes back after the visibility timeout");
    let job = local.job(&job_id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
}

#[tokio::test]
async fn an_event_that_is_not_an_sqs_batch_fails_the_invocation() {
    // The runtime deserializes the payload into the handler's event type; for anything but a
    // batch that fails, and the runtime reports an invocation error.
    let payload = br#"{"hello": "world"}"#;
    assert!(serde_json::from_slice::<SqsBatch>(payload).is_err());
}
