//! jobs-api against the local DynamoDB and SQS (moto) through the real SDK: every sample event,
//! what goes on the queue, and what a caller sees when the queue fails.

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::Utc;
use http::StatusCode;
use jobs::model::{Job, JobRequest};
use jobs::store::JobStoreError;
use jobs::table::JobsTable;
use jobs_api::adapters::{DynamoDbJobStore, SqsJobQueue};
use jobs_api::config::Config;
use jobs_api::handler::JobsApi;
use lambda_http::{Body, Request, Response};
use lambda_kit::idempotency::IdempotencyKey;
use lambda_kit::idempotency::dynamodb::IdempotencyTable;
use serde_json::{Value, json};
use test_support::check_http_sample_events;
use test_support::expected::normalized;

use support::{REQUEST_ID, TRACE, body_json, context, header, post_job, with_context};

const SEEDED_JOB_ID: &str = "0195f3a4-7c1e-7b2a-9d4e-00000000a001";

struct Local {
    config: Config,
    dynamodb: DynamoDb,
    sqs: Sqs,
}

async fn local() -> Local {
    test_support::assert_local_aws();
    let aws = lambda_kit::aws::load().await.expect("the trust store");
    Local {
        config: Config::from_env().expect("the function's environment"),
        dynamodb: DynamoDb::new(&aws),
        sqs: Sqs::new(&aws),
    }
}

impl Local {
    fn jobs(&self) -> JobsTable {
        JobsTable::new(self.dynamodb.clone(), &self.config.jobs_table)
    }

    fn api_with_queue(&self, queue: SqsJobQueue) -> JobsApi<DynamoDbJobStore, SqsJobQueue> {
        let store = DynamoDbJobStore::new(
            self.jobs(),
            IdempotencyTable::new(self.dynamodb.clone(), &self.config.idempotency_table),
        );
        JobsApi::new(store, queue, jobs::kinds::KINDS, self.config.idempotency_ttl)
            .expect("the route table")
            .with_callbacks(self.config.callbacks) // starter: with callbacks
    }

    fn api(&self) -> JobsApi<DynamoDbJobStore, SqsJobQueue> {
        self.api_with_queue(SqsJobQueue::new(self.sqs.clone(), &self.config.jobs_queue_url))
    }

    /// A queue of this test's own, so what it reads is not taken by the local poller first.
    async fn private_queue(&self) -> String {
        let name = format!("jobs-api-test-{}", uuid::Uuid::now_v7().simple());
        self.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url")
    }
}

fn assert_problem(response: &Response<Body>, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.body());
    assert_eq!(header(response, "content-type"), Some("application/problem+json"));
    body_json(response)
}

fn assert_accepted(response: &Response<Body>) -> Value {
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{:?}", response.body());
    let job = body_json(response);
    assert_eq!(
        header(response, "location"),
        Some(format!("/jobs/{}", job["id"].as_str().expect("id")).as_str())
    );
    assert_eq!(job["status"], "QUEUED");
    assert_eq!(job["attempts"], 0);
    job
}

