//! JWTs at `$connect` (AuthMode JWT), beside the kit's own `v1.` tokens.
//!
//! API Gateway's WebSocket APIs have no JWT authorizer (HTTP APIs do), so this function checks
//! the token itself, the way the HTTP API's JWT authorizer does for the same issuer and
//! audiences: an RS256 signature by a key of the issuer's JWK set (found through
//! `<issuer>/.well-known/openid-configuration`), `iss` equal to the issuer, `aud` or, as in
//! Cognito's access tokens, `client_id` naming one of the audiences, `exp` in the future and
//! `nbf`, if present, in the past (both with [`LEEWAY_SECONDS`]). The connection's customer is a
//! claim of the token (`JWT_CUSTOMER_CLAIM`, `sub` unless set), held to the customer id rules.
//!
//! The key set is fetched on the first JWT, kept for [`KEYS_MAX_AGE`], and fetched again early
//! when a token names a key the held set lacks (the issuer rotated), at most once per
//! [`UNKNOWN_KEY_REFETCH_AFTER`], so tokens with made-up key ids cannot make the function call
//! the issuer on every `$connect`. A failed fetch keeps the held set; with none held the client
//! is told to try again (503), and the issuer is asked again at most once per
//! [`NO_KEYS_REFETCH_AFTER`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_kit::config::{self, ConfigError};
use lambda_kit::keys::KeyUnavailable;
use realtime::token::is_customer_id;
use serde_json::{Map, Value};
use tracing::warn;

/// How long a fetched key set is used before it is fetched again: an hour, as API Gateway's JWT
/// authorizer keeps an issuer's keys (which also fetches them again for a key id it has not seen).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// The least time between two fetches a token with an unknown key id may cause.
pub const UNKNOWN_KEY_REFETCH_AFTER: Duration = Duration::from_secs(60);
/// The least time between two fetches while no key set is held (the issuer has not answered
/// yet): a `$connect` meanwhile is told to try again, and does not call the issuer.
pub const NO_KEYS_REFETCH_AFTER: Duration = Duration::from_secs(5);
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: f64 = 30.0;
/// Header tokens are signed with: RS256, the default of Cognito, Auth0, Okta and Entra ID.
pub const ALGORITHM: Algorithm = Algorithm::RS256;

/// Why a JWT was refused: the `$connect` answer's message (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtRefusal {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not signed with RS256 and a key id")]
    WrongAlgorithm,
    #[error("the token is signed with a key its issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInTheFuture,
    #[error("the token is not from this API's issuer")]
    WrongIssuer,
    #[error("the token is not for this API's audience")]
    WrongAudience,
    #[error("the token names no customer")]
    NoCustomer,
}

/// What a token must say, as the HTTP API's JWT authorizer reads it: its issuer, one of the
/// audiences (`aud`; `client_id` only when there is no `aud`), `exp` after and `nbf` and `iat`
/// before now; and the claim naming the customer.
#[derive(Debug, Clone)]
pub struct JwtRules {
    issuer: String,
    audiences: Vec<String>,
    customer_claim: String,
    kit_tokens: bool,
}

