//! What a WebSocket client can follow, and which events reach it.
//!
//! A client sends `{"action": "subscribe", "job_id": "<uuid>"}` (or `"order_id"`, or
//! `"customer_id"`, any of the three at once). A connection speaks for one customer (the one its
//! token names), and receives only what is for that customer: a customer topic must be its own,
//! and an event about a job or an order reaches the followers of that job or order whose
//! customer it is for ([`customer_of`]); an event for no customer reaches no one. So a
//! subscription to another customer's job or order, or to an id that does not exist, is answered
//! alike and brings nothing.

use contracts::Event;
use contracts::order::OrderCreated;
use serde_json::Value;

use crate::token::is_customer_id;

/// Something a connection can follow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    Job(String),
    Order(String),
    Customer(String),
}

impl Topic {
    /// The topic as the connections table keys it: `job:<id>`, `order:<id>`, `customer:<id>`.
    pub fn key(&self) -> String {
        match self {
            Topic::Job(id) => format!("job:{id}"),
            Topic::Order(id) => format!("order:{id}"),
            Topic::Customer(id) => format!("customer:{id}"),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        let (kind, id) = key.split_once(':')?;
        match kind {
            "job" => Some(Topic::Job(id.to_owned())),
            "order" => Some(Topic::Order(id.to_owned())),
            "customer" => Some(Topic::Customer(id.to_owned())),
            _ => None,
        }
    }
}

/// Why a subscribe message is refused; the text goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("the message is not a JSON object")]
    NotAnObject,
    #[error("name a job_id, an order_id or a customer_id")]
    NothingToFollow,
    #[error("{0} must be a UUID")]
    NotAUuid(&'static str),
    #[error("customer_id must be the customer this connection's token names")]
    NotYourCustomer,
    #[error("{0} is not a field of a subscribe message")]
    UnknownField(String),
}

/// The topics a subscribe message asks for, for a connection made by `customer`.
pub fn parse_subscribe(body: &str, customer: &str) -> Result<Vec<Topic>, SubscribeError> {
    let value: Value = serde_json::from_str(body).map_err(|_| SubscribeError::NotAnObject)?;
    let object = value.as_object().ok_or(SubscribeError::NotAnObject)?;
    if let Some(unknown) = object
        .keys()
        .find(|name| !matches!(name.as_str(), "action" | "job_id" | "order_id" | "customer_id"))
    {
        return Err(SubscribeError::UnknownField(unknown.chars().take(64).collect()));
    }
    let mut topics = Vec::new();
    for (field, topic) in [
        ("job_id", Topic::Job as fn(String) -> Topic),
        ("order_id", Topic::Order),
    ] {
        match object.get(field) {
            None => {}
            Some(Value::String(id)) if uuid::Uuid::try_parse(id).is_ok() => topics.push(topic(id.clone())),
            Some(_) => return Err(SubscribeError::NotAUuid(field)),
        }
    }
    match object.get("customer_id") {
        None => {}
        Some(Value::String(id)) if id == customer && is_customer_id(id) => topics.push(Topic::Customer(id.clone())),
        Some(_) => return Err(SubscribeError::NotYourCustomer),
    }
    if topics.is_empty() {
        return Err(SubscribeError::NothingToFollow);
    }
    Ok(topics)
}

/// The customer a known event is for: only connections of that customer receive it. A job
/// names one where its request (or its caller's token) did.
pub fn customer_of(event: &Event) -> Option<&str> {
    match event {
        Event::JobSucceeded(job) => job.customer_id.as_deref(),
        Event::JobFailed(job) => job.customer_id.as_deref(),
        Event::OrderCreated(OrderCreated(order)) => Some(&order.customer_id),
    }
}

/// The topics a known event is pushed to, read by its contract.
pub fn topics_of(event: &Event) -> Vec<Topic> {
    match event {
        Event::JobSucceeded(job) => vec![Topic::Job(job.job_id.clone())],
        Event::JobFailed(job) => vec![Topic::Job(job.job_id.clone())],
        Event::OrderCreated(OrderCreated(order)) => vec![
            Topic::Order(order.id.clone()),
            Topic::Customer(order.customer_id.clone()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use contracts::Envelope;
    use serde_json::json;

    use super::*;

    const JOB: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9e01";
    const ORDER: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01";

    #[test]
    fn a_subscribe_message_names_what_to_follow() {
        let body = json!({"action": "subscribe", "job_id": JOB, "order_id": ORDER, "customer_id": "c-42"}).to_string();
        assert_eq!(
            parse_subscribe(&body, "c-42"),
            Ok(vec![
                Topic::Job(JOB.into()),
                Topic::Order(ORDER.into()),
                Topic::Customer("c-42".into())
            ])
        );
    }

    #[test]
    fn a_subscribe_message_is_refused_with_its_reason() {
        let refused = |body: Value| parse_subscribe(&body.to_string(), "c-42").unwrap_err();
        assert_eq!(refused(json!({"action": "subscribe"})), SubscribeError::NothingToFollow);
        assert_eq!(
            refused(json!({"action": "subscribe", "job_id": "j-1"})),
            SubscribeError::NotAUuid("job_id")
        );
        assert_eq!(
            refused(json!({"action": "subscribe", "customer_id": "c-43"})),
            SubscribeError::NotYourCustomer
        );
        assert_eq!(
            refused(json!({"action": "subscribe", "topic": "all"})),
            SubscribeError::UnknownField("topic".into())
        );
        assert_eq!(refused(json!(["subscribe"])), SubscribeError::NotAnObject);
        assert_eq!(parse_subscribe("{", "c-42").unwrap_err(), SubscribeError::NotAnObject);
    }

    #[test]
    fn events_reach_the_topics_of_what_they_are_about() {
        let event = |event_type: &str, data: Value| {
            Event::read(&Envelope::new(event_type, 1, "test", data, Utc::now()))
                .expect("fits its contract")
                .expect("a known event")
        };
        let succeeded = event(
            "job.succeeded",
            json!({"job_id": JOB, "type": "report", "attempts": 1, "result": {}}),
        );
        assert_eq!(topics_of(&succeeded), [Topic::Job(JOB.into())]);
        assert_eq!(
            customer_of(&succeeded),
            None,
            "a job for no customer is no one's to follow"
        );
        let failed = event(
            "job.failed",
            json!({"job_id": JOB, "type": "report", "attempts": 1, "error": "e", "customer_id": "c-42"}),
        );
        assert_eq!(topics_of(&failed), [Topic::Job(JOB.into())]);
        assert_eq!(customer_of(&failed), Some("c-42"));
        let order = json!({"id": ORDER, "customer_id": "c-42", "currency": "EUR", "items": [], "subtotal": 0,
                           "tax_rate_basis_points": 0, "tax": 0, "total": 0, "created_at": "2026-11-26T10:00:00.000Z"});
        let created = event("order.created", order);
        assert_eq!(
            topics_of(&created),
            [Topic::Order(ORDER.into()), Topic::Customer("c-42".into())]
        );
        assert_eq!(customer_of(&created), Some("c-42"));
    }

    #[test]
    fn topic_keys_read_back() {
        for topic in [
            Topic::Job(JOB.into()),
            Topic::Order(ORDER.into()),
            Topic::Customer("c.42".into()),
        ] {
            assert_eq!(Topic::from_key(&topic.key()), Some(topic));
        }
        assert_eq!(Topic::from_key("tenant:7"), None);
    }
}
