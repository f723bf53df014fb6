//! The `report` job, the asynchronous pattern's own: deliberately slow work (it waits `seconds`),
//! the kind no API caller should wait for.

use std::time::Duration;

use jobs::model::JobType;
use serde_json::{Value, json};

use super::{BoxedRun, JobError, Runner};

pub struct Report;

impl Report {
    async fn render(input: &Value) -> Result<Value, JobError> {
        let seconds = input
            .get("seconds")
            .and_then(Value::as_u64)
            .ok_or_else(|| JobError::Permanent("the job input has no seconds".into()))?;
        // Stands in for slow work (a large query, a render): what no API caller should wait for.
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        Ok(json!({"seconds": seconds, "rows": seconds * 1_000}))
    }
}

impl Runner for Report {
    fn job_type(&self) -> JobType {
        jobs::kinds::report::JOB_TYPE
    }

    fn run<'a>(&'a self, input: &'a Value) -> BoxedRun<'a> {
        Box::pin(Self::render(input))
    }
}
