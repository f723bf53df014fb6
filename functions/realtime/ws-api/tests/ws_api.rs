//! ws-api against DynamoDB (moto, real SDK): every sample event in events/ws-api, in the order
//! a connection lives (connect, subscribe, disconnect), with the answer API Gateway would act on.

use chrono::Utc;
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
async fn every_sample_event_gets_the_expected_answer() {
    let store = table().await;
    let expectations = Expectations::of("ws-api");
    let api = WsApi::new(
        store.clone(),
        TokenKey::new(expectations.secret("WsTokenSecret")).unwrap(),
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
                assert!(subscribers.iter().any(|id| id == SAMPLE_CONNECTION));
            }
            "disconnect.json" => {
                assert_eq!(store.customer_of(SAMPLE_CONNECTION, Utc::now()).await.unwrap(), None);
                let subscribers = store.subscribers(&job, Utc::now()).await.unwrap();
                assert!(
                    !subscribers.iter().any(|id| id == SAMPLE_CONNECTION),
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
async fn an_event_that_is_not_a_websocket_event_gets_a_400() {
    let api = WsApi::new(
        table().await,
        TokenKey::new("any-key-of-enough-bytes-for-this").unwrap(),
    );
    for payload in [
        serde_json::json!({}),
        serde_json::json!([1, 2]),
        serde_json::json!({"requestContext": "x"}),
    ] {
        assert_eq!(api.handle(WsEvent::read(payload)).await.status_code, 400);
    }
}
