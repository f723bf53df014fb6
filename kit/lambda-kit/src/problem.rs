//! RFC 9457 problem details: the one shape in which every HTTP error of the kit is answered.
//!
//! Handlers turn their typed errors into a [`Problem`] in one place (a `From` impl next to the
//! error type), and [`Problem::into_response`] writes it. Internal failures become
//! [`Problem::internal`], which carries the request id for support and never the error text.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// Media type of a problem details document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request; domains return it, [`Problem::invalid_fields`] lists it.
pub use contracts::FieldError;

/// A problem details document (RFC 9457) and the headers that go with it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every invalid field, so a client can fix them all in one round trip.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Other extension members (RFC 9457 §3.2), e.g. where malformed JSON broke.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    /// A problem with no more specific type than its status (`type` is `about:blank` and the
    /// title is the status phrase, as RFC 9457 §4.2.1 asks).
    pub fn new(status: StatusCode) -> Self {
        Self {
            type_uri: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            extensions: Map::new(),
            headers: Vec::new(),
        }
    }

    /// A problem of a specific type. `slug` names it; the type URI is `/problems/{slug}`,
    /// relative to the API, where its documentation can be served.
    pub fn typed(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            type_uri: Cow::Owned(format!("/problems/{slug}")),
            title: Cow::Borrowed(title),
            ..Self::new(status)
        }
    }

    /// 500 for a failure the caller cannot fix. The detail never holds internal error text;
    /// the request id lets support find the logged cause.
    pub fn internal(request_id: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail("The request could not be completed. Quote the request_id when reporting this.")
            .with_extension("request_id", request_id)
    }

    /// 503 for a dependency that is throttling or unavailable: the caller may retry.
    pub fn unavailable(request_id: &str, retry_after_seconds: u32) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("The service is busy. Retry the request after the delay in Retry-After.")
            .with_extension("request_id", request_id)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds))
    }

    /// 404 for a path the API does not serve.
    pub fn unknown_route() -> Self {
        Self::new(StatusCode::NOT_FOUND).with_detail("No resource lives at this path.")
    }

    /// 405 for a method the resource does not accept, with the `Allow` header.
    pub fn method_not_allowed(allow: &str) -> Self {
        let problem = Self::new(StatusCode::METHOD_NOT_ALLOWED).with_detail(format!("This resource accepts {allow}."));
        match HeaderValue::from_str(allow) {
            Ok(allow) => problem.with_header(header::ALLOW, allow),
            Err(_) => problem,
        }
    }

    /// 422 naming every invalid field of a request body.
    pub fn invalid_fields(title: &'static str, errors: Vec<FieldError>) -> Self {
        Self::typed(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", title)
            .with_detail("Some fields are missing or invalid; see errors.")
            .with_errors(errors)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The HTTP answer: the document as `application/problem+json`, with the problem's headers.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        // Serializing strings and numbers into a Vec cannot fail; the fallback keeps this total.
        let body = serde_json::to_string(&self)
            .unwrap_or_else(|_| format!(r#"{{"type":"about:blank","title":"Error","status":{}}}"#, self.status));
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("problem body is JSON"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn a_plain_problem_is_about_blank_with_the_status_phrase_as_title() {
        let response = Problem::new(StatusCode::NOT_FOUND)
            .with_detail("no such order")
            .into_response();

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            body_json(&response),
            serde_json::json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such order"})
        );
    }

    #[test]
    fn an_internal_problem_carries_the_request_id_and_no_cause() {
        let response = Problem::internal("req-1").into_response();

        let body = body_json(&response);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["request_id"], "req-1");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(5),
            "only type, title, status, detail, request_id: {body}"
        );
    }

    #[test]
    fn field_errors_and_extra_headers_are_written() {
        let response = Problem::typed(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", "Invalid fields")
            .with_errors(vec![FieldError::new("/currency", "must be an ISO 4217 code")])
            .with_header(header::ALLOW, HeaderValue::from_static("GET"))
            .into_response();

        let body = body_json(&response);
        assert_eq!(body["type"], "/problems/validation-error");
        assert_eq!(body["errors"][0]["pointer"], "/currency");
        assert_eq!(response.headers()[header::ALLOW], "GET");
    }
}
