//! What every HTTP handler of the kit does before its own logic.
//!
//! Handlers route on the raw path and method themselves (see [`route_path`]), so they behave the
//! same behind API Gateway (REST or HTTP API, any stage) and behind cargo-lambda's local emulator,
//! which fills in no path parameters.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use http::{HeaderValue, StatusCode, header};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::tower::Service;
use lambda_http::{Adapter, Body, Request, RequestExt, Response, service_fn};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{Value, json};

#[cfg(feature = "idempotency")]
use crate::idempotency::{Answer, StoredResponse};
use crate::problem::Problem;

/// The media type of every JSON answer.
pub const APPLICATION_JSON: &str = "application/json";

/// Runs an HTTP handler on the Lambda runtime, like `lambda_http::run`, with one difference:
/// an event that lambda_http cannot turn into a request gets a 400 problem instead of failing
/// the invocation (which API Gateway turns into a 500). lambda_http panics on some events rather
/// than returning an error (a body flagged base64 that is not base64, a `Host` header that is no
/// host); the fuzz tests found them. API Gateway does not send such events, but a function
/// behind another proxy, or a bug upstream, should not look like a server fault.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let handler = &handler;
    // Once per process, just before its first invocation (see crate::metrics).
    crate::metrics::cold_start();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<LambdaRequest>| {
        answer(event, handler)
    }))
    .await
}

/// The answer to one HTTP event: what [`run`] sends back, as its JSON (what the fuzz tests
/// check).
pub async fn answer<F, Fut>(event: LambdaEvent<LambdaRequest>, handler: F) -> Result<impl Serialize, Infallible>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Answer<T> {
        Handled(T),
        Rejected(Value),
    }

    let mut adapter = Adapter::from(service_fn(|request| {
        let response = handler(request);
        async move { Ok::<_, Infallible>(response.await) }
    }));
    // The conversion from event to request runs inside `call`, before the handler's future.
    match std::panic::catch_unwind(AssertUnwindSafe(|| adapter.call(event))) {
        Ok(handled) => Ok(Answer::Handled(handled.await?)),
        Err(_) => {
            tracing::warn!("the event is not a well-formed HTTP request; answered 400");
            let problem = Problem::typed(StatusCode::BAD_REQUEST, "malformed-event", "Malformed request")
                .with_detail("The request could not be read as HTTP.");
            Ok(Answer::Rejected(json!({
                "statusCode": 400,
                "headers": { "content-type": crate::problem::PROBLEM_JSON, "cache-control": "no-store" },
                "body": serde_json::to_string(&problem).unwrap_or_default(),
                "isBase64Encoded": false,
            })))
        }
    }
}

/// The path the API's routes are matched against: the raw request path with the API Gateway
/// stage removed when the stage is part of it (HTTP APIs with a named stage put it there, REST
/// APIs do not).
pub fn route_path(request: &Request) -> &str {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() { request.uri().path() } else { raw };
    match stage(request) {
        Some(stage) => strip_stage(raw, stage),
        None => raw,
    }
}

fn stage(request: &Request) -> Option<&str> {
    let stage = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        #[allow(unreachable_patterns)] // other variants exist only with other lambda_http features
        _ => None,
    }?;
    (stage != "$default" && !stage.is_empty()).then_some(stage)
}

fn strip_stage<'a>(path: &'a str, stage: &str) -> &'a str {
    match path.strip_prefix('/').and_then(|rest| rest.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// A collection resource the way the kit's APIs expose one: `POST /things` creates,
/// `GET /things/{id}` reads. [`Collection::serve`] owns what is the same in every such handler:
/// matching the raw path (whole segments only: `/thingsx` and `/things/a/b` miss), the 404 of an
/// unknown path and the 405 (with `Allow`) of a wrong method, turning the handler's error into
/// its problem, and the one log line of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    path: &'static str,
    item: &'static str,
}

/// What a request asks of a [`Collection`] once its path and method are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `POST` on the collection.
    Create,
    /// `GET` on one item, with the id from its path.
    Read(&'a str),
}

/// Where a path lands in a [`Collection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place<'a> {
    Collection,
    Item(&'a str),
}

impl Collection {
    /// The collection at `path` (such as `/things`); `item` is its items' route as the template
    /// writes it (`/things/{id}`), the log field that does not grow with ids.
    pub const fn new(path: &'static str, item: &'static str) -> Self {
        Self { path, item }
    }

