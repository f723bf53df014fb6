//! The contracts between the kit's patterns, and nothing else: a pattern never imports another
//! pattern's crate, only these types (and the template's parameters and outputs).
//!
//! - [`envelope`]: the one envelope every domain event travels in, and reading it from a
//!   subscriber's message body (raw delivery or inside an SNS notification).
//! - [`Event`]: the known events, each a versioned Rust type shared by its producer and its
//!   consumers. A consumer that meets a known type and version whose data does not fit gets a
//!   [`ContractViolation`]: poison, never zeros.
//!   - [`order::OrderCreated`] (`order.created` v1)
//!   - [`job::JobSucceeded`] (`job.succeeded` v1), [`job::JobFailed`] (`job.failed` v1) // starter: with async
//! - [`order::Order`]: an order as its API answers it, publishes it and keeps it in its table
//!   (the same shape, through serde, wherever it is read).
//! - [`callback`]: which callback URLs a job may name and a delivery may call. // starter: with async
//! - [`FieldError`]: one invalid field of a request, as every API reports it.
//! - `schema` (feature `schema`): each event's JSON Schema, generated from these types
//!   (`kit/contracts/schemas/`).

pub mod callback; // starter: with async
pub mod envelope;
pub mod job; // starter: with async
pub mod order;
#[cfg(feature = "schema")]
pub mod schema;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use envelope::{EVENT_TYPE_ATTRIBUTE, Envelope, Incoming, NotAnEvent, parse_incoming};

/// Customer ids, as every pattern takes them: 1 to [`MAX_CUSTOMER_ID`] of `A-Z a-z 0-9 - _ .`.
/// A WebSocket connection speaks for one; an order is for one, and so is a job that names one.
pub fn is_customer_id(text: &str) -> bool {
    (1..=MAX_CUSTOMER_ID).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The longest customer id, in bytes.
pub const MAX_CUSTOMER_ID: usize = 64;

/// A domain event's data: its type, its schema version, and its shape (the serde form of `Self`).
///
/// A new field that old consumers may ignore keeps the version (unknown fields are ignored on
/// read); anything else (a field removed, renamed, or changing meaning) is a new version, a new
/// type implementing this trait, published beside the old one until no consumer reads it.
pub trait Contract: Serialize + DeserializeOwned {
    /// `<entity>.<past-tense verb>`: also the `event_type` message attribute subscriptions filter on.
    const TYPE: &'static str;
    const VERSION: u32;

    /// This data in a new envelope with a fresh, time-ordered id.
    fn envelope(&self, source: &str, at: DateTime<Utc>) -> Result<Envelope, serde_json::Error> {
        Ok(Envelope::new(
            Self::TYPE,
            Self::VERSION,
            source,
            serde_json::to_value(self)?,
            at,
        ))
    }

    /// The data of `envelope`, if it is of this type and version.
    fn from_envelope(envelope: &Envelope) -> Option<Result<Self, ContractViolation>> {
        (envelope.event_type == Self::TYPE && envelope.version == Self::VERSION).then(|| {
            Self::deserialize(&envelope.data).map_err(|error| ContractViolation {
                event_id: envelope.id.clone(),
                event_type: envelope.event_type.clone(),
                version: envelope.version,
                reason: error.to_string(),
            })
        })
    }
}

/// The events this build knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    OrderCreated(order::OrderCreated),
    JobSucceeded(job::JobSucceeded), // starter: with async
    JobFailed(job::JobFailed),       // starter: with async
}

impl Event {
    /// Reads an envelope's data by its contract. `Ok(None)`: a type or version this build does
    /// not know (a newer producer, or an event for other subscribers): skip it. `Err`: a known
    /// type and version whose data does not fit: poison, to report.
    pub fn read(envelope: &Envelope) -> Result<Option<Self>, ContractViolation> {
        if let Some(data) = order::OrderCreated::from_envelope(envelope) {
            return data.map(|data| Some(Event::OrderCreated(data)));
        }
        // starter: with async
        if let Some(data) = job::JobSucceeded::from_envelope(envelope) {
            return data.map(|data| Some(Event::JobSucceeded(data)));
        }
        if let Some(data) = job::JobFailed::from_envelope(envelope) {
            return data.map(|data| Some(Event::JobFailed(data)));
        }
        // starter: end
        Ok(None)
    }
}

/// An event of a known type and version whose data breaks that type's contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event_type} v{version} event {event_id} does not fit its contract: {reason}")]
pub struct ContractViolation {
    pub event_id: String,
    pub event_type: String,
    pub version: u32,
    pub reason: String,
}

/// One invalid field of a request, named by its JSON Pointer (RFC 6901): what a domain's
/// validation returns and the HTTP layer lists in its problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// RFC 3339 in UTC with milliseconds (`2026-11-26T10:00:00.000Z`): how every contract writes a time.
pub mod time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
