//! The kinds of job this deployment has, each in one module: its typed input (read and checked
//! field by field), and how it runs. [`KINDS`] registers them once: jobs-api accepts a job of a
//! registered kind (its input read by the kind's [`Kind::read`]), and job-worker runs it (the
//! input read again, then [`Kind::run`]).
//!
//! The asynchronous pattern ships [`report`].
//! [`invoice`] is the job the synchronous pattern adds: an order's invoice. // starter: with sync
//!
//! A new kind: a module here with a type that implements [`Kind`], and its line in [`KINDS`]. If
//! its run needs something made at init (a client, a table), that goes into [`Services`], which
//! job-worker's `main.rs` fills.

pub mod invoice; // starter: with sync
pub mod report;

use std::future::Future;
use std::pin::Pin;

use contracts::FieldError;
use lambda_kit::BoxError;
use serde_json::{Map, Value};

use crate::model::{Job, JobType};

/// The registration: every kind of job this deployment has, in the order an unknown type's
/// answer lists them. jobs-api accepts these; job-worker runs them.
pub const KINDS: &[Registration] = &[
    Registration::of::<invoice::Invoice>(), // starter: with sync
    Registration::of::<report::Report>(),
];

/// A kind of job: the input it takes, and its run.
pub trait Kind: Sized + Send + 'static {
    /// Its name, as requests, job records and queue messages give it.
    const NAME: &'static str;

    /// Reads a job's `input`: each field through [`Input`], which names every invalid one.
    /// `None` when a field was invalid. jobs-api calls it on every request; job-worker again on
    /// the stored input before the run, so the two cannot disagree on what an input means.
    fn read(input: &mut Input<'_>) -> Option<Self>;

    /// Runs the job: its result, or why it failed. `run` has what init made and who asked.
    fn run(self, run: &Run<'_>) -> impl Future<Output = Result<Value, JobError>> + Send;

    /// Its name as a job record's type.
    fn job_type() -> JobType {
        JobType::named(Self::NAME)
    }
}

/// What runs need that is made once per execution environment (clients, table names): job-worker's
/// `main.rs` fills it.
pub struct Services {
    /// Where invoice jobs read orders. // starter: with sync
    pub orders: Box<dyn invoice::OrderReader>, // starter: with sync
}

/// What a run has besides its input.
pub struct Run<'a> {
    /// What init made.
    pub services: &'a Services,
    /// Who asked for the job: a digest of the caller (`lambda_kit::owner`) where the API has an
    /// authorizer, `None` on an open API.
    pub owner: Option<&'a str>,
}

impl Run<'_> {
    /// Whether the caller who asked for the job may read what `owner` (a digest) created: a run
    /// reads on its caller's behalf, never more than the caller may (`lambda_kit::owner`).
    pub fn may_read(&self, owner: Option<&str>) -> bool {
        lambda_kit::owner::may_read(owner, self.owner)
    }
}

/// How a run failed. A job either succeeds with a result, fails permanently (its input cannot be
/// processed: retrying would not help), or fails transiently (a dependency failed: the queue
/// delivers it again).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Permanent(String),
    /// `reason` is what the job record shows; `source` what failed underneath (throttled, access
    /// denied, unreachable), for the log only.
    #[error("{reason}")]
    Transient {
        reason: String,
        #[source]
        source: BoxError,
    },
}

/// One run of a job: its result, or why it failed.
pub type BoxedRun<'a> = Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send + 'a>>;

/// One kind in [`KINDS`]: its name, and its read and run without its type.
pub struct Registration {
    name: &'static str,
    check: fn(&Value) -> Result<(), Vec<FieldError>>,
    run: for<'a> fn(&'a Value, Run<'a>) -> BoxedRun<'a>,
}

impl Registration {
    pub const fn of<K: Kind>() -> Self {
        Self {
            name: K::NAME,
            check: check::<K>,
            run: read_and_run::<K>,
        }
    }

    pub fn job_type(&self) -> JobType {
        JobType::named(self.name)
    }

