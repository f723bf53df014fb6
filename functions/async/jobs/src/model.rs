//! Jobs: requests, records, states and the queue message. Plain Rust.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use contracts::FieldError;
use contracts::callback::{self, Policy};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::kinds::{self, Registration};

/// What a job does: the name of its kind (`report`, ...), one of [`crate::kinds::KINDS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobType(Cow<'static, str>);

impl JobType {
    pub const fn named(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for JobType {
    fn from(name: String) -> Self {
        Self(Cow::Owned(name))
    }
}

/// Where a job is in its life: `QUEUED → RUNNING → SUCCEEDED | FAILED`, and back from `RUNNING` to
/// `QUEUED` after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "QUEUED" => Some(JobStatus::Queued),
            "RUNNING" => Some(JobStatus::Running),
            "SUCCEEDED" => Some(JobStatus::Succeeded),
            "FAILED" => Some(JobStatus::Failed),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// A validated request for a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRequest {
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub input: Value,
    /// The customer the job is for, if the request names one: a WebSocket connection of that
    /// customer may follow it, no other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Where the outcome is POSTed, signed, when the job ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// The answer to a `callback_url` where the callbacks pattern is not deployed.
pub const NO_CALLBACKS: &str = "callbacks are not part of this deployment";

/// Checks a request body, naming every invalid field by its JSON Pointer.
///
/// `{"type": "<a registered kind>", "input": {...}}`, the input as that kind reads it, with an
/// optional `"customer_id"` (the customer the job is for: see [`contracts::is_customer_id`]) and
/// an optional `"callback_url": "https://..."` that `callbacks` allows. `callbacks` is `None` where
/// the callbacks pattern is not deployed: a callback URL is then refused as such, so a caller
/// does not wait for a delivery that never comes.
pub fn validate(
    body: &Value,
    kinds: &[Registration],
    callbacks: Option<Policy>,
) -> Result<JobRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "must be a JSON object")]);
    };
    unknown_fields(object, &["type", "input", "customer_id", "callback_url"], &mut errors);
    let customer_id = match object.get("customer_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if contracts::is_customer_id(id) => Some(id.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "/customer_id",
                format!(
                    "must be a string of 1 to {} letters, digits, '-', '_' or '.'",
                    contracts::MAX_CUSTOMER_ID
                ),
            ));
            None
        }
    };
    let callback_url = match (object.get("callback_url"), callbacks) {
        (None | Some(Value::Null), _) => None,
        (Some(_), None) => {
            errors.push(FieldError::new("/callback_url", NO_CALLBACKS));
            None
        }
        (Some(Value::String(url)), Some(policy)) => match callback::check_url(url, policy) {
            Ok(url) => Some(url.to_string()),
            Err(refusal) => {
                errors.push(FieldError::new("/callback_url", refusal.to_string()));
                None
            }
        },
        (Some(_), Some(_)) => {
            errors.push(FieldError::new("/callback_url", "must be a URL string"));
            None
        }
    };
    let kind = match object.get("type") {
        None => {
            errors.push(FieldError::new("/type", "is required"));
            None
        }
        Some(Value::String(name)) if kinds::find(kinds, name).is_some() => kinds::find(kinds, name),
        Some(_) => {
            errors.push(FieldError::new("/type", format!("must be {}", kinds::names(kinds))));
            None
        }
    };
    let input = match object.get("input") {
        None => {
            errors.push(FieldError::new("/input", "is required"));
            None
        }
        Some(input @ Value::Object(_)) => Some(input),
        Some(_) => {
            errors.push(FieldError::new("/input", "must be an object"));
            None
        }
    };
    if let (Some(kind), Some(input)) = (kind, input) {
        match kind.check(input) {
            Ok(()) if errors.is_empty() => {
                return Ok(JobRequest {
                    job_type: kind.job_type(),
                    input: input.clone(),
                    customer_id,
                    callback_url,
                });
            }
            Ok(()) => {}
            Err(invalid) => errors.extend(invalid),
        }
    }
    Err(errors)
}

/// Refuses every member of `object` not in `known`, naming it by its JSON Pointer.
fn unknown_fields(object: &Map<String, Value>, known: &[&str], errors: &mut Vec<FieldError>) {
    for name in object.keys().filter(|name| !known.contains(&name.as_str())) {
        errors.push(FieldError::new(
            format!("/{}", kinds::pointer_token(name)),
            "is not a known field",
        ));
    }
}

/// A job record, as the table keeps it and `GET /jobs/{id}` shows it (without its owner and its
/// callback URL).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub status: JobStatus,
    pub input: Value,
    /// Runs started so far (a redelivery after a transient failure or a crash adds one).
    pub attempts: u32,
    /// The customer it is for, where the request named one (or the caller's token did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Where the callbacks pattern delivers the outcome. Never part of the job's answer: a
    /// callback URL is often a capability (whoever holds it can post to the receiver).
    #[serde(skip)]
    pub callback_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(serialize_with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_timestamp")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_timestamp")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The caller who created it (a digest, `lambda_kit::owner`), where the API has an
    /// authorizer: only that caller reads it. Never part of its answer.
    #[serde(skip)]
    pub owner: Option<String>,
}

impl Job {
    /// A new job, queued now.
    pub fn queued(id: String, request: JobRequest, now: DateTime<Utc>) -> Self {
        Self {
            id,
            job_type: request.job_type,
            status: JobStatus::Queued,
            input: request.input,
            attempts: 0,
            customer_id: request.customer_id,
            callback_url: request.callback_url,
            result: None,
            error: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
            owner: None,
        }
    }

