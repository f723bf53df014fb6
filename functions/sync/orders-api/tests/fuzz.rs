//! Fuzzing the orders API handler (proptest; `PROPTEST_CASES` cases, 256 by default,
//! 100,000 in `make fuzz`): the real sample events, varied in everything a client controls and
//! damaged in their structure, go through the same path as in the deployed function
//! (`lambda_kit::http::answer`: event → request → handler → answer).
//!
//! Properties: nothing panics; every event a client can produce gets an answer, and no answer is
//! a 5xx (the store behind the handler accepts everything, so a 5xx could only be the handler's
//! fault); every 4xx is a problem document.

use lambda_kit::events::Envelope;
use lambda_kit::idempotency::{Claim, ClaimStore, IdempotencyKey, NewClaim, StoredResponse};
use orders_api::config::Settings;
use orders_api::handler::OrdersApi;
use orders_api::order::Order;
use orders_api::ports::{OrderStore, StoreError};
use proptest::prelude::*;
use serde_json::Value;
use test_support::{check_http_answer, config, http_answer, http_event, http_request, sample_event};

/// Accepts every write; holds nothing.
struct AcceptingStore;

impl OrderStore for AcceptingStore {
    async fn get_order(&self, _: &str) -> Result<Option<Order>, StoreError> {
        Ok(None)
    }
    async fn create_order(
        &self,
        _: &Order,
        _: &Envelope,
        _: Option<(&NewClaim, &StoredResponse)>,
    ) -> Result<(), StoreError> {
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

    async fn release(&self, _: &IdempotencyKey) -> Result<(), StoreError> {
        Ok(())
    }
}

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
    let api = OrdersApi::new(AcceptingStore, Settings::default());
    http_answer(text, |request| api.handle(request))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn whatever_a_client_sends_is_answered_without_a_5xx(event in prop::sample::select(samples()).prop_flat_map(http_request)) {
        let answer = answer(&event.to_string());
        prop_assert!(answer.is_some(), "a client's request must reach the handler: {event}");
        check_http_answer(&answer.unwrap())?;
    }

    #[test]
    fn a_damaged_event_never_panics_and_never_gets_a_5xx(text in http_event(samples())) {
        if let Some(answer) = answer(&text) {
            check_http_answer(&answer)?;
        }
    }
}
