//! The job types a deployment accepts: each is a [`JobKind`] (its name and the input it takes),
//! registered in [`JobKinds`] by `jobs-api`'s `main.rs`; `job-worker` registers a runner for
//! each. The asynchronous pattern ships [`report`].
//! [`invoice`] is the job the synchronous pattern adds: an order's invoice. // starter: with sync

pub mod invoice; // starter: with sync
pub mod report;

use contracts::FieldError;
use serde_json::{Map, Value};

use crate::model::JobType;

/// A job type as the API sees it.
pub trait JobKind: Send + Sync {
    fn job_type(&self) -> JobType;
    /// Checks a request's `input`, adding one error per invalid field, each pointing into the
    /// request body (`/input/...`).
    fn check_input(&self, input: &Map<String, Value>, errors: &mut Vec<FieldError>);
}

/// The job types this deployment accepts.
#[derive(Default)]
pub struct JobKinds {
    kinds: Vec<Box<dyn JobKind>>,
}

impl JobKinds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job type; a second kind with the same name replaces the first.
    pub fn with(mut self, kind: impl JobKind + 'static) -> Self {
        self.kinds.retain(|known| known.job_type() != kind.job_type());
        self.kinds.push(Box::new(kind));
        self
    }

    pub fn get(&self, name: &str) -> Option<&dyn JobKind> {
        self.kinds
            .iter()
            .find(|kind| kind.job_type().as_str() == name)
            .map(|kind| kind.as_ref())
    }

    /// `"export", "invoice" or "report"`: for the answer to an unknown type.
    pub fn names(&self) -> String {
        let names: Vec<String> = self
            .kinds
            .iter()
            .map(|kind| format!("\"{}\"", kind.job_type().as_str()))
            .collect();
        match names.split_last() {
            None => "nothing: this deployment accepts no jobs".to_owned(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }
}

/// Refuses every member of `object` not in `known`, naming it by its JSON Pointer under `at`.
pub fn unknown_fields(object: &Map<String, Value>, at: &str, known: &[&str], errors: &mut Vec<FieldError>) {
    for name in object.keys().filter(|name| !known.contains(&name.as_str())) {
        errors.push(FieldError::new(
            format!("{at}/{}", name.replace('~', "~0").replace('/', "~1")),
            "is not a known field",
        ));
    }
}
