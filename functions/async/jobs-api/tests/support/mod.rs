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
