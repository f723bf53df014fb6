//! An order, and `order.created` v1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Contract;

/// An order as its API answers it, publishes it in `order.created` and keeps it in its table
/// (one item per order, these attributes, through serde): amounts in minor units of `currency`
/// (ISO 4217).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub currency: String,
    pub items: Vec<OrderLine>,
    pub subtotal: u64,
    pub tax_rate_basis_points: u32,
    pub tax: u64,
    pub total: u64,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date-time")))]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u64,
    pub unit_price: u64,
    pub line_total: u64,
}

/// `order.created` v1: an order was accepted; its data is the whole order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct OrderCreated(pub Order);

impl Contract for OrderCreated {
    const TYPE: &'static str = "order.created";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Envelope, Event};

    pub(crate) fn order_json() -> serde_json::Value {
        json!({
            "id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01", "customer_id": "c-42", "currency": "EUR",
            "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250, "line_total": 2500}],
            "subtotal": 2500, "tax_rate_basis_points": 2000, "tax": 500, "total": 3000,
            "created_at": "2026-11-26T10:00:00.000Z"
        })
    }

    #[test]
    fn an_order_created_event_round_trips_through_its_envelope() {
        let order: Order = serde_json::from_value(order_json()).unwrap();
        let envelope = OrderCreated(order.clone())
            .envelope("my-api", order.created_at)
            .unwrap();
        assert_eq!((envelope.event_type.as_str(), envelope.version), ("order.created", 1));
        assert_eq!(envelope.data, order_json(), "the data is the order, field for field");
        assert_eq!(
            Event::read(&envelope).unwrap(),
            Some(Event::OrderCreated(OrderCreated(order)))
        );
    }

    #[test]
    fn a_known_type_with_the_wrong_shape_is_a_violation_not_zeros() {
        for data in [
            json!({"id": "o-1"}),
            json!({"id": "o-1", "customer_id": 42}),
            json!([]),
            {
                let mut order = order_json();
                order["total"] = json!(-1);
                order
            },
            {
                let mut order = order_json();
                order["created_at"] = json!("yesterday");
                order
            },
        ] {
            let envelope = Envelope::new("order.created", 1, "x", data.clone(), Utc::now());
            let violation = Event::read(&envelope).expect_err(&data.to_string());
            assert_eq!((violation.event_type.as_str(), violation.version), ("order.created", 1));
            assert_eq!(violation.event_id, envelope.id);
        }
    }

    #[test]
    fn an_unknown_type_or_version_is_skipped_and_extra_fields_are_ignored() {
        let later = Envelope::new("order.created", 2, "x", json!({"id": "x"}), Utc::now());
        assert_eq!(Event::read(&later).unwrap(), None);
        let other = Envelope::new("order.shipped", 1, "x", json!({}), Utc::now());
        assert_eq!(Event::read(&other).unwrap(), None);
        let mut richer = order_json();
        richer["loyalty_points"] = json!(12);
        let envelope = Envelope::new("order.created", 1, "x", richer, Utc::now());
        assert!(matches!(Event::read(&envelope), Ok(Some(Event::OrderCreated(_)))));
    }
}
