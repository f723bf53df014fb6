//! Connections and their subscriptions: the port, and its DynamoDB adapter.
//!
//! One table, keyed `pk` + `sk`, every item with a TTL (`expires_at`) a little past API
//! Gateway's two-hour connection limit, so a connection whose `$disconnect` never ran (API
//! Gateway does not promise it) is gone by itself:
//!
//! | pk                     | sk                     | what                                   |
//! |------------------------|------------------------|----------------------------------------|
//! | `connection#<id>`      | `connection`           | an open connection and its customer    |
//! | `connection#<id>`      | `topic#<topic key>`    | a subscription, found from its connection (to close it) |
//! | `topic#<topic key>`    | `connection#<id>`      | the same subscription with the connection's customer, found from its topic (to push) |

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use lambda_kit::dynamodb::{BoxError, Item, n, s};

use crate::topic::Topic;

/// How long connection items live: API Gateway closes every connection after two hours.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 3600 + 10 * 60);

/// DynamoDB's BatchWriteItem limit.
const BATCH: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a timeout or an outage: retrying later may succeed.
    #[error("the connections table is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the connections table request failed")]
    Failed(#[source] BoxError),
}

lambda_kit::sdk_error_classified_into!(StoreError);

/// A connection that follows a topic, and the customer it speaks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Follower {
    pub connection_id: String,
    /// `None` for a subscription recorded without one (by an older version): it gets nothing.
    pub customer_id: Option<String>,
}

/// The port ws-api and ws-push use.
pub trait ConnectionStore {
    /// Records an open connection made by `customer_id`.
    fn open(
        &self,
        connection_id: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>>;
    /// The customer of an open connection; `None` if it is not (or no longer) open.
    fn customer_of(
        &self,
        connection_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<String>, StoreError>>;
    /// Records that the connection of `customer_id` follows `topics`.
    fn subscribe(
        &self,
        connection_id: &str,
        customer_id: &str,
        topics: &[Topic],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>>;
    /// The open connections subscribed to `topic`.
    fn subscribers(&self, topic: &Topic, now: DateTime<Utc>)
    -> impl Future<Output = Result<Vec<Follower>, StoreError>>;
    /// Forgets a connection and all its subscriptions. Closing an unknown connection is no error.
    fn close(&self, connection_id: &str) -> impl Future<Output = Result<(), StoreError>>;
}

/// A stand-in for the fuzz tests (the `testing` feature; never in a deployed build): holds
/// nothing, and answers alike for everyone. Every connection is open for [`customer`], every
/// topic has one follower (the connection named by the topic's key, of [`customer`]), every
/// write succeeds.
///
/// [`customer`]: Everyone::CUSTOMER
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Everyone;

#[cfg(feature = "testing")]
impl Everyone {
    /// The customer every connection belongs to.
    pub const CUSTOMER: &str = "c-42";
}

#[cfg(feature = "testing")]
impl ConnectionStore for Everyone {
    async fn open(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn customer_of(&self, _: &str, _: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        Ok(Some(Self::CUSTOMER.into()))
    }
    async fn subscribe(&self, _: &str, _: &str, _: &[Topic], _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn subscribers(&self, topic: &Topic, _: DateTime<Utc>) -> Result<Vec<Follower>, StoreError> {
        Ok(vec![Follower {
            connection_id: topic.key(),
            customer_id: Some(Self::CUSTOMER.into()),
        }])
    }
    async fn close(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionsTable {
    client: Client,
    table: String,
}

fn connection_key(id: &str) -> String {
    format!("connection#{id}")
}

fn topic_key(topic: &Topic) -> String {
    format!("topic#{}", topic.key())
}

fn expires_at(now: DateTime<Utc>) -> i64 {
    now.timestamp() + CONNECTION_LIFETIME.as_secs() as i64
}

fn is_live(item: &Item, now: DateTime<Utc>) -> bool {
    // TTL deletes expired items within days, not at once: expired ones are skipped here.
    item.get("expires_at")
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse::<i64>().ok())
        .is_some_and(|expires_at| expires_at > now.timestamp())
}

impl ConnectionsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every item of one partition (a connection's or a topic's: a few, not thousands).
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            // Unprocessed items (throttling) are retried a few times, then reported.
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await?;
                pending = output.unprocessed_items.unwrap_or_default();
                if pending.values().all(Vec::is_empty) {
                    break;
                }
                if attempt == 3 {
                    return Err(StoreError::Unavailable("unprocessed items after 4 attempts".into()));
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }
}

fn put(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build().expect("item set"))
        .build()
}

fn delete(pk: String, sk: String) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .key("pk", s(pk))
                .key("sk", s(sk))
                .build()
                .expect("key set"),
        )
        .build()
}

impl ConnectionStore for ConnectionsTable {
    async fn open(&self, connection_id: &str, customer_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Item::from([
                ("pk".to_owned(), s(connection_key(connection_id))),
                ("sk".to_owned(), s("connection")),
                ("customer_id".to_owned(), s(customer_id)),
                ("expires_at".to_owned(), n(expires_at(now))),
            ])))
            .send()
            .await?;
        Ok(())
    }

    async fn customer_of(&self, connection_id: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(connection_key(connection_id)))
            .key("sk", s("connection"))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output
            .item
            .filter(|item| is_live(item, now))
            .and_then(|item| item.get("customer_id")?.as_s().ok().cloned()))
    }

    async fn subscribe(
        &self,
        connection_id: &str,
        customer_id: &str,
        topics: &[Topic],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let connection = connection_key(connection_id);
        let requests = topics
            .iter()
            .flat_map(|topic| {
                let item = |pk: &str, sk: &str| {
                    Item::from([
                        ("pk".to_owned(), s(pk)),
                        ("sk".to_owned(), s(sk)),
                        ("expires_at".to_owned(), n(expires_at(now))),
                    ])
                };
                let topic = topic_key(topic);
                let mut follower = item(&topic, &connection);
                follower.insert("customer_id".to_owned(), s(customer_id));
                [put(item(&connection, &topic)), put(follower)]
            })
            .collect();
        self.write(requests).await
    }

    async fn subscribers(&self, topic: &Topic, now: DateTime<Utc>) -> Result<Vec<Follower>, StoreError> {
        Ok(self
            .partition(&topic_key(topic))
            .await?
            .into_iter()
            .filter(|item| is_live(item, now))
            .filter_map(|item| {
                let connection_id = item.get("sk")?.as_s().ok()?.strip_prefix("connection#")?.to_owned();
                let customer_id = item.get("customer_id").and_then(|id| id.as_s().ok()).cloned();
                Some(Follower {
                    connection_id,
                    customer_id,
                })
            })
            .collect())
    }

    async fn close(&self, connection_id: &str) -> Result<(), StoreError> {
        let connection = connection_key(connection_id);
        let requests = self
            .partition(&connection)
            .await?
            .into_iter()
            .filter_map(|item| item.get("sk")?.as_s().ok().cloned())
            .flat_map(|sk| {
                let mirror = sk.starts_with("topic#").then(|| delete(sk.clone(), connection.clone()));
                [Some(delete(connection.clone(), sk)), mirror]
            })
            .flatten()
            .collect();
        self.write(requests).await
    }
}
