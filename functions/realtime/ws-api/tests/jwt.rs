//! AuthMode JWT at `$connect`: the token's rules (pure), the key set's fetching and keeping (an
//! in-memory source of our own port), the HTTPS adapter against a loopback identity provider
//! with a CA made for the test (real TLS, real discovery), and the handler with the connections
//! table in DynamoDB (moto, real SDK).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_kit::tls::TrustStore;
use realtime::connections::{ConnectionStore, ConnectionsTable};
use realtime::token::TokenKey;
use serde_json::{Value, json};
use test_support::jwt::{SigningKey, key_set as set};
use test_support::tls::{Routes, TestPki};
use ws_api::jwks::OidcJwks;
use ws_api::jwt::{
    FetchError, JwksSource, JwtCheck, JwtOutcome, JwtRefusal, JwtRules, KEYS_MAX_AGE, NO_KEYS_REFETCH_AFTER,
    UNKNOWN_KEY_REFETCH_AFTER,
};
use ws_api::{WsApi, WsEvent};

const ISSUER: &str = "https://idp.example.com/pool-1";
const NOW: i64 = 1_800_000_000;

/// An ID token of `ISSUER` for the audience `app`, for `sub`, valid for five minutes.
fn token_for(key: &SigningKey, sub: &str) -> String {
    key.sign(&json!({"iss": ISSUER, "aud": "app", "sub": sub, "iat": NOW, "exp": NOW + 300}))
}

/// Two keys made once per test binary (RSA key generation takes a while).
fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: std::sync::OnceLock<(SigningKey, SigningKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| (SigningKey::new("key-1"), SigningKey::new("key-2")))
}

fn rules() -> JwtRules {
    JwtRules::new(ISSUER, vec!["app".into(), "other-app".into()], "sub")
}

fn check(claims: Value) -> Result<String, JwtRefusal> {
    let (key, _) = keys();
    rules().check(&key.sign(&claims), key.jwk(), NOW)
}

#[test]
fn a_token_of_the_issuer_for_an_audience_names_its_customer() {
    let (key, _) = keys();
    let token = token_for(key, "c-42");
    assert_eq!(JwtRules::key_id(&token), Ok("key-1".into()));
    assert_eq!(rules().check(&token, key.jwk(), NOW), Ok("c-42".into()));
    // aud as a list, and a Cognito access token's client_id in place of aud.
    let list = json!({"iss": ISSUER, "aud": ["x", "other-app"], "sub": "c-1", "exp": NOW + 60});
    assert_eq!(check(list), Ok("c-1".into()));
    let access = json!({"iss": ISSUER, "client_id": "app", "sub": "c-2", "exp": NOW + 60, "token_use": "access"});
    assert_eq!(check(access), Ok("c-2".into()));
    // As API Gateway: client_id counts only when there is no aud.
    let both = json!({"iss": ISSUER, "aud": "someone-else", "client_id": "app", "sub": "c-2", "exp": NOW + 60});
    assert_eq!(check(both), Err(JwtRefusal::WrongAudience));
    // The customer from a claim of the deployer's choice.
    let claim = JwtRules::new(ISSUER, vec!["app".into()], "custom:customer_id");
    let token = key
        .sign(&json!({"iss": ISSUER, "aud": "app", "sub": "u-1", "custom:customer_id": "acme.c-9", "exp": NOW + 60}));
    assert_eq!(claim.check(&token, key.jwk(), NOW), Ok("acme.c-9".into()));
}

