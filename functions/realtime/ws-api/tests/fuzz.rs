//! Fuzzing ws-api: every sample WebSocket event, damaged anywhere (fields removed, retyped,
//! duplicated, oversized), and any JSON at all. Properties: no panic; the answer is one API
//! Gateway can act on (200, 400, 401 or 410); a refused connect or message tells the client why.
//! With JWTs taken at $connect (AuthMode JWT), a signed JWT damaged anywhere, or any text, as the
//! token: 200 or 401, never a panic, never a 503 (the key set is at hand).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use jsonwebtoken::jwk::JwkSet;
use test_support::jwt::{SigningKey, key_set};
use ws_api::jwt::{JwtCheck, JwtRules};

use proptest::prelude::*;
use realtime::connections::Everyone;
use realtime::token::TokenKey;
use test_support::{any_json, config, mutated, sample_event};
use ws_api::{WsApi, WsEvent};

fn samples() -> impl Strategy<Value = String> {
    let names = [
        "connect",
        "connect-without-token",
        "subscribe",
        "subscribe-invalid",
        "unknown-action",
        "disconnect",
    ];
    let events: Vec<_> = names
        .iter()
        .map(|name| mutated(sample_event("ws-api", name)).boxed())
        .collect();
    prop_oneof![
        proptest::strategy::Union::new(events),
        any_json().prop_map(|value| value.to_string())
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_event_gets_an_answer_api_gateway_can_act_on(text in samples()) {
        let payload: serde_json::Value = match serde_json::from_str(&text) {
            Ok(payload) => payload,
            // The runtime refuses what is not JSON before any handler runs.
            Err(_) => return Ok(()),
        };
        let api = WsApi::new(Everyone, Arc::new(TokenKey::new("sample-ws-token-secret-for-the-events-folder").unwrap()));
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let response = runtime.block_on(api.handle(WsEvent::read(payload)));
        prop_assert!([200, 400, 401, 410].contains(&response.status_code), "{response:?}");
        if response.status_code != 200 {
            let body: HashMap<String, serde_json::Value> =
                serde_json::from_str(response.body.as_deref().unwrap_or("{}")).expect("a JSON body");
            prop_assert_eq!(body.get("type").and_then(|t| t.as_str()), Some("error"));
            prop_assert!(body.get("message").and_then(|m| m.as_str()).is_some_and(|m| !m.is_empty()));
        }
    }
}

const ISSUER: &str = "https://idp.example.com/pool";

/// The issuer's key set is at hand: the fuzzed tokens are checked, never fetched for.
type JwtApi = WsApi<Everyone, Arc<TokenKey>, JwkSet>;

/// A JWT signed by the issuer's key, for the customer `c-42`, and the API that takes it.
fn jwt_and_api() -> &'static (String, JwtApi) {
    static MADE: OnceLock<(String, JwtApi)> = OnceLock::new();
    MADE.get_or_init(|| {
        let key = SigningKey::new("key-1");
        let token = key.sign(&serde_json::json!({"iss": ISSUER, "aud": "app", "sub": "c-42", "exp": 4_000_000_000u64}));
        let check = JwtCheck::new(JwtRules::new(ISSUER, vec!["app".into()], "sub"), key_set(&[&key]));
        let api = WsApi::new(
            Everyone,
            Arc::new(TokenKey::new("sample-ws-token-secret-for-the-events-folder").unwrap()),
        )
        .with_jwt(Some(check));
        (token, api)
    })
}

/// The JWT with one byte replaced by one of its alphabet or a dot, cut short, or any text.
fn damaged_jwts() -> impl Strategy<Value = String> {
    let token = jwt_and_api().0.clone();
    let length = token.len();
    let alphabet: Vec<u8> = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".to_vec();
    let replaced = {
        let token = token.clone();
        (0..length, proptest::sample::select(alphabet)).prop_map(move |(at, byte)| {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = byte;
            String::from_utf8(bytes).expect("ASCII")
        })
    };
    let cut = {
        let token = token.clone();
        (0..length).prop_map(move |at| token[..at].to_owned())
    };
    prop_oneof![replaced, cut, ".*", "eyJ[A-Za-z0-9_.-]{0,80}"]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_damaged_jwt_is_refused_with_a_reason_and_never_breaks_connect(token in damaged_jwts()) {
        let (valid, api) = jwt_and_api();
        let event = serde_json::json!({
            "requestContext": {"routeKey": "$connect", "connectionId": "fuzz"},
            "queryStringParameters": {"token": token},
        });
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let response = runtime.block_on(api.handle(WsEvent::read(event)));
        // Only the issuer's own token, unchanged, opens a connection.
        let expected = if token == *valid { 200 } else { 401 };
        prop_assert_eq!(response.status_code, expected, "{:?}", response);
        if expected == 401 {
            prop_assert!(response.body.as_deref().is_some_and(|body| body.contains("token")), "{response:?}");
        }
    }
}