impl JwtRules {
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, customer_claim: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            customer_claim: customer_claim.into(),
            kit_tokens: false,
        }
    }

    /// `$connect` also takes the kit's own tokens (`WsTokenSecret`) beside the issuer's JWTs: a
    /// second trust root, for while clients move to JWTs (`KIT_SIGNED_CONNECT_WITH_JWT=true`, the
    /// template's `WsKitTokensWithJwt`). Without it a kit token is refused.
    pub fn with_kit_tokens(self, kit_tokens: bool) -> Self {
        Self { kit_tokens, ..self }
    }

    /// Whether the kit's own tokens are taken too (see [`JwtRules::with_kit_tokens`]).
    pub fn takes_kit_tokens(&self) -> bool {
        self.kit_tokens
    }

    /// The rules from the environment: `JWT_ISSUER` (unset or empty: no JWTs, the kit's own
    /// tokens only), `JWT_AUDIENCE` (comma-separated, at least one), `JWT_CUSTOMER_CLAIM`.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = config::optional("JWT_ISSUER").filter(|issuer| !issuer.is_empty()) else {
            return Ok(None);
        };
        if !issuer.starts_with("https://") {
            return Err(ConfigError::Invalid {
                name: "JWT_ISSUER",
                value: issuer,
                reason: "an issuer is an https:// URL".into(),
            });
        }
        let audience = config::required("JWT_AUDIENCE")?;
        let audiences: Vec<String> = audience
            .split(',')
            .map(str::trim)
            .filter(|audience| !audience.is_empty())
            .map(str::to_owned)
            .collect();
        if audiences.is_empty() {
            return Err(ConfigError::Invalid {
                name: "JWT_AUDIENCE",
                value: audience,
                reason: "name at least one audience".into(),
            });
        }
        let claim = config::optional("JWT_CUSTOMER_CLAIM").filter(|claim| !claim.is_empty());
        let kit_tokens = config::parsed_or("KIT_SIGNED_CONNECT_WITH_JWT", false)?;
        Ok(Some(
            Self::new(issuer, audiences, claim.unwrap_or_else(|| "sub".into())).with_kit_tokens(kit_tokens),
        ))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The id of the key `token` says it is signed with; RS256 only (an `alg` of `none` or of
    /// an HMAC, which would make a public key a shared secret, never gets as far as a key).
    pub fn key_id(token: &str) -> Result<String, JwtRefusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRefusal::Malformed)?;
        match (header.alg, header.kid) {
            (ALGORITHM, Some(kid)) if !kid.is_empty() => Ok(kid),
            _ => Err(JwtRefusal::WrongAlgorithm),
        }
    }

    /// The customer `token` speaks for, if `key` signed it and its claims hold at `now` (Unix
    /// seconds).
    pub fn check(&self, token: &str, key: &Jwk, now: i64) -> Result<String, JwtRefusal> {
        let key = DecodingKey::from_jwk(key).map_err(|_| JwtRefusal::UnknownKey)?;
        // The signature and the algorithm here; the claims below, against the caller's clock.
        let mut validation = Validation::new(ALGORITHM);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => JwtRefusal::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => JwtRefusal::WrongAlgorithm,
                _ => JwtRefusal::Malformed,
            })?
            .claims;

        let now = now as f64;
        let exp = claims.get("exp").and_then(Value::as_f64).ok_or(JwtRefusal::Malformed)?;
        if exp + LEEWAY_SECONDS <= now {
            return Err(JwtRefusal::Expired);
        }
        // Optional times that must not be in the future: not-before, issued-at.
        for (claim, refusal) in [("nbf", JwtRefusal::NotYetValid), ("iat", JwtRefusal::IssuedInTheFuture)] {
            match claims.get(claim).map(Value::as_f64) {
                None => {}
                Some(None) => return Err(JwtRefusal::Malformed),
                Some(Some(at)) if at - LEEWAY_SECONDS > now => return Err(refusal),
                Some(Some(_)) => {}
            }
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(JwtRefusal::WrongIssuer);
        }
        // As API Gateway: `client_id` (a Cognito access token's) counts only without an `aud`.
        let named: Vec<&str> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            Some(_) => Vec::new(),
            None => claims.get("client_id").and_then(Value::as_str).into_iter().collect(),
        };
        if !named
            .iter()
            .any(|name| self.audiences.iter().any(|audience| audience == name))
        {
            return Err(JwtRefusal::WrongAudience);
        }
        claims
            .get(&self.customer_claim)
            .and_then(Value::as_str)
            .filter(|customer| is_customer_id(customer))
            .map(str::to_owned)
            .ok_or(JwtRefusal::NoCustomer)
    }
}

