//! The DynamoDB side of the ports.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use jobs::table::{Finish, JobStoreError, JobsTable, Start};
use lambda_kit::dynamodb::s;
use orders_api::order::Order;
use orders_api::store::order_from_item;

use crate::ports::{JobLedger, OrderReadError, OrderReader};

impl JobLedger for JobsTable {
    async fn start(&self, id: &str, now: DateTime<Utc>, lease_until_millis: i64) -> Result<Start, JobStoreError> {
        JobsTable::start(self, id, now, lease_until_millis).await
    }

    async fn finish(&self, id: &str, attempt: u32, finish: &Finish, now: DateTime<Utc>) -> Result<bool, JobStoreError> {
        JobsTable::finish(self, id, attempt, finish, now).await
    }
}

/// Reads orders from the orders table that orders-api writes.
#[derive(Debug, Clone)]
pub struct OrdersTable {
    client: Client,
    table: String,
}

impl OrdersTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl OrderReader for OrdersTable {
    async fn order(&self, id: &str) -> Result<Option<Order>, OrderReadError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .send()
            .await
            .map_err(|error| OrderReadError(error.into()))?;
        output
            .item
            .as_ref()
            .map(order_from_item)
            .transpose()
            .map_err(|error| OrderReadError(error.into()))
    }
}
