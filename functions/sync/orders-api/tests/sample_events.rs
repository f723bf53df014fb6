//! Every file in `events/orders-api/` goes through the handler, against the local DynamoDB, and
//! its answer is checked against `tests/expected/orders-api.json` (the expectations `make
//! sam-local` checks the deployed artifact with). A new event file without one fails the suite.

mod support;

use orders_api::order::{OrderLine, OrderRequest, TaxRate};
use orders_api::ports::{OrderStore, OwnedOrder, StoreError};
use support::{context, local};
use test_support::check_http_sample_events;
use test_support::expected::normalized;

/// The order that `get-order*.json` ask for.
const SEEDED_ORDER_ID: &str = "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01";

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
    let order = orders_api::order::priced(SEEDED_ORDER_ID.into(), request, TaxRate::DEFAULT, chrono::Utc::now())
        .expect("priced");
    // No owner: the sample events come through an open route (no authorizer), as `sam local` sends them.
    let order = OwnedOrder { order, owner: None };
    match store.create_order(&order, None).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
        Err(error) => panic!("seeding failed: {error}"),
    }
}

#[tokio::test]
#[ignore = "needs the local AWS (moto): `make test` runs it"]
async fn every_sample_event_gets_the_expected_answer() {
    let local = local().await;
    let api = local.api();
    seed_order(&local.store()).await;
    for (event, answer) in check_http_sample_events("orders-api", context, |r| api.handle(r)).await {
        if answer["statusCode"] == 201 {
            // Created means stored, where the Location header says.
            let id = normalized(&answer)["body"]["id"].as_str().expect("an id").to_owned();
            let location = normalized(&answer)["headers"]["location"].clone();
            assert_eq!(location, format!("/orders/{id}"), "{event}");
            assert_eq!(
                local.store().get_order(&id).await.expect("read").map(|o| o.order.id),
                Some(id)
            );
        }
    }
}

/// What `make sam-local` needs in the local AWS before it sends the sample events to the
/// `sam build` artifact: the order `get-order*.json` ask for.
#[tokio::test]
#[ignore = "fixtures for make sam-local, which runs it"]
async fn sample_event_fixtures() {
    seed_order(&local().await.store()).await;
}
