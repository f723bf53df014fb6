//! The HTTPS adapter of [`JwksSource`]: the issuer's OpenID discovery document, then the key set
//! it points to, as API Gateway's JWT authorizer finds them. hyper with rustls (the SDK's stack),
//! built once at init and only when `JWT_ISSUER` is set:
//! - HTTPS only, certificates checked against the process's trust store (Mozilla's roots
//!   compiled in, plus the deployer's `AWS_CA_BUNDLE`);
//! - no redirect is followed; anything but a 200 is a failed fetch;
//! - each request has [`REQUEST_TIMEOUT`], each answer at most [`MAX_BODY_BYTES`];
//! - the discovery document must name the configured issuer (OpenID Connect Discovery 1.0, 4.3).

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, Uri, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use lambda_kit::tls::TrustStore;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::jwt::{FetchError, JwksSource};

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const USER_AGENT: &str = concat!("serverless-patterns-ws-api/", env!("CARGO_PKG_VERSION"));

/// An issuer's keys over HTTPS.
pub struct OidcJwks {
    issuer: String,
    discovery: Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcJwks {
    /// `issuer` is the `iss` of its tokens, an https:// URL; its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`.
    pub fn new(issuer: &str, trust: &TrustStore) -> Result<Self, FetchError> {
        let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
            .parse::<Uri>()
            .map_err(|error| FetchError(format!("the issuer is not a URL: {error}")))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(REQUEST_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(lambda_kit::web_tls::client_config(trust))
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            issuer: issuer.to_owned(),
            discovery,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn get<T: DeserializeOwned>(&self, uri: Uri) -> Result<T, FetchError> {
        let request = Request::get(&uri)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, USER_AGENT)
            .body(Empty::new())
            .map_err(|error| FetchError(format!("{uri}: {error}")))?;
        let read = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| FetchError(format!("{uri}: {}", lambda_kit::telemetry::ErrorChain(&error))))?;
            if response.status() != hyper::StatusCode::OK {
                return Err(FetchError(format!("{uri}: HTTP {}", response.status())));
            }
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|error| FetchError(format!("{uri}: {error}")))?
                .to_bytes();
            serde_json::from_slice(&body).map_err(|error| FetchError(format!("{uri}: not the expected JSON: {error}")))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, read)
            .await
            .map_err(|_| FetchError(format!("{uri}: no answer within {REQUEST_TIMEOUT:?}")))?
    }
}

impl JwksSource for OidcJwks {
    async fn fetch(&self) -> Result<JwkSet, FetchError> {
        let discovery: Discovery = self.get(self.discovery.clone()).await?;
        if discovery.issuer != self.issuer {
            return Err(FetchError(format!(
                "the discovery document names the issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            )));
        }
        let jwks_uri = discovery
            .jwks_uri
            .parse::<Uri>()
            .ok()
            .filter(|uri| uri.scheme_str() == Some("https"))
            .ok_or_else(|| FetchError(format!("jwks_uri {:?} is not an https URL", discovery.jwks_uri)))?;
        self.get(jwks_uri).await
    }
}
