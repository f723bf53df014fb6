//! ws-push: each job or order event is sent to every WebSocket connection that follows it and
//! speaks for the customer it is for (`realtime::topic::customer_of`), through the API Gateway
//! Management API (`PostToConnection`). An event for no customer is pushed to no one.
//!
//! - The message is the event envelope as published; a client can tell it from a route's reply
//!   by its `type` (`job.succeeded`, ... versus `subscribed` / `error`).
//! - A connection that answers 410 Gone closed without a `$disconnect` (API Gateway does not
//!   promise one): it is removed with its subscriptions, and that is no failure.
//! - Any other failure fails the record after every connection was tried; the retry sends the
//!   event again to all of them (at least once: a client deduplicates on the event id).

use chrono::Utc;
use lambda_kit::events::{ContractViolation, Event, NotAnEvent, event_in};
use lambda_kit::metrics::Tally;
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use lambda_kit::telemetry::ErrorChain;
use realtime::connections::{ConnectionStore, StoreError};
use realtime::topic::{customer_of, topics_of};
use tracing::{info, warn};

/// Records of one batch handled at the same time.
const CONCURRENCY: usize = 10;

/// How a push to one connection ended, short of success.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed (410 Gone).
    #[error("the connection is gone")]
    Gone,
    #[error("the push failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The port: sends one message to one connection.
pub trait ConnectionPusher {
    fn push(&self, connection_id: &str, message: &[u8]) -> impl Future<Output = Result<(), PushError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    /// A known event whose data breaks its contract: poison, pushed to nobody.
    #[error(transparent)]
    BreaksContract(#[from] ContractViolation),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{failed} of the event's connections could not be reached")]
    Push { failed: usize },
}

impl RecordFailure for RecordError {
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_) | RecordError::BreaksContract(_))
    }
}

pub struct Pusher<S, P> {
    store: S,
    pusher: P,
}

impl<S: ConnectionStore, P: ConnectionPusher> Pusher<S, P> {
    pub fn new(store: S, pusher: P) -> Self {
        Self { store, pusher }
    }

    pub fn pusher(&self) -> &P {
        &self.pusher
    }

    /// Runs a batch; counts its pushes by outcome (`Pushes`: `pushed`, `gone` for a connection
    /// that closed, `failed`; `withheld` for a follower the event is not for).
    pub async fn handle(&self, event: SqsBatch) -> Result<SqsBatchResponse, BatchError> {
        let pushes = Tally::new("Pushes", ["pushed", "gone", "failed", "withheld"]);
        let response = process_batch(event, CONCURRENCY, |message| self.process(message, &pushes)).await;
        pushes.emit();
        response
    }

    async fn process(&self, message: SqsMessage, pushes: &Tally<4>) -> Result<(), RecordError> {
        let Some(event) = event_in(message.body.as_deref().unwrap_or_default())? else {
            return Ok(());
        };
        let Some(known) = Event::read(&event)? else {
            info!(event_id = %event.id, event_type = %event.event_type, "no client can follow this event");
            return Ok(());
        };
        let Some(customer) = customer_of(&known) else {
            info!(event_id = %event.id, event_type = %event.event_type, "the event is for no customer: no client may follow it");
            return Ok(());
        };
        let topics = topics_of(&known);
        // Read by its contract first (a known type with the wrong shape is poison, a callback URL
        // of the wrong type included); clients then get it without its callback URL (a capability
        // for the dispatcher only).
        let event = event.redacted();
        let payload = serde_json::to_vec(&event).expect("an envelope serializes");
        let now = Utc::now();
        let mut followers = Vec::new();
        for topic in &topics {
            followers.extend(self.store.subscribers(topic, now).await?);
        }
        // Only the customer's own connections: another customer's subscription to this id gets
        // nothing, as if the id did not exist.
        let mut withheld = 0;
        let mut connections: Vec<String> = followers
            .into_iter()
            .filter(|follower| {
                let theirs = follower.customer_id.as_deref() == Some(customer);
                if !theirs {
                    withheld += 1;
                    pushes.add("withheld");
                }
                theirs
            })
            .map(|follower| follower.connection_id)
            .collect();
        // A connection following both an order and its customer gets the event once.
        connections.sort_unstable();
        connections.dedup();

        let (mut pushed, mut gone, mut failed) = (0, 0, 0);
        for connection_id in &connections {
            let outcome = self.pusher.push(connection_id, &payload).await;
            pushes.add(match &outcome {
                Ok(()) => "pushed",
                Err(PushError::Gone) => "gone",
                Err(_) => "failed",
            });
            match outcome {
                Ok(()) => pushed += 1,
                Err(PushError::Gone) => {
                    gone += 1;
                    if let Err(error) = self.store.close(connection_id).await {
                        warn!(connection_id, error = %ErrorChain(&error), "gone connection not removed; its TTL removes it");
                    }
                }
                Err(error) => {
                    failed += 1;
                    warn!(connection_id, error = %ErrorChain(&error), "push failed");
                }
            }
        }
        info!(event_id = %event.id, event_type = %event.event_type, pushed, gone, failed, withheld, "event pushed");
        if failed > 0 {
            return Err(RecordError::Push { failed });
        }
        Ok(())
    }
}

/// The API Gateway Management API adapter.
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// A client for one WebSocket API stage: `endpoint` is
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (or the local gateway's).
    pub fn new(aws: &lambda_kit::aws::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(aws)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

impl ConnectionPusher for ManagementApi {
    async fn push(&self, connection_id: &str, message: &[u8]) -> Result<(), PushError> {
        use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(message))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.as_service_error(), Some(PostToConnectionError::GoneException(_))) => {
                Err(PushError::Gone)
            }
            Err(error) => Err(PushError::Failed(Box::new(error))),
        }
    }
}
