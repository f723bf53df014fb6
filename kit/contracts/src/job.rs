//! `job.succeeded` v1 and `job.failed` v1: how a job ended.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Contract;

/// `job.succeeded` v1: a job ran to the end; `result` is what `GET /jobs/{id}` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JobSucceeded {
    pub job_id: String,
    /// The job type's name (`report`, `invoice`, ...).
    #[serde(rename = "type")]
    pub job_type: String,
    /// Runs it took (a redelivery after a transient failure adds one).
    pub attempts: u32,
    pub result: Value,
    /// The customer the job is for, where it names one: the one WebSocket connection that may
    /// follow it (the realtime pattern reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Where the submitter asked the outcome to be POSTed (the callbacks pattern reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Whose receiver the callback URL is: the digest of the caller who submitted the job
    /// (`lambda_kit::owner`), whose key signs the delivery. With `callback_url` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_owner: Option<String>,
}

impl Contract for JobSucceeded {
    const TYPE: &'static str = "job.succeeded";
    const VERSION: u32 = 1;
}

/// `job.failed` v1: a job failed for good; `error` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JobFailed {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub attempts: u32,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_owner: Option<String>,
}

impl Contract for JobFailed {
    const TYPE: &'static str = "job.failed";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::{Envelope, Event};

    #[test]
    fn job_events_have_the_documented_data() {
        let succeeded = JobSucceeded {
            job_id: "j-1".into(),
            job_type: "report".into(),
            attempts: 2,
            result: json!({"rows": 1}),
            customer_id: None,
            callback_url: None,
            callback_owner: None,
        };
        let envelope = succeeded.envelope("job-worker", Utc::now()).unwrap();
        assert_eq!(envelope.event_type, "job.succeeded");
        assert_eq!(
            envelope.data,
            json!({"job_id": "j-1", "type": "report", "attempts": 2, "result": {"rows": 1}})
        );
        assert_eq!(Event::read(&envelope).unwrap(), Some(Event::JobSucceeded(succeeded)));

        let failed = JobFailed {
            job_id: "j-2".into(),
            job_type: "invoice".into(),
            attempts: 1,
            error: "order o does not exist".into(),
            customer_id: Some("c-42".into()),
            callback_url: Some("https://hooks.example.com/jobs".into()),
            callback_owner: Some("5d41402abc4b2a76b9719d911017c592".into()),
        };
        let envelope = failed.envelope("job-worker", Utc::now()).unwrap();
        assert_eq!(envelope.data["callback_url"], "https://hooks.example.com/jobs");
        assert_eq!(envelope.data["customer_id"], "c-42");
        assert_eq!(Event::read(&envelope).unwrap(), Some(Event::JobFailed(failed)));
    }

    #[test]
    fn a_job_event_without_its_job_id_or_outcome_is_a_violation() {
        for (event_type, data) in [
            ("job.succeeded", json!({"type": "report", "attempts": 1, "result": {}})),
            ("job.failed", json!({"job_id": "j", "type": "report", "attempts": 1})),
            (
                "job.failed",
                json!({"job_id": "j", "type": "report", "attempts": "one", "error": "e"}),
            ),
        ] {
            let envelope = Envelope::new(event_type, 1, "x", data, Utc::now());
            assert!(Event::read(&envelope).is_err(), "{event_type} {}", envelope.data);
        }
    }
}