#[test]
fn claims_that_do_not_hold_are_refused_with_their_reason() {
    let base = json!({"iss": ISSUER, "aud": "app", "sub": "c-42", "exp": NOW + 60});
    let with = |field: &str, value: Value| {
        let mut claims = base.clone();
        claims[field] = value;
        check(claims)
    };
    let without = |field: &str| {
        let mut claims = base.clone();
        claims.as_object_mut().unwrap().remove(field);
        check(claims)
    };
    // exp and nbf with 30 s of leeway.
    assert_eq!(with("exp", json!(NOW - 31)), Err(JwtRefusal::Expired));
    assert_eq!(with("exp", json!(NOW - 29)), Ok("c-42".into()));
    assert_eq!(without("exp"), Err(JwtRefusal::Malformed));
    assert_eq!(with("exp", json!("tomorrow")), Err(JwtRefusal::Malformed));
    assert_eq!(with("nbf", json!(NOW + 31)), Err(JwtRefusal::NotYetValid));
    assert_eq!(with("nbf", json!(NOW + 29)), Ok("c-42".into()));
    assert_eq!(with("nbf", json!("now")), Err(JwtRefusal::Malformed));
    assert_eq!(with("iat", json!(NOW + 31)), Err(JwtRefusal::IssuedInTheFuture));
    assert_eq!(with("iat", json!(NOW + 29)), Ok("c-42".into()));
    assert_eq!(with("iat", json!(NOW - 3600)), Ok("c-42".into()));
    assert_eq!(with("iat", json!("then")), Err(JwtRefusal::Malformed));
    assert_eq!(
        with("iss", json!("https://idp.example.com/pool-2")),
        Err(JwtRefusal::WrongIssuer)
    );
    assert_eq!(without("iss"), Err(JwtRefusal::WrongIssuer));
    assert_eq!(with("aud", json!("someone-else")), Err(JwtRefusal::WrongAudience));
    assert_eq!(with("aud", json!(["a", "b"])), Err(JwtRefusal::WrongAudience));
    assert_eq!(without("aud"), Err(JwtRefusal::WrongAudience));
    assert_eq!(with("sub", json!("c 42")), Err(JwtRefusal::NoCustomer));
    assert_eq!(with("sub", json!(42)), Err(JwtRefusal::NoCustomer));
    assert_eq!(without("sub"), Err(JwtRefusal::NoCustomer));
}

#[test]
fn a_token_not_signed_by_the_key_it_names_is_refused() {
    let (key, other) = keys();
    let token = token_for(key, "c-42");
    // Checked against another key (a kid reused after rotation, or a forged header).
    assert_eq!(rules().check(&token, other.jwk(), NOW), Err(JwtRefusal::BadSignature));
    // The claims changed after signing.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = base64_url(&json!({"iss": ISSUER, "aud": "app", "sub": "c-43", "exp": NOW + 300}).to_string());
    parts[1] = &forged;
    assert_eq!(
        rules().check(&parts.join("."), key.jwk(), NOW),
        Err(JwtRefusal::BadSignature)
    );
}

#[test]
fn only_rs256_with_a_key_id_gets_as_far_as_a_key() {
    let (key, _) = keys();
    let claims = json!({"iss": ISSUER, "aud": "app", "sub": "c-42", "exp": NOW + 300});
    // alg none: no signature at all.
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","kid":"key-1"}"#),
        base64_url(&claims.to_string())
    );
    assert!(JwtRules::key_id(&unsigned).is_err());
    // HS256 "signed" with the public key's modulus: the algorithm confusion attack.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("key-1".into());
    let modulus = serde_json::to_value(key.jwk()).unwrap()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    let confused =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(modulus.as_bytes()).unwrap()).unwrap();
    assert_eq!(JwtRules::key_id(&confused), Err(JwtRefusal::WrongAlgorithm));
    assert_eq!(
        rules().check(&confused, key.jwk(), NOW),
        Err(JwtRefusal::WrongAlgorithm)
    );
    // No key id.
    let anonymous = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key.encoding_key()).unwrap();
    assert_eq!(JwtRules::key_id(&anonymous), Err(JwtRefusal::WrongAlgorithm));
    for garbage in ["", "abc", "a.b.c", "v2.c-42.1.sig", "eyJ.eyJ.sig"] {
        assert_eq!(JwtRules::key_id(garbage), Err(JwtRefusal::Malformed), "{garbage}");
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// The issuer's key set in memory: what it publishes now, and how often it was asked.
#[derive(Clone, Default)]
struct Published {
    keys: Arc<Mutex<Option<JwkSet>>>,
    fetches: Arc<AtomicUsize>,
}

impl Published {
    fn publish(&self, keys: Option<JwkSet>) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksSource for Published {
    async fn fetch(&self) -> Result<JwkSet, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.keys
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| FetchError("the issuer is down".into()))
    }
}

