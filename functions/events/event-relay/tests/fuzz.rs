//! Fuzzing the relay with faults: stream batches of the sample's records, each maybe damaged
//! (test_support::mutated), put on an in-memory bus (an adapter of this crate's own `Bus` port)
//! that throttles entries, fails them internally, refuses them, or fails whole calls, as the
//! proptest script says. Properties: nothing panics; no request breaks PutEvents' limits; and
//! nothing is lost: every event of a record before the one the shard resumes at is on the bus
//! (Lambda counts those records done), and with no resume point every event is.

use std::sync::Mutex;

use event_relay::{Bus, Entry, MAX_ENTRIES, MAX_REQUEST_BYTES, Relay};
use lambda_kit::BoxError;
use lambda_kit::outbox::{event_from_item, item_from_stream_image};
use proptest::prelude::*;
use serde_json::Value;
use test_support::{config, mutated, sample_event};

/// What the bus does with one entry, or with a whole call.
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    Throttled,
    Internal,
    Refused,
    CallFails,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::None),
        2 => Just(Fault::Throttled),
        1 => Just(Fault::Internal),
        1 => Just(Fault::Refused),
        1 => Just(Fault::CallFails),
    ]
}

struct FlakyBus {
    script: Vec<Fault>,
    next: Mutex<usize>,
    on_bus: Mutex<Vec<String>>,
    oversized_request: Mutex<bool>,
}

impl FlakyBus {
    fn fault(&self) -> Fault {
        let mut next = self.next.lock().unwrap();
        *next += 1;
        self.script.get(*next - 1).copied().unwrap_or(Fault::None)
    }
}

impl Bus for FlakyBus {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<Option<String>>, BoxError> {
        let bytes: usize = entries.iter().map(|e| e.size()).sum();
        if entries.is_empty() || entries.len() > MAX_ENTRIES || bytes > MAX_REQUEST_BYTES {
            *self.oversized_request.lock().unwrap() = true;
        }
        if matches!(self.fault(), Fault::CallFails) {
            return Err("connection reset".into());
        }
        Ok(entries
            .iter()
            .map(|entry| match self.fault() {
                Fault::None | Fault::CallFails => {
                    self.on_bus.lock().unwrap().push(entry.event_id.clone());
                    None
                }
                Fault::Throttled => Some("ThrottlingException".to_owned()),
                Fault::Internal => Some("InternalFailure".to_owned()),
                Fault::Refused => Some("AccessDeniedException".to_owned()),
            })
            .collect())
    }
}

/// 1..=12 records from the sample, each with its own sequence number and event id, some damaged.
fn batches() -> impl Strategy<Value = String> {
    let records = sample_event("event-relay", "outbox-batch")["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let record = (prop::sample::select(records), prop::bool::weighted(0.2)).prop_flat_map(|(record, damage)| {
        if damage {
            mutated(record).boxed()
        } else {
            Just(record.to_string()).boxed()
        }
    });
    prop::collection::vec(record, 1..=12).prop_map(|records| {
        let records: Vec<Value> = records
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                let mut record: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let Some(sequence) = record.pointer_mut("/dynamodb/SequenceNumber").filter(|s| s.is_string()) {
                    *sequence = Value::String(format!("{:021}", index + 1));
                }
                // Each record a distinct event, as in an outbox.
                if let Some(Value::String(envelope)) = record.pointer_mut("/dynamodb/NewImage/envelope/S")
                    && let Ok(mut event) = serde_json::from_str::<Value>(envelope)
                    && event.get("id").is_some_and(Value::is_string)
                {
                    event["id"] = Value::String(format!("event-{index}"));
                    *envelope = event.to_string();
                }
                record
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn nothing_before_the_resume_point_is_missing_from_the_bus(text in batches(), script in prop::collection::vec(fault(), 0..40)) {
        let event: Value = serde_json::from_str(&text).expect("JSON");
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let bus = FlakyBus { script, next: Mutex::new(0), on_bus: Mutex::new(Vec::new()), oversized_request: Mutex::new(false) };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let relay = Relay::new(bus, 3).with_backoff(std::time::Duration::ZERO);
        let outcome = runtime.block_on(relay.handle(event));
        let Ok(answer) = outcome else {
            // Only a record without a sequence number fails the batch: Lambda retries it whole.
            prop_assert!(records.iter().any(|r| r.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).is_none()));
            return Ok(());
        };
        let resume = answer.batch_item_failures.first().and_then(|f| f.item_identifier.clone());
        prop_assert!(answer.batch_item_failures.len() <= 1);
        let bus = relay_bus(relay);
        prop_assert!(!*bus.oversized_request.lock().unwrap(), "a request within PutEvents' limits");
        let on_bus = bus.on_bus.lock().unwrap().clone();
        for record in &records {
            let sequence = record.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).unwrap_or_default();
            if resume.as_deref() == Some(sequence) {
                break;
            }
            if record["eventName"] != "INSERT" {
                continue;
            }
            let image = record.pointer("/dynamodb/NewImage").unwrap_or(&Value::Null);
            let event = item_from_stream_image(image).and_then(|item| event_from_item(&item));
            let event = event.expect("a malformed record before the resume point would be lost");
            prop_assert!(on_bus.contains(&event.id), "{} is counted done but is not on the bus", event.id);
        }
    }
}

fn relay_bus(relay: Relay<FlakyBus>) -> FlakyBus {
    relay.into_bus()
}