    /// Checks a request's `input`: one error per invalid field, each pointing into the request
    /// body (`/input/...`).
    pub fn check(&self, input: &Value) -> Result<(), Vec<FieldError>> {
        (self.check)(input)
    }
}

/// The kind registered as `name`.
pub fn find<'k>(kinds: &'k [Registration], name: &str) -> Option<&'k Registration> {
    kinds.iter().find(|kind| kind.name == name)
}

/// `"export", "invoice" or "report"`: for the answer to an unknown type.
pub fn names(kinds: &[Registration]) -> String {
    let names: Vec<String> = kinds.iter().map(|kind| format!("\"{}\"", kind.name)).collect();
    match names.split_last() {
        None => "nothing: this deployment accepts no jobs".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Runs `job` as its kind says, on behalf of its owner. A kind this worker does not have fails the job permanently: the
/// API accepted it, so the deployment is missing its registration, and another delivery to the
/// same worker would not help. So does an input the kind cannot read (stored by an older API).
pub async fn run(kinds: &[Registration], job: &Job, services: &Services) -> Result<Value, JobError> {
    match find(kinds, job.job_type.as_str()) {
        Some(kind) => {
            let run = Run {
                services,
                owner: job.owner.as_deref(),
            };
            (kind.run)(&job.input, run).await
        }
        None => Err(JobError::Permanent(format!(
            "this worker runs no {} jobs",
            job.job_type.as_str()
        ))),
    }
}

/// A job's `input` while a [`Kind`] reads it: typed fields out, every invalid or unknown field
/// named by its JSON Pointer.
pub struct Input<'a> {
    object: &'a Map<String, Value>,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> Input<'a> {
    /// The field `name`, as `read` makes it; `read`'s `Err` is what the caller is told
    /// (`"must be ..."`). `None` when it is missing (`"is required"`) or refused.
    pub fn required<T>(&mut self, name: &'static str, read: impl FnOnce(&'a Value) -> Result<T, String>) -> Option<T> {
        self.known.push(name);
        let Some(value) = self.object.get(name) else {
            self.errors.push(FieldError::new(pointer(name), "is required"));
            return None;
        };
        self.read(name, value, read)
    }

    /// The field `name` if present (`null` is absent), as `read` makes it.
    pub fn optional<T>(
        &mut self,
        name: &'static str,
        read: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        self.known.push(name);
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.read(name, value, read).map(Some),
        }
    }

    fn read<T>(
        &mut self,
        name: &str,
        value: &'a Value,
        read: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        read(value)
            .map_err(|detail| self.errors.push(FieldError::new(pointer(name), detail)))
            .ok()
    }

    /// The errors: the unknown fields first (a misspelt name explains a missing one), then the
    /// invalid ones.
    fn finish(self) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = self
            .object
            .keys()
            .filter(|name| !self.known.contains(&name.as_str()))
            .map(|name| FieldError::new(pointer(name), "is not a known field"))
            .collect();
        errors.extend(self.errors);
        errors
    }
}

fn pointer(name: &str) -> String {
    format!("/input/{}", pointer_token(name))
}

/// A member name as one JSON Pointer token (RFC 6901: `~` is `~0`, `/` is `~1`).
pub(crate) fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Reads `input` as a `K`, or names every invalid field.
pub fn read<K: Kind>(input: &Value) -> Result<K, Vec<FieldError>> {
    let Value::Object(object) = input else {
        return Err(vec![FieldError::new("/input", "must be an object")]);
    };
    let mut fields = Input {
        object,
        known: Vec::new(),
        errors: Vec::new(),
    };
    let kind = K::read(&mut fields);
    let errors = fields.finish();
    match kind {
        Some(kind) if errors.is_empty() => Ok(kind),
        // A read that refused without naming a field.
        _ if errors.is_empty() => Err(vec![FieldError::new(
            "/input",
            format!("is not a valid {} input", K::NAME),
        )]),
        _ => Err(errors),
    }
}

fn check<K: Kind>(input: &Value) -> Result<(), Vec<FieldError>> {
    read::<K>(input).map(drop)
}

