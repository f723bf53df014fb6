//! Every file in `events/orders-api/` goes through the handler, against the local DynamoDB, and
//! its answer is checked. A new event file without an expectation here fails the suite.

mod support;

use http::StatusCode;
use lambda_http::{Body, Response};
use orders_api::order::{Order, OrderLine, OrderRequest, TaxRate};
use orders_api::ports::{OrderStore, StoreError};
use serde_json::Value;
use support::{body_json, event, header, local};

/// The order that `get-order*.json` ask for.
const SEEDED_ORDER_ID: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01";

fn assert_problem(response: &Response<Body>, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.body());
    assert_eq!(header(response, "content-type"), Some("application/problem+json"));
    let body = body_json(response);
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["type"].is_string(), "{body}");
    body
}

fn assert_created_order(response: &Response<Body>) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.body());
    let order = body_json(response);
    let id = order["id"].as_str().expect("id");
    assert_eq!(header(response, "location"), Some(format!("/orders/{id}").as_str()));
    assert_eq!(order["customer_id"], "c-42");
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["items"][0]["line_total"], 2500);
    // 2 x 1250 = 2500; 20 % tax = 500.
    assert_eq!(
        (
            order["subtotal"].as_u64(),
            order["tax"].as_u64(),
            order["total"].as_u64()
        ),
        (Some(2500), Some(500), Some(3000))
    );
    assert!(
        order["created_at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{order}"
    );
    order
}

async fn seed_order(store: &impl OrderStore) {
    let request = OrderRequest {
        customer_id: "c-seeded".into(),
        currency: "GBP".into(),
        items: vec![OrderLine {
            sku: "PEN-7".into(),
            quantity: 3,
            unit_price: 199,
        }],
    };
    let order = Order::new(SEEDED_ORDER_ID.into(), request, TaxRate::DEFAULT, chrono::Utc::now()).expect("priced");
    let event =
        lambda_kit::events::Envelope::new("order.created", 1, "seed", serde_json::json!({}), chrono::Utc::now());
    match store.create_order(&order, &event, None).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
        Err(error) => panic!("seeding failed: {error}"),
    }
}

#[tokio::test]
async fn every_sample_event_gets_the_documented_answer() {
    let local = local().await;
    let api = local.api();
    seed_order(&local.store()).await;

    let mut files: Vec<String> = std::fs::read_dir(support::events_dir())
        .expect("events/orders-api")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 16, "{files:?}");

    for file in &files {
        if file.starts_with("malformed-event") {
            // lambda_http cannot turn these into requests; the deployed function answers them
            // through lambda_kit::http::answer (found by tests/fuzz.rs).
            let api = &api;
            test_support::assert_malformed_event_answer("orders-api", file, |r| api.handle(r)).await;
            continue;
        }
        let response = api.handle(event(file)).await;
        match file.as_str() {
            "create-order.json"
            | "create-order-rest-api.json"
            | "create-order-named-stage.json"
            | "create-order-base64-body.json" => {
                assert_created_order(&response);
            }
            "create-order-idempotent.json" => {
                let first = assert_created_order(&response);
                let again = api.handle(event(file)).await;
                assert_eq!(body_json(&again), first, "a retry replays the first answer");
                assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
            }
            "get-order.json" | "get-order-rest-api.json" => {
                assert_eq!(response.status(), StatusCode::OK, "{file}: {:?}", response.body());
                let order = body_json(&response);
                assert_eq!(order["id"], SEEDED_ORDER_ID);
                assert_eq!(
                    (
                        order["subtotal"].as_u64(),
                        order["tax"].as_u64(),
                        order["total"].as_u64()
                    ),
                    (Some(597), Some(119), Some(716))
                );
            }
            "get-order-unknown-id.json" | "unknown-route.json" => {
                assert_problem(&response, StatusCode::NOT_FOUND);
            }
            "malformed-json.json" => {
                let problem = assert_problem(&response, StatusCode::BAD_REQUEST);
                assert_eq!(problem["type"], "/problems/malformed-json");
                assert_eq!(
                    (problem["line"].as_u64(), problem["column"].as_u64()),
                    (Some(1), Some(53)),
                    "{problem}"
                );
            }
            "invalid-fields.json" => {
                let problem = assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
                let pointers: Vec<&str> = problem["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .filter_map(|e| e["pointer"].as_str())
                    .collect();
                assert_eq!(
                    pointers,
                    ["/customer_id", "/currency", "/items/0/quantity", "/items/0/unit_price"]
                );
            }
            "amount-too-large.json" => {
                let problem = assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
                assert_eq!(problem["type"], "/problems/amount-too-large");
                assert_eq!(problem["errors"][0]["pointer"], "/items/0");
            }
            "wrong-content-type.json" => {
                assert_problem(&response, StatusCode::UNSUPPORTED_MEDIA_TYPE);
                assert_eq!(header(&response, "accept-post"), Some("application/json"));
            }
            "oversized-body.json" => {
                let problem = assert_problem(&response, StatusCode::PAYLOAD_TOO_LARGE);
                assert_eq!(problem["max_body_bytes"], 65536);
            }
            "invalid-idempotency-key.json" => {
                let problem = assert_problem(&response, StatusCode::BAD_REQUEST);
                assert_eq!(problem["type"], "/problems/invalid-idempotency-key");
            }
            "wrong-method.json" => {
                assert_problem(&response, StatusCode::METHOD_NOT_ALLOWED);
                assert_eq!(header(&response, "allow"), Some("GET"));
            }
            other => panic!("events/orders-api/{other} has no expected answer: add one to this test"),
        }
    }
}
