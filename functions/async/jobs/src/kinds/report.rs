//! `report`: `{"seconds": 0..=10}`, a deliberately slow job (the worker waits `seconds`).

use contracts::FieldError;
use serde_json::{Map, Value};

use super::{JobKind, unknown_fields};
use crate::model::JobType;

pub const JOB_TYPE: JobType = JobType::named("report");

/// The longest a `report` job may be asked to take. The worker's timeout leaves room for it.
pub const MAX_REPORT_SECONDS: u64 = 10;

pub struct Report;

impl JobKind for Report {
    fn job_type(&self) -> JobType {
        JOB_TYPE
    }

    fn check_input(&self, input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
        unknown_fields(input, "/input", &["seconds"], errors);
        match input.get("seconds").map(Value::as_u64) {
            None => errors.push(FieldError::new("/input/seconds", "is required")),
            Some(Some(seconds)) if seconds <= MAX_REPORT_SECONDS => {}
            Some(_) => errors.push(FieldError::new(
                "/input/seconds",
                format!("must be a whole number from 0 to {MAX_REPORT_SECONDS}"),
            )),
        }
    }
}
