//! job-worker: wiring only. Config, tracing and clients are set up once per execution
//! environment; every SQS batch then goes to [`Worker::handle`].

use job_worker::adapters::JobsLedger;
use job_worker::adapters::OrdersTable; // starter: with sync
use job_worker::config::Config;
use job_worker::handler::Worker;
use jobs::kinds::{KINDS, Services};
use jobs::table::JobsTable;
use lambda_kit::outbox::OutboxTable; // starter: with fanout|events
use lambda_kit::sqs::SqsBatch;
use lambda_runtime::{Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = lambda_kit::function::init(Config::from_env).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    // What the kinds of job need to run (jobs::kinds::KINDS: the kinds jobs-api accepts).
    let services = Services {
        orders: Box::new(OrdersTable::new(dynamodb.clone(), config.orders_table)), // starter: with sync
    };
    let worker = Worker::new(
        JobsLedger::new(
            JobsTable::new(dynamodb, config.jobs_table),
            OutboxTable::new(config.outbox_table), // starter: with fanout|events
        ),
        KINDS,
        services,
        config.concurrency,
    )
    .with_max_receives(config.max_receives);

    lambda_kit::function::run(async |event: LambdaEvent<SqsBatch>| worker.handle(event).await).await
}