fn read_and_run<'a, K: Kind>(input: &'a Value, run: Run<'a>) -> BoxedRun<'a> {
    Box::pin(async move {
        let job = read::<K>(input).map_err(|errors| {
            let fields: Vec<String> = errors
                .iter()
                .map(|error| format!("{} {}", error.pointer, error.detail))
                .collect();
            JobError::Permanent(format!(
                "the job input is not a {} input: {}",
                K::NAME,
                fields.join("; ")
            ))
        })?;
        job.run(&run).await
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::model::JobRequest;

    fn job(job_type: JobType, input: Value) -> Job {
        let request = JobRequest {
            job_type,
            input,
            customer_id: None,
            callback_url: None,
        };
        Job::queued("j-1".into(), request, Utc::now())
    }

    fn services() -> Services {
        Services {
            orders: Box::new(invoice::MemoryOrders::default()), // starter: with sync
        }
    }

    #[tokio::test]
    async fn a_job_runs_as_its_kind_says_and_an_unknown_kind_or_input_fails_for_good() {
        let done = run(
            KINDS,
            &job(report::Report::job_type(), json!({"seconds": 0})),
            &services(),
        )
        .await
        .expect("a report");
        assert_eq!(done, json!({"seconds": 0, "rows": 0}));
        let error = run(KINDS, &job(JobType::named("export"), json!({})), &services())
            .await
            .expect_err("no export kind");
        assert!(matches!(&error, JobError::Permanent(reason) if reason == "this worker runs no export jobs"));
        let error = run(KINDS, &job(report::Report::job_type(), json!({"secs": 1})), &services())
            .await
            .expect_err("an input the kind does not read");
        assert_eq!(
            error.to_string(),
            "the job input is not a report input: /input/secs is not a known field; /input/seconds is required"
        );
    }

    #[test]
    fn the_answer_to_an_unknown_type_lists_the_registered_ones() {
        const REPORT_ONLY: &[Registration] = &[Registration::of::<report::Report>()];
        assert_eq!(names(REPORT_ONLY), "\"report\"");
        assert_eq!(names(&[]), "nothing: this deployment accepts no jobs");
        assert!(find(KINDS, "report").is_some() && find(KINDS, "export").is_none());
    }

    /// A kind with an optional field, as an owner's may have.
    #[derive(Debug, PartialEq)]
    struct Export {
        format: Option<String>,
    }

    impl Kind for Export {
        const NAME: &'static str = "export";

        fn read(input: &mut Input<'_>) -> Option<Self> {
            let format = input.optional("format", |value| match value.as_str() {
                Some(format @ ("csv" | "ndjson")) => Ok(format.to_owned()),
                _ => Err("must be \"csv\" or \"ndjson\"".to_owned()),
            });
            Some(Self { format: format? })
        }

        async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
            Ok(Value::Null)
        }
    }

    #[test]
    fn an_optional_field_may_be_absent_or_null_but_not_invalid() {
        assert_eq!(read::<Export>(&json!({})), Ok(Export { format: None }));
        assert_eq!(read::<Export>(&json!({"format": null})), Ok(Export { format: None }));
        assert_eq!(
            read::<Export>(&json!({"format": "csv"})),
            Ok(Export {
                format: Some("csv".into())
            })
        );
        assert_eq!(
            read::<Export>(&json!({"format": "xml"})).err(),
            Some(vec![FieldError::new("/input/format", "must be \"csv\" or \"ndjson\"")])
        );
    }

    #[test]
    fn an_input_names_every_unknown_and_invalid_field_and_is_an_object() {
        assert_eq!(
            read::<report::Report>(&json!({"seconds": "ten", "rows": 5, "a/b": 1})).err(),
            Some(vec![
                FieldError::new("/input/a~1b", "is not a known field"),
                FieldError::new("/input/rows", "is not a known field"),
                FieldError::new("/input/seconds", "must be a whole number from 0 to 10"),
            ])
        );
        assert_eq!(
            read::<report::Report>(&json!([1])).err(),
            Some(vec![FieldError::new("/input", "must be an object")])
        );
    }
}
