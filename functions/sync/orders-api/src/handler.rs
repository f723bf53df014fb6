//! The HTTP face of the orders API: routing, the shape of every answer, and the one place where
//! an error becomes a status code.

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use lambda_kit::http::{self as kit_http, BodyError, RouteError, Routes, json_body, json_response};
use lambda_kit::metrics;
use lambda_kit::owner;
use lambda_kit::problem::{FieldError, Problem};
use lambda_kit::telemetry::ErrorChain;
use tracing::{error, warn};
use uuid::Uuid;

use crate::config::Settings;
use crate::order::{self, Order, PricingError};
use crate::ports::{OrderStore, OwnedOrder, StoreError};
use lambda_kit::idempotency::{self, Done, InvalidKey, NewClaim, OperationError, Refusal, StoredResponse};

/// Largest accepted request body: 64 KiB. A maximal order (100 lines of 64-character SKUs) is
/// about 12 KiB; the limit keeps the stored item and its replayable answer far below DynamoDB's
/// 400 KB item size, and the API Gateway limit (10 MB) far above it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the API does; [`ROUTES`] says where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateOrder,
    GetOrder,
}

/// The API's routes, as template.yaml routes them to this function (a test checks that both hold
/// the same set). Every other path and method gets the table's 404 or 405 (see [`Routes`]).
pub const ROUTES: [(Method, &str, Operation); 2] = [
    (Method::POST, "/orders", Operation::CreateOrder),
    (Method::GET, "/orders/{id}", Operation::GetOrder),
];

/// Everything that can go wrong in a request, mapped to a status in [`ApiError::into_problem`].
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("invalid fields")]
    InvalidFields(Vec<FieldError>),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no such order")]
    OrderNotFound,
    #[error("the caller's token names another customer, or none")]
    NotYourCustomer,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OperationError for ApiError {
    /// Another request holds the key now; it is not ours to release.
    fn claim_lost(&self) -> bool {
        matches!(self, ApiError::Store(StoreError::ClaimLost))
    }
}

impl ApiError {
    fn into_problem(self, request_id: &str) -> Problem {
        match self {
            ApiError::Body(error) => error.into(),
            ApiError::InvalidFields(errors) => Problem::invalid_fields("Invalid order", errors),
            ApiError::Pricing(error) => {
                let pointer = match error {
                    PricingError::LineTooLarge { line } => format!("/items/{line}"),
                    PricingError::TotalTooLarge => "/items".to_owned(),
                };
                Problem::typed(StatusCode::UNPROCESSABLE_ENTITY, "amount-too-large", "Amount too large")
                    .with_detail(format!(
                        "An amount exceeds {}, the largest this API accepts.",
                        order::MAX_AMOUNT
                    ))
                    .with_errors(vec![FieldError::new(pointer, error.to_string())])
            }
            ApiError::InvalidKey(error) => error.into(),
            ApiError::Refused(refusal) => refusal.into(),
            ApiError::Store(StoreError::ClaimLost) => idempotency::key_in_progress_problem(),
            ApiError::OrderNotFound => Problem::new(StatusCode::NOT_FOUND).with_detail("No order has this id."),
            ApiError::NotYourCustomer => {
                Problem::typed(StatusCode::FORBIDDEN, "not-your-customer", "Not your customer")
                    .with_detail("Orders are created for the customer your token names.")
                    .with_errors(vec![FieldError::new(
                        "/customer_id",
                        "must be the customer your token names",
                    )])
            }
            ApiError::Store(StoreError::Unavailable(source)) => {
                warn!(request_id, error = %ErrorChain(source.as_ref()), "store unavailable");
                Problem::unavailable(request_id, 1)
            }
            ApiError::Store(error) => {
                error!(request_id, error = %ErrorChain(&error), "store failed");
                Problem::internal(request_id)
            }
        }
    }
}

/// The orders API over any [`OrderStore`].
pub struct OrdersApi<S> {
    store: S,
    settings: Settings,
    routes: Routes<Operation>,
}

