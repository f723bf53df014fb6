//! The order domain: what a valid order request is, and how it is priced. Plain Rust: no HTTP, no AWS.

use chrono::{DateTime, Utc};
use contracts::FieldError;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::currency::is_iso_4217;

/// The largest amount the API accepts or produces, in minor units: 2^53 - 1, the largest integer
/// every JSON client (JavaScript included) reads exactly.
pub const MAX_AMOUNT: u64 = (1 << 53) - 1;
/// Lines per order.
pub const MAX_ITEMS: usize = 100;
/// Units per line.
pub const MAX_QUANTITY: u64 = 10_000;
/// Length of an identifier (customer id, SKU).
pub const MAX_ID_CHARS: usize = 64;

/// A validated request to create an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRequest {
    pub customer_id: String,
    pub currency: String,
    pub items: Vec<OrderLine>,
}

/// One line of a request: `quantity` units of `sku` at `unit_price` minor units each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u64,
    pub unit_price: u64,
}

/// Checks a request body and collects every invalid field, each named by its JSON Pointer, so a
/// client can fix them all at once. Unknown fields are refused too: a misspelt optional field
/// would otherwise be dropped without a word.
pub fn validate(body: &Value) -> Result<OrderRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "must be a JSON object")]);
    };
    reject_unknown_fields(object, "", &["customer_id", "currency", "items"], &mut errors);

    let customer_id = identifier(object.get("customer_id"), "/customer_id", &mut errors);
    let currency = match object.get("currency") {
        None => missing("/currency", &mut errors),
        Some(Value::String(code)) if is_iso_4217(code) => Some(code.clone()),
        Some(_) => invalid(
            "/currency",
            "must be an ISO 4217 currency code such as \"EUR\"",
            &mut errors,
        ),
    };
    let items = match object.get("items") {
        None => missing("/items", &mut errors),
        Some(Value::Array(items)) if items.is_empty() => invalid("/items", "must hold at least one item", &mut errors),
        Some(Value::Array(items)) if items.len() > MAX_ITEMS => {
            invalid("/items", &format!("must hold at most {MAX_ITEMS} items"), &mut errors)
        }
        Some(Value::Array(items)) => {
            let lines: Vec<_> = items
                .iter()
                .enumerate()
                .map(|(index, item)| line(item, index, &mut errors))
                .collect();
            lines.into_iter().collect::<Option<Vec<_>>>()
        }
        Some(_) => invalid("/items", "must be an array of items", &mut errors),
    };

    match (customer_id, currency, items) {
        (Some(customer_id), Some(currency), Some(items)) if errors.is_empty() => Ok(OrderRequest {
            customer_id,
            currency,
            items,
        }),
        _ => Err(errors),
    }
}

fn line(item: &Value, index: usize, errors: &mut Vec<FieldError>) -> Option<OrderLine> {
    let at = format!("/items/{index}");
    let Some(object) = item.as_object() else {
        return invalid(&at, "must be an object with sku, quantity and unit_price", errors);
    };
    reject_unknown_fields(object, &at, &["sku", "quantity", "unit_price"], errors);
    let sku = identifier(object.get("sku"), &format!("{at}/sku"), errors);
    let quantity = whole_number(
        object.get("quantity"),
        &format!("{at}/quantity"),
        1,
        MAX_QUANTITY,
        errors,
    );
    let unit_price = whole_number(
        object.get("unit_price"),
        &format!("{at}/unit_price"),
        0,
        MAX_AMOUNT,
        errors,
    );
    Some(OrderLine {
        sku: sku?,
        quantity: quantity?,
        unit_price: unit_price?,
    })
}

fn identifier(value: Option<&Value>, at: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let is_valid = |text: &str| {
        (1..=MAX_ID_CHARS).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match value {
        None => missing(at, errors),
        Some(Value::String(text)) if is_valid(text) => Some(text.clone()),
        Some(_) => invalid(
            at,
            &format!("must be a string of 1 to {MAX_ID_CHARS} letters, digits, '-', '_' or '.'"),
            errors,
        ),
    }
}

fn whole_number(value: Option<&Value>, at: &str, min: u64, max: u64, errors: &mut Vec<FieldError>) -> Option<u64> {
    match value {
        None => missing(at, errors),
        Some(Value::Number(number)) => match number.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => invalid(at, &format!("must be a whole number from {min} to {max}"), errors),
        },
        Some(_) => invalid(at, &format!("must be a whole number from {min} to {max}"), errors),
    }
}

fn reject_unknown_fields(object: &Map<String, Value>, at: &str, known: &[&str], errors: &mut Vec<FieldError>) {
    for name in object.keys().filter(|name| !known.contains(&name.as_str())) {
        errors.push(FieldError::new(
            format!("{at}/{}", escape_pointer(name)),
            "is not a known field",
        ));
    }
}