#[tokio::test]
async fn keys_are_fetched_on_first_use_kept_and_fetched_again_for_a_rotation() {
    let (first, second) = keys();
    let issuer = Published::default();
    issuer.publish(Some(set(&[first])));
    let check = JwtCheck::new(rules(), issuer.clone());
    let start = Instant::now();
    assert_eq!(issuer.fetches(), 0, "nothing is fetched before the first JWT");

    assert_eq!(
        check.customer(&token_for(first, "c-1"), NOW, start).await,
        Ok("c-1".into())
    );
    assert_eq!(
        check.customer(&token_for(first, "c-2"), NOW, start).await,
        Ok("c-2".into())
    );
    assert_eq!(issuer.fetches(), 1, "the key set is kept");

    // The issuer rotates: a token with the new key id makes the function fetch again.
    issuer.publish(Some(set(&[first, second])));
    let later = start + UNKNOWN_KEY_REFETCH_AFTER;
    assert_eq!(
        check.customer(&token_for(second, "c-3"), NOW, later).await,
        Ok("c-3".into())
    );
    assert_eq!(issuer.fetches(), 2);

    // Made-up key ids cause at most one fetch per UNKNOWN_KEY_REFETCH_AFTER.
    let forged = |kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            &json!({"iss": ISSUER, "aud": "app", "sub": "c-4", "exp": NOW + 60}),
            first.encoding_key(),
        )
        .unwrap()
    };
    let refused = Err(JwtOutcome::Refused(JwtRefusal::UnknownKey));
    assert_eq!(check.customer(&forged("made-up-1"), NOW, later).await, refused);
    assert_eq!(
        check
            .customer(&forged("made-up-2"), NOW, later + Duration::from_secs(59))
            .await,
        refused
    );
    assert_eq!(issuer.fetches(), 2, "no fetch within a minute of the last");
    let a_minute_on = later + UNKNOWN_KEY_REFETCH_AFTER;
    assert_eq!(check.customer(&forged("made-up-3"), NOW, a_minute_on).await, refused);
    assert_eq!(issuer.fetches(), 3);

    // A known key's set is fetched again once it is KEYS_MAX_AGE old: a key withdrawn by the
    // issuer stops working then.
    issuer.publish(Some(set(&[second])));
    assert_eq!(
        check
            .customer(&token_for(first, "c-5"), NOW, later + Duration::from_secs(600))
            .await,
        Ok("c-5".into())
    );
    assert_eq!(issuer.fetches(), 3);
    assert_eq!(
        check
            .customer(&token_for(first, "c-5"), NOW, a_minute_on + KEYS_MAX_AGE)
            .await,
        refused
    );
    assert_eq!(issuer.fetches(), 4);
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_keeps_the_held_keys_or_answers_unavailable() {
    let (first, _) = keys();
    let issuer = Published::default();
    let check = JwtCheck::new(rules(), issuer.clone());
    let start = Instant::now();
    // Nothing held and nothing to fetch: try again later.
    assert_eq!(
        check.customer(&token_for(first, "c-1"), NOW, start).await,
        Err(JwtOutcome::Unavailable)
    );
    // A malformed token never reaches the issuer.
    assert_eq!(
        check.customer("not-a-jwt", NOW, start).await,
        Err(JwtOutcome::Refused(JwtRefusal::Malformed))
    );
    // Nor do the connects that follow within NO_KEYS_REFETCH_AFTER: they are told to retry.
    for after in [Duration::ZERO, NO_KEYS_REFETCH_AFTER - Duration::from_millis(1)] {
        assert_eq!(
            check.customer(&token_for(first, "c-1"), NOW, start + after).await,
            Err(JwtOutcome::Unavailable)
        );
    }
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(
        check
            .customer(&token_for(first, "c-1"), NOW, start + NO_KEYS_REFETCH_AFTER)
            .await,
        Err(JwtOutcome::Unavailable)
    );
    assert_eq!(issuer.fetches(), 2, "asked again once the interval passed");

    issuer.publish(Some(set(&[first])));
    let later = start + UNKNOWN_KEY_REFETCH_AFTER;
    assert_eq!(
        check.customer(&token_for(first, "c-1"), NOW, later).await,
        Ok("c-1".into())
    );
    // The issuer goes down; when the set is due again, the held one is kept.
    issuer.publish(None);
    let due = later + KEYS_MAX_AGE;
    assert_eq!(
        check.customer(&token_for(first, "c-2"), NOW, due).await,
        Ok("c-2".into())
    );
    assert_eq!(issuer.fetches(), 4);
}

