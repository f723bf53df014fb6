//! `invoice`: `{"order_id": "<uuid>"}`, the invoice of an order. It exists where the synchronous
//! and asynchronous patterns are deployed together: its run reads the orders table orders-api
//! writes, by the order's contract (`contracts::order::Order`), through [`OrderReader`] (job-worker's
//! `adapters::OrdersTable`), and knows nothing else of orders-api. It invoices only an order the
//! job's caller may read (its own, behind an authorizer): another caller's order fails the job as
//! an order that does not exist.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use contracts::order::Order;
use lambda_kit::BoxError;
use serde_json::{Value, json};

use super::{Input, JobError, Kind, Run};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub order_id: String,
}

impl Kind for Invoice {
    const NAME: &'static str = "invoice";

    fn read(input: &mut Input<'_>) -> Option<Self> {
        let order_id = input.required("order_id", |value| match value {
            Value::String(id) if uuid::Uuid::try_parse(id).is_ok() => Ok(id.clone()),
            _ => Err("must be an order id (a UUID)".to_owned()),
        });
        Some(Self { order_id: order_id? })
    }

    async fn run(self, run: &Run<'_>) -> Result<Value, JobError> {
        let stored = run
            .services
            .orders
            .order(&self.order_id)
            .await
            .map_err(|error| JobError::Transient {
                reason: error.to_string(),
                source: error.into(),
            })?
            // Another caller's order reads as one that does not exist: the reason says no more.
            .filter(|stored| run.may_read(stored.owner.as_deref()))
            .ok_or_else(|| JobError::Permanent(format!("order {} does not exist", self.order_id)))?;
        Ok(invoice(&stored.order))
    }
}

/// Reading an order failed; it may work later.
#[derive(Debug, thiserror::Error)]
#[error("reading the order failed")]
pub struct OrderReadError(#[source] pub BoxError);

/// An order as the orders table keeps it: the order, and who created it (a digest,
/// `lambda_kit::owner`; `None` for one made on an open API).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOrder {
    pub order: Order,
    pub owner: Option<String>,
}

/// One read of an order.
pub type OrderRead<'a> = Pin<Box<dyn Future<Output = Result<Option<StoredOrder>, OrderReadError>> + Send + 'a>>;

/// Where invoice jobs read orders.
pub trait OrderReader: Send + Sync {
    fn order<'a>(&'a self, id: &'a str) -> OrderRead<'a>;
}

/// Orders in memory, by id: for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryOrders(pub HashMap<String, StoredOrder>);

impl OrderReader for MemoryOrders {
    fn order<'a>(&'a self, id: &'a str) -> OrderRead<'a> {
        Box::pin(std::future::ready(Ok(self.0.get(id).cloned())))
    }
}

/// The invoice of an order: numbered after the order, amounts in minor units and as text.
pub fn invoice(order: &Order) -> Value {
    // The first 12 characters of the id without its dashes: any id, however short or non-ASCII.
    let number: String = order.id.chars().filter(|c| *c != '-').take(12).collect();
    let number = format!("INV-{}", number.to_uppercase());
    let amount = |minor: u64| format_amount(minor, &order.currency);
    let mut text = format!(
        "Invoice {number}\nCustomer {}\nDate {}\n\n",
        order.customer_id,
        order.created_at.format("%Y-%m-%d")
    );
    for line in &order.items {
        text.push_str(&format!(
            "{:<24} {:>6} x {:>12} = {:>14}\n",
            line.sku,
            line.quantity,
            amount(line.unit_price),
            amount(line.line_total)
        ));
    }
    text.push_str(&format!("\n{:<44} {:>14}\n", "Subtotal", amount(order.subtotal)));
    text.push_str(&format!(
        "{:<44} {:>14}\n",
        format!("Tax ({:.2} %)", f64::from(order.tax_rate_basis_points) / 100.0),
        amount(order.tax)
    ));
    text.push_str(&format!("{:<44} {:>14}\n", "Total", amount(order.total)));
    json!({
        "invoice_number": number,
        "order_id": order.id,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "lines": order.items.iter().map(|line| json!({
            "sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price, "amount": line.line_total,
        })).collect::<Vec<_>>(),
        "subtotal": order.subtotal,
        "tax": order.tax,
        "total": order.total,
        "text": text,
    })
}

