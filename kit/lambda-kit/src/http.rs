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

/// One HTTP function's routes, declared once: each a method, a path template as the SAM
/// template writes it (`/things/{id}`, `/files/{path+}` for the rest of a path) and what the
/// function runs for it (`R`: usually an enum of its operations). [`Routes::serve`] owns what is
/// the same in every handler: matching the raw path on whole segments (with the `matchit`
/// router), the 404 of an unknown path and the 405 of a wrong method with an `Allow` built from
/// the table, turning the handler's error into its problem, and the one log line of the request.
///
/// The SAM template routes the same method and path to the function (a test of each API checks
/// that both hold the same set), and also sends it every other method and path under its
/// resources (`ANY`), so that those get this table's 404 and 405 as problem documents.
pub struct Routes<R> {
    router: matchit::Router<usize>,
    paths: Vec<PathRoutes<R>>,
}

struct PathRoutes<R> {
    template: &'static str,
    /// Each method's operation and route key (`POST /things`), made once with the table.
    methods: Vec<(http::Method, R, String)>,
    /// The `Allow` header of a 405 on this path: its methods, in the table's order.
    allow: String,
}

/// A route of a [`Routes`] table that a request matched.
#[derive(Debug)]
pub struct Matched<'a, 'p, R> {
    /// What the table runs for this route.
    pub to: &'a R,
    /// The route's method.
    pub method: &'a http::Method,
    /// The route's path template (`/things/{id}`): the log field that does not grow with ids.
    pub template: &'static str,
    key: &'a str,
    params: matchit::Params<'a, 'p>,
}

impl<'a, 'p, R> Matched<'a, 'p, R> {
    /// The value of a path parameter (`id` of `/things/{id}`), as it was in the path.
    pub fn param(&self, name: &str) -> Option<&'p str> {
        self.params.get(name)
    }

    /// The route as API Gateway keys it: `POST /things`, `GET /things/{id}`.
    pub fn key(&self) -> &'a str {
        self.key
    }
}

/// Why a request matched no route of a [`Routes`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched<'a> {
    /// No route has this path: 404.
    UnknownPath,
    /// Routes have this path, with other methods: 405, allowing those.
    WrongMethod { template: &'static str, allow: &'a str },
}

impl Unmatched<'_> {
    /// The log field of the request: the path template, or `unknown`.
    pub fn template(&self) -> &'static str {
        match self {
            Unmatched::UnknownPath => "unknown",
            Unmatched::WrongMethod { template, .. } => template,
        }
    }
}

impl From<Unmatched<'_>> for Problem {
    fn from(unmatched: Unmatched<'_>) -> Self {
        match unmatched {
            Unmatched::UnknownPath => Problem::unknown_route(),
            Unmatched::WrongMethod { allow, .. } => Problem::method_not_allowed(allow),
        }
    }
}

/// A route table that cannot be built: two templates the router cannot tell apart, a malformed
/// template or a method declared twice for a path. A programming error, found by the function's
/// own unit test of its table.
#[derive(Debug, thiserror::Error)]
#[error("route {method} {template}: {reason}")]
pub struct RouteError {
    method: http::Method,
    template: &'static str,
    reason: String,
}

impl<R> Routes<R> {
    /// The table of these routes, in this order.
    pub fn new(routes: impl IntoIterator<Item = (http::Method, &'static str, R)>) -> Result<Self, RouteError> {
        let mut table = Self {
            router: matchit::Router::new(),
            paths: Vec::new(),
        };
        for (method, template, to) in routes {
            let refused = |reason: String| RouteError {
                method: method.clone(),
                template,
                reason,
            };
            let index = match table.paths.iter().position(|path| path.template == template) {
                Some(index) => index,
                None => {
                    table
                        .router
                        .insert(router_syntax(template), table.paths.len())
                        .map_err(|error| refused(error.to_string()))?;
                    table.paths.push(PathRoutes {
                        template,
                        methods: Vec::new(),
                        allow: String::new(),
                    });
                    table.paths.len() - 1
                }
            };
            let path = &mut table.paths[index];
            if path.methods.iter().any(|(declared, ..)| *declared == method) {
                return Err(refused("declared twice".to_owned()));
            }
            if !path.allow.is_empty() {
                path.allow.push_str(", ");
            }
            path.allow.push_str(method.as_str());
            let key = format!("{method} {template}");
            path.methods.push((method, to, key));
        }
        Ok(table)
    }

    /// Every route as API Gateway keys it (`POST /things`), in the table's order.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        self.paths
            .iter()
            .flat_map(|path| path.methods.iter().map(|(.., key)| key.clone()))
    }

