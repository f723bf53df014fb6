//! order-review against DynamoDB (moto, real SDK): the sample batch makes one review per order
//! event (the replayed delivery of the first makes none), and reports only its two poison records.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use order_review::OrderReview;
use test_support::expected::Expectations;

fn sample() -> SqsBatch {
    let path = test_support::events_dir("order-review").join("review-batch.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

async fn review(client: &Client, table: &str, event_id: &str) -> Option<(String, String)> {
    let item = client
        .get_item()
        .table_name(table)
        .key("event_id", AttributeValue::S(event_id.to_owned()))
        .send()
        .await
        .expect("read")
        .item?;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    Some((text("order_id"), text("customer_id")))
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_sample_batch_reviews_each_order_once_and_reports_only_the_poison() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("REVIEWS_TABLE").expect("the function's environment");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let review_of = OrderReview::new(DynamoDbRecords::new(client.clone(), &table, "event_id"));

    let expectations = Expectations::of("order-review");
    let [expected] = &expectations.events[..] else {
        panic!("one sample batch")
    };
    let first = serde_json::to_value(review_of.handle(sample()).await.expect("a batch answer")).expect("an answer");
    expected.check(&first);
    let again = serde_json::to_value(review_of.handle(sample()).await.expect("a batch answer")).expect("an answer");
    expected.check_again(&first, &again);

    assert_eq!(
        review(&client, &table, "0195f3a4-0000-7000-8000-00000000f001").await,
        Some(("0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9f01".into(), "c-42".into()))
    );
    assert_eq!(
        review(&client, &table, "0195f3a4-0000-7000-8000-00000000f002").await,
        Some(("0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9f02".into(), "b2b-acme".into()))
    );
    assert_eq!(
        review(&client, &table, "0195f3a4-0000-7000-8000-00000000f003").await,
        None,
        "poison makes no review"
    );
}
