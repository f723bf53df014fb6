//! jobs-api's behaviour on the in-memory adapters (`jobs_api::memory`): what is recorded and
//! queued, idempotent replays, a reused key, a key in progress, and what a caller sees when the
//! queue or the store fails. Nothing needs to run: plain `cargo test` runs these. tests/api.rs
//! checks the DynamoDB and SQS adapters against the local AWS.

mod support;

use chrono::Utc;
use http::StatusCode;
use jobs::kinds::Registration;
use jobs::kinds::report::Report;
use jobs::model::{Job, JobStatus};
use jobs_api::handler::JobsApi;
use jobs_api::memory::{MemoryJobStore, MemoryQueue};
use lambda_kit::idempotency::{Claim, IdempotencyKey, NewClaim};
use serde_json::{Value, json};
use support::{REQUEST_ID, TRACE, body_json, header, request, request_as};

/// The kinds these tests submit: reports, which every project has.
const KINDS: &[Registration] = &[Registration::of::<Report>()];

fn api(store: MemoryJobStore, queue: MemoryQueue) -> JobsApi<MemoryJobStore, MemoryQueue> {
    JobsApi::new(store, queue, KINDS, std::time::Duration::from_secs(3600)).expect("the route table")
}

fn report(seconds: u64) -> Value {
    json!({"type": "report", "input": {"seconds": seconds}})
}

#[tokio::test]
async fn an_accepted_job_is_recorded_queued_and_sent_once_with_its_trace() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());

    let accepted = api.handle(request("POST", "/jobs", Some(&report(1)), None)).await;

    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let job = body_json(&accepted);
    let id = job["id"].as_str().expect("an id");
    assert_eq!(header(&accepted, "location"), Some(format!("/jobs/{id}").as_str()));
    assert_eq!(api.store().job(id).expect("recorded").status, JobStatus::Queued);
    let sent = api.queue().sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0.job_id.as_str(), sent[0].1.as_deref()), (id, Some(TRACE)));

    let polled = api.handle(request("GET", &format!("/jobs/{id}"), None, None)).await;
    assert_eq!(polled.status(), StatusCode::OK);
    assert_eq!(body_json(&polled)["status"], "QUEUED");
    assert_eq!(header(&polled, "retry-after"), Some("1"), "not finished: poll again");
}

#[tokio::test]
async fn another_callers_job_answers_as_if_it_did_not_exist() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());
    let accepted = api
        .handle(request_as("alice", "POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let location = header(&accepted, "location").expect("location").to_owned();

    let by_alice = api.handle(request_as("alice", "GET", &location, None, None)).await;
    let by_bob = api.handle(request_as("bob", "GET", &location, None, None)).await;
    let unknown = api
        .handle(request_as(
            "bob",
            "GET",
            "/jobs/0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01",
            None,
            None,
        ))
        .await;

    assert_eq!(by_alice.status(), StatusCode::OK);
    assert_eq!(body_json(&by_alice)["id"], body_json(&accepted)["id"]);
    assert_eq!(by_bob.status(), StatusCode::NOT_FOUND);
    assert_eq!(body_json(&by_bob), body_json(&unknown));
}

#[tokio::test]
async fn with_a_customer_claim_a_job_is_for_the_customer_the_token_names_only() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new()).with_customer_claim(Some("sub".to_owned()));
    let for_customer = |customer: Option<&str>| {
        let mut body = report(0);
        if let Some(customer) = customer {
            body["customer_id"] = Value::from(customer);
        }
        body
    };

    let unnamed = api
        .handle(request_as("alice", "POST", "/jobs", Some(&for_customer(None)), None))
        .await;
    let named = api
        .handle(request_as(
            "alice",
            "POST",
            "/jobs",
            Some(&for_customer(Some("alice"))),
            None,
        ))
        .await;
    let other = api
        .handle(request_as(
            "alice",
            "POST",
            "/jobs",
            Some(&for_customer(Some("bob"))),
            None,
        ))
        .await;

    for accepted in [&unnamed, &named] {
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        assert_eq!(
            body_json(accepted)["customer_id"],
            "alice",
            "the job is for the token's customer"
        );
    }
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(&other)["type"], "/problems/not-your-customer");
    assert_eq!(body_json(&other)["errors"][0]["pointer"], "/customer_id");
    assert_eq!(api.queue().sent().len(), 2, "the refused job is not queued");
}