    /// The route of this method and path, or why there is none.
    pub fn find<'a, 'p>(&'a self, method: &http::Method, path: &'p str) -> Result<Matched<'a, 'p, R>, Unmatched<'a>> {
        let found = self.router.at(path).map_err(|_| Unmatched::UnknownPath)?;
        let routes = &self.paths[*found.value];
        match routes.methods.iter().find(|(declared, ..)| declared == method) {
            Some((method, to, key)) => Ok(Matched {
                to,
                method,
                template: routes.template,
                key,
                params: found.params,
            }),
            None => Err(Unmatched::WrongMethod {
                template: routes.template,
                allow: &routes.allow,
            }),
        }
    }

    /// Answers one request: `call` with the matched route, the problem of `problem` for what
    /// `call` fails with, and the table's 404 or 405 for the rest. Never fails, and logs every
    /// request in one line (see [`log_request`]).
    pub async fn serve<E>(
        &self,
        request: &Request,
        call: impl AsyncFnOnce(Matched<'_, '_, R>) -> Result<Response<Body>, E>,
        problem: impl FnOnce(E, &str) -> Problem,
    ) -> Response<Body> {
        let started = std::time::Instant::now();
        let (template, response) = match self.find(request.method(), route_path(request)) {
            Ok(matched) => {
                let template = matched.template;
                let response = match call(matched).await {
                    Ok(response) => response,
                    Err(error) => problem(error, request_id(request)).into_response(),
                };
                (template, response)
            }
            Err(unmatched) => (unmatched.template(), Problem::from(unmatched).into_response()),
        };
        log_request(request, template, &response, started);
        response
    }
}

/// A SAM path template in the router's syntax: a greedy `{name+}` is matchit's catch-all
/// `{*name}`; `{name}` is the same in both.
fn router_syntax(template: &str) -> String {
    let mut path = String::with_capacity(template.len() + 1);
    for (index, segment) in template.split('/').enumerate() {
        if index > 0 {
            path.push('/');
        }
        match segment.strip_prefix('{').and_then(|rest| rest.strip_suffix("+}")) {
            Some(name) => {
                path.push_str("{*");
                path.push_str(name);
                path.push('}');
            }
            None => path.push_str(segment),
        }
    }
    path
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

/// The claim `name` of the request's JWT, as the API's JWT authorizer passed it; `None` without
/// a JWT authorizer or without that claim (or with it empty).
pub fn jwt_claim<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    use lambda_http::request::RequestContext;

    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return None;
    };
    let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
    jwt.claims
        .get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
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

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Thing {
        Create,
        Read,
        Change,
        Files,
    }

    fn things() -> Routes<Thing> {
        Routes::new([
            (http::Method::POST, "/things", Thing::Create),
            (http::Method::GET, "/things/{id}", Thing::Read),
            (http::Method::PATCH, "/things/{id}", Thing::Change),
            (http::Method::GET, "/files/{path+}", Thing::Files),
        ])
        .expect("a valid table")
    }

    #[test]
    fn routes_are_matched_on_whole_segments_with_their_parameters() {
        let things = things();
        let create = things.find(&http::Method::POST, "/things").unwrap();
        assert_eq!((*create.to, create.key()), (Thing::Create, "POST /things"));
        let read = things.find(&http::Method::GET, "/things/abc").unwrap();
        assert_eq!(
            (*read.to, read.param("id"), read.template),
            (Thing::Read, Some("abc"), "/things/{id}")
        );
        let files = things.find(&http::Method::GET, "/files/a/b.txt").unwrap();
        assert_eq!((*files.to, files.param("path")), (Thing::Files, Some("a/b.txt")));
        for miss in ["/", "/things/", "/things/a/b", "/thingsx", "/thing", ""] {
            let unmatched = things.find(&http::Method::GET, miss).unwrap_err();
            assert_eq!(unmatched, Unmatched::UnknownPath, "{miss}");
            assert_eq!(Problem::from(unmatched).status(), StatusCode::NOT_FOUND);
        }
    }

    #[test]
    fn a_wrong_method_gets_a_405_allowing_the_paths_methods() {
        let things = things();
        let unmatched = things.find(&http::Method::DELETE, "/things/abc").unwrap_err();
        assert_eq!(unmatched.template(), "/things/{id}");
        let problem = Problem::from(unmatched);
        assert_eq!(problem.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(problem.into_response().headers()[header::ALLOW], "GET, PATCH");
        let unmatched = things.find(&http::Method::GET, "/things").unwrap_err();
        assert_eq!(
            Problem::from(unmatched).into_response().headers()[header::ALLOW],
            "POST"
        );
    }

    #[test]
    fn a_table_lists_its_routes_and_refuses_a_route_declared_twice() {
        assert_eq!(
            things().keys().collect::<Vec<_>>(),
            [
                "POST /things",
                "GET /things/{id}",
                "PATCH /things/{id}",
                "GET /files/{path+}"
            ]
        );
        let twice = Routes::new([(http::Method::GET, "/a", 1), (http::Method::GET, "/a", 2)]);
        assert!(twice.is_err_and(|error| error.to_string() == "route GET /a: declared twice"));
        let clash = Routes::new([(http::Method::GET, "/a/{id}", 1), (http::Method::GET, "/a/{name}", 2)]);
        assert!(clash.is_err());
    }

    #[test]
    fn the_stage_is_removed_only_when_it_leads_the_path() {
        assert_eq!(strip_stage("/prod/things", "prod"), "/things");
        assert_eq!(strip_stage("/prod", "prod"), "/");
        assert_eq!(strip_stage("/things", "prod"), "/things");
        assert_eq!(strip_stage("/production/things", "prod"), "/production/things");
    }
}
