//! large-order-alert against DynamoDB (moto, real SDK): the sample SNS event raises one alert.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_kit::dynamodb::DynamoDbRecords;
use large_order_alert::LargeOrderAlert;
use serde_json::Value;
use test_support::expected::Expectations;

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_large_order_event_raises_one_alert_however_often_it_arrives() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("NOTIFICATIONS_TABLE").expect("the function's environment");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let alert = LargeOrderAlert::new(DynamoDbRecords::new(client.clone(), &table, "id"));
    let path = test_support::events_dir("large-order-alert").join("large-order.json");
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON");

    let expectations = Expectations::of("large-order-alert");
    let [expected] = &expectations.events[..] else {
        panic!("one sample event")
    };

    // What the runtime sends back is the handler's `Ok` value serialized.
    let first = alert.handle(sample.clone()).await;
    let first = serde_json::to_value(first.as_ref().expect("handled")).expect("an answer");
    let again = alert.handle(sample).await;
    let again = serde_json::to_value(again.as_ref().expect("a repeat is handled too")).expect("an answer");
    expected.check(&first);
    expected.check_again(&first, &again);

    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "id",
            AttributeValue::S("alert#0195f3a4-0000-7000-8000-00000000e007".into()),
        )
        .send()
        .await
        .expect("read")
        .item
        .expect("the alert");
    assert_eq!(
        item["order_id"].as_s().ok().map(String::as_str),
        Some("0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d02")
    );
    assert_eq!(item["total"].as_n().ok().map(String::as_str), Some("300000"));
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_event_that_is_not_from_sns_fails_the_invocation() {
    let table = lambda_kit::config::required("NOTIFICATIONS_TABLE").expect("the function's environment");
    let alert = LargeOrderAlert::new(DynamoDbRecords::new(
        Client::new(&lambda_kit::aws::load().await.expect("the trust store")),
        table,
        "id",
    ));
    assert!(alert.handle(serde_json::json!({"hello": "world"})).await.is_err());
}
