//! The kit's SNS publisher (`lambda_kit::sns::EventPublisher`, this function's only user)
//! against SNS (moto, through the real SDK): batches of 10, attribute filters,
//! raw and enveloped delivery to SQS, and a refused entry reported by its event id.

use chrono::Utc;
use lambda_kit::events::{EVENT_TYPE_ATTRIBUTE, Envelope};
use lambda_kit::sns::EventPublisher;
use serde_json::{Value, json};

mod support;

use support::local;

fn events(count: usize) -> Vec<Envelope> {
    let types = ["order.created", "job.succeeded", "job.failed"];
    (0..count)
        .map(|n| Envelope::new(types[n % 3], 1, "test", json!({"n": n}), Utc::now()))
        .collect()
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_event_is_published_in_batches_and_filtered_per_subscription() {
    let local = local().await;
    let topic = local.topic().await;
    let orders_only = local
        .subscribe_queue(
            &topic,
            &[
                ("RawMessageDelivery", "true".into()),
                (
                    "FilterPolicy",
                    json!({EVENT_TYPE_ATTRIBUTE: ["order.created"]}).to_string(),
                ),
            ],
        )
        .await;
    let everything = local.subscribe_queue(&topic, &[]).await;
    let published = events(25);

    EventPublisher::new(local.sns.clone(), &topic, 3)
        .publish_all(&published)
        .await
        .expect("all published");

    let raw = local.drain(&orders_only).await;
    let raw_ids: Vec<String> = raw
        .iter()
        .map(|m| {
            serde_json::from_str::<Envelope>(m.body().expect("body"))
                .expect("an envelope, raw")
                .id
        })
        .collect();
    let expected: Vec<&str> = published
        .iter()
        .filter(|e| e.event_type == "order.created")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(sorted(raw_ids.iter().map(String::as_str)), sorted(expected.into_iter()));

    let enveloped = local.drain(&everything).await;
    assert_eq!(enveloped.len(), 25);
    for message in enveloped {
        let notification: Value = serde_json::from_str(message.body().expect("body")).expect("SNS notification");
        assert_eq!(notification["Type"], "Notification");
        let event: Envelope =
            serde_json::from_str(notification["Message"].as_str().expect("message")).expect("envelope");
        assert_eq!(
            notification["MessageAttributes"][EVENT_TYPE_ATTRIBUTE]["Value"],
            event.event_type.as_str()
        );
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_entry_sns_refuses_is_reported_by_event_id_and_the_rest_of_its_batch_goes_out() {
    let local = local().await;
    let topic = local.topic().await;
    let queue = local
        .subscribe_queue(&topic, &[("RawMessageDelivery", "true".into())])
        .await;
    let mut published = events(10);
    // Over the 256 KiB SNS message limit: the sender's fault, not worth a retry.
    published[4].data = json!({"blob": "x".repeat(300 * 1024)});

    let error = EventPublisher::new(local.sns.clone(), &topic, 3)
        .publish_all(&published)
        .await
        .expect_err("one refused");

    assert_eq!(error.failed.len(), 1);
    assert_eq!(error.failed[0].event_id, published[4].id);
    assert!(error.failed[0].sender_fault);
    assert_eq!(local.drain(&queue).await.len(), 9);
}

fn sorted<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids
}