/// `1234` EUR → `"12.34 EUR"`, `1234` JPY → `"1234 JPY"`: ISO 4217 minor units.
pub fn format_amount(minor: u64, currency: &str) -> String {
    let decimals = match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "VND" | "VUV"
        | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    };
    if decimals == 0 {
        return format!("{minor} {currency}");
    }
    let scale = 10u64.pow(decimals);
    format!(
        "{}.{:0width$} {currency}",
        minor / scale,
        minor % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use contracts::order::OrderLine;

    use super::*;
    use crate::kinds::Services;

    fn order() -> Order {
        Order {
            id: "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01".into(),
            customer_id: "c-42".into(),
            currency: "EUR".into(),
            items: vec![OrderLine {
                sku: "BOOK-1".into(),
                quantity: 2,
                unit_price: 1250,
                line_total: 2500,
            }],
            subtotal: 2500,
            tax_rate_basis_points: 2000,
            tax: 500,
            total: 3000,
            created_at: DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn the_invoice_number_comes_from_any_order_id_however_short_or_non_ascii() {
        let mut order = order();
        assert_eq!(invoice(&order)["invoice_number"], "INV-0195F3A47C1E");
        for (id, number) in [("ab-1", "INV-AB1"), ("", "INV-"), ("ördér-ß-7", "INV-ÖRDÉRSS7")] {
            order.id = id.into();
            assert_eq!(invoice(&order)["invoice_number"], number, "{id:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_order_read_is_transient_and_keeps_its_cause_out_of_the_reason() {
        struct Throttled;
        impl OrderReader for Throttled {
            fn order<'a>(&'a self, _: &'a str) -> OrderRead<'a> {
                Box::pin(async { Err(OrderReadError("ProvisionedThroughputExceededException".into())) })
            }
        }
        let services = Services {
            orders: Box::new(Throttled),
        };
        let job = Invoice {
            order_id: "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01".into(),
        };
        let run = Run {
            services: &services,
            owner: None,
        };
        let error = job.run(&run).await.expect_err("a read failure");
        assert!(matches!(&error, JobError::Transient { reason, .. } if reason == "reading the order failed"));
        let chain = lambda_kit::telemetry::ErrorChain(&error).to_string();
        assert!(chain.ends_with("ProvisionedThroughputExceededException"), "{chain}");
    }

    #[tokio::test]
    async fn an_invoice_is_of_the_callers_own_order_and_any_other_fails_for_good() {
        let order = order();
        let alice = lambda_kit::owner::digest("jwt:https://idp alice");
        let bob = lambda_kit::owner::digest("jwt:https://idp bob");
        let services = Services {
            orders: Box::new(MemoryOrders(HashMap::from([(
                order.id.clone(),
                StoredOrder {
                    order: order.clone(),
                    owner: Some(alice.clone()),
                },
            )]))),
        };
        async fn invoice_for(services: &Services, order_id: &str, owner: Option<&str>) -> Result<Value, JobError> {
            let job = Invoice {
                order_id: order_id.into(),
            };
            job.run(&Run { services, owner }).await
        }

        let done = invoice_for(&services, &order.id, Some(&alice))
            .await
            .expect("alice's invoice");
        assert_eq!(done["invoice_number"], "INV-0195F3A47C1E");
        assert!(
            invoice_for(&services, &order.id, None).await.is_ok(),
            "a job made on an open API reads any order"
        );
        let missing = "0195f3a4-0000-7000-8000-000000000000";
        for (order_id, owner) in [(missing, Some(&alice)), (order.id.as_str(), Some(&bob))] {
            let error = invoice_for(&services, order_id, owner.map(String::as_str))
                .await
                .expect_err("no order of this caller");
            assert!(
                matches!(&error, JobError::Permanent(reason) if reason == &format!("order {order_id} does not exist")),
                "{error}"
            );
        }
    }

    #[test]
    fn an_order_id_is_a_uuid() {
        let read = |input: Value| super::super::read::<Invoice>(&input).map_err(|errors| errors[0].detail.clone());
        assert!(read(json!({"order_id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01"})).is_ok());
        assert_eq!(
            read(json!({"order_id": "o-1"})).err().as_deref(),
            Some("must be an order id (a UUID)")
        );
        assert_eq!(read(json!({})).err().as_deref(), Some("is required"));
    }

    #[test]
    fn amounts_follow_the_currency_minor_unit() {
        assert_eq!(format_amount(1234, "EUR"), "12.34 EUR");
        assert_eq!(format_amount(5, "USD"), "0.05 USD");
        assert_eq!(format_amount(1234, "JPY"), "1234 JPY");
        assert_eq!(format_amount(1234, "KWD"), "1.234 KWD");
    }

    #[test]
    fn an_invoice_carries_the_order_amounts_and_a_readable_text() {
        let invoice = invoice(&order());
        assert_eq!(invoice["invoice_number"], "INV-0195F3A47C1E");
        assert_eq!(
            (
                invoice["subtotal"].as_u64(),
                invoice["tax"].as_u64(),
                invoice["total"].as_u64()
            ),
            (Some(2500), Some(500), Some(3000))
        );
        let text = invoice["text"].as_str().expect("text");
        assert!(
            text.contains("Total") && text.contains("30.00 EUR") && text.contains("Tax (20.00 %)"),
            "{text}"
        );
    }
}
