//! orders-api: wiring only. Config, tracing and clients are set up once per execution
//! environment (init); every request then goes to [`OrdersApi::handle`].

use lambda_http::Error;
use orders_api::config::Config;
use orders_api::handler::OrdersApi;
use orders_api::store::DynamoDbStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, aws) = lambda_kit::function::init(Config::from_env).await?;
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.orders_table,
        config.idempotency_table,
        config.outbox_table, // starter: with fanout|events
    );
    let api = OrdersApi::new(store, config.settings)?;

    // lambda_http::run, but a malformed event gets a 400 instead of a failed invocation.
    lambda_kit::http::run(|request| api.handle(request)).await
}
