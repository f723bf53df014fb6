//! audit-log against DynamoDB (moto, real SDK): the sample batch of SNS notifications.

use audit_log::AuditLog;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_kit::dynamodb::DynamoDbRecords;
use lambda_kit::sqs::SqsBatch;
use test_support::expected::Expectations;

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_event_is_audited_once_whatever_its_type_and_control_messages_are_not_failures() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("AUDIT_LOG_TABLE").expect("the function's environment");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let audit_log = AuditLog::new(DynamoDbRecords::new(client.clone(), &table, "event_id"));
    let path = test_support::events_dir("audit-log").join("sns-notifications.json");
    let sample: SqsBatch = serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON");

    let expectations = Expectations::of("audit-log");
    let [expected] = &expectations.events[..] else {
        panic!("one sample batch")
    };

    let first = audit_log.handle(sample.clone()).await.expect("a batch answer");
    let again = audit_log.handle(sample).await.expect("a batch answer");

    let first = serde_json::to_value(&first).expect("an answer");
    expected.check(&first);
    expected.check_again(&first, &serde_json::to_value(&again).expect("an answer"));
    for (event_id, event_type, sns_id) in [
        ("0195f3a4-0000-7000-8000-00000000e001", "order.created", "5a1b0001"),
        ("0195f3a4-0000-7000-8000-00000000e004", "order.shipped", "5a1b0002"),
        ("0195f3a4-0000-7000-8000-00000000e006", "order.created", "5a1b0004"),
    ] {
        let item = client
            .get_item()
            .table_name(&table)
            .key("event_id", AttributeValue::S(event_id.into()))
            .send()
            .await
            .expect("read")
            .item
            .unwrap_or_else(|| panic!("{event_id} audited"));
        assert_eq!(item["event_type"].as_s().ok().map(String::as_str), Some(event_type));
        assert_eq!(item["sns_message_id"].as_s().ok().map(String::as_str), Some(sns_id));
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_event_is_audited_without_its_callback_url() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("AUDIT_LOG_TABLE").expect("the function's environment");
    let client = Client::new(&lambda_kit::aws::load().await.expect("the trust store"));
    let audit_log = AuditLog::new(DynamoDbRecords::new(client.clone(), &table, "event_id"));
    let event_id = uuid::Uuid::now_v7().to_string();
    let envelope = serde_json::json!({
        "id": event_id, "type": "thing.finished", "version": 1, "time": "2026-12-07T10:00:00.000Z", "source": "things-worker",
        "data": {"thing_id": "t-1", "attempts": 1, "callback_url": "https://hooks.example.com/things?secret=1"}
    });
    let batch: SqsBatch = serde_json::from_value(serde_json::json!({"Records": [
        {"messageId": "m-1", "receiptHandle": "r", "body": envelope.to_string(), "attributes": {}, "messageAttributes": {},
         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:AuditLogQueue"}
    ]}))
    .expect("an SQS batch");

    let answer = audit_log.handle(batch).await.expect("a batch answer");

    assert!(answer.batch_item_failures.is_empty());
    let item = client
        .get_item()
        .table_name(&table)
        .key("event_id", AttributeValue::S(event_id.clone()))
        .send()
        .await
        .expect("read")
        .item
        .expect("audited");
    let data: serde_json::Value = serde_json::from_str(item["data"].as_s().expect("data")).expect("JSON");
    assert_eq!(data, serde_json::json!({"thing_id": "t-1", "attempts": 1}));
    assert!(data.get("callback_url").is_none(), "{data}");
}