/// RFC 6901 escaping of one reference token.
fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn missing<T>(at: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    errors.push(FieldError::new(at, "is required"));
    None
}

fn invalid<T>(at: &str, detail: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    errors.push(FieldError::new(at, detail));
    None
}

/// The tax rule: one flat rate, in basis points (2000 = 20 %), applied to the subtotal and rounded
/// half up to the minor unit. Real tax depends on jurisdiction and product; this is where it plugs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRate {
    basis_points: u32,
}

impl TaxRate {
    pub const MAX_BASIS_POINTS: u32 = 10_000;
    /// The default rate: 20 %.
    pub const DEFAULT: Self = Self { basis_points: 2_000 };

    pub fn from_basis_points(basis_points: u32) -> Result<Self, String> {
        if basis_points > Self::MAX_BASIS_POINTS {
            return Err(format!(
                "a tax rate must be at most {} basis points",
                Self::MAX_BASIS_POINTS
            ));
        }
        Ok(Self { basis_points })
    }

    pub fn basis_points(self) -> u32 {
        self.basis_points
    }

    /// The tax on `amount`, rounded half up.
    pub fn tax_on(self, amount: u64) -> u128 {
        (u128::from(amount) * u128::from(self.basis_points) + 5_000) / 10_000
    }
}

impl std::str::FromStr for TaxRate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let basis_points = text.parse::<u32>().map_err(|err| err.to_string())?;
        Self::from_basis_points(basis_points)
    }
}

/// The amounts of a priced order, in minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: u64,
    pub tax: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the amount of line {line} exceeds {MAX_AMOUNT}")]
    LineTooLarge { line: usize },
    #[error("the order total exceeds {MAX_AMOUNT}")]
    TotalTooLarge,
}

/// Prices a request: every line total, the subtotal, the tax and the total, refusing any amount
/// above [`MAX_AMOUNT`] rather than wrapping or losing precision.
pub fn price(request: &OrderRequest, tax_rate: TaxRate) -> Result<(Vec<u64>, Totals), PricingError> {
    let mut line_totals = Vec::with_capacity(request.items.len());
    let mut subtotal: u64 = 0;
    for (line, item) in request.items.iter().enumerate() {
        let line_total = item
            .quantity
            .checked_mul(item.unit_price)
            .filter(|amount| *amount <= MAX_AMOUNT)
            .ok_or(PricingError::LineTooLarge { line })?;
        subtotal = subtotal
            .checked_add(line_total)
            .filter(|amount| *amount <= MAX_AMOUNT)
            .ok_or(PricingError::TotalTooLarge)?;
        line_totals.push(line_total);
    }
    // subtotal <= 2^53 and the rate <= 100 %, so the tax fits in u64.
    let tax = u64::try_from(tax_rate.tax_on(subtotal)).map_err(|_| PricingError::TotalTooLarge)?;
    let total = subtotal
        .checked_add(tax)
        .filter(|amount| *amount <= MAX_AMOUNT)
        .ok_or(PricingError::TotalTooLarge)?;
    Ok((line_totals, Totals { subtotal, tax, total }))
}

/// A stored order, as the API returns it: the order's contract itself (`contracts::order`), so
/// what the API answers, what `order.created` carries and what the table keeps are one shape.
pub use contracts::order::{Order, OrderLine as PricedLine};

