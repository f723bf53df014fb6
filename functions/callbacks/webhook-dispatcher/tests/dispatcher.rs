//! webhook-dispatcher: the sample batch through the handler, and the real HTTPS sender against
//! receivers on loopback (a few lines of tokio, answering what each test needs).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use contracts::callback::{CallbackUrl, Policy, check_url};
use http::StatusCode;
use hyper_util::client::legacy::connect::dns::Name;
use lambda_kit::keys::{KeyUnavailable, Keys};
use lambda_kit::sqs::{SqsBatch, SqsBatchResponse};
use lambda_kit::tls::TrustStore;
use test_support::expected::Expectations;
use test_support::tls::TestPki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower_service::Service;
use webhook_dispatcher::sender::{CheckedResolver, HttpsSender};
use webhook_dispatcher::{Dispatcher, OPEN_RECEIVER, SendError, SignedHeaders, WebhookSender};
use webhooks::signature::{SigningKey, SigningKeys, verify};

const LOCAL: Policy = Policy {
    allow_loopback_http: true,
    ports: contracts::callback::Ports::DEFAULT,
};
const PRODUCTION: Policy = Policy {
    allow_loopback_http: false,
    ports: contracts::callback::Ports::DEFAULT,
};

/// The `callback_owner` of the sample's second delivery: the digest (`lambda_kit::owner`) of
/// the IAM user `reports-service`, who submitted its job.
const SAMPLE_OWNER: &str = "57c26cf9797197d5fdfe69d867389741316e94a30347aa02ef0ae7169c0276cc";

fn key() -> SigningKey {
    SigningKey::from_secret("a-test-signing-secret-of-enough-bytes").unwrap()
}

