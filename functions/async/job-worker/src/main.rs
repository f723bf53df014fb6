//! job-worker: wiring only. Config, tracing and clients are set up once per execution
//! environment; every SQS batch then goes to [`Worker::handle`].

use job_worker::adapters::{JobsLedger, OrdersTable};
use job_worker::config::Config;
use job_worker::handler::Worker;
use job_worker::work::Runners;
use job_worker::work::invoice::Invoice;
use job_worker::work::report::Report;
use jobs::table::JobsTable;
use lambda_kit::outbox::OutboxTable;
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init();
    let config = Config::from_env().inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = lambda_kit::aws::load().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let worker = Worker::new(
        JobsLedger::new(
            JobsTable::new(dynamodb.clone(), config.jobs_table),
            OutboxTable::new(config.outbox_table),
        ),
        // The job types this worker runs: the async pattern's own, and the invoice job the sync
        // pattern adds (it reads the orders table).
        Runners::new()
            .with(Report)
            .with(Invoice::new(OrdersTable::new(dynamodb, config.orders_table))),
        config.concurrency,
    );

    // Boxed: the batch future is deep enough to overflow rustc's layout query depth unboxed.
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsBatch>| async {
        Box::pin(worker.handle(event)).await.map_err(Error::from)
    }))
    .await
}
