//! jobs-api: wiring only. Config, tracing and clients are set up once per execution environment;
//! every request then goes to [`JobsApi::handle`].

use jobs::kinds::KINDS;
use jobs::table::JobsTable;
use jobs_api::adapters::{DynamoDbJobStore, SqsJobQueue};
use jobs_api::config::Config;
use jobs_api::handler::JobsApi;
use lambda_http::Error;
use lambda_kit::idempotency::dynamodb::IdempotencyTable;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = lambda_kit::function::init(Config::from_env).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let store = DynamoDbJobStore::new(
        JobsTable::new(dynamodb.clone(), config.jobs_table),
        IdempotencyTable::new(dynamodb, config.idempotency_table),
    );
    let queue = SqsJobQueue::new(aws_sdk_sqs::Client::new(&aws), config.jobs_queue_url);
    // The kinds of job it accepts are the ones job-worker runs: jobs::kinds::KINDS.
    let api = JobsApi::new(store, queue, KINDS, config.idempotency_ttl)?.with_customer_claim(config.customer_claim);
    // starter: with callbacks
    // Jobs may name a callback_url: the callbacks pattern POSTs their outcome there, signed.
    // Without this line one gets a 422 that says callbacks are not part of this deployment.
    let api = api.with_callbacks(config.callbacks);
    // starter: end

    // lambda_http::run, but a malformed event gets a 400 instead of a failed invocation.
    lambda_kit::http::run(|request| api.handle(request)).await
}
