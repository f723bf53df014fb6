//! large-order-alert: SNS invokes it directly (asynchronously) for large orders only; the
//! subscription's filter on the message body (`data.total >= 100000`) is the threshold, so this
//! function never sees a small order. An invocation that fails is retried twice by Lambda and
//! then sent to the on-failure destination with its error.

use lambda_kit::dynamodb::{BoxError, Item, RecordStore, n, s};
use lambda_kit::events::{Incoming, NotAnEvent, parse_incoming};
use serde_json::Value;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("the event is not an SNS notification batch")]
    NotAnSnsEvent,
    #[error("the alert could not be stored")]
    Store(#[source] BoxError),
}

pub struct LargeOrderAlert<S> {
    store: S,
}

impl<S: RecordStore> LargeOrderAlert<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Handles an SNS event (one record in practice). A message that is not an event is logged
    /// and dropped: retrying it cannot help. A failed write fails the invocation, to be retried.
    pub async fn handle(&self, event: Value) -> Result<(), AlertError> {
        let Some(Value::Array(records)) = event.get("Records") else {
            return Err(AlertError::NotAnSnsEvent);
        };
        for record in records {
            let message = record
                .pointer("/Sns/Message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let event = match parse_incoming(message) {
                Ok(Incoming::Event(event)) => event,
                Ok(Incoming::Control(kind)) => {
                    info!(kind, "SNS control message ignored");
                    continue;
                }
                Err(NotAnEvent(reason)) => {
                    warn!(%reason, "message is not an event; dropped");
                    continue;
                }
            };
            if (event.event_type.as_str(), event.version) != ("order.created", 1) {
                info!(event_id = %event.id, event_type = %event.event_type, "not an order.created v1; ignored");
                continue;
            }
            let field = |name: &str| event.data.get(name).cloned().unwrap_or(Value::Null);
            let item = Item::from([
                ("id".to_owned(), s(format!("alert#{}", event.id))),
                ("event_id".to_owned(), s(&event.id)),
                ("event_type".to_owned(), s("large-order")),
                ("order_id".to_owned(), s(field("id").as_str().unwrap_or_default())),
                ("recipient".to_owned(), s("sales-team")),
                ("total".to_owned(), n(field("total").as_u64().unwrap_or_default())),
                ("currency".to_owned(), s(field("currency").as_str().unwrap_or_default())),
            ]);
            if self.store.put_once(item).await.map_err(AlertError::Store)? {
                info!(event_id = %event.id, "large order alert raised");
            }
        }
        Ok(())
    }
}
