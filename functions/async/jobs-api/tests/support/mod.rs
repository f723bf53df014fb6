//! What the handler tests (`handler.rs`, in memory) and the adapter tests (`api.rs`, against the
//! local AWS) share: requests as the HTTP API delivers them, and reading answers.

#![allow(dead_code)] // each test crate uses its own part

use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::Value;

pub const REQUEST_ID: &str = "0c5e1c1e-jobs-test-request";
pub const TRACE: &str = "Root=1-6b083f25-c01aedb5b2900919015a4b32;Parent=1b76ea6c2f5bd407;Sampled=1";

/// The Lambda context the tests invoke with: a request id and an X-Ray trace.
pub fn context() -> Context {
    let mut context = Context::default();
    context.request_id = REQUEST_ID.into();
    context.xray_trace_id = Some(TRACE.into());
    context
}

pub fn with_context(request: Request) -> Request {
    request.with_lambda_context(context())
}

/// A request with an optional JSON body and `Idempotency-Key`.
pub fn request(method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    let body = body.map_or(Body::Empty, |body| Body::Text(body.to_string()));
    with_context(builder.body(body).expect("request"))
}

pub fn post_job(body: &Value, key: Option<&str>) -> Request {
    request("POST", "/jobs", Some(body), key)
}

pub fn body_json(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        _ => Value::Null,
    }
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

/// A request as the HTTP API delivers it once its JWT authorizer let `subject` in (the sample
/// event `create-report-job-idempotent.json`, its method, path, body and key replaced).
pub fn request_as(subject: &str, method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> Request {
    let file = test_support::events_dir("jobs-api").join("create-report-job-idempotent.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("sample event")).expect("JSON");
    event["rawPath"] = Value::from(path);
    event["requestContext"]["http"]["path"] = Value::from(path);
    event["requestContext"]["http"]["method"] = Value::from(method);
    event["routeKey"] = Value::from("$default");
    event["requestContext"]["routeKey"] = Value::from("$default");
    let headers = event["headers"].as_object_mut().expect("headers");
    headers.remove("idempotency-key");
    headers.remove("content-length");
    if let Some(key) = key {
        headers.insert("idempotency-key".into(), Value::from(key));
    }
    match body {
        Some(body) => event["body"] = Value::from(body.to_string()),
        None => {
            event.as_object_mut().expect("event").remove("body");
        }
    }
    event["requestContext"]["authorizer"] =
        serde_json::json!({"jwt": {"claims": {"iss": "https://idp.example.com", "sub": subject}, "scopes": null}});
    with_context(lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event"))
}