/// The job `get-job.json` asks for.
async fn seed_job(local: &Local) {
    let seeded = Job::queued(
        SEEDED_JOB_ID.into(),
        JobRequest {
            job_type: jobs::model::JobType::named("report"),
            input: json!({"seconds": 1}),
            customer_id: None,
            callback_url: None,
        },
        Utc::now(),
    );
    match local.jobs().insert(&seeded).await {
        Ok(()) | Err(JobStoreError::AlreadyExists) => {}
        Err(error) => panic!("seeding failed: {error}"),
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_sample_event_gets_the_expected_answer() {
    let local = local().await;
    let api = local.api();
    seed_job(&local).await;
    for (event, answer) in check_http_sample_events("jobs-api", context, |r| api.handle(r)).await {
        if answer["statusCode"] == 202 {
            // Accepted means recorded: the job is in the table, with the callback URL its
            // request named, which the answer does not show.
            let job = normalized(&answer)["body"].clone();
            let stored = local
                .jobs()
                .get(job["id"].as_str().expect("an id"))
                .await
                .expect("read")
                .expect("stored");
            let file = std::fs::read_to_string(test_support::events_dir("jobs-api").join(&event)).expect("the event");
            let sample: Value = serde_json::from_str(&file).expect("JSON");
            let request: Value = serde_json::from_str(sample["body"].as_str().unwrap_or("{}")).unwrap_or_default();
            assert_eq!(
                stored.callback_url.as_deref(),
                request["callback_url"].as_str(),
                "{event}"
            );
            assert!(
                job.get("callback_url").is_none(),
                "{event}: the answer holds no callback URL"
            );
        }
    }
}

/// What `make sam-local` needs in the local AWS before it sends the sample events to the
/// `sam build` artifact: the job `get-job.json` asks for.
#[tokio::test]
#[ignore = "fixtures for make sam-local, which runs it"]
async fn sample_event_fixtures() {
    seed_job(&local().await).await;
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn an_accepted_job_is_recorded_queued_and_sent_with_its_id_type_and_trace() {
    let local = local().await;
    let queue_url = local.private_queue().await;
    let api = local.api_with_queue(SqsJobQueue::new(local.sqs.clone(), &queue_url));

    let response = api
        .handle(post_job(&json!({"type": "report", "input": {"seconds": 0}}), None))
        .await;

    let job = assert_accepted(&response);
    let id = job["id"].as_str().expect("id");
    assert_eq!(
        header(&response, "retry-after"),
        None,
        "202 carries Location; polling GET carries Retry-After"
    );
    let stored = local.jobs().get(id).await.expect("read").expect("the job is recorded");
    assert_eq!(stored.status, jobs::model::JobStatus::Queued);

    let received = local
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    let message = &received.messages()[0];
    assert_eq!(
        serde_json::from_str::<Value>(message.body().expect("body")).expect("JSON"),
        json!({"job_id": id, "type": "report"})
    );
    let attributes = message.message_attributes().expect("attributes");
    assert_eq!(attributes["job_id"].string_value(), Some(id));
    assert_eq!(attributes["job_type"].string_value(), Some("report"));
    assert_eq!(
        message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader))
            .map(String::as_str),
        Some(TRACE)
    );
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn a_polled_job_that_is_not_finished_says_when_to_poll_again() {
    let local = local().await;
    let created = local
        .api()
        .handle(post_job(&json!({"type": "report", "input": {"seconds": 5}}), None))
        .await;
    let id = body_json(&created)["id"].as_str().expect("id").to_owned();

    let polled = local
        .api()
        .handle(with_context(
            http::Request::builder()
                .uri(format!("/jobs/{id}"))
                .body(Body::Empty)
                .expect("request"),
        ))
        .await;

    assert_eq!(polled.status(), StatusCode::OK);
    assert_eq!(header(&polled, "retry-after"), Some("1"));
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn when_the_queue_fails_the_caller_gets_503_and_no_job_is_left_queued() {
    let local = local().await;
    // Nothing listens on port 9 on loopback: the send fails to connect.
    let sqs_config = aws_sdk_sqs::config::Builder::from(&lambda_kit::aws::load().await.expect("the trust store"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let broken = local.api_with_queue(SqsJobQueue::new(
        Sqs::from_conf(sqs_config),
        "http://127.0.0.1:9/123456789012/JobsQueue",
    ));
    let key = format!("key-{}", uuid::Uuid::now_v7().simple());
    let body = json!({"type": "report", "input": {"seconds": 0}});

    let refused = broken.handle(post_job(&body, Some(&key))).await;

    let problem = assert_problem(&refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["request_id"], REQUEST_ID);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    // The claim is released, keeping the id it reserved; no job has it.
    let claim = local
        .dynamodb
        .get_item()
        .table_name(&local.config.idempotency_table)
        .key(
            "key",
            lambda_kit::dynamodb::s(
                IdempotencyKey::parse("POST /jobs", key.as_bytes())
                    .expect("key")
                    .as_str(),
            ),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item
        .expect("the claim is kept");
    let job_id = claim["reserved_id"].as_s().expect("a reserved id").clone();
    assert_eq!(
        claim["in_progress_until"].as_n().map(String::as_str),
        Ok("0"),
        "released"
    );
    assert_eq!(
        local.jobs().get(&job_id).await.expect("read"),
        None,
        "the unsent job is not left QUEUED"
    );

    // The retry with the same key, once the queue works, resumes the released claim and queues
    // the job under the id it reserved.
    let queue_url = local.private_queue().await;
    let retried = local
        .api_with_queue(SqsJobQueue::new(local.sqs.clone(), &queue_url))
        .handle(post_job(&body, Some(&key)))
        .await;
    let job = assert_accepted(&retried);
    assert_eq!(header(&retried, "idempotent-replayed"), None);
    assert_eq!(job["id"], job_id.as_str());
}

/// `create-report-job-idempotent.json` as the HTTP API delivers it once its JWT authorizer let
/// `subject` in.
fn idempotent_job_as(subject: &str, key: &str) -> Request {
    let path = test_support::events_dir("jobs-api").join("create-report-job-idempotent.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("JSON");
    event["headers"]["idempotency-key"] = Value::from(key);
    event["requestContext"]["authorizer"] =
        json!({"jwt": {"claims": {"iss": "https://idp.example.com", "sub": subject}, "scopes": null}});
    with_context(lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event"))
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn two_callers_with_the_same_key_each_get_their_own_job() {
    let local = local().await;
    let key = uuid::Uuid::now_v7().to_string();

    let alice = local.api().handle(idempotent_job_as("alice", &key)).await;
    let bob = local.api().handle(idempotent_job_as("bob", &key)).await;
    let alice_again = local.api().handle(idempotent_job_as("alice", &key)).await;

    let (alice, bob) = (assert_accepted(&alice), assert_accepted(&bob));
    assert_ne!(alice["id"], bob["id"], "the job id follows from the caller's own key");
    assert_eq!(header(&alice_again, "idempotent-replayed"), Some("true"));
    assert_eq!(body_json(&alice_again)["id"], alice["id"]);
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn the_idempotency_table_keeps_a_claims_reserved_id_through_a_take_over_and_not_past_its_window() {
    use lambda_kit::idempotency::{Claim, NewClaim};
    let local = local().await;
    let table = IdempotencyTable::new(local.dynamodb.clone(), &local.config.idempotency_table);
    let raw = format!("key-{}", uuid::Uuid::now_v7().simple());
    let now = chrono::Utc::now().timestamp_millis();
    let claim = |at: i64, in_progress_for: i64, ttl_seconds: i64, id: &str| {
        NewClaim {
            key: IdempotencyKey::parse("POST /jobs", raw.as_bytes()).expect("key"),
            fingerprint: "f".into(),
            now_millis: at,
            in_progress_until_millis: at + in_progress_for,
            expires_at_seconds: at / 1000 + ttl_seconds,
            reserved_id: None,
        }
        .reserving(id)
    };

    // A first request claims the key and dies; the next, past its deadline, resumes it.
    assert_eq!(
        table.claim(&claim(now - 10_000, 1, 60, "a")).await.expect("claim"),
        Claim::Acquired
    );
    let second = claim(now, 30_000, 60, "b");
    assert_eq!(
        table.claim(&second).await.expect("claim"),
        Claim::Resumed {
            reserved_id: "a".into()
        }
    );
    // While the second holds it, a third is told it is in progress, without taking it.
    assert!(matches!(
        table.claim(&claim(now + 1, 30_000, 60, "c")).await.expect("claim"),
        Claim::Existing(existing) if existing.response.is_none()
    ));
    // Released, it is resumed at once, still with the first id.
    table.release(&second).await.expect("release");
    assert_eq!(
        table.claim(&claim(now + 2, 30_000, 60, "d")).await.expect("claim"),
        Claim::Resumed {
            reserved_id: "a".into()
        }
    );
    // Past its window (TTL) the key starts afresh, with the new request's id.
    let later = now + 120_000;
    assert_eq!(
        table.claim(&claim(later, 30_000, 60, "e")).await.expect("claim"),
        Claim::Acquired
    );
    table.release(&claim(later, 30_000, 60, "e")).await.expect("release");
    assert_eq!(
        table.claim(&claim(later + 1, 30_000, 60, "f")).await.expect("claim"),
        Claim::Resumed {
            reserved_id: "e".into()
        }
    );
}
