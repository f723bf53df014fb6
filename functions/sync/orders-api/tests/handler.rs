//! The orders API's behaviour on the in-memory store (`orders_api::memory`): idempotent replays,
//! a reused key, a key in progress or abandoned, callers kept apart, and what a caller sees when
//! the store fails. Nothing needs to run: plain `cargo test` runs these. tests/dynamodb.rs checks
//! the same promises of the DynamoDB adapter against the local AWS.

mod support;

use chrono::Utc;
use http::StatusCode;
use lambda_kit::idempotency::{self, Claim, IdempotencyKey, NewClaim};
use orders_api::config::Settings;
use orders_api::handler::OrdersApi;
use orders_api::memory::{Fault, MemoryStore};
use orders_api::order;
use serde_json::{Value, json};
use support::{REQUEST_ID, body_json, get, get_as, header, iam_caller, jwt_caller, post_order, post_order_as};

fn api(store: MemoryStore) -> OrdersApi<MemoryStore> {
    OrdersApi::new(store, Settings::default()).expect("the route table")
}

fn order_for(customer_id: &str) -> Value {
    json!({"customer_id": customer_id, "currency": "EUR", "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250}, {"sku": "MUG-3", "quantity": 1, "unit_price": 899}]})
}

/// A claim on `key` for `body` as another request would have made it, in progress for
/// `in_progress_for_ms` more milliseconds (negative: its invocation is past its deadline).
fn claim(key: &str, body: &Value, in_progress_for_ms: i64) -> NewClaim {
    let now = Utc::now().timestamp_millis();
    NewClaim {
        key: IdempotencyKey::parse("POST /orders", key.as_bytes()).expect("key"),
        fingerprint: idempotency::fingerprint(&order::validate(body).expect("valid order")),
        now_millis: now,
        in_progress_until_millis: now + in_progress_for_ms,
        expires_at_seconds: now / 1000 + 3600,
        reserved_id: None,
    }
}

#[tokio::test]
async fn a_created_order_is_read_back_at_its_location() {
    let api = api(MemoryStore::new());

    let created = api.handle(post_order(&order_for("c-1"), None)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(&created, "location").expect("location").to_owned();

    let read = api.handle(get(&location)).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(body_json(&read), body_json(&created));
    assert_eq!(body_json(&read)["total"], 4079);
}

#[tokio::test]
async fn another_callers_order_answers_as_if_it_did_not_exist() {
    let api = api(MemoryStore::new());
    for (alice, bob) in [
        (jwt_caller("alice"), jwt_caller("bob")),
        (iam_caller("alice"), iam_caller("bob")),
    ] {
        // Given an order Alice created behind an authorizer
        let created = api
            .handle(post_order_as(&order_for("c-1"), &support::unique("k"), alice.clone()))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let location = header(&created, "location").expect("location").to_owned();

        // When Alice and then Bob read it
        let by_alice = api.handle(get_as(&location, alice)).await;
        let by_bob = api.handle(get_as(&location, bob.clone())).await;

        // Then Alice gets it, and Bob the answer of an id that does not exist
        assert_eq!(by_alice.status(), StatusCode::OK);
        assert_eq!(body_json(&by_alice), body_json(&created));
        let unknown = api
            .handle(get_as("/orders/0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01", bob))
            .await;
        assert_eq!(by_bob.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_json(&by_bob), body_json(&unknown));
    }
}

#[tokio::test]
async fn what_was_created_on_an_open_api_is_no_callers_once_it_is_closed() {
    let api = api(MemoryStore::new());
    let created = api.handle(post_order(&order_for("c-1"), None)).await;
    let location = header(&created, "location").expect("location").to_owned();

    assert_eq!(
        api.handle(get(&location)).await.status(),
        StatusCode::OK,
        "open: anyone reads"
    );
    assert_eq!(
        api.handle(get_as(&location, iam_caller("alice"))).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn with_a_customer_claim_a_caller_orders_for_the_customer_its_token_names_only() {
    let settings = Settings {
        customer_claim: Some("sub".to_owned()),
        ..Settings::default()
    };
    let store = MemoryStore::new();
    let api = OrdersApi::new(store, settings).expect("the route table");

    let own = api
        .handle(post_order_as(&order_for("alice"), "k-1", jwt_caller("alice")))
        .await;
    let other = api
        .handle(post_order_as(&order_for("c-1"), "k-2", jwt_caller("alice")))
        .await;
    let no_token = api.handle(post_order(&order_for("alice"), None)).await;

    assert_eq!(own.status(), StatusCode::CREATED);
    for refused in [&other, &no_token] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_json(refused)["type"], "/problems/not-your-customer");
        assert_eq!(body_json(refused)["errors"][0]["pointer"], "/customer_id");
    }
    assert_eq!(api.store().len(), 1, "a refused order is not stored");
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_answer_and_creates_nothing() {
    let api = api(MemoryStore::new());

    let first = api.handle(post_order(&order_for("c-1"), Some("k-1"))).await;
    let retry = api.handle(post_order(&order_for("c-1"), Some("k-1"))).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(body_json(&retry), body_json(&first));
    assert_eq!(header(&retry, "location"), header(&first, "location"));
    assert_eq!(api.store().len(), 1);
}

#[tokio::test]
async fn two_callers_with_the_same_key_each_get_their_own_order() {
    let api = api(MemoryStore::new());
    let body = order_for("c-1");

    let alice = api.handle(post_order_as(&body, "k-1", jwt_caller("alice"))).await;
    let bob = api.handle(post_order_as(&body, "k-1", jwt_caller("bob"))).await;
    let alice_again = api.handle(post_order_as(&body, "k-1", jwt_caller("alice"))).await;

    assert_eq!(
        (alice.status(), bob.status()),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_ne!(body_json(&alice)["id"], body_json(&bob)["id"]);
    assert_eq!(header(&bob, "idempotent-replayed"), None);
    assert_eq!(body_json(&alice_again)["id"], body_json(&alice)["id"]);
    assert_eq!(header(&alice_again, "idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_creates_nothing() {
    let api = api(MemoryStore::new());

    api.handle(post_order(&order_for("c-1"), Some("k-1"))).await;
    let refused = api.handle(post_order(&order_for("c-2"), Some("k-1"))).await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(&refused)["type"], "/problems/idempotency-key-reused");
    assert_eq!(api.store().len(), 1);
}

#[tokio::test]
async fn a_request_whose_key_is_still_in_progress_is_told_to_retry() {
    let store = MemoryStore::new();
    let body = order_for("c-1");
    assert_eq!(store.claims().try_claim(&claim("k-1", &body, 60_000)), Claim::Acquired);
    let api = api(store);

    let response = api.handle(post_order(&body, Some("k-1"))).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(body_json(&response)["type"], "/problems/idempotency-key-in-progress");
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert_eq!(api.store().len(), 0);
}

#[tokio::test]
async fn a_claim_whose_invocation_died_is_taken_over_by_the_retry() {
    let store = MemoryStore::new();
    let body = order_for("c-1");
    store.claims().try_claim(&claim("k-1", &body, -1));
    let api = api(store);

    let response = api.handle(post_order(&body, Some("k-1"))).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "idempotent-replayed"), None);
    assert_eq!(api.store().len(), 1);
}

#[tokio::test]
async fn an_unavailable_store_answers_503_with_retry_after_and_the_request_id() {
    let api = api(MemoryStore::failing_with(Fault::Unavailable));

    for request in [
        get("/orders/0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01"),
        post_order(&order_for("c-1"), Some("k-1")),
    ] {
        let response = api.handle(request).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&response, "retry-after"), Some("1"));
        assert_eq!(body_json(&response)["request_id"], REQUEST_ID);
    }
}

#[tokio::test]
async fn a_failing_store_answers_500_with_the_request_id_and_no_internal_detail() {
    let api = api(MemoryStore::failing_with(Fault::Failed));

    let response = api.handle(post_order(&order_for("c-1"), None)).await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let problem = body_json(&response);
    assert_eq!(problem["request_id"], REQUEST_ID);
    assert!(
        !problem.to_string().contains("memory store"),
        "leaks internals: {problem}"
    );
}
