//! The `invoice` job: renders the invoice of an order. It exists where the synchronous and the
//! asynchronous patterns are deployed together: it reads the orders table orders-api writes, by
//! the order's contract (`contracts::order::Order`), and knows nothing else of orders-api. A
//! project without orders leaves this file and its registration in `main.rs` out.

use std::future::Future;

use contracts::order::Order;
use jobs::model::JobType;
use lambda_kit::BoxError;
use serde_json::{Value, json};

use super::{BoxedRun, JobError, Runner};

/// Reading an order failed; it may work later.
#[derive(Debug, thiserror::Error)]
#[error("reading the order failed")]
pub struct OrderReadError(#[source] pub BoxError);

/// Where the invoice job reads orders.
pub trait OrderReader: Send + Sync {
    fn order(&self, id: &str) -> impl Future<Output = Result<Option<Order>, OrderReadError>> + Send;
}

/// Runs `invoice` jobs (`{"order_id": "<uuid>"}`) over an order source.
pub struct Invoice<O> {
    orders: O,
}

impl<O: OrderReader> Invoice<O> {
    pub fn new(orders: O) -> Self {
        Self { orders }
    }

    async fn render(&self, input: &Value) -> Result<Value, JobError> {
        let order_id = input
            .get("order_id")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Permanent("the job input has no order_id".into()))?;
        let order = self
            .orders
            .order(order_id)
            .await
            .map_err(|error| JobError::Transient {
                reason: error.to_string(),
                source: error.into(),
            })?
            .ok_or_else(|| JobError::Permanent(format!("order {order_id} does not exist")))?;
        Ok(invoice(&order))
    }
}

impl<O: OrderReader> Runner for Invoice<O> {
    fn job_type(&self) -> JobType {
        jobs::kinds::invoice::JOB_TYPE
    }

    fn run<'a>(&'a self, input: &'a Value) -> BoxedRun<'a> {
        Box::pin(self.render(input))
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
            async fn order(&self, _: &str) -> Result<Option<Order>, OrderReadError> {
                Err(OrderReadError("ProvisionedThroughputExceededException".into()))
            }
        }
        let input = json!({"order_id": "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01"});
        let error = Invoice::new(Throttled).run(&input).await.expect_err("a read failure");
        assert!(matches!(&error, JobError::Transient { reason, .. } if reason == "reading the order failed"));
        let chain = lambda_kit::telemetry::ErrorChain(&error).to_string();
        assert!(chain.ends_with("ProvisionedThroughputExceededException"), "{chain}");
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