/// A loopback identity provider: its discovery document and key set over HTTPS, signed by a CA
/// made for the test and trusted through a CA bundle, as `AWS_CA_BUNDLE` does.
async fn provider(keys: &JwkSet) -> (TestPki, String, Routes, Arc<Mutex<Vec<String>>>) {
    let pki = TestPki::new();
    let routes: Routes = Arc::default();
    let (address, asked) = pki.https_routes(Arc::clone(&routes)).await;
    let issuer = format!("https://localhost:{}", address.port());
    routes.lock().unwrap().extend([
        (
            "/.well-known/openid-configuration".to_owned(),
            (
                200,
                json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")}).to_string(),
            ),
        ),
        ("/keys".to_owned(), (200, serde_json::to_string(keys).unwrap())),
    ]);
    (pki, issuer, routes, asked)
}

fn trusting(pki: &TestPki) -> TrustStore {
    let bundle = pki.ca_bundle();
    TrustStore::with_ca_bundle(bundle.path()).expect("the bundle is usable")
}

#[tokio::test]
async fn the_key_set_is_found_through_the_issuers_discovery_document() {
    let (first, second) = keys();
    let published = set(&[first, second]);
    let (pki, issuer, routes, asked) = provider(&published).await;
    let source = OidcJwks::new(&issuer, &trusting(&pki)).expect("a client");
    let fetched = source.fetch().await.expect("the key set");
    assert_eq!(
        fetched
            .keys
            .iter()
            .map(|key| key.common.key_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["key-1", "key-2"]
    );
    assert_eq!(*asked.lock().unwrap(), ["/.well-known/openid-configuration", "/keys"]);

    // Not the issuer's own certificate chain: nothing is fetched.
    let untrusted = OidcJwks::new(&issuer, &TrustStore::compiled_in()).unwrap();
    let error = untrusted.fetch().await.unwrap_err().to_string();
    assert!(error.contains("certificate"), "{error}");

    let discovery = "/.well-known/openid-configuration".to_owned();
    let answer = |body: Value| (200, body.to_string());
    for (document, reason) in [
        (
            answer(json!({"issuer": "https://elsewhere.example", "jwks_uri": format!("{issuer}/keys")})),
            "names the issuer \"https://elsewhere.example\"",
        ),
        (
            answer(json!({"issuer": issuer, "jwks_uri": "http://localhost/keys"})),
            "is not an https URL",
        ),
        (answer(json!({"issuer": issuer})), "missing field `jwks_uri`"),
        ((503, "{}".to_owned()), "HTTP 503"),
    ] {
        routes.lock().unwrap().insert(discovery.clone(), document);
        let error = source.fetch().await.unwrap_err().to_string();
        assert!(error.contains(reason), "{error}");
    }
    // A key set larger than any issuer's is not read to its end.
    routes.lock().unwrap().insert(
        discovery,
        answer(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")})),
    );
    let huge = format!(
        r#"{{"keys": [], "padding": "{}"}}"#,
        "x".repeat(ws_api::jwks::MAX_BODY_BYTES)
    );
    routes.lock().unwrap().insert("/keys".to_owned(), (200, huge));
    let error = source.fetch().await.unwrap_err().to_string();
    assert!(error.contains("length limit exceeded"), "{error}");
}

fn connect(connection_id: &str, token: &str) -> WsEvent {
    WsEvent::read(json!({
        "requestContext": {"routeKey": "$connect", "connectionId": connection_id},
        "queryStringParameters": {"token": token}
    }))
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn connect_takes_a_jwt_of_the_issuer_and_the_kits_own_token_only_where_asked() {
    test_support::assert_local_aws();
    let table = lambda_kit::config::required("CONNECTIONS_TABLE").expect("the function's environment");
    let store = ConnectionsTable::new(
        aws_sdk_dynamodb::Client::new(&lambda_kit::aws::load().await.expect("the trust store")),
        table,
    );
    let (first, _) = keys();
    let (pki, issuer, routes, _) = provider(&set(&[first])).await;
    let rules = JwtRules::new(&issuer, vec!["app".into()], "sub");
    let token_key = Arc::new(TokenKey::new("a-token-secret-of-enough-bytes-here").unwrap());
    let api = WsApi::new(store.clone(), Arc::clone(&token_key)).with_jwt(Some(JwtCheck::new(
        rules,
        OidcJwks::new(&issuer, &trusting(&pki)).unwrap(),
    )));
    let now = Utc::now().timestamp();
    let jwt = first.sign(&json!({"iss": issuer, "aud": "app", "sub": "c-jwt", "exp": now + 300}));

    let id = format!("jwt-{}", uuid::Uuid::now_v7());
    assert_eq!(api.handle(connect(&id, &jwt)).await.status_code, 200);
    assert_eq!(
        store.customer_of(&id, Utc::now()).await.unwrap().as_deref(),
        Some("c-jwt")
    );

    // The kit's own token is a second trust root: refused, unless the deployer asks for it.
    let id = format!("token-{}", uuid::Uuid::now_v7());
    let kit_token = token_key.mint("c-token", now + 60);
    let refused = api.handle(connect(&id, &kit_token)).await;
    assert_eq!(refused.status_code, 401);
    assert_eq!(store.customer_of(&id, Utc::now()).await.unwrap(), None);
    let both = WsApi::new(store.clone(), Arc::clone(&token_key)).with_jwt(Some(JwtCheck::new(
        JwtRules::new(&issuer, vec!["app".into()], "sub").with_kit_tokens(true),
        OidcJwks::new(&issuer, &trusting(&pki)).unwrap(),
    )));
    assert_eq!(both.handle(connect(&id, &kit_token)).await.status_code, 200);
    assert_eq!(
        store.customer_of(&id, Utc::now()).await.unwrap().as_deref(),
        Some("c-token")
    );

    // A token of another issuer is refused with its reason, and no connection is recorded.
    let id = format!("refused-{}", uuid::Uuid::now_v7());
    let foreign = first.sign(&json!({"iss": ISSUER, "aud": "app", "sub": "c-1", "exp": now + 300}));
    let refused = api.handle(connect(&id, &foreign)).await;
    assert_eq!(refused.status_code, 401);
    assert!(refused.body.unwrap().contains("not from this API's issuer"));
    assert_eq!(store.customer_of(&id, Utc::now()).await.unwrap(), None);

    // Without JWTs configured, a JWT is just a malformed token.
    let tokens_only = WsApi::new(store.clone(), Arc::clone(&token_key));
    let refused = tokens_only.handle(connect(&id, &jwt)).await;
    assert_eq!(refused.status_code, 401);
    assert!(refused.body.unwrap().contains("malformed"));

    // An issuer that cannot be reached before any key is held: try again (503), not a refusal.
    routes.lock().unwrap().clear();
    let unreachable = WsApi::new(store, token_key).with_jwt(Some(JwtCheck::new(
        JwtRules::new(&issuer, vec!["app".into()], "sub"),
        OidcJwks::new(&issuer, &trusting(&pki)).unwrap(),
    )));
    assert_eq!(unreachable.handle(connect(&id, &jwt)).await.status_code, 503);
}
