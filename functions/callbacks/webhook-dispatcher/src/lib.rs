//! webhook-dispatcher: a finished job's event (`job.succeeded` / `job.failed`, filtered by its
//! subscription) is POSTed to the job's `callback_url`, signed the Standard Webhooks way.
//!
//! - The body is the event envelope as published; `webhook-id` is the event id, the same on every
//!   retry, so a receiver that saw it already can skip it. Delivery is at least once.
//! - Retries are the queue's: a failed delivery (no answer, a timeout, anything but 2xx, a
//!   redirect included) is a batch item failure, the message comes back after the queue's
//!   visibility timeout, and after `maxReceiveCount` tries it rests in the dead-letter queue.
//! - A receiver that does not answer (a timeout, no connection) costs one request timeout, not
//!   one per delivery: that caller's deliveries to its origin are then passed over for
//!   [`QUARANTINE`] in this execution environment, failed at once (`deferred`) and retried by the
//!   queue. So a dead or deliberately slow receiver holds the others' deliveries back by at most
//!   one request timeout per quarantine period and execution environment. The hold is per caller
//!   and origin: a callback URL that hangs on another caller's host defers nothing of theirs.
//! - The URL is checked again before every delivery ([`contracts::callback`]), and the connection
//!   goes only to an address that check allows ([`sender`]).

pub mod sender;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use contracts::callback::{self as target, CallbackUrl, Policy, Refusal};

use lambda_kit::events::{ContractViolation, Envelope, Event, NotAnEvent, event_in};
use lambda_kit::keys::{KeyUnavailable, Keys};
use lambda_kit::metrics::{self, Tally};
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use tracing::{info, warn};
use webhooks::signature::SigningKeys;

/// Records of one batch delivered at the same time.
const CONCURRENCY: usize = 10;

/// How long an origin that did not answer is passed over.
pub const QUARANTINE: Duration = Duration::from_secs(60);

/// Origins held at once, at most: past it, the oldest holds are dropped (a flood of distinct
/// dead origins costs memory no further).
const MAX_QUARANTINED: usize = 1024;

/// The headers that make a delivery verifiable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

/// Why one delivery attempt did not get a 2xx.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the receiver answered {0}")]
    Status(http::StatusCode),
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the callback host resolves to no allowed address")]
    ForbiddenAddress,
    /// The receiver did not answer a moment ago: not tried now.
    #[error("the receiver did not answer lately; deferred")]
    Deferred,
    #[error("the request failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The port: POSTs one signed body to a checked URL.
pub trait WebhookSender {
    fn post(
        &self,
        url: &CallbackUrl,
        headers: &SignedHeaders,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<http::StatusCode, SendError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    /// A known event whose data breaks its contract: poison, delivered nowhere.
    #[error(transparent)]
    BreaksContract(#[from] ContractViolation),
    /// No signing key could be read: the record comes back and is tried again.
    #[error(transparent)]
    NoKey(#[from] KeyUnavailable),
    #[error("delivery of event {event_id} failed")]
    Delivery {
        event_id: String,
        #[source]
        error: SendError,
    },
}

impl RecordFailure for RecordError {
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_) | RecordError::BreaksContract(_))
    }
}

/// Where an event is to be delivered, and whose receiver that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub url: String,
    /// The receiver's name: the digest of the caller who submitted the job, or
    /// [`OPEN_RECEIVER`] for a job submitted on an open API.
    pub receiver: String,
}

/// The receiver of the callbacks of jobs submitted on an open API (`AuthMode` `NONE`): nothing
/// tells callers apart there, so they share its key.
pub const OPEN_RECEIVER: &str = "open";

/// The callback an event asks for, read by its contract: only a finished job's event names one.
/// A known event whose data breaks its contract is poison.
pub fn callback_of(event: &Envelope) -> Result<Option<Callback>, ContractViolation> {
    let (url, owner) = match Event::read(event)? {
        Some(Event::JobSucceeded(job)) => (job.callback_url, job.callback_owner),
        Some(Event::JobFailed(job)) => (job.callback_url, job.callback_owner),
        Some(Event::OrderCreated(_)) | None => (None, None),
    };
    Ok(url.map(|url| Callback {
        url,
        receiver: owner.unwrap_or_else(|| OPEN_RECEIVER.to_owned()),
    }))
}

/// The dispatcher: deliveries through `sender`, signed with the keys `keys` gives (read from
/// Secrets Manager on first use in production, the current key and while rotating the previous
/// one: see [`SigningKeys`]; fixed in tests).
pub struct Dispatcher<S, K = Arc<SigningKeys>> {
    sender: S,
    keys: K,
    policy: Policy,
    quarantine: Quarantine,
}

impl<S: WebhookSender, K: Keys<SigningKeys>> Dispatcher<S, K> {
    pub fn new(sender: S, keys: K, policy: Policy) -> Self {
        Self {
            sender,
            keys,
            policy,
            quarantine: Quarantine::new(QUARANTINE),
        }
    }

