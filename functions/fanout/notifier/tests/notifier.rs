//! notifier against DynamoDB (moto, real SDK): the sample batch, and a repeated delivery.

use aws_sdk_dynamodb::Client;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use notifier::Notifier;
use test_support::expected::Expectations;

async fn local() -> (Client, String) {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("NOTIFICATIONS_TABLE").expect("the function's environment");
    (
        Client::new(&lambda_kit::aws::load().await.expect("the trust store")),
        table,
    )
}

/// Whether job events are known here (the first line that applies).
const JOB_EVENTS_KNOWN: &[bool] = &[
    true, // starter: with async
    false,
];

fn sample() -> SqsBatch {
    // As the runtime reads it: the payload's bytes straight into the batch type.
    let path = test_support::events_dir("notifier").join("raw-events.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

async fn notification(client: &Client, table: &str, event_id: &str) -> Option<String> {
    let item = client
        .get_item()
        .table_name(table)
        .key(
            "id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("notification#{event_id}")),
        )
        .send()
        .await
        .expect("read")
        .item?;
    item.get("message").and_then(|m| m.as_s().ok()).cloned()
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_sample_batch_notifies_known_events_ignores_the_rest_and_reports_only_the_poison() {
    let (client, table) = local().await;
    let notifier = Notifier::new(DynamoDbRecords::new(client.clone(), &table, "id"));

    let expectations = Expectations::of("notifier");
    let [expected] = &expectations.events[..] else {
        panic!("one sample batch")
    };

    let response = notifier.handle(sample()).await.expect("a batch answer");

    // Only the record that is not JSON fails.
    expected.check(&serde_json::to_value(&response).expect("an answer"));
    assert_eq!(
        notification(&client, &table, "0195f3a4-0000-7000-8000-00000000e001")
            .await
            .as_deref(),
        Some("Your order 0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01 is confirmed.")
    );
    // A job event: notified where the async pattern is, else of a type this project does not know.
    let job_failed = notification(&client, &table, "0195f3a4-0000-7000-8000-00000000e003").await;
    assert_eq!(job_failed.is_some_and(|m| m.contains("failed")), JOB_EVENTS_KNOWN[0]);
    assert_eq!(
        notification(&client, &table, "0195f3a4-0000-7000-8000-00000000e004").await,
        None,
        "unknown type"
    );
    assert_eq!(
        notification(&client, &table, "0195f3a4-0000-7000-8000-00000000e005").await,
        None,
        "unknown version"
    );

    // A repeated delivery is not a failure.
    let again = notifier.handle(sample()).await.expect("a batch answer");
    expected.check_again(
        &serde_json::to_value(&response).expect("an answer"),
        &serde_json::to_value(&again).expect("an answer"),
    );
}
