//! `invoice`: `{"order_id": "<uuid>"}`, the invoice of an order. It exists where the synchronous
//! and asynchronous patterns are deployed together; all it knows of orders is that an order id
//! is a UUID (the worker reads the order by its contract).

use contracts::FieldError;
use serde_json::{Map, Value};

use super::{JobKind, unknown_fields};
use crate::model::JobType;

pub const JOB_TYPE: JobType = JobType::named("invoice");

pub struct Invoice;

impl JobKind for Invoice {
    fn job_type(&self) -> JobType {
        JOB_TYPE
    }

    fn check_input(&self, input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
        unknown_fields(input, "/input", &["order_id"], errors);
        match input.get("order_id") {
            None => errors.push(FieldError::new("/input/order_id", "is required")),
            Some(Value::String(id)) if uuid::Uuid::try_parse(id).is_ok() => {}
            Some(_) => errors.push(FieldError::new("/input/order_id", "must be an order id (a UUID)")),
        }
    }
}
