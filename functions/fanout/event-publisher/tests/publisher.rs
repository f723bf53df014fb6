//! event-publisher against SNS and SQS (moto, real SDK): the sample stream batch goes out, and an
//! injected publish failure loses nothing: the shard is retried from the first unpublished event.

use event_publisher::{Publisher, StreamBatchResponse};
use lambda_kit::events::{Envelope, EventPublisher};
use serde_json::Value;
use test_support::expected::Expectations;

struct Local {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
}

async fn local() -> Local {
    test_support::assert_local_aws();
    let aws = lambda_kit::aws::load().await;
    Local {
        sns: aws_sdk_sns::Client::new(&aws),
        sqs: aws_sdk_sqs::Client::new(&aws),
    }
}

impl Local {
    /// A topic of this test's own with one raw-delivery queue subscribed.
    async fn topic_with_queue(&self) -> (String, String) {
        let name = format!("publisher-test-{}", uuid::Uuid::now_v7().simple());
        let topic = self
            .sns
            .create_topic()
            .name(&name)
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("arn");
        let queue = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        self.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .expect("subscribe");
        (topic, queue)
    }

    async fn received_ids(&self, queue: &str) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return ids;
            }
            for message in messages {
                ids.push(
                    serde_json::from_str::<Envelope>(message.body().expect("body"))
                        .expect("envelope")
                        .id,
                );
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(message.receipt_handle().expect("handle"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

fn sample() -> Value {
    let path = test_support::events_dir("event-publisher").join("outbox-batch.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

const ORDER_EVENT: &str = "0195f3a4-0000-7000-8000-00000000e001";
const JOB_EVENT: &str = "0195f3a4-0000-7000-8000-00000000e002";

#[tokio::test]
async fn the_sample_outbox_batch_publishes_its_two_new_events() {
    let local = local().await;
    let (topic, queue) = local.topic_with_queue().await;

    let answer = Publisher::new(EventPublisher::new(local.sns.clone(), &topic, 3))
        .handle(sample())
        .await
        .expect("a batch answer");

    let expectations = Expectations::of("event-publisher");
    expectations.events[0].check(&serde_json::to_value(&answer).expect("an answer"));
    let mut ids = local.received_ids(&queue).await;
    ids.sort();
    assert_eq!(
        ids,
        [ORDER_EVENT, JOB_EVENT],
        "the REMOVE record (TTL sweep) publishes nothing"
    );
}

#[tokio::test]
async fn a_failed_publish_is_retried_from_the_first_unpublished_event_and_nothing_is_lost() {
    let local = local().await;
    let (topic, queue) = local.topic_with_queue().await;
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
    assert!(local.received_ids(&queue).await.is_empty());

    // Lambda retries the shard from that record; the topic works again.
    let retried = Publisher::new(EventPublisher::new(local.sns.clone(), &topic, 2))
        .handle(sample())
        .await
        .expect("answer");
    assert_eq!(retried, StreamBatchResponse::default());
    assert_eq!(
        local.received_ids(&queue).await.len(),
        2,
        "each event out exactly once here"
    );
}

#[tokio::test]
async fn an_event_that_is_not_a_stream_batch_fails_the_invocation() {
    let local = local().await;
    let publisher = Publisher::new(EventPublisher::new(
        local.sns.clone(),
        "arn:aws:sns:us-east-1:123456789012:none",
        1,
    ));
    assert!(publisher.handle(serde_json::json!({"hello": "world"})).await.is_err());
}
