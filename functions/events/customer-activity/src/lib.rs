//! customer-activity: every order and job of a customer, one line each, in a timeline per
//! customer (what a support page or an account page reads).
//!
//! EventBridge invokes it asynchronously with what the rule's input transformer cuts out of the
//! bus event: four strings, nothing else of the order or the job.
//!
//! ```json
//! {"event_id": "<$.detail.id>", "event_type": "<$.detail-type>", "customer_id": "<$.detail.data.customer_id>", "at": "<$.detail.time>"}
//! ```
//!
//! An invocation that fails is retried by Lambda (the function's `EventInvokeConfig`) and then
//! sent to its on-failure destination with the error. A line is keyed on (customer, event id),
//! so a repeated delivery or a replay adds no second line.

use chrono::DateTime;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, s};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

/// The event types the rule sends here (its `detail-type` list).
pub const EVENT_TYPES: [&str; 3] = ["order.created", "job.succeeded", "job.failed"];
/// Longest event id taken: a UUID is 36; room for another producer's ids, not for a document.
const MAX_EVENT_ID: usize = 128;

/// What the input transformer gives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Activity {
    pub event_id: String,
    pub event_type: String,
    pub customer_id: String,
    pub at: String,
}

/// The answer (an asynchronous invocation's answer is kept only by an on-success destination,
/// and in tests): the line, and whether this invocation wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub customer_id: String,
    pub event_id: String,
    /// `false`: the line was there (a repeated delivery).
    pub recorded: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    /// Not what the rule's input transformer makes: no retry cures it; it ends, with this error,
    /// in the on-failure destination.
    #[error("not an activity: {0}")]
    Invalid(String),
    #[error("the activity could not be stored")]
    Store(#[source] BoxError),
}

/// The activity in an invocation's payload, checked field by field.
pub fn activity_in(payload: Value) -> Result<Activity, ActivityError> {
    let activity: Activity =
        serde_json::from_value(payload).map_err(|error| ActivityError::Invalid(error.to_string()))?;
    if activity.event_id.is_empty() || activity.event_id.len() > MAX_EVENT_ID {
        return Err(ActivityError::Invalid(format!(
            "event_id must be 1 to {MAX_EVENT_ID} characters"
        )));
    }
    if !EVENT_TYPES.contains(&activity.event_type.as_str()) {
        return Err(ActivityError::Invalid(format!(
            "event_type {:?} is not one the rule sends",
            activity.event_type
        )));
    }
    if !contracts::is_customer_id(&activity.customer_id) {
        return Err(ActivityError::Invalid("customer_id is not a customer id".into()));
    }
    if DateTime::parse_from_rfc3339(&activity.at).is_err() {
        return Err(ActivityError::Invalid("at is not an RFC 3339 time".into()));
    }
    Ok(activity)
}

pub struct CustomerActivity<S> {
    store: S,
}

impl<S: RecordStore> CustomerActivity<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub async fn handle(&self, payload: Value) -> Result<Recorded, ActivityError> {
        let activity = activity_in(payload).inspect_err(|error| warn!(%error, "invocation refused"))?;
        let item = Item::from([
            ("customer_id".to_owned(), s(&activity.customer_id)),
            // Event ids are UUIDv7, time-ordered: the sort key is the timeline's order too.
            ("event_id".to_owned(), s(&activity.event_id)),
            ("event_type".to_owned(), s(&activity.event_type)),
            ("at".to_owned(), s(&activity.at)),
        ]);
        let recorded = self.store.put_once(item).await.map_err(ActivityError::Store)?;
        info!(event_id = %activity.event_id, event_type = %activity.event_type, recorded, "customer activity");
        Ok(Recorded {
            customer_id: activity.customer_id,
            event_id: activity.event_id,
            recorded,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload() -> Value {
        json!({"event_id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01", "event_type": "order.created",
               "customer_id": "c-42", "at": "2026-12-08T10:00:00.000Z"})
    }

    #[test]
    fn what_the_transformer_makes_is_an_activity() {
        let activity = activity_in(payload()).unwrap();
        assert_eq!(
            (activity.customer_id.as_str(), activity.event_type.as_str()),
            ("c-42", "order.created")
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_field_that_is_wrong() {
        for (field, value, says) in [
            ("customer_id", json!(42), "invalid type"),
            ("customer_id", json!("c 42"), "customer_id"),
            ("event_type", json!("order.shipped"), "event_type"),
            ("event_id", json!(""), "event_id"),
            ("at", json!("yesterday"), "at is not"),
        ] {
            let mut bad = payload();
            bad[field] = value;
            let error = activity_in(bad).expect_err(field).to_string();
            assert!(error.contains(says), "{field}: {error}");
        }
        assert!(activity_in(json!("a string")).is_err());
    }
}