#[tokio::test]
async fn without_a_customer_claim_a_job_is_for_the_customer_its_body_names_if_any() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());
    let mut body = report(0);
    body["customer_id"] = Value::from("c-42");

    let named = api.handle(request("POST", "/jobs", Some(&body), None)).await;
    let unnamed = api.handle(request("POST", "/jobs", Some(&report(0)), None)).await;
    body["customer_id"] = Value::from("not a customer id");
    let invalid = api.handle(request("POST", "/jobs", Some(&body), None)).await;

    assert_eq!(body_json(&named)["customer_id"], "c-42");
    let id = body_json(&named)["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        api.store().job(&id).expect("recorded").customer_id.as_deref(),
        Some("c-42")
    );
    assert_eq!(body_json(&unnamed).get("customer_id"), None);
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(&invalid)["errors"][0]["pointer"], "/customer_id");
}

#[tokio::test]
async fn a_callback_url_is_kept_for_delivery_and_never_shown_back() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new()).with_callbacks(contracts::callback::Policy::default());
    let url = "https://hooks.example.com/jobs?token=s3cr3t";
    let body = json!({"type": "report", "input": {"seconds": 1}, "callback_url": url});

    let accepted = api.handle(request("POST", "/jobs", Some(&body), None)).await;
    let location = header(&accepted, "location").expect("location").to_owned();
    let polled = api.handle(request("GET", &location, None, None)).await;

    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    for answer in [&accepted, &polled] {
        assert!(body_json(answer).get("callback_url").is_none(), "{}", body_json(answer));
    }
    let id = body_json(&accepted)["id"].as_str().expect("id").to_owned();
    assert_eq!(api.store().job(&id).expect("stored").callback_url.as_deref(), Some(url));
}

/// The claim a request with key `k-1` and `body` left, made `age_millis` ago and in progress
/// until then (so abandoned now), reserving `id`; kept for `ttl_seconds`.
fn earlier_claim(body: &Value, id: &str, age_millis: i64, ttl_seconds: i64) -> NewClaim {
    let then = Utc::now().timestamp_millis() - age_millis;
    let request = jobs::model::validate(body, KINDS, None).expect("valid");
    NewClaim {
        key: IdempotencyKey::parse("POST /jobs", b"k-1").expect("key"),
        fingerprint: lambda_kit::idempotency::fingerprint(&request),
        now_millis: then,
        in_progress_until_millis: then + 1,
        expires_at_seconds: then / 1000 + ttl_seconds,
        reserved_id: Some(id.to_owned()),
    }
}

/// The job that `earlier_claim` made: recorded, its message never sent.
async fn earlier_job(store: &MemoryJobStore, body: &Value, id: &str) -> Job {
    let request = jobs::model::validate(body, KINDS, None).expect("valid");
    let job = Job::queued(id.to_owned(), request, Utc::now() - chrono::Duration::minutes(1));
    jobs_api::ports::JobStore::insert_job(store, &job)
        .await
        .expect("seeded");
    job
}

#[tokio::test]
async fn job_ids_are_random_not_derived_from_the_key() {
    let (one, other) = (
        api(MemoryJobStore::new(), MemoryQueue::new()),
        api(MemoryJobStore::new(), MemoryQueue::new()),
    );
    let alone = one
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;
    let same_key_elsewhere = other
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;
    assert_ne!(
        body_json(&alone)["id"],
        body_json(&same_key_elsewhere)["id"],
        "the same key and body give another id: nothing a caller sends computes it"
    );
}

#[tokio::test]
async fn a_retry_that_resumes_an_abandoned_claim_sends_the_job_it_made_and_makes_no_other() {
    // Given a first request that recorded its job and stopped before sending it
    let store = MemoryJobStore::new();
    let id = "0195f3a4-7c1e-7b2a-9d4e-00000000b001";
    assert_eq!(
        store.claims().try_claim(&earlier_claim(&report(1), id, 5_000, 3600)),
        Claim::Acquired
    );
    earlier_job(&store, &report(1), id).await;
    let api = api(store, MemoryQueue::new());

    // When the client retries with the same key and body
    let retried = api
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;

    // Then it gets that job, now sent, and no second one
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&retried)["id"], id);
    assert_eq!(api.store().len(), 1);
    let sent = api.queue().sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.job_id, id);
}

#[tokio::test]
async fn another_body_resuming_an_abandoned_claim_never_gets_its_job() {
    let store = MemoryJobStore::new();
    let id = "0195f3a4-7c1e-7b2a-9d4e-00000000b002";
    store.claims().try_claim(&earlier_claim(&report(1), id, 5_000, 3600));
    let old = earlier_job(&store, &report(1), id).await;
    let api = api(store, MemoryQueue::new());

    let refused = api
        .handle(request("POST", "/jobs", Some(&report(2)), Some("k-1")))
        .await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(&refused)["type"], "/problems/idempotency-key-reused");
    assert!(body_json(&refused).get("input").is_none());
    assert_eq!(api.store().job(id), Some(old));
    assert!(api.queue().sent().is_empty());
}

