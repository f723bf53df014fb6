//! event-publisher against SNS and SQS (moto, real SDK): the sample stream batch goes out, and an
//! injected publish failure loses nothing: the shard is retried from the first unpublished event.

use event_publisher::{Publisher, StreamBatchResponse};
use lambda_kit::events::Envelope;
use lambda_kit::sns::EventPublisher;
use serde_json::Value;
use test_support::expected::Expectations;

mod support;

use support::{Local, local};

/// A topic of this test's own with one raw-delivery queue subscribed: the topic and the queue.
async fn topic_with_queue(local: &Local) -> (String, String) {
    let topic = local.topic().await;
    let queue = local
        .subscribe_queue(&topic, &[("RawMessageDelivery", "true".into())])
        .await;
    (topic, queue)
}

/// The ids of the events in the raw-delivery queue now.
async fn received_ids(local: &Local, queue: &str) -> Vec<String> {
    local
        .drain(queue)
        .await
        .iter()
        .map(|message| {
            serde_json::from_str::<Envelope>(message.body().expect("body"))
                .expect("envelope")
                .id
        })
        .collect()
}

fn sample() -> Value {
    let path = test_support::events_dir("event-publisher").join("outbox-batch.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

const ORDER_EVENT: &str = "0195f3a4-0000-7000-8000-00000000e001";
const JOB_EVENT: &str = "0195f3a4-0000-7000-8000-00000000e002";

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_sample_outbox_batch_publishes_its_two_new_events() {
    let local = local().await;
    let (topic, queue) = topic_with_queue(&local).await;

    let answer = Publisher::new(EventPublisher::new(local.sns.clone(), &topic, 3))
        .handle(sample())
        .await
        .expect("a batch answer");

    let expectations = Expectations::of("event-publisher");
    expectations.events[0].check(&serde_json::to_value(&answer).expect("an answer"));
    let mut ids = received_ids(&local, &queue).await;
    ids.sort();
    assert_eq!(
        ids,
        [ORDER_EVENT, JOB_EVENT],
        "the REMOVE record (TTL sweep) publishes nothing"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_failed_publish_is_retried_from_the_first_unpublished_event_and_nothing_is_lost() {
    let local = local().await;
    let (topic, queue) = topic_with_queue(&local).await;
    // The injected fault: a topic that does not exist, so every publish fails.
    let broken = Publisher::new(EventPublisher::new(local.sns.clone(), format!("{topic}-missing"), 2));

    let failed = broken.handle(sample()).await.expect("a batch answer");

    let retry_from: Vec<Option<&str>> = failed
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_deref())
        .collect();
    assert_eq!(
        retry_from,
        [Some("100000000000000000001")],
        "the shard is retried from the first record"
    );
    assert!(received_ids(&local, &queue).await.is_empty());

    // Lambda retries the shard from that record; the topic works again.
    let retried = Publisher::new(EventPublisher::new(local.sns.clone(), &topic, 2))
        .handle(sample())
        .await
        .expect("answer");
    assert_eq!(retried, StreamBatchResponse::default());
    assert_eq!(
        received_ids(&local, &queue).await.len(),
        2,
        "each event out exactly once here"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_event_that_is_not_a_stream_batch_fails_the_invocation() {
    let local = local().await;
    let publisher = Publisher::new(EventPublisher::new(
        local.sns.clone(),
        "arn:aws:sns:us-east-1:123456789012:none",
        1,
    ));
    assert!(publisher.handle(serde_json::json!({"hello": "world"})).await.is_err());
}
