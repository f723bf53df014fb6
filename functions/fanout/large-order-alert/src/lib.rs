//! large-order-alert: SNS invokes it directly (asynchronously) for large orders only; the
//! subscription's filter on the message body (`data.total >= 100000`) is the threshold, so this
//! function never sees a small order. An invocation that fails is retried twice by Lambda and
//! then sent to the on-failure destination with its error: so a message that is not an event,
//! or an `order.created` v1 whose data breaks its contract, fails the invocation too. Retrying
//! it cannot help, but failing is the only way an asynchronous invocation reaches its on-failure
//! destination, where nothing is lost; the other records of the event are handled first.

use contracts::Contract;
use contracts::order::OrderCreated;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, n, s};
use lambda_kit::events::{ContractViolation, Incoming, NotAnEvent, parse_incoming};
use serde_json::Value;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("the event is not an SNS notification batch")]
    NotAnSnsEvent,
    #[error(transparent)]
    NotAnEvent(#[from] NotAnEvent),
    #[error(transparent)]
    BreaksContract(#[from] ContractViolation),
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

    /// Handles an SNS event (one record in practice). A failed write fails the invocation, to be
    /// retried; poison fails it after the other records, to reach the on-failure destination.
    ///
    /// The event is read as JSON for `Records[].Sns.Message` only, not as the stock
    /// `aws_lambda_events::sns::SnsEvent`: that type requires every signature and URL field of
    /// each record, and one missing would fail the records beside it; here only the message
    /// decides.
    pub async fn handle(&self, event: Value) -> Result<(), AlertError> {
        let Some(Value::Array(records)) = event.get("Records") else {
            return Err(AlertError::NotAnSnsEvent);
        };
        let mut poison = None;
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
                Err(error) => {
                    warn!(%error, "message is not an event; the invocation fails for the on-failure destination");
                    poison = Some(AlertError::from(error));
                    continue;
                }
            };
            let order = match OrderCreated::from_envelope(&event) {
                None => {
                    info!(event_id = %event.id, event_type = %event.event_type, "not an order.created v1; ignored");
                    continue;
                }
                Some(Err(violation)) => {
                    warn!(%violation, "the invocation fails for the on-failure destination");
                    poison = Some(AlertError::from(violation));
                    continue;
                }
                Some(Ok(OrderCreated(order))) => order,
            };
            let item = Item::from([
                ("id".to_owned(), s(format!("alert#{}", event.id))),
                ("event_id".to_owned(), s(&event.id)),
                ("event_type".to_owned(), s("large-order")),
                ("order_id".to_owned(), s(&order.id)),
                ("recipient".to_owned(), s("sales-team")),
                ("total".to_owned(), n(order.total)),
                ("currency".to_owned(), s(&order.currency)),
            ]);
            if self.store.put_once(item).await.map_err(AlertError::Store)? {
                info!(event_id = %event.id, "large order alert raised");
                lambda_kit::metrics::count("Alerts", "raised", 1);
            }
        }
        poison.map_or(Ok(()), Err)
    }
}
