//! Fuzzing ws-api: every sample WebSocket event, damaged anywhere (fields removed, retyped,
//! duplicated, oversized), and any JSON at all. Properties: no panic; the answer is one API
//! Gateway can act on (200, 400, 401 or 410); a refused connect or message tells the client why.

use std::collections::HashMap;
use std::sync::Arc;

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
