//! The DynamoDB side of the ports.

use aws_sdk_dynamodb::Client; // starter: with sync
use chrono::{DateTime, Utc};
use contracts::order::Order; // starter: with sync
use jobs::kinds::invoice::{OrderRead, OrderReadError, OrderReader, StoredOrder}; // starter: with sync
use jobs::store::{Finish, JobStoreError, Start};
use jobs::table::JobsTable;
use lambda_kit::dynamodb::s; // starter: with sync
use lambda_kit::events::Envelope; // starter: with fanout|events
use lambda_kit::outbox::OutboxTable; // starter: with fanout|events

use crate::ports::JobLedger;

/// The jobs table.
/// With the outbox the events of finished jobs leave through, in the finishing transaction. // starter: with fanout|events
#[derive(Debug, Clone)]
pub struct JobsLedger {
    jobs: JobsTable,
    outbox: OutboxTable, // starter: with fanout|events
}

impl JobsLedger {
    pub fn new(
        jobs: JobsTable,
        outbox: OutboxTable, // starter: with fanout|events
    ) -> Self {
        Self {
            jobs,
            outbox, // starter: with fanout|events
        }
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
        event: Option<&Envelope>, // starter: with fanout|events
    ) -> Result<bool, JobStoreError> {
        self.jobs
            .finish(
                id,
                attempt,
                finish,
                now,
                event.map(|event| (&self.outbox, event)), // starter: with fanout|events
            )
            .await
    }
}

// starter: with sync
/// Reads orders from the orders table that orders-api writes: each item is a
/// `contracts::order::Order` through serde, with the `owner` attribute beside it (the caller who
/// created it, `lambda_kit::owner`), which is all this function knows of orders-api.
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
    fn order<'a>(&'a self, id: &'a str) -> OrderRead<'a> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("id", s(id))
                .send()
                .await
                .map_err(|error| OrderReadError(error.into()))?;
            let Some(item) = output.item else {
                return Ok(None);
            };
            let owner = item.get("owner").and_then(|owner| owner.as_s().ok()).cloned();
            let order: Order = serde_dynamo::from_item(item).map_err(|error| OrderReadError(error.into()))?;
            Ok(Some(StoredOrder { order, owner }))
        })
    }
}
// starter: end
