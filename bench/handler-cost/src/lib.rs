//! Inputs for the handler-cost benchmarks (`benches/`), built the way Lambda delivers them.
//!
//! The store behind the orders handler is [`AcceptingStore`], which answers at once and holds
//! nothing (an in-memory store would grow over criterion's millions of iterations): the
//! benchmarks measure the function's own CPU work per request or record (parsing, routing,
//! validation, serialization, the log line), not the network round trip to DynamoDB.

use std::convert::Infallible;
use std::hint::black_box;

use lambda_kit::events::Envelope;
use lambda_kit::idempotency::{Claim, ClaimStore, NewClaim, StoredResponse};
use lambda_kit::sns::{MAX_BATCH_ENTRIES, batch_entries};
use lambda_kit::sqs::{SqsBatch, process_batch};
use orders_api::config::Settings;
use orders_api::handler::OrdersApi;
use orders_api::ports::{OrderStore, OwnedOrder, StoreError};
use realtime::connections::Everyone;
use realtime::token::TokenKey;
use serde_json::{Value, json};
use ws_api::jwt::{JwtCheck, JwtRules};
use ws_api::{WsApi, WsEvent};

/// The orders-api samples the benchmarks send, from `events/orders-api/`.
pub const ORDERS_API_SAMPLES: [&str; 5] = [
    "create-order",
    "create-order-idempotent",
    "invalid-fields",
    "malformed-json",
    "unknown-route",
];

/// The SQS batch sizes measured, with a body of [`SQS_BODY_BYTES`] each.
pub const SQS_BATCH_SIZES: [usize; 2] = [10, 10_000];
pub const SQS_BODY_BYTES: usize = 1024;

/// A store that accepts every write and holds nothing: the handler's own cost, without storage.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptingStore;

impl OrderStore for AcceptingStore {
    async fn get_order(&self, _: &str) -> Result<Option<OwnedOrder>, StoreError> {
        Ok(None)
    }