    /// Passes over an origin that did not answer for `period` instead of [`QUARANTINE`].
    pub fn with_quarantine(mut self, period: Duration) -> Self {
        self.quarantine = Quarantine::new(period);
        self
    }

    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// Runs a batch; counts its deliveries by outcome (`WebhookDeliveries`: `delivered`,
    /// `rejected` for an answer other than 2xx, `unreachable`, `refused` by the URL policy,
    /// `deferred` for a receiver in quarantine).
    pub async fn handle(&self, event: SqsBatch) -> Result<SqsBatchResponse, BatchError> {
        let deliveries = Tally::new(
            "WebhookDeliveries",
            ["delivered", "rejected", "unreachable", "refused", "deferred"],
        );
        let response = process_batch(event, CONCURRENCY, |message| self.process(message, &deliveries)).await;
        deliveries.emit();
        response
    }

    async fn process(&self, message: SqsMessage, deliveries: &Tally<5>) -> Result<(), RecordError> {
        let body = message.body.as_deref().unwrap_or_default();
        let Some(event) = event_in(body)? else {
            return Ok(());
        };
        let Some(Callback { url, receiver }) = callback_of(&event)? else {
            info!(event_id = %event.id, event_type = %event.event_type, "no callback for this event");
            return Ok(());
        };
        let url = match target::check_url(&url, self.policy) {
            Ok(url) => url,
            Err(refusal) => {
                // Checked at submit time already: only a changed policy gets here, and no retry
                // would change the answer.
                log_refusal(&event, &refusal);
                deliveries.add("refused");
                return Ok(());
            }
        };
        let origin = url
            .as_uri()
            .authority()
            .map_or_else(String::new, |origin| origin.to_string());
        // Held per receiver and origin: a caller whose own callback URL hangs on someone else's
        // host defers only its own deliveries there, never that host's owner's.
        let held = format!("{receiver} {origin}");
        if self.quarantine.holds(&held, Instant::now()) {
            deliveries.add("deferred");
            return Err(RecordError::Delivery {
                event_id: event.id,
                error: SendError::Deferred,
            });
        }
        // Signed with the receiver's own key: one receiver's key verifies no other's deliveries.
        let keys = self.keys.current().await?.for_receiver(&receiver);
        let payload = serde_json::to_vec(&event).expect("an envelope serializes");
        let timestamp = Utc::now().timestamp();
        let headers = SignedHeaders {
            signature: keys.sign(&event.id, timestamp, &payload),
            id: event.id.clone(),
            timestamp,
        };
        let started = Instant::now();
        let sent = self.sender.post(&url, &headers, payload).await;
        let outcome = match &sent {
            Ok(status) if status.is_success() => "delivered",
            Ok(_) => "rejected",
            Err(_) => "unreachable",
        };
        deliveries.add(outcome);
        metrics::milliseconds("WebhookLatency", outcome, started.elapsed());
        if matches!(sent, Err(SendError::Timeout(_) | SendError::Failed(_))) {
            warn!(event_id = %event.id, %origin, period = ?self.quarantine.period, "receiver did not answer: its deliveries are deferred");
            self.quarantine.hold(held, Instant::now());
        }
        match sent {
            Ok(status) if status.is_success() => {
                info!(event_id = %event.id, status = status.as_u16(), "webhook delivered");
                Ok(())
            }
            Ok(status) => Err(RecordError::Delivery {
                event_id: event.id,
                error: SendError::Status(status),
            }),
            Err(error) => Err(RecordError::Delivery {
                event_id: event.id,
                error,
            }),
        }
    }
}

/// Origins that did not answer, and until when their deliveries are deferred. In this execution
/// environment's memory: each environment learns of a dead receiver with one timeout of its own.
#[derive(Debug)]
struct Quarantine {
    period: Duration,
    until: Mutex<HashMap<String, Instant>>,
}

impl Quarantine {
    fn new(period: Duration) -> Self {
        Self {
            period,
            until: Mutex::default(),
        }
    }

    fn holds(&self, origin: &str, now: Instant) -> bool {
        let until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.get(origin).is_some_and(|until| *until > now)
    }

    fn hold(&self, origin: String, now: Instant) {
        if self.period.is_zero() {
            return;
        }
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if until.len() >= MAX_QUARANTINED {
            until.retain(|_, until| *until > now);
        }
        if until.len() >= MAX_QUARANTINED
            && let Some(oldest) = until
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(origin, _)| origin.clone())
        {
            until.remove(&oldest);
        }
        until.insert(origin, now + self.period);
    }
}

fn log_refusal(event: &Envelope, refusal: &Refusal) {
    warn!(event_id = %event.id, %refusal, "callback URL refused; event not delivered");
}
