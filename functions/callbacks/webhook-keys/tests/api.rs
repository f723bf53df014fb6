//! webhook-keys on its sample events (the answers in tests/expected/webhook-keys.json, the keys
//! derived from the secret named there), and what the key is for: it verifies the deliveries to
//! its caller's receivers, and no other caller's. Nothing needs to run: plain `cargo test` runs
//! these.

use std::sync::Arc;

use lambda_http::Context;
use serde_json::Value;
use test_support::expected::Expectations;
use test_support::{check_http_properties, check_http_sample_events, http_answer, sample_event};
use webhook_keys::KeysApi;
use webhooks::signature::{OPEN_RECEIVER, SigningKey, SigningKeys, verify};

fn stack_keys(secret: &str) -> Arc<SigningKeys> {
    Arc::new(SigningKeys::from_secret(secret).expect("a signing secret"))
}

fn sample_keys() -> Arc<SigningKeys> {
    stack_keys(Expectations::of("webhook-keys").secret("WebhookSigningSecret"))
}

#[tokio::test]
async fn the_sample_events_get_their_expected_answers() {
    let api = KeysApi::new(sample_keys()).expect("the route table");
    check_http_sample_events("webhook-keys", Context::default, |request| api.handle(request)).await;
}

#[tokio::test]
async fn a_callers_key_verifies_what_is_signed_for_its_receivers_only() {
    let api = KeysApi::new(sample_keys()).expect("the route table");
    let key_of = async |event: &str| {
        let answer = test_support::wire_answer(
            &sample_event("webhook-keys", event).to_string(),
            Context::default(),
            |request| api.handle(request),
        )
        .await;
        let body: Value = serde_json::from_str(answer["body"].as_str().expect("a body")).expect("JSON");
        SigningKey::from_secret(body["key"].as_str().expect("a key")).expect("a whsec_ key")
    };
    let reports_service = key_of("get-key").await;
    let open = key_of("get-key-open-api").await;

    // What the dispatcher sends to reports-service's receivers, and to an open API's.
    let owner = "57c26cf9797197d5fdfe69d867389741316e94a30347aa02ef0ae7169c0276cc";
    let (body, now) = (br#"{"id":"evt-1"}"#, 1_800_000_000);
    let to_reports_service = sample_keys().for_receiver(owner).sign("evt-1", now, body);
    let to_open = sample_keys().for_receiver(OPEN_RECEIVER).sign("evt-1", now, body);

    let verifies =
        |key: &SigningKey, signature: &str| verify(key, "evt-1", &now.to_string(), signature, body, now).is_ok();
    assert!(verifies(&reports_service, &to_reports_service));
    assert!(verifies(&open, &to_open));
    assert!(!verifies(&reports_service, &to_open) && !verifies(&open, &to_reports_service));
}

#[tokio::test]
async fn while_the_stack_key_rotates_the_answer_holds_the_previous_key_too() {
    let sample = Expectations::of("webhook-keys")
        .secret("WebhookSigningSecret")
        .to_owned();
    let api = KeysApi::new(stack_keys(&format!(
        "a-new-webhook-signing-secret-of-enough-bytes {sample}"
    )))
    .expect("the route table");
    let answer = test_support::wire_answer(
        &sample_event("webhook-keys", "get-key").to_string(),
        Context::default(),
        |request| api.handle(request),
    )
    .await;
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("a body")).expect("JSON");
    let before = Expectations::of("webhook-keys").events[0].answer["/body/key"].clone();
    assert_eq!(body["previous_key"], before, "the key before the rotation");
    assert_ne!(body["key"], before);
}

#[test]
fn every_request_is_answered_without_a_5xx_and_no_damaged_event_panics() {
    let samples = ["get-key", "get-key-open-api"]
        .into_iter()
        .map(|name| sample_event("webhook-keys", name))
        .collect();
    check_http_properties(samples, |text| {
        let api = KeysApi::new(sample_keys()).expect("the route table");
        http_answer(text, |request| api.handle(request))
    });
}