#[tokio::test]
async fn a_key_used_again_after_its_window_makes_a_new_job_and_never_returns_the_old_one() {
    // Given the job an earlier use of key k-1 made two days ago, its claim past its one-day TTL
    let store = MemoryJobStore::new();
    let id = "0195f3a4-7c1e-7b2a-9d4e-00000000b003";
    let claim = earlier_claim(&report(1), id, 2 * 86_400_000, 86_400);
    store.claims().try_claim(&claim);
    let old = earlier_job(&store, &report(1), id).await;
    let api = api(store, MemoryQueue::new());

    // When the key comes again, with another body and with the same one
    let other_body = api
        .handle(request("POST", "/jobs", Some(&report(2)), Some("k-1")))
        .await;

    // Then it is a new job with a new id; the old one is neither returned nor sent again
    assert_eq!(other_body.status(), StatusCode::ACCEPTED);
    assert_ne!(body_json(&other_body)["id"], id);
    assert_eq!(body_json(&other_body)["input"], json!({"seconds": 2}));
    assert_eq!(api.store().job(id), Some(old));
    assert_eq!(api.queue().sent().len(), 1);
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_answer_and_queues_nothing_more() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());

    let first = api
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;
    let retry = api
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;

    assert_eq!(
        (first.status(), retry.status()),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(body_json(&retry), body_json(&first));
    assert_eq!((api.store().len(), api.queue().sent().len()), (1, 1));
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_queues_nothing() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());

    api.handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;
    let refused = api
        .handle(request("POST", "/jobs", Some(&report(2)), Some("k-1")))
        .await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(&refused)["type"], "/problems/idempotency-key-reused");
    assert_eq!((api.store().len(), api.queue().sent().len()), (1, 1));
}

#[tokio::test]
async fn a_request_whose_key_is_still_in_progress_is_told_to_retry() {
    let store = MemoryJobStore::new();
    let now = Utc::now().timestamp_millis();
    let key = IdempotencyKey::parse("POST /jobs", b"k-1").expect("key");
    // What the first request's claim holds: the same key and body, still in progress.
    let request_rules = jobs::model::validate(&report(1), KINDS, None).expect("valid");
    let fingerprint = lambda_kit::idempotency::fingerprint(&request_rules);
    let claim = NewClaim {
        key,
        fingerprint,
        now_millis: now,
        in_progress_until_millis: now + 60_000,
        expires_at_seconds: now / 1000 + 3600,
        reserved_id: None,
    };
    assert_eq!(store.claims().try_claim(&claim), Claim::Acquired);
    let api = api(store, MemoryQueue::new());

    let response = api
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(body_json(&response)["type"], "/problems/idempotency-key-in-progress");
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert!(api.queue().sent().is_empty());
}

#[tokio::test]
async fn when_the_queue_fails_the_caller_gets_503_no_job_is_left_and_the_key_is_free_again() {
    let api = api(MemoryJobStore::new(), MemoryQueue::failing());

    let refused = api
        .handle(request("POST", "/jobs", Some(&report(1)), Some("k-1")))
        .await;

    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert_eq!(body_json(&refused)["request_id"], REQUEST_ID);
    let key = IdempotencyKey::parse("POST /jobs", b"k-1").expect("key");
    assert!(api.store().is_empty(), "the unsent job is not left QUEUED");
    let now = Utc::now().timestamp_millis();
    let retry = NewClaim {
        key,
        fingerprint: "any".into(),
        now_millis: now,
        in_progress_until_millis: now + 1,
        expires_at_seconds: now / 1000 + 60,
        reserved_id: None,
    };
    assert!(
        matches!(api.store().claims().try_claim(&retry), Claim::Resumed { .. }),
        "the claim was released: the retry resumes it at once"
    );
}

#[tokio::test]
async fn an_unavailable_store_answers_503_with_retry_after() {
    let api = api(MemoryJobStore::unavailable(), MemoryQueue::new());

    for request in [
        request("GET", "/jobs/0195f3a4-7c1e-7b2a-9d4e-00000000a001", None, None),
        request("POST", "/jobs", Some(&report(1)), Some("k-1")),
    ] {
        let response = api.handle(request).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&response, "retry-after"), Some("1"));
        assert!(
            !body_json(&response).to_string().contains("memory store"),
            "no internal detail"
        );
    }
    assert!(api.queue().sent().is_empty());
}

#[tokio::test]
async fn other_paths_and_methods_get_the_route_tables_404_and_405() {
    let api = api(MemoryJobStore::new(), MemoryQueue::new());

    let unknown = api.handle(request("GET", "/jobs/a/result", None, None)).await;
    let wrong = api
        .handle(request(
            "DELETE",
            "/jobs/0195f3a4-7c1e-7b2a-9d4e-00000000a001",
            None,
            None,
        ))
        .await;

    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&wrong, "allow"), Some("GET"));
}
