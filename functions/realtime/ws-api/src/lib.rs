//! ws-api: the routes of the WebSocket API (API Gateway, one function behind all of them).
//!
//! - `$connect`: the `token` query parameter must be a valid token ([`realtime::token`]), or,
//!   with AuthMode JWT, a JWT of the HTTP API's issuer and audiences ([`jwt`]); the connection
//!   is recorded with its customer. Any answer but 200 refuses the connection.
//! - `subscribe` (`{"action": "subscribe", "job_id": ...}`): the connection follows a job, an
//!   order or its customer; the answer (sent back to the client through the route's response)
//!   is `{"type": "subscribed", "topics": [...]}` or `{"type": "error", "message": ...}`. Only
//!   what is for the connection's customer reaches it ([`realtime::topic`]): following another
//!   customer's job is answered as following one that does not exist.
//! - `$disconnect`: the connection and its subscriptions are forgotten.
//! - anything else (`$default`): an error message naming the one action there is.
//!
//! Events are read leniently ([`WsEvent`]): a malformed one gets a 400, never a failed invocation.

pub mod jwks;
pub mod jwt;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use jwt::{JwksSource, JwtCheck, JwtOutcome, NoJwks};
use lambda_kit::keys::Keys;
use realtime::connections::ConnectionStore;
use realtime::token::TokenKey;
use realtime::topic::{Topic, parse_subscribe};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{info, warn};

/// The parts of an API Gateway WebSocket event this function reads. Not the stock
/// `aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest`, on purpose: that type requires
/// `connectedAt` and `requestTimeEpoch` and types every header and method, so an event wrong in a
/// field this function never reads would not parse and its route would not run. Read this way,
/// only what decides the answer can make it a 400 (the fuzz tests hold any event to 200, 400, 401
/// or 410).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WsEvent {
    pub request_context: WsContext,
    pub query_string_parameters: Option<HashMap<String, String>>,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WsContext {
    pub route_key: Option<String>,
    pub connection_id: Option<String>,
}

impl WsEvent {
    /// Any JSON as an event: what does not have the expected shape reads as an empty event.
    pub fn read(value: Value) -> Self {
        serde_json::from_value(value).unwrap_or_default()
    }
}

/// The integration's answer: for `$connect` its status decides, for a route with a route
/// response its body is what the client receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WsResponse {
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl WsResponse {
    fn ok() -> Self {
        Self {
            status_code: 200,
            body: None,
        }
    }

    fn message(status_code: u16, body: Value) -> Self {
        Self {
            status_code,
            body: Some(body.to_string()),
        }
    }

    fn error(status_code: u16, message: impl std::fmt::Display) -> Self {
        Self::message(status_code, json!({"type": "error", "message": message.to_string()}))
    }
}

/// The WebSocket API's handler: connections in `store`, `$connect` tokens checked with the key
/// `tokens` gives (read from Secrets Manager on first use in production; fixed in tests) and,
/// where JWTs are taken, JWTs with the issuer's keys from `J`.
pub struct WsApi<S, K = Arc<TokenKey>, J = NoJwks> {
    store: S,
    tokens: K,
    jwt: Option<JwtCheck<J>>,
}

impl<S: ConnectionStore, K: Keys<TokenKey>> WsApi<S, K> {
    /// The kit's own tokens only.
    pub fn new(store: S, tokens: K) -> Self {
        Self {
            store,
            tokens,
            jwt: None,
        }
    }
}

impl<S: ConnectionStore, K: Keys<TokenKey>, J: JwksSource> WsApi<S, K, J> {
    /// `$connect` takes a JWT as well, when `jwt` is given (AuthMode JWT).
    pub fn with_jwt<J2: JwksSource>(self, jwt: Option<JwtCheck<J2>>) -> WsApi<S, K, J2> {
        WsApi {
            store: self.store,
            tokens: self.tokens,
            jwt,
        }
    }

    pub async fn handle(&self, event: WsEvent) -> WsResponse {
        self.handle_at(event, Utc::now()).await
    }

