//! The HTTP face of the jobs API: routing, the shape of every answer, and the one place where an
//! error becomes a status code.

use chrono::Utc;
use contracts::callback::Policy;
use http::{HeaderValue, Method, StatusCode, header};
use jobs::kinds::Registration;
use jobs::model::{self, Job};
use jobs::store::JobStoreError;
use lambda_http::{Body, Request, Response};
use lambda_kit::http::{self as kit_http, BodyError, RouteError, Routes, json_body, json_response};
use lambda_kit::idempotency::dynamodb::IdempotencyError;
use lambda_kit::idempotency::{self, Done, InvalidKey, NewClaim, OperationError, Refusal, StoredResponse};
use lambda_kit::metrics;
use lambda_kit::owner;
use lambda_kit::problem::{FieldError, Problem};
use lambda_kit::telemetry::ErrorChain;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::ports::{JobQueue, JobStore, QueueError};

/// Largest accepted request body: 16 KiB. A job's input is small (an order id, a number); the
/// limit keeps the job item small and far below what SQS (1 MiB) or DynamoDB (400 KB) carry.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long a client should wait before it first polls a job.
const POLL_AFTER_SECONDS: u32 = 1;

/// What the API does; [`ROUTES`] says where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateJob,
    GetJob,
}

/// The API's routes, as template.yaml routes them to this function (a test checks that both hold
/// the same set). Every other path and method gets the table's 404 or 405 (see [`Routes`]).
pub const ROUTES: [(Method, &str, Operation); 2] = [
    (Method::POST, "/jobs", Operation::CreateJob),
    (Method::GET, "/jobs/{id}", Operation::GetJob),
];