/// Where the issuer's key set comes from: [`crate::jwks::OidcJwks`] in production, a fixed set
/// in tests.
pub trait JwksSource {
    fn fetch(&self) -> impl Future<Output = Result<JwkSet, FetchError>>;
}

/// Why the key set could not be fetched (logged; the client is told to try again).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// A key set fixed for the life of the process (tests and benchmarks; or keys pinned at deploy).
impl JwksSource for JwkSet {
    async fn fetch(&self) -> Result<JwkSet, FetchError> {
        Ok(self.clone())
    }
}

/// No JWTs: the source of a function without `JWT_ISSUER` (it is never asked).
pub enum NoJwks {}

impl JwksSource for NoJwks {
    async fn fetch(&self) -> Result<JwkSet, FetchError> {
        match *self {}
    }
}

#[derive(Default)]
struct Held {
    keys: Option<(Arc<JwkSet>, Instant)>,
    last_try: Option<Instant>,
}

/// The issuer's key set, fetched when first needed and kept as the module says.
pub struct IssuerKeys<S> {
    source: S,
    held: tokio::sync::Mutex<Held>,
}

impl<S: JwksSource> IssuerKeys<S> {
    pub fn new(source: S) -> Self {
        Self {
            source,
            held: tokio::sync::Mutex::default(),
        }
    }

    /// The key `kid` names, if the issuer publishes it; `Err` when no key set could be had.
    pub async fn key(&self, kid: &str, now: Instant) -> Result<Option<Jwk>, KeyUnavailable> {
        // One fetch at a time; a second $connect waits for the first one's keys.
        let mut held = self.held.lock().await;
        let tried_within = |interval: Duration| {
            held.last_try
                .is_some_and(|tried| now.saturating_duration_since(tried) < interval)
        };
        let due = match &held.keys {
            None => !tried_within(NO_KEYS_REFETCH_AFTER),
            Some((keys, fetched)) => {
                let stale = now.saturating_duration_since(*fetched) >= KEYS_MAX_AGE;
                (stale || keys.find(kid).is_none()) && !tried_within(UNKNOWN_KEY_REFETCH_AFTER)
            }
        };
        if due {
            held.last_try = Some(now);
            match self.source.fetch().await {
                Ok(keys) => held.keys = Some((Arc::new(keys), now)),
                Err(error) => warn!(%error, kept = held.keys.is_some(), "the issuer's keys could not be fetched"),
            }
        }
        let (keys, _) = held.keys.as_ref().ok_or(KeyUnavailable)?;
        Ok(keys.find(kid).cloned())
    }
}

/// Why a JWT got no customer: refused (401) or not checkable now (503).
#[derive(Debug, PartialEq, Eq)]
pub enum JwtOutcome {
    Refused(JwtRefusal),
    Unavailable,
}

/// The rules and the keys: what `$connect` asks about a JWT.
pub struct JwtCheck<S> {
    rules: JwtRules,
    keys: IssuerKeys<S>,
}

impl<S: JwksSource> JwtCheck<S> {
    pub fn new(rules: JwtRules, source: S) -> Self {
        Self {
            rules,
            keys: IssuerKeys::new(source),
        }
    }

    pub fn rules(&self) -> &JwtRules {
        &self.rules
    }

    /// The customer `token` speaks for at `now` (Unix seconds; `clock` for the key set's age).
    pub async fn customer(&self, token: &str, now: i64, clock: Instant) -> Result<String, JwtOutcome> {
        let kid = JwtRules::key_id(token).map_err(JwtOutcome::Refused)?;
        let key = match self.keys.key(&kid, clock).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(JwtOutcome::Refused(JwtRefusal::UnknownKey)),
            Err(KeyUnavailable) => return Err(JwtOutcome::Unavailable),
        };
        self.rules.check(token, &key, now).map_err(JwtOutcome::Refused)
    }
}
