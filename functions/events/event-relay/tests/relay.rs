//! event-relay against EventBridge and SQS (moto, real SDK): the sample batches put their events
//! on a bus (a bus, rule and queue of the test's own, so the stack's rules see none of them), a
//! malformed record stops the shard at itself, and a bus that refuses loses nothing.

use aws_sdk_eventbridge::Client as Events;
use aws_sdk_sqs::Client as Sqs;
use event_relay::{PutEventsBus, Relay, StreamBatchResponse};
use serde_json::{Value, json};
use test_support::expected::Expectations;

struct Local {
    events: Events,
    sqs: Sqs,
}

async fn local() -> Local {
    test_support::assert_local_aws();
    let aws = lambda_kit::aws::load().await.expect("the trust store");
    Local {
        events: Events::new(&aws),
        sqs: Sqs::new(&aws),
    }
}

impl Local {
    /// A bus of the test's own whose one rule sends every event to a queue: (bus, queue URL).
    async fn bus_with_queue(&self) -> (String, String) {
        let name = format!("relay-test-{}", uuid::Uuid::now_v7().simple());
        self.events.create_event_bus().name(&name).send().await.expect("bus");
        let url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        self.events
            .put_rule()
            .name("everything")
            .event_bus_name(&name)
            .event_pattern(json!({"source": [{"exists": true}]}).to_string())
            .send()
            .await
            .expect("rule");
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
            .build()
            .expect("target");
        self.events
            .put_targets()
            .rule("everything")
            .event_bus_name(&name)
            .targets(target)
            .send()
            .await
            .expect("targets");
        (name, url)
    }

    /// The bus events in the queue now, each deleted once read.
    async fn drain(&self, url: &str) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for message in &messages {
                all.push(serde_json::from_str(message.body().expect("body")).expect("a bus event"));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().expect("handle"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

fn sample(name: &str) -> Value {
    let path = test_support::events_dir("event-relay").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

fn detail_ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = events
        .iter()
        .map(|e| e["detail"]["id"].as_str().expect("detail.id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_sample_batches_put_their_events_on_the_bus_up_to_a_malformed_record() {
    let local = local().await;
    let (bus, queue) = local.bus_with_queue().await;
    let relay = Relay::new(PutEventsBus::new(local.events.clone(), &bus), 3);

    for expected in &Expectations::of("event-relay").events {
        let answer = relay.handle(sample(&expected.event)).await.expect("a batch answer");
        expected.check(&serde_json::to_value(&answer).expect("an answer"));
    }

    let events = local.drain(&queue).await;
    assert_eq!(
        detail_ids(&events),
        [
            "0195f3a4-0000-7000-8000-00000000e001",
            "0195f3a4-0000-7000-8000-00000000e002",
            "0195f3a4-0000-7000-8000-00000000e101"
        ],
        "the two new events of the first batch, and the one before the malformed record; not the REMOVE, not what comes after"
    );
    for event in &events {
        assert_eq!(
            event["detail-type"], event["detail"]["type"],
            "the event type is the detail type rules match"
        );
        assert_eq!(event["source"], event["detail"]["source"]);
        assert!(
            event["detail"]["data"].get("callback_url").is_none(),
            "the bus carries no callback URL: {event}"
        );
        assert!(event["detail"]["data"].get("callback_owner").is_none());
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_bus_that_refuses_the_batch_loses_nothing_the_shard_resumes_at_the_first_event() {
    let local = local().await;
    let (bus, queue) = local.bus_with_queue().await;
    // The injected fault: a bus that does not exist, so every put fails.
    let broken = Relay::new(PutEventsBus::new(local.events.clone(), format!("{bus}-missing")), 2);

    let answer = broken
        .handle(sample("outbox-batch.json"))
        .await
        .expect("a batch answer");

    let resume: Vec<Option<&str>> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    assert_eq!(
        resume,
        [Some("100000000000000000001")],
        "the shard resumes at the first record"
    );
    assert!(local.drain(&queue).await.is_empty());

    // Lambda retries the shard from that record; the bus takes it now.
    let retried = Relay::new(PutEventsBus::new(local.events.clone(), &bus), 2)
        .handle(sample("outbox-batch.json"))
        .await
        .expect("an answer");
    assert_eq!(retried, StreamBatchResponse::default());
    assert_eq!(local.drain(&queue).await.len(), 2, "each event on the bus once here");
}
