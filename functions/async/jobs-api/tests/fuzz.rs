//! Fuzzing the jobs API handler: nothing panics, a client's request is always answered, never with a 5xx, and every 4xx is a
//! problem document. The store and queue behind the handler are the in-memory ones, empty for each case.

use jobs_api::handler::JobsApi;
use jobs_api::memory::{MemoryJobStore, MemoryQueue};
use serde_json::Value;
use test_support::{check_http_properties, http_answer, sample_event};

/// The accepted-request samples.
fn samples() -> Vec<Value> {
    [
        "create-invoice-job", // starter: with sync
        "create-job-rest-api",
        "create-report-job-idempotent",
        "get-job",
    ]
    .into_iter()
    .map(|name| sample_event("jobs-api", name))
    .collect()
}

fn answer(text: &str) -> Option<Value> {
    let api = JobsApi::new(
        MemoryJobStore::new(),
        MemoryQueue::new(),
        jobs::kinds::KINDS,
        std::time::Duration::from_secs(3600),
    )
    .expect("the route table");
    let api = api.with_callbacks(contracts::callback::Policy::default()); // starter: with callbacks
    http_answer(text, |request| api.handle(request))
}

#[test]
fn every_request_is_answered_without_a_5xx_and_no_damaged_event_panics() {
    check_http_properties(samples(), answer);
}
