//! Fuzzing the large-order alert (an SNS-invoked function): notification batches of the
//! sample's records, each maybe damaged anywhere. Properties: nothing panics; every record that
//! carries an order.created v1 fitting its contract is stored; the invocation fails (for the
//! asynchronous retries and then the on-failure destination) exactly when a record is poison: not
//! an event, or an order.created v1 that breaks its contract.

use contracts::Contract;
use contracts::order::OrderCreated;
use lambda_kit::dynamodb::MemoryRecords;
use lambda_kit::events::{Incoming, parse_incoming};
use large_order_alert::LargeOrderAlert;
use proptest::prelude::*;
use serde_json::Value;
use test_support::{config, mutated, sample_event};

fn events() -> impl Strategy<Value = String> {
    let sample = sample_event("large-order-alert", "large-order");
    let records = sample["Records"].as_array().cloned().unwrap_or_default();
    let record = (prop::sample::select(records), any::<bool>()).prop_flat_map(|(record, damage)| {
        if damage {
            mutated(record).boxed()
        } else {
            Just(record.to_string()).boxed()
        }
    });
    prop::collection::vec(record, 1..=3).prop_map(|records| format!("{{\"Records\":[{}]}}", records.join(",")))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn order_events_are_stored_and_poison_fails_the_invocation_after_them(text in events()) {
        let event: Value = serde_json::from_str(&text).expect("JSON");
        let store = MemoryRecords::new("id");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(LargeOrderAlert::new(&store).handle(event.clone()));
        let mut expected = Vec::new();
        let mut poison = false;
        for record in event["Records"].as_array().into_iter().flatten() {
            match parse_incoming(record.pointer("/Sns/Message").and_then(Value::as_str).unwrap_or_default()) {
                Ok(Incoming::Event(event)) => match OrderCreated::from_envelope(&event) {
                    Some(Ok(_)) => expected.push(event.id),
                    Some(Err(_)) => poison = true,
                    None => {}
                },
                Ok(Incoming::Control(_)) => {}
                Err(_) => poison = true,
            }
        }
        prop_assert_eq!(outcome.is_err(), poison, "{:?}", outcome);
        // One alert per event, however often it came.
        let mut once = Vec::new();
        for id in expected {
            if !once.contains(&id) {
                once.push(id);
            }
        }
        let stored: Vec<String> = store
            .items()
            .iter()
            .map(|item| item.get("event_id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default())
            .collect();
        prop_assert_eq!(stored, once);
    }
}
