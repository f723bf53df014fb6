//! What the integration tests share: the orders API wired to the local DynamoDB (moto) through
//! the real SDK, and the sample events of `events/orders-api/`.
#![allow(dead_code)] // each test crate uses its own part

use std::path::PathBuf;

use aws_sdk_dynamodb::Client;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use orders_api::config::{Config, Settings};
use orders_api::handler::OrdersApi;
use orders_api::store::DynamoDbStore;
use serde_json::Value;

pub const REQUEST_ID: &str = "8f5e1c1e-test-request-id";

/// The local stack as `make test` (python -m tools.local.stack run) describes it in the environment.
pub struct Local {
    pub config: Config,
    pub client: Client,
}

pub async fn local() -> Local {
    test_support::assert_local_aws();
    let config = Config::from_env().expect("the function's environment from template.yaml");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    Local { config, client }
}

impl Local {
    pub fn store(&self) -> DynamoDbStore {
        DynamoDbStore::new(
            self.client.clone(),
            &self.config.orders_table,
            &self.config.idempotency_table,
            &self.config.outbox_table, // starter: with fanout|events
        )
    }

    pub fn api(&self) -> OrdersApi<DynamoDbStore> {
        OrdersApi::new(self.store(), self.config.settings.clone()).expect("the route table")
    }

    pub fn api_with(&self, store: DynamoDbStore, settings: Settings) -> OrdersApi<DynamoDbStore> {
        OrdersApi::new(store, settings).expect("the route table")
    }

    /// How many orders the table holds for a customer: what "created nothing new" is checked by.
    pub async fn orders_of(&self, customer_id: &str) -> usize {
        let output = self
            .client
            .scan()
            .table_name(&self.config.orders_table)
            .filter_expression("customer_id = :customer")
            .expression_attribute_values(
                ":customer",
                aws_sdk_dynamodb::types::AttributeValue::S(customer_id.into()),
            )
            .send()
            .await
            .expect("scan the orders table");
        output.count as usize
    }
}

pub fn events_dir() -> PathBuf {
    test_support::events_dir("orders-api")
}

/// A sample event as lambda_http hands it to the handler, with a Lambda context.
pub fn event(name: &str) -> Request {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
    with_context(
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}")),
    )
}

pub fn with_context(request: Request) -> Request {
    request.with_lambda_context(context())
}

/// The Lambda context the tests invoke with.
pub fn context() -> Context {
    let mut context = Context::default();
    context.request_id = REQUEST_ID.to_owned();
    context
}

/// A `POST /orders` request as an HTTP API would deliver it.
pub fn post_order(body: &Value, idempotency_key: Option<&str>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/orders")
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        builder = builder.header("idempotency-key", key);
    }
    with_context(builder.body(Body::Text(body.to_string())).expect("request"))
}

/// A `POST /orders` with an Idempotency-Key as an HTTP API delivers it after its authorizer let
/// the caller in: `authorizer` is the event's `requestContext.authorizer` (`{"jwt": {"claims":
/// ...}}` or `{"iam": {...}}`).
pub fn post_order_as(body: &Value, idempotency_key: &str, authorizer: Value) -> Request {
    let text = std::fs::read_to_string(events_dir().join("create-order-idempotent.json")).expect("sample event");
    let mut event: Value = serde_json::from_str(&text).expect("JSON");
    event["headers"]["idempotency-key"] = Value::from(idempotency_key);
    event["headers"]["content-length"] = Value::from(body.to_string().len().to_string());
    event["body"] = Value::from(body.to_string());
    event["requestContext"]["authorizer"] = authorizer;
    with_context(lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event"))
}

/// The `requestContext.authorizer` of a caller a JWT authorizer let in.
pub fn jwt_caller(subject: &str) -> Value {
    serde_json::json!({"jwt": {"claims": {"iss": "https://idp.example.com", "sub": subject, "aud": "orders"}, "scopes": null}})
}

/// `GET path` from a caller an authorizer let in (`requestContext.authorizer`).
pub fn get_as(path: &str, authorizer: Value) -> Request {
    let text = std::fs::read_to_string(events_dir().join("get-order.json")).expect("sample event");
    let mut event: Value = serde_json::from_str(&text).expect("JSON");
    event["rawPath"] = Value::from(path);
    event["requestContext"]["http"]["path"] = Value::from(path);
    event["pathParameters"]["id"] = Value::from(path.rsplit('/').next().unwrap_or_default());
    event["requestContext"]["authorizer"] = authorizer;
    with_context(lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event"))
}

/// The `requestContext.authorizer` of a SigV4 caller the IAM authorizer let in.
pub fn iam_caller(user: &str) -> Value {
    serde_json::json!({"iam": {"accountId": "123456789012", "userArn": format!("arn:aws:iam::123456789012:user/{user}"),
                               "callerId": user, "userId": user}})
}

pub fn get(path: &str) -> Request {
    with_context(
        http::Request::builder()
            .method("GET")
            .uri(path)
            .body(Body::Empty)
            .expect("request"),
    )
}

pub fn body_json(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}")),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("body is JSON"),
        _ => Value::Null,
    }
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}