/// Builds the order from a validated request and its pricing.
pub fn priced(
    id: String,
    request: OrderRequest,
    tax_rate: TaxRate,
    created_at: DateTime<Utc>,
) -> Result<Order, PricingError> {
    let (line_totals, totals) = price(&request, tax_rate)?;
    let items = request
        .items
        .into_iter()
        .zip(line_totals)
        .map(|(line, line_total)| PricedLine {
            sku: line.sku,
            quantity: line.quantity,
            unit_price: line.unit_price,
            line_total,
        })
        .collect();
    Ok(Order {
        id,
        customer_id: request.customer_id,
        currency: request.currency,
        items,
        subtotal: totals.subtotal,
        tax_rate_basis_points: tax_rate.basis_points(),
        tax: totals.tax,
        total: totals.total,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pointers(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|error| error.pointer.as_str()).collect()
    }

    fn request(items: &[(u64, u64)]) -> OrderRequest {
        OrderRequest {
            customer_id: "c-42".into(),
            currency: "EUR".into(),
            items: items
                .iter()
                .map(|&(quantity, unit_price)| OrderLine {
                    sku: "SKU-1".into(),
                    quantity,
                    unit_price,
                })
                .collect(),
        }
    }

    const TWENTY_PERCENT: TaxRate = TaxRate::DEFAULT;

    #[test]
    fn a_complete_request_is_valid() {
        let body = json!({"customer_id": "c-42", "currency": "EUR", "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250}]});

        let request = validate(&body).expect("valid");

        assert_eq!(request.customer_id, "c-42");
        assert_eq!(
            request.items,
            vec![OrderLine {
                sku: "BOOK-1".into(),
                quantity: 2,
                unit_price: 1250
            }]
        );
    }

    #[test]
    fn every_invalid_field_is_named_at_once() {
        let body = json!({
            "currency": "euro",
            "items": [
                {"sku": "", "quantity": 0, "unit_price": -1},
                {"sku": "OK", "quantity": 2.5, "unit_price": "12"},
                "not an item"
            ],
            "coupon": "FREE"
        });

        let errors = validate(&body).unwrap_err();

        assert_eq!(
            pointers(&errors),
            [
                "/coupon",
                "/customer_id",
                "/currency",
                "/items/0/sku",
                "/items/0/quantity",
                "/items/0/unit_price",
                "/items/1/quantity",
                "/items/1/unit_price",
                "/items/2"
            ]
        );
        assert_eq!(errors[1].detail, "is required");
    }

    #[test]
    fn an_order_needs_between_one_and_the_maximum_number_of_items() {
        let empty = json!({"customer_id": "c", "currency": "EUR", "items": []});
        let item = json!({"sku": "A", "quantity": 1, "unit_price": 1});
        let too_many = json!({"customer_id": "c", "currency": "EUR", "items": vec![item; MAX_ITEMS + 1]});

        assert_eq!(pointers(&validate(&empty).unwrap_err()), ["/items"]);
        assert_eq!(pointers(&validate(&too_many).unwrap_err()), ["/items"]);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_a_whole() {
        assert_eq!(pointers(&validate(&json!([1, 2])).unwrap_err()), [""]);
    }

    #[test]
    fn unknown_field_names_are_escaped_as_json_pointers() {
        let body = json!({"customer_id": "c", "currency": "EUR", "items": [{"sku": "A", "quantity": 1, "unit_price": 1}], "a/b~c": 1});
        assert_eq!(pointers(&validate(&body).unwrap_err()), ["/a~1b~0c"]);
    }

    #[test]
    fn pricing_sums_the_lines_and_adds_tax_rounded_half_up() {
        // 2 x 1250 + 1 x 999 = 3499; 20 % of 3499 = 699.8 -> 700.
        let (lines, totals) = price(&request(&[(2, 1250), (1, 999)]), TWENTY_PERCENT).expect("priced");

        assert_eq!(lines, [2500, 999]);
        assert_eq!(
            totals,
            Totals {
                subtotal: 3499,
                tax: 700,
                total: 4199
            }
        );
    }

    #[test]
    fn tax_rounds_half_up_and_down_at_the_minor_unit() {
        let rate = TaxRate::from_basis_points(500).expect("5 %");
        assert_eq!(rate.tax_on(10), 1); // 0.5 -> 1
        assert_eq!(rate.tax_on(9), 0); // 0.45 -> 0
        assert_eq!(TaxRate::from_basis_points(0).expect("0 %").tax_on(MAX_AMOUNT), 0);
    }

    #[test]
    fn amounts_beyond_the_safe_integer_range_are_refused_not_wrapped() {
        assert_eq!(
            price(&request(&[(10_000, MAX_AMOUNT)]), TWENTY_PERCENT),
            Err(PricingError::LineTooLarge { line: 0 })
        );
        assert_eq!(
            price(&request(&[(1, 1), (1, MAX_AMOUNT)]), TWENTY_PERCENT),
            Err(PricingError::TotalTooLarge)
        );
        // The subtotal fits, the tax pushes the total over.
        assert_eq!(
            price(&request(&[(1, MAX_AMOUNT - 10)]), TWENTY_PERCENT),
            Err(PricingError::TotalTooLarge)
        );
    }

    #[test]
    fn a_tax_rate_above_one_hundred_percent_is_refused() {
        assert!("10001".parse::<TaxRate>().is_err());
        assert!("abc".parse::<TaxRate>().is_err());
        assert_eq!("2000".parse::<TaxRate>(), Ok(TWENTY_PERCENT));
    }

    #[test]
    fn an_order_carries_its_priced_lines_and_timestamp_in_rfc3339() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T13:45:00.5Z")
            .expect("time")
            .with_timezone(&Utc);

        let order = priced("o-1".into(), request(&[(3, 100)]), TWENTY_PERCENT, at).expect("priced");
        let json = serde_json::to_value(&order).expect("serializable");

        assert_eq!(json["items"][0]["line_total"], 300);
        assert_eq!(json["total"], 360);
        assert_eq!(json["created_at"], "2026-11-26T13:45:00.500Z");
    }
}
