//! ws-api against DynamoDB (moto, real SDK): every sample event in events/ws-api, in the order
//! a connection lives (connect, subscribe, disconnect), with the answer API Gateway would act on.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lambda_kit::secrets::{CachedSecret, REFRESH_AFTER};
use realtime::connections::{ConnectionStore, ConnectionsTable};
use realtime::token::TokenKey;
use realtime::topic::Topic;
use test_support::expected::Expectations;
use ws_api::{WsApi, WsEvent};

const SAMPLE_CONNECTION: &str = "L0SM9cOFvHcCIhw=";
const SAMPLE_JOB: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9e01";

async fn table() -> ConnectionsTable {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("CONNECTIONS_TABLE").expect("the function's environment");
    ConnectionsTable::new(
        aws_sdk_dynamodb::Client::new(&lambda_kit::aws::load().await.expect("the trust store")),
        table,
    )
}

fn event(name: &str) -> WsEvent {
    let path = test_support::events_dir("ws-api").join(name);
    WsEvent::read(serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON"))
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_sample_event_gets_the_expected_answer() {
    let store = table().await;
    let expectations = Expectations::of("ws-api");
    let api = WsApi::new(
        store.clone(),
        Arc::new(TokenKey::new(expectations.secret("WsTokenSecret")).unwrap()),
    );
    let job = Topic::Job(SAMPLE_JOB.into());

    for expected in &expectations.events {
        let file = expected.event.as_str();
        let response = api.handle(event(file)).await;
        expected.check(&serde_json::to_value(&response).expect("an answer"));
        match file {
            "connect.json" => {
                let customer = store.customer_of(SAMPLE_CONNECTION, Utc::now()).await.unwrap();
                assert_eq!(
                    customer.as_deref(),
                    Some("c-42"),
                    "the connection is recorded with its token's customer"
                );
            }
            "subscribe.json" => {
                let subscribers = store.subscribers(&job, Utc::now()).await.unwrap();
                assert!(
                    subscribers
                        .iter()
                        .any(|follower| follower.connection_id == SAMPLE_CONNECTION
                            && follower.customer_id.as_deref() == Some("c-42")),
                    "the subscription is recorded with the connection's customer: {subscribers:?}"
                );
            }
            "disconnect.json" => {
                assert_eq!(store.customer_of(SAMPLE_CONNECTION, Utc::now()).await.unwrap(), None);
                let subscribers = store.subscribers(&job, Utc::now()).await.unwrap();
                assert!(
                    !subscribers
                        .iter()
                        .any(|follower| follower.connection_id == SAMPLE_CONNECTION),
                    "its subscriptions are gone too"
                );
            }
            _ => {}
        }
    }

    // A message on a connection that is no longer open is refused with 410.
    let response = api.handle(event("subscribe.json")).await;
    assert_eq!(response.status_code, 410);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_event_that_is_not_a_websocket_event_gets_a_400() {
    let api = WsApi::new(
        table().await,
        Arc::new(TokenKey::new("any-key-of-enough-bytes-for-this").unwrap()),
    );
    for payload in [
        serde_json::json!({}),
        serde_json::json!([1, 2]),
        serde_json::json!({"requestContext": "x"}),
    ] {
        assert_eq!(api.handle(WsEvent::read(payload)).await.status_code, 400);
    }
}

/// A secret of its own in the local Secrets Manager, and a client to rotate it.
async fn secret(value: &str) -> (aws_sdk_secretsmanager::Client, String) {
    test_support::assert_local_aws();
    let client = aws_sdk_secretsmanager::Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let name = format!("ws-token-{}", uuid::Uuid::now_v7());
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("secret created");
    (client, name)
}

fn token_key(text: &str) -> Result<TokenKey, lambda_kit::BoxError> {
    Ok(TokenKey::new(text)?)
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_token_secret_is_read_on_first_use_and_a_rotation_arrives_after_max_age() {
    let first = "the-first-token-secret-of-enough-bytes";
    let second = "the-rotated-token-secret-of-enough-bytes";
    let (client, name) = secret(first).await;
    let aws = lambda_kit::aws::load().await.expect("the trust store");
    let kept = CachedSecret::new(&aws, name.clone(), REFRESH_AFTER, token_key);
    let refreshed = CachedSecret::new(&aws, name.clone(), Duration::ZERO, token_key);
    let now = Utc::now().timestamp();
    let token_of = |secret: &str| TokenKey::new(secret).unwrap().mint("c-42", now + 60);
    assert!(kept.get().await.unwrap().check(Some(&token_of(first)), now).is_ok());
    assert!(
        refreshed
            .get()
            .await
            .unwrap()
            .check(Some(&token_of(first)), now)
            .is_ok()
    );

    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(second)
        .send()
        .await
        .expect("rotated");

    let within_max_age = kept.get().await.unwrap();
    assert!(
        within_max_age.check(Some(&token_of(first)), now).is_ok(),
        "the value held is used until max_age"
    );
    let after_max_age = refreshed.get().await.unwrap();
    assert!(
        after_max_age.check(Some(&token_of(second)), now).is_ok(),
        "read again after max_age"
    );
    assert!(after_max_age.check(Some(&token_of(first)), now).is_err());
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_secret_that_cannot_be_read_again_keeps_the_value_held_and_one_never_read_is_a_503() {
    let value = "a-token-secret-that-will-be-deleted-soon";
    let (client, name) = secret(value).await;
    let aws = lambda_kit::aws::load().await.expect("the trust store");
    let refreshed = CachedSecret::new(&aws, name.clone(), Duration::ZERO, token_key);
    refreshed.get().await.expect("read once");
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("deleted");
    let now = Utc::now().timestamp();
    let token = TokenKey::new(value).unwrap().mint("c-42", now + 60);
    let held = refreshed.get().await.expect("the value held");
    assert!(held.check(Some(&token), now).is_ok());

    let never_read = CachedSecret::new(&aws, name, REFRESH_AFTER, token_key);
    assert!(never_read.get().await.is_err());
    let api = WsApi::new(table().await, never_read);
    let response = api.handle(event("connect.json")).await;
    assert_eq!(response.status_code, 503, "{response:?}");
}
