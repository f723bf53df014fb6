//! The orders API against DynamoDB (moto, through the real SDK): persistence, idempotency and
//! what a caller sees when the store fails.

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use chrono::Utc;
use http::StatusCode;
use lambda_kit::idempotency::{self, Claim, ClaimStore, ExistingClaim, IdempotencyKey, NewClaim, StoredResponse};
use orders_api::order;
use orders_api::ports::{OrderStore, StoreError};
use orders_api::store::DynamoDbStore;
use serde_json::{Value, json};
use support::{
    REQUEST_ID, body_json, get, get_as, header, iam_caller, jwt_caller, local, post_order, post_order_as, unique,
};

fn order_for(customer_id: &str) -> Value {
    json!({"customer_id": customer_id, "currency": "EUR", "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250}, {"sku": "MUG-3", "quantity": 1, "unit_price": 899}]})
}

/// A claim on `key` for `body`, as the handler would make it, expiring in `in_progress_for_ms`.
fn claim(key: &str, body: &Value, in_progress_for_ms: i64) -> NewClaim {
    let now = Utc::now().timestamp_millis();
    let request = order::validate(body).expect("valid order");
    NewClaim {
        key: IdempotencyKey::parse("POST /orders", key.as_bytes()).expect("key"),
        fingerprint: idempotency::fingerprint(&request),
        now_millis: now,
        in_progress_until_millis: now + in_progress_for_ms,
        expires_at_seconds: now / 1000 + 3600,
        reserved_id: None,
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_created_order_is_stored_and_read_back_at_its_location() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");

    let created = api.handle(post_order(&order_for(&customer), None)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(&created, "location").expect("location").to_owned();

    let read = api.handle(get(&location)).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(body_json(&read), body_json(&created));
    assert_eq!(body_json(&read)["total"], 4079); // (2500 + 899) x 1.2 = 4078.8 -> 4079
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_retry_with_the_same_key_replays_the_first_answer_and_creates_nothing() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");
    let key = unique("key");

    let first = api.handle(post_order(&order_for(&customer), Some(&key))).await;
    let retry = api.handle(post_order(&order_for(&customer), Some(&key))).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(body_json(&retry), body_json(&first));
    assert_eq!(header(&retry, "location"), header(&first, "location"));
    assert_eq!(header(&first, "idempotent-replayed"), None);
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn two_callers_with_the_same_key_each_get_their_own_order_and_only_their_own_replay() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");
    let key = unique("key");
    let order = order_for(&customer);

    let alice = api.handle(post_order_as(&order, &key, jwt_caller("alice"))).await;
    let bob = api.handle(post_order_as(&order, &key, jwt_caller("bob"))).await;
    let alice_again = api.handle(post_order_as(&order, &key, jwt_caller("alice"))).await;
    let iam =
        json!({"iam": {"accountId": "123456789012", "userArn": "arn:aws:sts::123456789012:assumed-role/ci/run-1"}});
    let machine = api.handle(post_order_as(&order, &key, iam)).await;

    for created in [&alice, &bob, &machine] {
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(
            header(created, "idempotent-replayed"),
            None,
            "a first request of its caller"
        );
    }
    let ids: std::collections::HashSet<_> = [&alice, &bob, &machine].map(|r| body_json(r)["id"].clone()).into();
    assert_eq!(ids.len(), 3, "each caller's key made its own order");
    assert_eq!(header(&alice_again, "idempotent-replayed"), Some("true"));
    assert_eq!(
        body_json(&alice_again),
        body_json(&alice),
        "alice's retry gets alice's order"
    );
    assert_eq!(local.orders_of(&customer).await, 3);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_order_keeps_its_owner_and_another_caller_reads_it_as_if_it_did_not_exist() {
    let local = local().await;
    let api = local.api();

    let created = api
        .handle(post_order_as(
            &order_for(&unique("c")),
            &unique("key"),
            iam_caller("alice"),
        ))
        .await;
    let location = header(&created, "location").expect("location").to_owned();
    let by_alice = api.handle(get_as(&location, iam_caller("alice"))).await;
    let by_bob = api.handle(get_as(&location, iam_caller("bob"))).await;

    assert_eq!(
        (by_alice.status(), by_bob.status()),
        (StatusCode::OK, StatusCode::NOT_FOUND)
    );
    assert_eq!(
        body_json(&by_alice),
        body_json(&created),
        "the owner is not part of the order's answer"
    );
    let id = body_json(&created)["id"].as_str().expect("id").to_owned();
    let stored = local.store().get_order(&id).await.expect("read").expect("stored");
    let owner = lambda_kit::owner::digest("iam:arn:aws:iam::123456789012:user/alice");
    assert_eq!(
        stored.owner.as_deref(),
        Some(owner.as_str()),
        "kept as the caller's digest, not its name"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_same_body_laid_out_differently_is_the_same_request() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");
    let key = unique("key");
    let reordered = format!(
        r#"{{ "items": [{{"unit_price": 1250, "quantity": 2, "sku": "BOOK-1"}}, {{"sku": "MUG-3", "unit_price": 899, "quantity": 1}}],
             "currency": "EUR", "customer_id": "{customer}" }}"#
    );

    let first = api.handle(post_order(&order_for(&customer), Some(&key))).await;
    let mut retry_request = post_order(&Value::Null, Some(&key));
    *retry_request.body_mut() = lambda_http::Body::Text(reordered);
    let retry = api.handle(retry_request).await;

    assert_eq!(body_json(&retry), body_json(&first));
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_same_key_with_another_body_is_refused_and_creates_nothing() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");
    let key = unique("key");

    api.handle(post_order(&order_for(&customer), Some(&key))).await;
    let mut other = order_for(&customer);
    other["items"][0]["quantity"] = json!(3);
    let refused = api.handle(post_order(&other, Some(&key))).await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(&refused)["type"], "/problems/idempotency-key-reused");
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_request_whose_key_is_still_in_progress_is_told_to_retry() {
    let local = local().await;
    let customer = unique("c");
    let key = unique("key");
    let body = order_for(&customer);
    local.store().claim(&claim(&key, &body, 60_000)).await.expect("claim");

    let response = local.api().handle(post_order(&body, Some(&key))).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert_eq!(local.orders_of(&customer).await, 0);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_claim_whose_invocation_died_is_taken_over_by_the_retry() {
    let local = local().await;
    let customer = unique("c");
    let key = unique("key");
    let body = order_for(&customer);
    // The first attempt claimed the key and its invocation ended without completing it.
    local.store().claim(&claim(&key, &body, -1)).await.expect("claim");

    let response = local.api().handle(post_order(&body, Some(&key))).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_first_holder_after_a_take_over_neither_completes_nor_releases_the_new_claim() {
    let local = local().await;
    let store = local.store();
    let key = unique("key");
    let body = order_for(&unique("c"));
    let answer = StoredResponse {
        status: 201,
        location: None,
        body: "{}".into(),
    };
    let first = claim(&key, &body, -1);
    store.claim(&first).await.expect("claim");
    let second = claim(&key, &body, 60_000);
    assert!(matches!(store.claim(&second).await, Ok(Claim::Acquired)), "taken over");

    // The first request comes back to life with the same body (the same fingerprint).
    assert!(matches!(
        store.complete(&first, &answer).await,
        Err(StoreError::ClaimLost)
    ));
    store
        .release(&first)
        .await
        .expect("a release that finds another's claim leaves it");

    let third = store.claim(&claim(&key, &body, 60_000)).await.expect("claim");
    assert!(
        matches!(third, Claim::Existing(ExistingClaim { response: None, .. })),
        "the second request still holds the key: {third:?}"
    );
    store
        .complete(&second, &answer)
        .await
        .expect("the holder completes its claim");
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn concurrent_requests_with_one_key_create_one_order() {
    let local = local().await;
    let api = local.api();
    let customer = unique("c");
    let key = unique("key");
    let body = order_for(&customer);

    let (a, b, c, d) = tokio::join!(
        api.handle(post_order(&body, Some(&key))),
        api.handle(post_order(&body, Some(&key))),
        api.handle(post_order(&body, Some(&key))),
        api.handle(post_order(&body, Some(&key))),
    );

    let fresh = [&a, &b, &c, &d]
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED && header(r, "idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one request creates");
    assert!(
        [&a, &b, &c, &d]
            .iter()
            .all(|r| matches!(r.status(), StatusCode::CREATED | StatusCode::CONFLICT))
    );
    assert_eq!(local.orders_of(&customer).await, 1);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_failing_store_answers_500_with_the_request_id_and_no_internal_detail() {
    let local = local().await;
    let store = DynamoDbStore::new(
        local.client.clone(),
        "no-such-table",
        "no-such-table-either",
        "nor-this-one", // starter: with fanout|events
    );
    let api = local.api_with(store, local.config.settings.clone());

    let response = api.handle(post_order(&order_for("c-1"), None)).await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let problem = body_json(&response);
    assert_eq!(problem["request_id"], REQUEST_ID);
    let text = problem.to_string();
    assert!(
        !text.contains("no-such-table") && !text.contains("ResourceNotFound"),
        "leaks internals: {text}"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_unreachable_store_answers_503_with_retry_after() {
    let local = local().await;
    // Nothing listens on port 9 (discard) on loopback: every call fails to connect.
    let config = aws_sdk_dynamodb::config::Builder::from(&lambda_kit::aws::load().await.expect("the trust store"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let store = DynamoDbStore::new(
        Client::from_conf(config),
        &local.config.orders_table,
        &local.config.idempotency_table,
        &local.config.outbox_table, // starter: with fanout|events
    );
    let api = local.api_with(store, local.config.settings.clone());

    let response = api.handle(get("/orders/0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01")).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert_eq!(body_json(&response)["request_id"], REQUEST_ID);
}
