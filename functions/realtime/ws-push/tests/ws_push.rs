//! ws-push against DynamoDB (moto, real SDK) with the sample batch: each event reaches exactly
//! the connections that follow it and speak for its customer, a connection that answers 410 Gone is removed with its
//! subscriptions, poison is reported by its message id. The Management API side is a recording
//! stand-in here; functions/realtime/tests/test_websocket_flow.py drives the real SDK call through the local gateway.

use std::cell::RefCell;

use chrono::Utc;
use lambda_kit::sqs::SqsBatch;
use realtime::connections::{ConnectionStore, ConnectionsTable, Follower};
use realtime::topic::Topic;
use serde_json::Value;
use test_support::expected::Expectations;
use ws_push::{ConnectionPusher, PushError, Pusher};

const JOB: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9e11";
const ORDER: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01";

async fn table() -> ConnectionsTable {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("CONNECTIONS_TABLE").expect("the function's environment");
    ConnectionsTable::new(
        aws_sdk_dynamodb::Client::new(&lambda_kit::aws::load().await.expect("the trust store")),
        table,
    )
}

fn sample() -> SqsBatch {
    let path = test_support::events_dir("ws-push").join("job-and-order-events.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

/// Records each push; `gone` answers 410.
struct Recording {
    gone: String,
    pushed: RefCell<Vec<(String, Value)>>,
}

impl ConnectionPusher for Recording {
    async fn push(&self, connection_id: &str, message: &[u8]) -> Result<(), PushError> {
        if connection_id == self.gone {
            return Err(PushError::Gone);
        }
        self.pushed
            .borrow_mut()
            .push((connection_id.to_owned(), serde_json::from_slice(message).expect("JSON")));
        Ok(())
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_sample_batch_reaches_the_followers_and_removes_the_gone() {
    let store = table().await;
    let now = Utc::now();
    let run = uuid_suffix();
    let (job_follower, customer_follower, gone, stranger) = (
        format!("job-{run}"),
        format!("customer-{run}"),
        format!("gone-{run}"),
        format!("stranger-{run}"),
    );
    for (connection, customer, topics) in [
        (&job_follower, "c-push", vec![Topic::Job(JOB.into())]),
        (&customer_follower, "c-push", vec![Topic::Customer("c-push".into())]),
        (&gone, "c-push", vec![Topic::Job(JOB.into())]),
        // Another customer who learnt the job's and the order's ids.
        (
            &stranger,
            "c-other",
            vec![Topic::Job(JOB.into()), Topic::Order(ORDER.into())],
        ),
    ] {
        store.open(connection, customer, now).await.unwrap();
        store.subscribe(connection, customer, &topics, now).await.unwrap();
    }

    let pusher = Pusher::new(
        store.clone(),
        Recording {
            gone: gone.clone(),
            pushed: RefCell::default(),
        },
    );
    let response = pusher.handle(sample()).await.expect("batch handled");

    // Only the poison record fails.
    Expectations::of("ws-push").events[0].check(&serde_json::to_value(&response).expect("an answer"));

    let pushed = pusher.pusher().pushed.borrow().clone();
    let to = |connection: &str| -> Vec<String> {
        pushed
            .iter()
            .filter(|(id, _)| id == connection)
            .map(|(_, event)| event["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(to(&job_follower), ["job.succeeded"]);
    // The sample's job.succeeded names a callback URL: clients get the event without it.
    let (_, job_event) = pushed.iter().find(|(id, _)| id == &job_follower).expect("pushed");
    assert_eq!(job_event["data"]["job_id"], JOB);
    assert!(job_event["data"].get("callback_url").is_none(), "{job_event}");
    assert_eq!(to(&customer_follower), ["order.created"]);
    assert!(to(&gone).is_empty());
    assert!(
        to(&stranger).is_empty(),
        "another customer's subscription brings nothing"
    );

    assert_eq!(
        store.customer_of(&gone, Utc::now()).await.unwrap(),
        None,
        "the gone connection is removed"
    );
    let followers: Vec<Follower> = store.subscribers(&Topic::Job(JOB.into()), Utc::now()).await.unwrap();
    let following = |connection: &str| followers.iter().any(|f| f.connection_id == connection);
    assert!(following(&job_follower) && following(&stranger) && !following(&gone));
    assert!(
        followers.iter().all(|f| f.customer_id.as_deref()
            == Some(if f.connection_id == stranger {
                "c-other"
            } else {
                "c-push"
            })),
        "a subscription keeps its connection's customer: {followers:?}"
    );

    for connection in [&job_follower, &customer_follower, &stranger] {
        store.close(connection).await.unwrap();
    }
}

fn uuid_suffix() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}