#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("invalid fields")]
    InvalidFields(Vec<FieldError>),
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no such job")]
    JobNotFound,
    #[error("a job for a customer the caller's token does not name")]
    NotYourCustomer,
    #[error(transparent)]
    Store(#[from] JobStoreError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Nothing jobs-api does loses a claim: it completes its claims after the create, never in it.
impl OperationError for ApiError {}

impl ApiError {
    fn into_problem(self, request_id: &str) -> Problem {
        match self {
            ApiError::Body(error) => error.into(),
            ApiError::InvalidFields(errors) => Problem::invalid_fields("Invalid job", errors),
            ApiError::InvalidKey(error) => error.into(),
            ApiError::Refused(refusal) => refusal.into(),
            ApiError::Idempotency(IdempotencyError::ClaimLost) => idempotency::key_in_progress_problem(),
            ApiError::JobNotFound => Problem::new(StatusCode::NOT_FOUND).with_detail("No job has this id."),
            ApiError::NotYourCustomer => {
                Problem::typed(StatusCode::FORBIDDEN, "not-your-customer", "Not your customer")
                    .with_detail("Jobs are for the customer your token names.")
                    .with_errors(vec![FieldError::new(
                        "/customer_id",
                        "must be the customer your token names",
                    )])
            }
            // Throttling, an outage, or a queue that did not take the job: nothing was queued, and
            // the same request (with the same Idempotency-Key) can be sent again.
            ApiError::Store(JobStoreError::Unavailable(source))
            | ApiError::Idempotency(IdempotencyError::Unavailable(source))
            | ApiError::Queue(QueueError(source)) => {
                warn!(request_id, error = %ErrorChain(source.as_ref()), "dependency unavailable");
                Problem::unavailable(request_id, 1)
            }
            error => {
                error!(request_id, error = %ErrorChain(&error), "request failed");
                Problem::internal(request_id)
            }
        }
    }
}

pub struct JobsApi<S, Q> {
    store: S,
    queue: Q,
    kinds: &'static [Registration],
    idempotency_ttl: std::time::Duration,
    callbacks: Option<Policy>,
    customer_claim: Option<String>,
    routes: Routes<Operation>,
}

impl<S: JobStore, Q: JobQueue> JobsApi<S, Q> {
    /// An API that accepts jobs of `kinds` (`jobs::kinds::KINDS`: what job-worker runs), without
    /// callbacks.
    pub fn new(
        store: S,
        queue: Q,
        kinds: &'static [Registration],
        idempotency_ttl: std::time::Duration,
    ) -> Result<Self, RouteError> {
        Ok(Self {
            store,
            queue,
            kinds,
            idempotency_ttl,
            callbacks: None,
            customer_claim: None,
            routes: Routes::new(ROUTES)?,
        })
    }

    /// Lets a job name a `callback_url` that `policy` allows (see `contracts::callback`): where
    /// the callbacks pattern is deployed.
    pub fn with_callbacks(mut self, policy: Policy) -> Self {
        self.callbacks = Some(policy);
        self
    }

    /// With AuthMode JWT: `claim` of the caller's token names the customer its jobs are for. A
    /// job for another customer is refused (403); a job that names none is for the token's.
    /// Without it (IAM: services acting for customers; an open API) a job is for the customer
    /// its body names, if any.
    pub fn with_customer_claim(mut self, claim: Option<String>) -> Self {
        self.customer_claim = claim;
        self
    }

    /// The store it was given.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The queue it was given.
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Answers one request. Never fails: every error is an answer, and every request is logged
    /// in one line, without its body.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.routes
            .serve(
                &request,
                async |route| match route.to {
                    Operation::CreateJob => self.create_job(&request, route.key()).await,
                    Operation::GetJob => self.get_job(&request, route.param("id").unwrap_or_default()).await,
                },
                ApiError::into_problem,
            )
            .await
    }

    async fn get_job(&self, request: &Request, id: &str) -> Result<Response<Body>, ApiError> {
        if Uuid::try_parse(id).is_err() {
            return Err(ApiError::JobNotFound);
        }
        let job = self.store.get_job(id).await?.ok_or(ApiError::JobNotFound)?;
        // Another caller's job answers as if it did not exist.
        if !owner::may_read(job.owner.as_deref(), owner::of(request).as_deref()) {
            return Err(ApiError::JobNotFound);
        }
        let mut response = json_response(StatusCode::OK, &job);
        if !job.status.is_finished() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER_SECONDS));
        }
        Ok(response)
    }

    /// `operation` is the route (`POST /jobs`): what an idempotency key is scoped to.
    async fn create_job(&self, request: &Request, operation: &str) -> Result<Response<Body>, ApiError> {
        let key = idempotency::key_of(request, operation)?;
        let body = json_body(request, MAX_BODY_BYTES)?;
        let mut job_request = model::validate(&body, self.kinds, self.callbacks).map_err(ApiError::InvalidFields)?;
        if let Some(claim) = &self.customer_claim {
            let token_customer = kit_http::jwt_claim(request, claim).filter(|id| contracts::is_customer_id(id));
            match (&job_request.customer_id, token_customer) {
                (None, customer) => job_request.customer_id = customer.map(str::to_owned),
                (Some(named), Some(customer)) if named == customer => {}
                (Some(_), _) => return Err(ApiError::NotYourCustomer),
            }
        }
        let now = Utc::now();
        let trace_header = kit_http::trace_header(request);

        // A job's id is random (UUIDv7): nothing a caller sends computes it. Under a key the
        // claim keeps it, so a retry that resumes the claim after a crash between queueing and
        // completing finds the job the first attempt made instead of making a second one.
        let claim = key.map(|key| {
            NewClaim::new(
                key,
                idempotency::fingerprint(&job_request),
                now.timestamp_millis(),
                kit_http::deadline_millis(request),
                self.idempotency_ttl,
            )
            .reserving(Uuid::now_v7().to_string())
        });
        let owner = owner::of(request);
        let mut job_id = None;
        let answer = idempotency::once(&self.store, claim, async |claim| {
            let id = claim
                .and_then(|claim| claim.reserved_id.clone())
                .unwrap_or_else(|| Uuid::now_v7().to_string());
            job_id = Some(id.clone());
            let job = Job::queued(id, job_request, now).owned_by(owner);
            Ok::<_, ApiError>(Done::ToComplete(self.enqueue(job, trace_header).await?))
        })
        .await?;
        metrics::count("Jobs", answer.outcome("accepted"), 1);
        // The job's id beside this invocation's request and trace ids (on every line of it).
        match &job_id {
            Some(job_id) => info!(%job_id, "job accepted"),
            None => info!(
                replayed = true,
                "job request answered as the first with its Idempotency-Key"
            ),
        }
        Ok(answer.into_response())
    }

    /// Records the job and sends it. If the send fails, the record is removed again so no job
    /// shows `QUEUED` that no message will ever run.
    async fn enqueue(&self, job: Job, trace_header: Option<&str>) -> Result<StoredResponse, ApiError> {
        let job = match self.store.insert_job(&job).await {
            Ok(()) => job,
            // Only the id a resumed claim reserved can collide: the job of an attempt with the key
            // that stopped before completing it. If that attempt asked the same and its job is
            // still queued, its message may never have left: send again (the worker runs a job
            // once however often it is delivered). Another body's job is never returned.
            Err(JobStoreError::AlreadyExists) => {
                let existing = self.store.get_job(&job.id).await?.ok_or(ApiError::JobNotFound)?;
                if !existing.same_request(&job) {
                    return Err(Refusal::KeyReused.into());
                }
                existing
            }
            Err(error) => return Err(error.into()),
        };
        if job.status == model::JobStatus::Queued
            && let Err(error) = self.queue.send(&job.message(), trace_header).await
        {
            if let Err(delete_error) = self.store.delete_queued_job(&job.id).await {
                error!(job_id = %job.id, error = %ErrorChain(&delete_error), "unsent job not removed");
            }
            return Err(error.into());
        }
        Ok(accepted(&job))
    }
}

/// The 202 answer: the job as it is now, where to poll it, and when.
fn accepted(job: &Job) -> StoredResponse {
    StoredResponse {
        status: StatusCode::ACCEPTED.as_u16(),
        location: Some(format!("/jobs/{}", job.id)),
        // A job is strings, numbers and JSON values: serializing it cannot fail.
        body: serde_json::to_string(job).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_valid() {
        let routes = Routes::new(ROUTES).expect("the route table");
        assert_eq!(routes.keys().collect::<Vec<_>>(), ["POST /jobs", "GET /jobs/{id}"]);
    }

    #[test]
    #[ignore = "needs the template's routes from the local stack: `make test` runs it"]
    fn template_yaml_routes_this_table_to_jobs_api() {
        test_support::assert_template_routes(
            env!("CARGO_PKG_NAME"),
            Routes::new(ROUTES).expect("the route table").keys(),
        );
    }
}
