//! customer-activity against DynamoDB (moto, real SDK): each sample answers with its line; sent
//! again, it adds none.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use customer_activity::CustomerActivity;
use lambda_kit::dynamodb::DynamoDbRecords;
use serde_json::Value;
use test_support::expected::Expectations;

fn sample(name: &str) -> Value {
    let path = test_support::events_dir("customer-activity").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn each_sample_is_one_line_of_the_timeline_once() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("CUSTOMER_ACTIVITY_TABLE").expect("the function's environment");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let activity = CustomerActivity::new(DynamoDbRecords::new(client.clone(), &table, "customer_id"));
    // The samples' customer, here under a name of this run's own (the table is shared).
    let customer = format!("c-test-{}", uuid::Uuid::now_v7().simple());

    for expected in &Expectations::of("customer-activity").events {
        // The samples as they are: their expected answers.
        let first =
            serde_json::to_value(activity.handle(sample(&expected.event)).await.expect("an answer")).expect("JSON");
        expected.check(&first);
        let again =
            serde_json::to_value(activity.handle(sample(&expected.event)).await.expect("an answer")).expect("JSON");
        expected.check_again(&first, &again);
        assert_eq!(again["recorded"], false, "sent again, an event adds no line");

        // The same events for a customer of this run's own: written once, then found there.
        let mut payload = sample(&expected.event);
        payload["customer_id"] = Value::String(customer.clone());
        assert!(activity.handle(payload.clone()).await.expect("recorded").recorded);
        assert!(!activity.handle(payload).await.expect("an answer").recorded);
    }

    let lines = client
        .query()
        .table_name(&table)
        .key_condition_expression("customer_id = :c")
        .expression_attribute_values(":c", AttributeValue::S(customer))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default();
    let types: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.get("event_type").and_then(|v| v.as_s().ok()))
        .map(String::as_str)
        .collect();
    assert_eq!(
        types,
        ["order.created", "job.failed"],
        "one line per event, in event-id (time) order"
    );
}

#[tokio::test]
async fn an_invocation_that_is_not_an_activity_fails_so_lambda_retries_it_and_then_keeps_it() {
    let activity = CustomerActivity::new(lambda_kit::dynamodb::MemoryRecords::new("customer_id"));
    let error = activity
        .handle(serde_json::json!({"hello": "world"}))
        .await
        .expect_err("refused");
    assert!(error.to_string().starts_with("not an activity"), "{error}");
}
