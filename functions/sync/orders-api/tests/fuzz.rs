//! Fuzzing the orders API handler (proptest; `PROPTEST_CASES` cases, 256 by default,
//! 100,000 in `make fuzz`): the real sample events, varied in everything a client controls and
//! damaged in their structure, go through the same path as in the deployed function
//! (`lambda_kit::http::answer`: event → request → handler → answer).
//!
//! Properties: nothing panics; every event a client can produce gets an answer, and no answer is
//! a 5xx (the store behind the handler is the in-memory one, which does not fail, so a 5xx could
//! only be the handler's fault); every 4xx is a problem document.

use orders_api::config::Settings;
use orders_api::handler::OrdersApi;
use orders_api::memory::MemoryStore;
use serde_json::Value;
use test_support::{check_http_properties, http_answer, sample_event};

fn samples() -> Vec<Value> {
    [
        "create-order",
        "create-order-rest-api",
        "create-order-named-stage",
        "create-order-base64-body",
        "get-order",
        "get-order-rest-api",
    ]
    .into_iter()
    .map(|name| sample_event("orders-api", name))
    .collect()
}

fn answer(text: &str) -> Option<Value> {
    let api = OrdersApi::new(MemoryStore::new(), Settings::default()).expect("the route table");
    http_answer(text, |request| api.handle(request))
}

#[test]
fn every_request_is_answered_without_a_5xx_and_no_damaged_event_panics() {
    check_http_properties(samples(), answer);
}