fn sample() -> SqsBatch {
    let path = test_support::events_dir("webhook-dispatcher").join("job-events.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// Records what would have been sent and answers `status` (a port stand-in, not an AWS service).
struct Recording {
    status: StatusCode,
    sent: RefCell<Vec<(String, SignedHeaders, Vec<u8>)>>,
}

impl WebhookSender for Recording {
    async fn post(&self, url: &CallbackUrl, headers: &SignedHeaders, body: Vec<u8>) -> Result<StatusCode, SendError> {
        self.sent.borrow_mut().push((url.to_string(), headers.clone(), body));
        Ok(self.status)
    }
}

#[tokio::test]
async fn the_sample_batch_delivers_the_two_callbacks_and_reports_only_the_poison() {
    let sender = Recording {
        status: StatusCode::NO_CONTENT,
        sent: RefCell::default(),
    };
    let dispatcher = Dispatcher::new(sender, Arc::new(SigningKeys::from(key())), PRODUCTION);
    let response = dispatcher.handle(sample()).await.expect("batch handled");

    // Record 3 names no callback, record 4's (the metadata service) is refused without a try,
    // record 5 is not an event.
    Expectations::of("webhook-dispatcher").events[0].check(&serde_json::to_value(&response).expect("an answer"));
    let sent = dispatcher_sent(&dispatcher);
    let urls: Vec<&str> = sent.iter().map(|(url, _, _)| url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://hooks.example.com/jobs",
            "https://hooks.example.com/jobs?tenant=7"
        ]
    );
    // Each receiver's delivery is signed with its own key: the open API's receivers' for the
    // first (its job named no owner), the submitting caller's for the second; neither verifies
    // with the stack's key or the other receiver's.
    let stack = SigningKeys::from(key());
    let receivers = [stack.for_receiver(OPEN_RECEIVER), stack.for_receiver(SAMPLE_OWNER)];
    for (n, (_, headers, body)) in sent.iter().enumerate() {
        let now = chrono::Utc::now().timestamp();
        let verifies = |key: &SigningKey| {
            verify(
                key,
                &headers.id,
                &headers.timestamp.to_string(),
                &headers.signature,
                body,
                now,
            )
            .is_ok()
        };
        assert!(verifies(receivers[n].current()), "signed with its receiver's key");
        assert!(
            !verifies(receivers[1 - n].current()) && !verifies(&key()),
            "and no other"
        );
        let event: serde_json::Value = serde_json::from_slice(body).expect("the body is the event");
        assert_eq!(event["id"], headers.id.as_str(), "webhook-id is the event id");
    }
}

#[tokio::test]
async fn while_the_key_is_rotated_each_delivery_verifies_with_the_old_key_and_the_new() {
    let old = "an-older-signing-secret-of-enough-bytes";
    let keys = SigningKeys::from_secret(&format!("a-test-signing-secret-of-enough-bytes {old}")).expect("keys");
    let sender = Recording {
        status: StatusCode::NO_CONTENT,
        sent: RefCell::default(),
    };
    let dispatcher = Dispatcher::new(sender, Arc::new(keys), PRODUCTION);

    dispatcher.handle(sample()).await.expect("batch handled");

    let sent = dispatcher_sent(&dispatcher);
    assert!(!sent.is_empty());
    for (_, headers, body) in sent.iter().take(1) {
        assert_eq!(headers.signature.split(' ').count(), 2, "{}", headers.signature);
        for receiver in [key(), SigningKey::from_secret(old).unwrap()] {
            let receiver = SigningKeys::from(receiver)
                .for_receiver(OPEN_RECEIVER)
                .current()
                .clone();
            let verified = verify(
                &receiver,
                &headers.id,
                &headers.timestamp.to_string(),
                &headers.signature,
                body,
                headers.timestamp,
            );
            assert_eq!(verified, Ok(()));
        }
    }
}

fn dispatcher_sent(dispatcher: &Dispatcher<Recording>) -> Vec<(String, SignedHeaders, Vec<u8>)> {
    dispatcher.sender().sent.borrow().clone()
}

/// The sample's two records with a callback to deliver, and its record that is not an event.
const DELIVERIES_AND_POISON: [&str; 3] = [
    "5eb0c000-0000-4000-8000-000000000001",
    "5eb0c000-0000-4000-8000-000000000002",
    "5eb0c000-0000-4000-8000-000000000005",
];

#[tokio::test]
async fn a_receiver_that_does_not_answer_2xx_fails_the_record() {
    let dispatcher = Dispatcher::new(
        Recording {
            status: StatusCode::SERVICE_UNAVAILABLE,
            sent: RefCell::default(),
        },
        Arc::new(SigningKeys::from(key())),
        PRODUCTION,
    );
    let response = dispatcher.handle(sample()).await.expect("batch handled");
    assert_eq!(failed(&response), DELIVERIES_AND_POISON);
}

/// A key store that cannot be read (Secrets Manager unreachable at the first delivery).
struct Unreadable;

impl Keys<SigningKeys> for Unreadable {
    async fn current(&self) -> Result<Arc<SigningKeys>, KeyUnavailable> {
        Err(KeyUnavailable)
    }
}

#[tokio::test]
async fn without_a_signing_key_the_deliveries_are_reported_for_a_retry_and_nothing_is_sent() {
    let sender = Recording {
        status: StatusCode::NO_CONTENT,
        sent: RefCell::default(),
    };
    let dispatcher = Dispatcher::new(sender, Unreadable, PRODUCTION);
    let response = dispatcher.handle(sample()).await.expect("batch handled");
    assert_eq!(
        failed(&response),
        DELIVERIES_AND_POISON,
        "the two deliveries wait for a key; the poison record fails as ever"
    );
    assert!(dispatcher.sender().sent.borrow().is_empty());
}

/// A one-request HTTP server on loopback: returns its address and a handle yielding the raw
/// request it received after answering `answer`.
async fn receiver(answer: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = socket.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if read == 0 {
                break;
            }
        }
        socket.write_all(answer.as_bytes()).await.unwrap();
        socket.shutdown().await.ok();
        String::from_utf8_lossy(&request).into_owned()
    });
    (address, handle)
}