    fn place<'a>(&self, path: &'a str) -> Option<Place<'a>> {
        match path.strip_prefix(self.path)? {
            "" => Some(Place::Collection),
            rest => match rest.strip_prefix('/') {
                Some(id) if !id.is_empty() && !id.contains('/') => Some(Place::Item(id)),
                _ => None,
            },
        }
    }

    /// Answers one request: `call` for a route and method of the collection, the problem of
    /// `problem` for what `call` fails with, and a 404 or 405 for the rest. Never fails, and
    /// logs every request in one line (see [`log_request`]).
    pub async fn serve<E>(
        &self,
        request: &Request,
        call: impl AsyncFnOnce(Call<'_>) -> Result<Response<Body>, E>,
        problem: impl FnOnce(E, &str) -> Problem,
    ) -> Response<Body> {
        let started = std::time::Instant::now();
        let place = self.place(route_path(request));
        let (route, outcome) = match (place, request.method()) {
            (Some(Place::Collection), &http::Method::POST) => (self.path, Ok(call(Call::Create).await)),
            (Some(Place::Item(id)), &http::Method::GET) => (self.item, Ok(call(Call::Read(id)).await)),
            (Some(Place::Collection), _) => (self.path, Err(Problem::method_not_allowed("POST"))),
            (Some(Place::Item(_)), _) => (self.item, Err(Problem::method_not_allowed("GET"))),
            (None, _) => ("unknown", Err(Problem::unknown_route())),
        };
        let response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => problem(error, request_id(request)).into_response(),
            Err(refused) => refused.into_response(),
        };
        log_request(request, route, &response, started);
        response
    }
}

/// The one log line of a request: id, method, route (as templated, so it does not grow with
/// ids), status and latency. Never the body.
pub fn log_request(request: &Request, route: &str, response: &Response<Body>, started: std::time::Instant) {
    tracing::info!(
        request_id = request_id(request),
        method = %request.method(),
        route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

/// The invocation's deadline in milliseconds since the epoch (0 outside Lambda).
pub fn deadline_millis(request: &Request) -> u64 {
    request.lambda_context_ref().map_or(0, |context| context.deadline)
}

/// The invocation's X-Ray trace header, to pass on to what the request triggers.
pub fn trace_header(request: &Request) -> Option<&str> {
    request
        .lambda_context_ref()
        .and_then(|context| context.xray_trace_id.as_deref())
}

/// Who made the request, as the API's authorizer established it: `jwt:<issuer> <subject>` for a
/// JWT authorizer (any OIDC provider, such as Cognito), `iam:<principal ARN>` for IAM (SigV4)
/// callers. `None` when the route has no authorizer (the template's `AuthMode` `NONE`): anyone
/// may call it, and nothing tells two callers apart.
///
/// Only API Gateway sets these fields (a client cannot: they are not headers), so they can scope
/// what a caller may see or repeat, such as idempotency keys.
pub fn caller(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;

    let authorizer = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref()?,
        RequestContext::ApiGatewayV1(context) => &context.authorizer,
        _ => return None,
    };
    if let Some(jwt) = &authorizer.jwt {
        let subject = jwt.claims.get("sub").filter(|subject| !subject.is_empty())?;
        let issuer = jwt.claims.get("iss").map_or("", String::as_str);
        return Some(format!("jwt:{issuer} {subject}"));
    }
    let iam = authorizer.iam.as_ref()?;
    iam.user_arn
        .as_deref()
        .filter(|arn| !arn.is_empty())
        .map(|arn| format!("iam:{arn}"))
}

/// The Lambda request id of this invocation: the key to its log lines.
pub fn request_id(request: &Request) -> &str {
    request
        .lambda_context_ref()
        .map_or("", |context| context.request_id.as_str())
}

/// Why a request body could not be read as JSON. Each maps to a precise 4xx.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("content type {0:?} is not JSON")]
    UnsupportedMediaType(Option<String>),
    #[error("request body is empty")]
    Empty,
    #[error("malformed JSON at line {line}, column {column}: {reason}")]
    Malformed { line: usize, column: usize, reason: String },
}

