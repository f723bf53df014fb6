//! The HTTPS adapter of [`WebhookSender`]: hyper with rustls, built once at init.
//!
//! Safe by default, because the URL is the caller's choice:
//! - host names are resolved here, every address is checked with
//!   [`contracts::callback::is_allowed_address`], and the connection goes only to an allowed one (so
//!   a name that resolves to a private address, or starts to between submit and delivery, is
//!   refused, not connected to);
//! - https only, unless the policy allows http on loopback (the local stack's test receivers);
//! - no redirect is followed (hyper follows none; a 3xx is a failed delivery);
//! - a connect timeout and a whole-request timeout;
//! - the answer's body is never read: its status is all a delivery needs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use contracts::callback::{CallbackUrl, Policy, is_allowed_address};
use http::{Method, Request, header};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use lambda_kit::tls::TrustStore;

use crate::{SendError, SignedHeaders, WebhookSender};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole delivery may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const USER_AGENT: &str = concat!("serverless-patterns-webhooks/", env!("CARGO_PKG_VERSION"));

/// Resolves host names and keeps only the addresses the policy allows.
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    policy: Policy,
}

impl CheckedResolver {
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }
}

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| is_allowed_address(address.ip(), policy))
                .collect();
            if allowed.is_empty() {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, ForbiddenAddress));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// The resolver's refusal, recognised again in [`HttpsSender::post`]'s error.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to no allowed address")]
struct ForbiddenAddress;

pub struct HttpsSender {
    client: Client<HttpsConnector<HttpConnector<CheckedResolver>>, Full<Bytes>>,
    request_timeout: Duration,
}

impl HttpsSender {
    /// The client, trusting the public web's roots of the process's trust store (compiled in,
    /// plus the deployer's `AWS_CA_BUNDLE`: see `lambda_kit::tls`).
    pub fn new(policy: Policy, trust: &TrustStore) -> Self {
        let mut http = HttpConnector::new_with_resolver(CheckedResolver::new(policy));
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let builder =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(lambda_kit::web_tls::client_config(trust));
        let connector = if policy.allow_loopback_http {
            builder.https_or_http().enable_http1().wrap_connector(http)
        } else {
            builder.https_only().enable_http1().wrap_connector(http)
        };
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// Gives a whole delivery `timeout` instead of [`REQUEST_TIMEOUT`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

impl WebhookSender for HttpsSender {
    async fn post(
        &self,
        url: &CallbackUrl,
        headers: &SignedHeaders,
        body: Vec<u8>,
    ) -> Result<http::StatusCode, SendError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url.as_uri().clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, USER_AGENT)
            .header("webhook-id", &headers.id)
            .header("webhook-timestamp", headers.timestamp.to_string())
            .header("webhook-signature", &headers.signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| SendError::Failed(error.into()))?;
        match tokio::time::timeout(self.request_timeout, self.client.request(request)).await {
            // The body is dropped unread: no answer can make the function read megabytes.
            Ok(Ok(response)) => Ok(response.status()),
            Ok(Err(error)) if is_forbidden_address(&error) => Err(SendError::ForbiddenAddress),
            Ok(Err(error)) => Err(SendError::Failed(error.into())),
            Err(_) => Err(SendError::Timeout(self.request_timeout)),
        }
    }
}

fn is_forbidden_address(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        // The resolver's io::Error hides its inner error from source(); get_ref() shows it.
        if let Some(io) = error.downcast_ref::<io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<ForbiddenAddress>())
        {
            return true;
        }
        source = error.source();
    }
    false
}