fn headers() -> SignedHeaders {
    let body = br#"{"id":"evt-1"}"#;
    SignedHeaders {
        id: "evt-1".into(),
        timestamp: 1_800_000_000,
        signature: key().sign("evt-1", 1_800_000_000, body),
    }
}

#[tokio::test]
async fn the_https_sender_posts_the_signed_body_and_reads_only_the_status() {
    let (address, request) = receiver("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").await;
    let url = check_url(&format!("http://{address}/hook"), LOCAL).unwrap();
    let sender = HttpsSender::new(LOCAL, &TrustStore::compiled_in());
    let status = sender
        .post(&url, &headers(), br#"{"id":"evt-1"}"#.to_vec())
        .await
        .expect("sent");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let request = request.await.unwrap();
    assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
    let lower = request.to_ascii_lowercase();
    assert!(lower.contains("\r\nwebhook-id: evt-1\r\n"));
    assert!(lower.contains("\r\nwebhook-timestamp: 1800000000\r\n"));
    assert!(request.contains(&format!("\r\nwebhook-signature: {}\r\n", headers().signature)));
    assert!(lower.contains("\r\ncontent-type: application/json\r\n"));
    assert!(request.ends_with(r#"{"id":"evt-1"}"#));
}

#[tokio::test]
async fn the_https_sender_trusts_a_ca_added_through_aws_ca_bundle_and_refuses_it_otherwise() {
    let pki = TestPki::new();
    let bundle = pki.ca_bundle();
    let trust = TrustStore::with_ca_bundle(bundle.path()).expect("the bundle is usable");

    let (address, receiver) = pki.https_once(204, "").await;
    let url = check_url(&format!("https://localhost:{}/hook", address.port()), LOCAL).unwrap();
    let status = HttpsSender::new(LOCAL, &trust)
        .post(&url, &headers(), b"{}".to_vec())
        .await
        .expect("delivered over TLS");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        receiver
            .await
            .unwrap()
            .expect("the receiver got it")
            .starts_with("POST /hook HTTP/1.1\r\n")
    );

    let (address, receiver) = pki.https_once(204, "").await;
    let url = check_url(&format!("https://localhost:{}/hook", address.port()), LOCAL).unwrap();
    let refused = HttpsSender::new(LOCAL, &TrustStore::compiled_in())
        .post(&url, &headers(), b"{}".to_vec())
        .await;
    match refused {
        Err(SendError::Failed(error)) => {
            assert!(
                lambda_kit::telemetry::ErrorChain(error.as_ref())
                    .to_string()
                    .contains("UnknownIssuer"),
                "{error:?}"
            )
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    assert_eq!(receiver.await.unwrap(), None, "nothing reached the receiver");
}

#[tokio::test]
async fn a_redirect_is_not_followed_but_reported() {
    let (address, request) =
        receiver("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n")
            .await;
    let url = check_url(&format!("http://{address}/hook"), LOCAL).unwrap();
    let status = HttpsSender::new(LOCAL, &TrustStore::compiled_in())
        .post(&url, &headers(), b"{}".to_vec())
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    request.await.unwrap();
}

#[tokio::test]
async fn plain_http_is_refused_outside_the_local_policy() {
    let (address, _request) = receiver("HTTP/1.1 204 No Content\r\n\r\n").await;
    // The URL check would refuse it already; the connector refuses it on its own as well.
    let url = check_url(&format!("http://{address}/hook"), LOCAL).unwrap();
    let outcome = HttpsSender::new(PRODUCTION, &TrustStore::compiled_in())
        .post(&url, &headers(), b"{}".to_vec())
        .await;
    assert!(matches!(outcome, Err(SendError::Failed(_))), "{outcome:?}");
}

#[tokio::test]
async fn host_names_resolving_to_loopback_are_refused_in_production() {
    let name: Name = "localhost".parse().unwrap();
    let refused = CheckedResolver::new(PRODUCTION).call(name.clone()).await;
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::PermissionDenied);
    let allowed: Vec<SocketAddr> = CheckedResolver::new(LOCAL)
        .call(name)
        .await
        .expect("resolved")
        .collect();
    assert!(!allowed.is_empty() && allowed.iter().all(|address| address.ip().is_loopback()));
}

/// A receiver that takes connections and never answers: returns its address and how many
/// connections it was sent.
async fn tarpit() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (address, connections)
}

/// A receiver that answers 204 to every request: returns its address and how many it answered.
async fn quick_receiver() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = answered.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut request = Vec::new();
                while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (address, answered)
}

/// A batch of `job.succeeded` events, one per `(message id, callback URL)`, of jobs `owner`
/// submitted (`None`: on an open API).
fn deliveries(records: &[(String, String)], owner: Option<&str>) -> SqsBatch {
    let records: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(n, (id, url))| {
            let event = serde_json::json!({
                "id": format!("0195f3a4-0000-7000-8000-{n:012}"), "type": "job.succeeded", "version": 1,
                "time": "2026-12-07T10:00:00.000Z", "source": "job-worker",
                "data": {"job_id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9e01", "type": "report", "attempts": 1,
                         "result": {}, "callback_url": url, "callback_owner": owner}});
            serde_json::json!({"messageId": id, "receiptHandle": "r", "body": event.to_string(),
                               "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                               "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:WebhookQueue"})
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("an SQS batch")
}

#[tokio::test]
async fn a_receiver_that_never_answers_costs_one_timeout_and_then_is_passed_over() {
    use std::sync::atomic::Ordering;
    let (dead, connections) = tarpit().await;
    let (alive, answered) = quick_receiver().await;
    let timeout = std::time::Duration::from_millis(300);
    let dispatcher = Dispatcher::new(
        HttpsSender::new(LOCAL, &TrustStore::compiled_in()).with_request_timeout(timeout),
        Arc::new(SigningKeys::from(key())),
        LOCAL,
    );
    let batch = |round: &str, dead_ones: usize| {
        let mut records: Vec<(String, String)> = (0..dead_ones)
            .map(|n| (format!("{round}-dead-{n}"), format!("http://{dead}/hook")))
            .collect();
        records.push((format!("{round}-alive"), format!("http://{alive}/hook")));
        deliveries(&records, None)
    };

    // A first batch: three deliveries to the tarpit, one to a receiver that answers.
    let started = std::time::Instant::now();
    let first = dispatcher.handle(batch("first", 3)).await.expect("handled");
    let first_took = started.elapsed();
    let mut first_failed = failed(&first);
    first_failed.sort_unstable();
    assert_eq!(first_failed, ["first-dead-0", "first-dead-1", "first-dead-2"]);
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "delivered beside the tarpit, not after it"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 3);

    // The next batches: the tarpit's deliveries are deferred without a connection, so the
    // batch ends as soon as the live receiver has answered.
    let started = std::time::Instant::now();
    let second = dispatcher.handle(batch("second", 9)).await.expect("handled");
    let second_took = started.elapsed();
    assert_eq!(failed(&second).len(), 9);
    assert!(!failed(&second).contains(&"second-alive"));
    assert_eq!(answered.load(Ordering::SeqCst), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 3, "the tarpit was not tried again");
    // Another caller's deliveries to the same host are not held back by this caller's hold.
    let theirs = deliveries(
        &[("theirs-dead-0".to_owned(), format!("http://{dead}/hook"))],
        Some("another-callers-digest"),
    );
    let third = dispatcher.handle(theirs).await.expect("handled");
    assert_eq!(failed(&third), ["theirs-dead-0"], "tried, and timed out");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "the other caller's delivery was tried, not deferred"
    );
    // Measured, not asserted (timings belong to benchmarks): printed for the record.
    eprintln!("tarpit: first batch {first_took:?} (one {timeout:?} timeout), next batch {second_took:?}");
}