impl From<BodyError> for Problem {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge { limit, .. } => Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("The request body must not exceed {limit} bytes."))
                .with_extension("max_body_bytes", limit),
            BodyError::UnsupportedMediaType(received) => {
                let detail = match received {
                    Some(received) => format!("Send the body as application/json, not {}.", truncate(&received, 100)),
                    None => "Send the body as application/json with a Content-Type header.".to_owned(),
                };
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                    .with_detail(detail)
                    .with_header(
                        header::HeaderName::from_static("accept-post"),
                        HeaderValue::from_static(APPLICATION_JSON),
                    )
            }
            BodyError::Empty => Problem::typed(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                .with_detail("The request body is empty; a JSON object is expected."),
            BodyError::Malformed { line, column, reason } => {
                Problem::typed(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                    .with_detail(format!(
                        "The body is not valid JSON: {reason} at line {line}, column {column}."
                    ))
                    .with_extension("line", line)
                    .with_extension("column", column)
            }
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Reads the body as a JSON document: refused when it is larger than `limit` bytes (checked first,
/// before any parsing work), when the content type is not JSON, when it is empty or malformed.
pub fn json_body(request: &Request, limit: usize) -> Result<Value, BodyError> {
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(BodyError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    if !content_type.as_deref().is_some_and(is_json_media_type) {
        return Err(BodyError::UnsupportedMediaType(content_type));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    serde_json::from_slice(bytes).map_err(|error| BodyError::Malformed {
        line: error.line(),
        column: error.column(),
        reason: json_error_reason(&error),
    })
}

/// serde_json's message without its own " at line L column C" suffix (we report those as numbers).
fn json_error_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// `application/json` or a structured `+json` type (RFC 6839), parameters such as charset allowed.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = Response::new(Body::Text(text));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
            response
        }
        Err(error) => {
            tracing::error!(%error, "response body could not be serialized");
            Problem::internal("").into_response()
        }
    }
}

/// Header that marks an answer given again for a repeated idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

#[cfg(feature = "idempotency")]
impl StoredResponse {
    /// The kept answer as HTTP; a replay is marked with `Idempotent-Replayed: true`.
    pub fn into_response(self, replayed: bool) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
        if let Some(location) = self.location.and_then(|location| HeaderValue::from_str(&location).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if replayed {
            headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}

#[cfg(feature = "idempotency")]
impl Answer {
    /// The answer as HTTP; a replay is marked with `Idempotent-Replayed: true`.
    pub fn into_response(self) -> Response<Body> {
        let (response, replayed) = self.into_parts();
        response.into_response(replayed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/things");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::Text(body.to_owned())).expect("valid request")
    }

    #[test]
    fn json_media_types_are_recognised_with_parameters_and_suffixes() {
        for accepted in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json_media_type(accepted), "{accepted}");
        }
        for refused in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is_json_media_type(refused), "{refused}");
        }
    }

    #[test]
    fn a_body_over_the_limit_is_refused_before_it_is_parsed() {
        let error = json_body(&request(Some("text/plain"), "{not json at all}"), 4).unwrap_err();
        assert_eq!(error, BodyError::TooLarge { size: 17, limit: 4 });
    }

    #[test]
    fn a_missing_or_foreign_content_type_is_refused() {
        assert_eq!(
            json_body(&request(None, "{}"), 100),
            Err(BodyError::UnsupportedMediaType(None))
        );
        assert_eq!(
            json_body(&request(Some("text/csv"), "{}"), 100),
            Err(BodyError::UnsupportedMediaType(Some("text/csv".into())))
        );
    }

    #[test]
    fn malformed_json_says_where_it_broke() {
        let error = json_body(&request(Some("application/json"), "{\n  \"a\" 1\n}"), 100).unwrap_err();
        let BodyError::Malformed { line, column, reason } = error else {
            panic!("{error:?}")
        };
        assert_eq!((line, column, reason.as_str()), (2, 7, "expected `:`"));
        assert!(!reason.contains("line"), "{reason}");
    }

    #[test]
    fn an_empty_body_is_a_bad_request() {
        assert_eq!(
            json_body(&request(Some("application/json"), "  "), 100),
            Err(BodyError::Empty)
        );
        assert_eq!(Problem::from(BodyError::Empty).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn collections_are_matched_on_whole_segments() {
        let things = Collection::new("/things", "/things/{id}");
        assert_eq!(things.place("/things"), Some(Place::Collection));
        assert_eq!(things.place("/things/abc"), Some(Place::Item("abc")));
        for miss in ["/", "/things/", "/things/a/b", "/thingsx", "/thing", ""] {
            assert_eq!(things.place(miss), None, "{miss}");
        }
    }

    #[test]
    fn the_stage_is_removed_only_when_it_leads_the_path() {
        assert_eq!(strip_stage("/prod/things", "prod"), "/things");
        assert_eq!(strip_stage("/prod", "prod"), "/");
        assert_eq!(strip_stage("/things", "prod"), "/things");
        assert_eq!(strip_stage("/production/things", "prod"), "/production/things");
    }
}
