//! webhook-keys: `GET /webhooks/key` answers the caller with the key that signs the deliveries
//! to the callback URLs of the jobs it submits (Standard Webhooks' `whsec_...`).
//!
//! Each caller's receivers have their own key, derived from the stack's signing secret and the
//! caller the API's authorizer established (`webhooks::signature::SigningKeys::for_receiver`,
//! keyed by `lambda_kit::owner`'s digest): a receiver that knows its key can forge deliveries to
//! itself only. On an open API (`AuthMode` `NONE`) nothing tells callers apart: they share the
//! open receivers' key, as anyone may read it.
//!
//! While the stack's key is rotated the answer also holds `previous_key`: deliveries are signed
//! with both until the rotation ends, so a receiver switches whenever it is ready.

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use lambda_kit::http::{RouteError, Routes, json_response};
use lambda_kit::keys::{KeyUnavailable, Keys};
use lambda_kit::owner;
use lambda_kit::problem::Problem;
use serde::Serialize;
use std::sync::Arc;
use webhooks::signature::{OPEN_RECEIVER, SigningKeys};

/// What the API does; [`ROUTES`] says where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetKey,
}

/// The API's routes, as template.yaml routes them to this function (a test checks that both hold
/// the same set).
pub const ROUTES: [(Method, &str, Operation); 1] = [(Method::GET, "/webhooks/key", Operation::GetKey)];

/// The answer: the caller's receiver key, and the previous one while a rotation is under way.
#[derive(Debug, Serialize)]
pub struct ReceiverKey {
    /// `whsec_<base64>`: give it to the receivers of your callback URLs.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<String>,
}

/// The keys API: the stack's signing keys from `keys` (read from Secrets Manager on first use in
/// production; fixed in tests).
pub struct KeysApi<K = Arc<SigningKeys>> {
    keys: K,
    routes: Routes<Operation>,
}

impl<K: Keys<SigningKeys>> KeysApi<K> {
    pub fn new(keys: K) -> Result<Self, RouteError> {
        Ok(Self {
            keys,
            routes: Routes::new(ROUTES)?,
        })
    }

    /// Answers one request. Never fails: every error is an answer.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.routes
            .serve(
                &request,
                async |route| match route.to {
                    Operation::GetKey => self.key_of(&request).await,
                },
                |KeyUnavailable, request_id| Problem::unavailable(request_id, 1),
            )
            .await
    }

    async fn key_of(&self, request: &Request) -> Result<Response<Body>, KeyUnavailable> {
        let receiver = owner::of(request).unwrap_or_else(|| OPEN_RECEIVER.to_owned());
        let keys = self.keys.current().await?.for_receiver(&receiver);
        let mut response = json_response(
            StatusCode::OK,
            &ReceiverKey {
                key: keys.current().to_secret(),
                previous_key: keys.previous().map(|previous| previous.to_secret()),
            },
        );
        // A secret: no cache keeps it.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_valid() {
        let routes = Routes::new(ROUTES).expect("the route table");
        assert_eq!(routes.keys().collect::<Vec<_>>(), ["GET /webhooks/key"]);
    }

    #[test]
    #[ignore = "needs the template's routes from the local stack: `make test` runs it"]
    fn template_yaml_routes_this_table_to_webhook_keys() {
        test_support::assert_template_routes(
            env!("CARGO_PKG_NAME"),
            Routes::new(ROUTES).expect("the route table").keys(),
        );
    }
}