    async fn create_order(&self, _: &OwnedOrder, _: Option<(&NewClaim, &StoredResponse)>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl ClaimStore for AcceptingStore {
    type Error = StoreError;

    async fn claim(&self, _: &NewClaim) -> Result<Claim, StoreError> {
        Ok(Claim::Acquired)
    }

    async fn complete(&self, _: &NewClaim, _: &StoredResponse) -> Result<(), StoreError> {
        Ok(())
    }

    async fn release(&self, _: &NewClaim) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The orders handler on a store that accepts every write at once.
pub fn orders_api() -> OrdersApi<AcceptingStore> {
    OrdersApi::new(AcceptingStore, Settings::default()).expect("the route table")
}

/// One orders-api request, from the bytes Lambda sends to the answer it returns: the payload-2.0
/// event parsed into a request, routed, the body read and validated, the order priced, its
/// event built, the 201 (or problem) body serialized and the request's log line written.
pub async fn orders_api_request(api: &OrdersApi<AcceptingStore>, event: &str) {
    let request = lambda_http::request::from_str(black_box(event)).expect("a sample event parses");
    let response = api.handle(request).await;
    black_box(response.into_body());
}

/// `lambda_kit::sqs::process_batch` from the event's bytes to the batch response, with a record
/// function that does nothing: what is left is the helper's own cost.
pub async fn sqs_batch_overhead(event: &[u8]) {
    let event: SqsBatch = serde_json::from_slice(black_box(event)).expect("the batch parses");
    let response = process_batch(event, 10, |message| async move {
        black_box(message.body.as_deref().map(str::len));
        Ok::<(), Infallible>(())
    })
    .await
    .expect("a well-formed batch");
    black_box(response.batch_item_failures.len());
}

/// A stream batch's worth of events turned into `PublishBatch` entries, ten per call.
pub fn publish_batch_entries(events: &[Envelope]) {
    for chunk in black_box(events).chunks(MAX_BATCH_ENTRIES) {
        let chunk: Vec<_> = chunk.iter().collect();
        black_box(batch_entries(&chunk).expect("entries build"));
    }
}

/// How a `$connect` proves its customer: the kit's own token, or a JWT (AuthMode JWT).
pub const WS_CONNECT_TOKENS: [&str; 2] = ["token", "jwt"];

/// ws-api taking both kinds of token, on a store that records nothing, with the issuer's key set
/// at hand (no fetch is measured: the keys are fetched once per hour at most).
pub type WsConnectApi = WsApi<Everyone, std::sync::Arc<TokenKey>, jsonwebtoken::jwk::JwkSet>;

/// The API and a `$connect` event (the bytes the runtime receives) for each of
/// [`WS_CONNECT_TOKENS`]: a `v1.` token, and an RS256 JWT signed with `key` (2048-bit RSA).
pub fn ws_connect(key: &test_support::jwt::SigningKey) -> (WsConnectApi, Vec<(&'static str, String)>) {
    const ISSUER: &str = "https://idp.example.com/pool";
    let tokens = std::sync::Arc::new(TokenKey::new("a-benchmark-token-secret-of-enough-bytes").expect("a key"));
    let far = 4_000_000_000i64;
    let api = WsApi::new(Everyone, std::sync::Arc::clone(&tokens)).with_jwt(Some(JwtCheck::new(
        JwtRules::new(ISSUER, vec!["app".into()], "sub"),
        test_support::jwt::key_set(&[key]),
    )));
    let jwt = key.sign(&json!({"iss": ISSUER, "aud": "app", "sub": "c-42", "exp": far}));
    let events = [("token", tokens.mint("c-42", far)), ("jwt", jwt)]
        .into_iter()
        .map(|(name, token)| {
            let event = json!({
                "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "L0SM9cOFvHcCIhw="},
                "queryStringParameters": {"token": token},
                "isBase64Encoded": false
            });
            (name, event.to_string())
        })
        .collect();
    (api, events)
}

/// One `$connect`: the event parsed, the token checked, the connection "recorded", the answer
/// and the log line written.
pub async fn ws_connect_request(api: &WsConnectApi, event: &str) {
    let event: Value = serde_json::from_str(black_box(event)).expect("the event parses");
    let response = api.handle(WsEvent::read(event)).await;
    assert_eq!(response.status_code, 200, "a connect the benchmark expects to succeed");
    black_box(response);
}

/// A sample event from `events/`, as the bytes the runtime receives.
pub fn sample_event(function: &str, name: &str) -> String {
    let path = format!("{}/../../events/{function}/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// An SQS event of `records` standard-queue messages with a `body_bytes`-long JSON body each,
/// as the bytes Lambda's poller sends.
pub fn sqs_batch(records: usize, body_bytes: usize) -> Vec<u8> {
    let padding = "x".repeat(body_bytes.saturating_sub(40));
    let records: Vec<Value> = (0..records)
        .map(|index| {
            json!({
                "messageId": format!("059f36b4-87a3-44ab-83d2-{index:012}"),
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": json!({ "job_id": format!("job-{index}"), "padding": padding }).to_string(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795700700000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1795700700001"
                },
                "messageAttributes": {
                    "job_type": { "stringValue": "report", "dataType": "String" }
                },
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:JobsQueue",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).expect("a JSON value serializes")
}

/// `count` order.created envelopes, as event-publisher reads them from one stream batch.
pub fn order_events(count: usize) -> Vec<Envelope> {
    (0..count)
        .map(|index| {
            Envelope::new(
                "order.created",
                1,
                "orders-api",
                json!({
                    "order_id": format!("0193a0c4-7e7a-7c2e-8f0a-{index:012}"),
                    "customer_id": "c-42",
                    "currency": "EUR",
                    "total": 3000,
                    "items": [{ "sku": "BOOK-1", "quantity": 2, "unit_price": 1250 }]
                }),
                chrono::Utc::now(),
            )
        })
        .collect()
}

/// Installs the production log subscriber (JSON lines, INFO), writing into a sink, so the cost
/// of each request's log line is part of what is measured.
pub fn production_logging_into_sink() {
    // SAFETY: called first in a benchmark's main, before any other thread exists.
    unsafe { std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON") };
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::sink);
}
