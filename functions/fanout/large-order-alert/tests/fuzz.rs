//! Fuzzing the large-order alert (an SNS-invoked function): notification batches of the
//! sample's records, each maybe damaged anywhere. Properties: nothing panics; only an event
//! without a `Records` array fails the invocation (and comes back through the asynchronous
//! retries); every other record is stored when it carries an order.created v1 event and dropped
//! (logged) otherwise: a poison message must not make Lambda retry the whole invocation.

use std::sync::{Arc, Mutex};

use contracts::Contract;
use contracts::order::OrderCreated;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore};
use lambda_kit::events::{Incoming, parse_incoming};
use large_order_alert::LargeOrderAlert;
use proptest::prelude::*;
use serde_json::Value;
use test_support::{config, mutated, sample_event};

struct Recording(Arc<Mutex<Vec<String>>>);

impl RecordStore for Recording {
    async fn put_once(&self, item: Item) -> Result<bool, BoxError> {
        let event_id = item
            .get("event_id")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        self.0.lock().unwrap().push(event_id);
        Ok(true)
    }
}

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
        let stored = Arc::new(Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let outcome = runtime.block_on(LargeOrderAlert::new(Recording(stored.clone())).handle(event.clone()));
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
        prop_assert_eq!(&*stored.lock().unwrap(), &expected);
    }
}
