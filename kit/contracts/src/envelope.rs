//! The envelope every domain event travels in, and reading one from a message body.
//!
//! The event type also travels as the `event_type` message attribute, so a subscription can
//! filter on it without reading the body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The message attribute that carries [`Envelope::event_type`].
pub const EVENT_TYPE_ATTRIBUTE: &str = "event_type";

/// A domain event as it travels: who said what happened, when, in which schema version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per event: what subscribers deduplicate on.
    pub id: String,
    /// What happened, `<entity>.<past-tense verb>`: `order.created`, `job.succeeded`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The schema version of `data` for this type. A subscriber skips versions it does not know.
    pub version: u32,
    /// RFC 3339, UTC.
    pub time: String,
    /// The function that published it.
    pub source: String,
    /// The event's data; [`crate::Event::read`] reads it by its contract.
    pub data: Value,
}

impl Envelope {
    /// A new event with a fresh, time-ordered id. Producers of a known event use
    /// [`crate::Contract::envelope`], which fills type and version from the contract.
    pub fn new(event_type: &str, version: u32, source: &str, data: Value, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.to_owned(),
            version,
            time: crate::time::format(&now),
            source: source.to_owned(),
            data,
        }
    }

    /// The event without what only its deliverer may read: a `callback_url` in its data (a
    /// capability: whoever holds the URL can post to the receiver, and the callbacks dispatcher
    /// is the one reader that needs it) and whose receiver it is. For whatever shows or keeps
    /// events: pushes to clients, the audit log.
    pub fn redacted(mut self) -> Self {
        if let Value::Object(data) = &mut self.data {
            for field in DELIVERY_FIELDS {
                data.remove(field);
            }
        }
        self
    }
}

/// The data fields [`Envelope::redacted`] removes.
const DELIVERY_FIELDS: [&str; 2] = ["callback_url", "callback_owner"];

/// What a subscriber received: an event, or something it did not ask for and only logs.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Event(Envelope),
    /// An SNS control message (`SubscriptionConfirmation`, `UnsubscribeConfirmation`): not an event.
    Control(String),
}

/// A message body that is neither an event nor an SNS control message: poison.
#[derive(Debug, thiserror::Error)]
#[error("not a domain event: {0}")]
pub struct NotAnEvent(pub String);

/// Reads a message body as a subscriber gets it: the envelope itself (raw delivery) or inside
/// an SNS notification (`{"Type": "Notification", "Message": "<envelope>", ...}`). Extra fields
/// are ignored, so a newer publisher does not break an older subscriber.
pub fn parse_incoming(body: &str) -> Result<Incoming, NotAnEvent> {
    let value: Value = serde_json::from_str(body).map_err(|error| NotAnEvent(format!("not JSON: {error}")))?;
    let envelope = match (value.get("Type").and_then(Value::as_str), value.get("TopicArn")) {
        (Some("Notification"), Some(_)) => {
            let message = value
                .get("Message")
                .and_then(Value::as_str)
                .ok_or_else(|| NotAnEvent("no Message".into()))?;
            serde_json::from_str(message)
        }
        (Some(kind), Some(_)) => return Ok(Incoming::Control(kind.to_owned())),
        _ => serde_json::from_value(value),
    };
    envelope
        .map(Incoming::Event)
        .map_err(|error| NotAnEvent(format!("not an event envelope: {error}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_redacted_event_keeps_everything_but_where_and_to_whom_it_is_delivered() {
        let data = serde_json::json!({"thing_id": "t-1", "callback_url": "https://hooks.example.com/secret-path",
                                      "callback_owner": "5d41402abc4b2a76", "attempts": 1});
        let event = super::Envelope::new("thing.done", 1, "things-worker", data, chrono::Utc::now());
        let redacted = event.clone().redacted();
        assert_eq!(redacted.data, serde_json::json!({"thing_id": "t-1", "attempts": 1}));
        assert_eq!((redacted.id, redacted.event_type), (event.id, event.event_type));
        let other = super::Envelope::new(
            "thing.made",
            1,
            "things-api",
            serde_json::json!([1]),
            chrono::Utc::now(),
        );
        assert_eq!(
            other.clone().redacted(),
            other,
            "data that is not an object is kept as it is"
        );
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn an_envelope_has_the_documented_shape() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = Envelope::new("order.created", 1, "my-api", json!({"id": "o-1"}), at);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "order.created");
        assert_eq!(json["time"], "2026-11-26T10:00:00.000Z");
        assert_eq!(
            (json["version"].as_u64(), json["source"].as_str()),
            (Some(1), Some("my-api"))
        );
        assert_eq!(
            uuid::Uuid::parse_str(json["id"].as_str().unwrap())
                .unwrap()
                .get_version_num(),
            7
        );
    }

    #[test]
    fn an_incoming_body_is_read_raw_or_from_its_sns_notification() {
        let event = Envelope::new("order.created", 1, "my-api", json!({"total": 1}), Utc::now());
        let raw = serde_json::to_string(&event).unwrap();
        let notification =
            json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:t", "Message": raw, "Timestamp": "t"});
        assert_eq!(parse_incoming(&raw).unwrap(), Incoming::Event(event.clone()));
        assert_eq!(
            parse_incoming(&notification.to_string()).unwrap(),
            Incoming::Event(event)
        );
    }

    #[test]
    fn sns_control_messages_are_not_events_and_garbage_is_poison() {
        let confirmation =
            json!({"Type": "SubscriptionConfirmation", "TopicArn": "arn:t", "SubscribeURL": "https://x"});
        assert_eq!(
            parse_incoming(&confirmation.to_string()).unwrap(),
            Incoming::Control("SubscriptionConfirmation".into())
        );
        assert!(parse_incoming("not json").is_err());
        assert!(parse_incoming(r#"{"hello": "world"}"#).is_err());
        let notification_without_message = json!({"Type": "Notification", "TopicArn": "arn:t"});
        assert!(parse_incoming(&notification_without_message.to_string()).is_err());
    }

    #[test]
    fn an_envelope_with_extra_fields_still_reads() {
        let text = r#"{"id":"e","type":"job.failed","version":1,"time":"t","source":"s","data":{},"trace":"x"}"#;
        assert_eq!(serde_json::from_str::<Envelope>(text).unwrap().event_type, "job.failed");
    }
}
