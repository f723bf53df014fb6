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
use lambda_runtime::{Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = lambda_kit::function::init(Config::from_env).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    // The job types this worker runs: the async pattern's own, and the invoice job where the sync
    // pattern is deployed too (it reads the orders table).
    let mut runners = Runners::new().with(Report);
    if let Some(orders_table) = config.orders_table {
        runners = runners.with(Invoice::new(OrdersTable::new(dynamodb.clone(), orders_table)));
    }
    let worker = Worker::new(
        JobsLedger::new(
            JobsTable::new(dynamodb, config.jobs_table),
            config.outbox_table.map(OutboxTable::new),
        ),
        runners,
        config.concurrency,
    );

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| worker.handle(event).await).await
}