    /// Whether `other` was asked for by the same request: kind, input, customer, callback and
    /// owner.
    pub fn same_request(&self, other: &Job) -> bool {
        fn request(job: &Job) -> (&JobType, &Value, &Option<String>, &Option<String>, &Option<String>) {
            (
                &job.job_type,
                &job.input,
                &job.customer_id,
                &job.callback_url,
                &job.owner,
            )
        }
        request(self) == request(other)
    }

    /// The job, owned by `owner` (see [`Job::owner`]).
    pub fn owned_by(self, owner: Option<String>) -> Self {
        Self { owner, ..self }
    }

    pub fn message(&self) -> JobMessage {
        JobMessage {
            job_id: self.id.clone(),
            job_type: self.job_type.clone(),
        }
    }
}

/// The body of a jobs-queue message: which job to run. The job's input stays in the table, so a
/// message is small and never stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
}

/// RFC 3339 in UTC with milliseconds, as every timestamp of the kit.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn timestamp<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(at))
}

fn optional_timestamp<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => timestamp(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kinds::invoice::Invoice; // starter: with sync
    use crate::kinds::report::{MAX_REPORT_SECONDS, Report};
    use crate::kinds::{KINDS, Kind};

    fn validate(body: &Value, policy: Policy) -> Result<JobRequest, Vec<FieldError>> {
        super::validate(body, KINDS, Some(policy))
    }

    fn pointers(body: Value) -> Vec<String> {
        validate(&body, Policy::default())
            .unwrap_err()
            .into_iter()
            .map(|e| e.pointer)
            .collect()
    }

    // starter: with sync
    #[test]
    fn an_invoice_job_names_an_order() {
        let request = validate(
            &json!({"type": "invoice", "input": {"order_id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01"}}),
            Policy::default(),
        );
        assert_eq!(request.expect("valid").job_type, Invoice::job_type());
        assert_eq!(
            pointers(json!({"type": "invoice", "input": {"order_id": "o-1"}})),
            ["/input/order_id"]
        );
    }
    // starter: end

    #[test]
    fn a_report_job_takes_a_bounded_number_of_seconds() {
        assert!(
            validate(
                &json!({"type": "report", "input": {"seconds": MAX_REPORT_SECONDS}}),
                Policy::default()
            )
            .is_ok()
        );
        assert_eq!(
            pointers(json!({"type": "report", "input": {"seconds": MAX_REPORT_SECONDS + 1}})),
            ["/input/seconds"]
        );
        assert_eq!(
            pointers(json!({"type": "report", "input": {"seconds": -1}})),
            ["/input/seconds"]
        );
    }

    #[test]
    fn only_the_registered_kinds_are_accepted_and_without_callbacks_no_callback_url() {
        const REPORT_ONLY: &[Registration] = &[Registration::of::<Report>()];
        let export = json!({"type": "export", "input": {}});
        let refused = super::validate(&export, REPORT_ONLY, None).unwrap_err();
        assert_eq!(refused, [FieldError::new("/type", "must be \"report\"")]);
        let with_callback =
            json!({"type": "report", "input": {"seconds": 1}, "callback_url": "https://hooks.example.com/"});
        let refused = super::validate(&with_callback, REPORT_ONLY, None).unwrap_err();
        assert_eq!(refused, [FieldError::new("/callback_url", super::NO_CALLBACKS)]);
        let without_one = json!({"type": "report", "input": {"seconds": 1}, "callback_url": null});
        assert_eq!(
            super::validate(&without_one, REPORT_ONLY, None).unwrap().callback_url,
            None
        );
        assert_eq!(
            super::validate(&with_callback, REPORT_ONLY, Some(Policy::default()))
                .unwrap()
                .callback_url
                .as_deref(),
            Some("https://hooks.example.com/")
        );
    }

    #[test]
    fn every_invalid_field_is_named() {
        assert_eq!(
            pointers(json!({"type": "mine bitcoin", "priority": 1})),
            ["/priority", "/type", "/input"]
        );
        assert_eq!(
            pointers(json!({"type": "report", "input": {"seconds": 1, "rows": 5}})),
            ["/input/rows"]
        );
        assert_eq!(pointers(json!("report")), [""]);
    }

    #[test]
    fn a_callback_url_is_optional_and_must_be_callable() {
        let report = |callback: Value| json!({"type": "report", "input": {"seconds": 1}, "callback_url": callback});
        let accepted = validate(&report(json!("https://hooks.example.com/jobs")), Policy::default()).unwrap();
        assert_eq!(accepted.callback_url.as_deref(), Some("https://hooks.example.com/jobs"));
        assert_eq!(
            validate(&report(Value::Null), Policy::default()).unwrap().callback_url,
            None
        );
        for refused in [
            json!("http://hooks.example.com/"),
            json!("https://169.254.169.254/"),
            json!(7),
        ] {
            assert_eq!(pointers(report(refused)), ["/callback_url"]);
        }
        let local = Policy {
            allow_loopback_http: true,
            ..Policy::default()
        };
        assert!(validate(&report(json!("http://127.0.0.1:9/hook")), local).is_ok());
        let refusal = validate(&report(json!("https://10.0.0.1/")), Policy::default()).unwrap_err();
        assert_eq!(
            refusal[0].detail,
            "must not point at a private, loopback or link-local address"
        );
    }

    #[test]
    fn states_and_types_read_back_what_they_write() {
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ] {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert!(JobStatus::Failed.is_finished() && !JobStatus::Running.is_finished());
    }

    #[test]
    fn the_queue_message_carries_the_job_id_and_type_only() {
        let message = JobMessage {
            job_id: "j-1".into(),
            job_type: Report::job_type(),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"job_id": "j-1", "type": "report"})
        );
    }
}