impl<S: OrderStore> OrdersApi<S> {
    pub fn new(store: S, settings: Settings) -> Result<Self, RouteError> {
        Ok(Self {
            store,
            settings,
            routes: Routes::new(ROUTES)?,
        })
    }

    /// The store it was given.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one request. Never fails: every error is an answer, and every request is logged in
    /// one line (request id, method, route, status, latency), without its body.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.routes
            .serve(
                &request,
                async |route| match route.to {
                    Operation::CreateOrder => self.create_order(&request, route.key()).await,
                    Operation::GetOrder => self.get_order(&request, route.param("id").unwrap_or_default()).await,
                },
                ApiError::into_problem,
            )
            .await
    }

    /// Another caller's order answers as if it did not exist (see [`owner::may_read`]).
    async fn get_order(&self, request: &Request, id: &str) -> Result<Response<Body>, ApiError> {
        // Ids are UUIDs: anything else cannot exist, and is not worth a read.
        if Uuid::try_parse(id).is_err() {
            return Err(ApiError::OrderNotFound);
        }
        let stored = self.store.get_order(id).await?.ok_or(ApiError::OrderNotFound)?;
        if !owner::may_read(stored.owner.as_deref(), owner::of(request).as_deref()) {
            return Err(ApiError::OrderNotFound);
        }
        Ok(json_response(StatusCode::OK, &stored.order))
    }

    /// `operation` is the route (`POST /orders`): what an idempotency key is scoped to.
    async fn create_order(&self, request: &Request, operation: &str) -> Result<Response<Body>, ApiError> {
        let key = idempotency::key_of(request, operation)?;
        let body = json_body(request, MAX_BODY_BYTES)?;
        let order_request = order::validate(&body).map_err(ApiError::InvalidFields)?;
        // With AuthMode JWT the token names the customer: a caller orders for that one only.
        if let Some(claim) = &self.settings.customer_claim
            && kit_http::jwt_claim(request, claim) != Some(order_request.customer_id.as_str())
        {
            return Err(ApiError::NotYourCustomer);
        }
        let fingerprint = idempotency::fingerprint(&order_request);
        let now = Utc::now();
        // UUIDv7: unique without coordination, and sorted by creation time.
        let order = order::priced(Uuid::now_v7().to_string(), order_request, self.settings.tax_rate, now)?;
        let answer = created(&order);
        let order = OwnedOrder {
            order,
            owner: owner::of(request),
        };

        let claim = key.map(|key| {
            NewClaim::new(
                key,
                fingerprint,
                now.timestamp_millis(),
                kit_http::deadline_millis(request),
                self.settings.idempotency_ttl,
            )
        });
        // The order and (with a key) the completed claim are one transaction.
        let answer = idempotency::once(&self.store, claim, async |claim| {
            self.store
                .create_order(&order, claim.map(|claim| (claim, &answer)))
                .await?;
            Ok::<_, ApiError>(Done::Completed(answer))
        })
        .await?;
        metrics::count("Orders", answer.outcome("created"), 1);
        Ok(answer.into_response())
    }
}

/// The 201 answer for a new order, in the form it is kept for replays.
fn created(order: &Order) -> StoredResponse {
    StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        location: Some(format!("/orders/{}", order.id)),
        // An order is strings and integers: serializing it cannot fail.
        body: serde_json::to_string(order).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_valid() {
        let routes = Routes::new(ROUTES).expect("the route table");
        assert_eq!(routes.keys().collect::<Vec<_>>(), ["POST /orders", "GET /orders/{id}"]);
    }

    #[test]
    #[ignore = "needs the template's routes from the local stack: `make test` runs it"]
    fn template_yaml_routes_this_table_to_orders_api() {
        test_support::assert_template_routes(
            env!("CARGO_PKG_NAME"),
            Routes::new(ROUTES).expect("the route table").keys(),
        );
    }
}
