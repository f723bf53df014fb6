//! Domain events in a function: reading one from a subscriber's message body (feature
//! `events`; publishing them is `sns`). The events themselves, their envelope and their contracts
//! are the `contracts` crate's.

pub use contracts::{ContractViolation, EVENT_TYPE_ATTRIBUTE, Envelope, Event, Incoming, NotAnEvent, parse_incoming};

/// The event in a subscriber's message body, or `None` for an SNS control message, which is
/// logged and acknowledged: what every SQS subscriber of the topic does first.
pub fn event_in(body: &str) -> Result<Option<Envelope>, NotAnEvent> {
    match parse_incoming(body)? {
        Incoming::Event(event) => Ok(Some(event)),
        Incoming::Control(kind) => {
            tracing::info!(kind, "SNS control message, not an event; acknowledged");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subscriber_acknowledges_control_messages_and_keeps_garbage_poison() {
        let confirmation =
            json!({"Type": "SubscriptionConfirmation", "TopicArn": "arn:t", "SubscribeURL": "https://x"});
        assert_eq!(event_in(&confirmation.to_string()).unwrap(), None);
        assert!(event_in("not json").is_err());
        let raw = r#"{"id":"e","type":"job.failed","version":1,"time":"t","source":"s","data":{}}"#;
        assert_eq!(event_in(raw).unwrap().map(|event| event.id), Some("e".to_owned()));
    }
}