    pub async fn handle_at(&self, event: WsEvent, now: DateTime<Utc>) -> WsResponse {
        let route = event.request_context.route_key.as_deref().unwrap_or_default();
        let Some(connection_id) = event
            .request_context
            .connection_id
            .as_deref()
            .filter(|id| !id.is_empty())
        else {
            warn!(route, "event without a connection id");
            return WsResponse::error(400, "not a WebSocket event");
        };
        match route {
            "$connect" => self.connect(connection_id, &event, now).await,
            "$disconnect" => match self.store.close(connection_id).await {
                Ok(()) => {
                    info!(connection_id, "disconnected");
                    WsResponse::ok()
                }
                Err(error) => {
                    warn!(connection_id, error = %lambda_kit::telemetry::ErrorChain(&error), "connection not forgotten; its TTL removes it");
                    WsResponse::error(500, "internal error")
                }
            },
            "subscribe" => self.subscribe(connection_id, &event, now).await,
            _ => WsResponse::error(
                400,
                r#"unknown action; send {"action": "subscribe", "job_id": "<id>"} (or "order_id", "customer_id")"#,
            ),
        }
    }

    async fn connect(&self, connection_id: &str, event: &WsEvent, now: DateTime<Utc>) -> WsResponse {
        let token = event
            .query_string_parameters
            .as_ref()
            .and_then(|query| query.get("token"))
            .map(String::as_str);
        // The kit's tokens start with their version; anything else is taken for a JWT where
        // JWTs are taken (and is a malformed token where they are not).
        let (customer, via) = match (token, &self.jwt) {
            (Some(token), Some(jwt)) if !token.is_empty() && !token.starts_with("v1.") => {
                match jwt.customer(token, now.timestamp(), Instant::now()).await {
                    Ok(customer) => (customer, "jwt"),
                    Err(JwtOutcome::Refused(refusal)) => {
                        info!(connection_id, %refusal, "connection refused");
                        return WsResponse::error(401, refusal);
                    }
                    // Logged where it failed; the client may try again.
                    Err(JwtOutcome::Unavailable) => {
                        return WsResponse::error(503, "temporarily unavailable; try again");
                    }
                }
            }
            // AuthMode JWT: the kit's own tokens only where the deployer asked for them.
            (Some(token), Some(jwt)) if token.starts_with("v1.") && !jwt.rules().takes_kit_tokens() => {
                info!(connection_id, "connection refused: a kit token where JWTs are required");
                return WsResponse::error(401, "this API takes JWTs of its issuer");
            }
            _ => {
                let Ok(key) = self.tokens.current().await else {
                    // Logged where it failed; the client may try again.
                    return WsResponse::error(503, "temporarily unavailable; try again");
                };
                match key.check(token, now.timestamp()) {
                    Ok(customer) => (customer, "token"),
                    Err(refusal) => {
                        info!(connection_id, %refusal, "connection refused");
                        return WsResponse::error(401, refusal);
                    }
                }
            }
        };
        match self.store.open(connection_id, &customer, now).await {
            Ok(()) => {
                info!(connection_id, via, "connected");
                WsResponse::ok()
            }
            Err(error) => {
                warn!(connection_id, error = %lambda_kit::telemetry::ErrorChain(&error), "connection not recorded");
                WsResponse::error(500, "internal error")
            }
        }
    }

    async fn subscribe(&self, connection_id: &str, event: &WsEvent, now: DateTime<Utc>) -> WsResponse {
        if event.is_base64_encoded {
            return WsResponse::error(400, "send subscribe messages as text frames");
        }
        let customer = match self.store.customer_of(connection_id, now).await {
            Ok(Some(customer)) => customer,
            Ok(None) => return WsResponse::error(410, "this connection is not open any more; reconnect"),
            Err(error) => {
                warn!(connection_id, error = %lambda_kit::telemetry::ErrorChain(&error), "connection not readable");
                return WsResponse::error(500, "internal error");
            }
        };
        let topics = match parse_subscribe(event.body.as_deref().unwrap_or_default(), &customer) {
            Ok(topics) => topics,
            Err(refusal) => return WsResponse::error(400, refusal),
        };
        match self.store.subscribe(connection_id, &customer, &topics, now).await {
            Ok(()) => {
                let keys: Vec<String> = topics.iter().map(Topic::key).collect();
                info!(connection_id, topics = ?keys, "subscribed");
                WsResponse::message(200, json!({"type": "subscribed", "topics": keys}))
            }
            Err(error) => {
                warn!(connection_id, error = %lambda_kit::telemetry::ErrorChain(&error), "subscription not recorded");
                WsResponse::error(500, "internal error")
            }
        }
    }
}
