//! The DynamoDB side of the ports.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use contracts::order::Order;
use jobs::store::{Finish, JobStoreError, Start};
use jobs::table::JobsTable;
use lambda_kit::dynamodb::s;
use lambda_kit::events::Envelope;
use lambda_kit::outbox::OutboxTable;

use crate::ports::JobLedger;
use crate::work::invoice::{OrderReadError, OrderReader};

/// The jobs table, with the outbox that the events of finished jobs leave through (where the
/// fan-out pattern is deployed; `None` stores the outcome alone).
#[derive(Debug, Clone)]
pub struct JobsLedger {
    jobs: JobsTable,
    outbox: Option<OutboxTable>,
}

impl JobsLedger {
    pub fn new(jobs: JobsTable, outbox: Option<OutboxTable>) -> Self {
        Self { jobs, outbox }
    }
}

impl JobLedger for JobsLedger {
    async fn start(&self, id: &str, now: DateTime<Utc>, lease_until_millis: i64) -> Result<Start, JobStoreError> {
        self.jobs.start(id, now, lease_until_millis).await
    }

    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<&Envelope>,
    ) -> Result<bool, JobStoreError> {
        self.jobs
            .finish(id, attempt, finish, now, self.outbox.as_ref().zip(event))
            .await
    }
}

/// Reads orders from the orders table that orders-api writes: each item is a
/// `contracts::order::Order` through serde, which is all this function knows of orders-api.
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
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(|error| OrderReadError(error.into()))
    }
}
