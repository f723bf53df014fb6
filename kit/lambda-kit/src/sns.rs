//! Publishing domain events to SNS in batches, every failed entry handled (feature `sns`:
//! event-publisher only). Reading them is `events`.

use std::time::Duration;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::BoxError;
use crate::events::{EVENT_TYPE_ATTRIBUTE, Envelope};

/// Entries per `PublishBatch` call: the SNS limit.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// An event SNS did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    pub event_id: String,
    pub code: String,
    /// SNS's verdict: the request was wrong (too large, invalid); sending it again cannot help.
    pub sender_fault: bool,
}

/// Some events were not published, after the retries that could help.
#[derive(Debug, thiserror::Error)]
#[error("{} of the events were not published", failed.len())]
pub struct PublishIncomplete {
    pub failed: Vec<FailedEvent>,
    /// The error of the last whole call that failed, if any did.
    #[source]
    pub last_error: Option<BoxError>,
}

/// Publishes envelopes to one topic.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    attempts: u32,
}

impl EventPublisher {
    /// `attempts` bounds how often an entry that failed through no fault of its own is sent.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>, attempts: u32) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            attempts: attempts.max(1),
        }
    }

    /// Publishes every envelope, [`MAX_BATCH_ENTRIES`] per call. Entries SNS fails without
    /// blaming the sender (throttling, internal errors) are sent again, with a short backoff, up
    /// to the attempt limit; entries it refuses as the sender's fault are not. Whatever is left
    /// is returned, by event id, so the caller can report or retry exactly those.
    pub async fn publish_all(&self, events: &[Envelope]) -> Result<(), PublishIncomplete> {
        publish_in_batches(events, self.attempts, |batch| self.publish_batch(batch)).await
    }

    /// One `PublishBatch` call; the entries SNS refused, by event id.
    async fn publish_batch(&self, events: Vec<&Envelope>) -> Result<Vec<FailedEvent>, BoxError> {
        let entries = batch_entries(&events)?;
        let output = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await?;
        Ok(output
            .failed()
            .iter()
            .map(|entry| {
                let event_id = entry
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| events.get(i))
                    .map_or_else(String::new, |e| e.id.clone());
                FailedEvent {
                    event_id,
                    code: entry.code().to_owned(),
                    sender_fault: entry.sender_fault(),
                }
            })
            .collect())
    }
}

/// The `PublishBatch` entries for up to [`MAX_BATCH_ENTRIES`] events: each envelope as the
/// message, its type as the `event_type` attribute subscriptions filter on, and its index as the
/// entry id (SNS answers failures by entry id).
pub fn batch_entries(events: &[&Envelope]) -> Result<Vec<PublishBatchRequestEntry>, BoxError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(&event.event_type)
                .build()?;
            Ok(PublishBatchRequestEntry::builder()
                .id(index.to_string())
                .message(serde_json::to_string(event)?)
                .message_attributes(EVENT_TYPE_ATTRIBUTE, attribute)
                .build()?)
        })
        .collect()
}

/// The batching and retry rules of [`EventPublisher::publish_all`], over any batch sender (one
/// `PublishBatch` call: the refused entries, or an error for the whole call).
async fn publish_in_batches<'a, F, Fut>(events: &'a [Envelope], attempts: u32, send: F) -> Result<(), PublishIncomplete>
where
    F: Fn(Vec<&'a Envelope>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<FailedEvent>, BoxError>>,
{
    let mut failed = Vec::new();
    let mut last_error = None;
    for chunk in events.chunks(MAX_BATCH_ENTRIES) {
        let mut pending: Vec<&Envelope> = chunk.iter().collect();
        for attempt in 1..=attempts {
            let retry = match send(pending.clone()).await {
                Ok(refused) => {
                    let (permanent, transient): (Vec<_>, Vec<_>) = refused.into_iter().partition(|f| f.sender_fault);
                    failed.extend(permanent);
                    transient
                }
                Err(error) => {
                    last_error = Some(error);
                    pending
                        .iter()
                        .map(|event| FailedEvent {
                            event_id: event.id.clone(),
                            code: "RequestFailed".into(),
                            sender_fault: false,
                        })
                        .collect()
                }
            };
            if retry.is_empty() {
                break;
            }
            if attempt == attempts {
                failed.extend(retry);
                break;
            }
            pending.retain(|event| retry.iter().any(|f| f.event_id == event.id));
            tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(PublishIncomplete { failed, last_error })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn events(count: usize) -> Vec<Envelope> {
        (0..count)
            .map(|n| Envelope::new("job.succeeded", 1, "test", json!({"n": n}), Utc::now()))
            .collect()
    }

    fn refused(event: &Envelope, sender_fault: bool) -> FailedEvent {
        FailedEvent {
            event_id: event.id.clone(),
            code: "X".into(),
            sender_fault,
        }
    }

    #[tokio::test]
    async fn events_go_out_ten_per_call() {
        let calls = Mutex::new(Vec::new());
        let events = events(25);
        publish_in_batches(&events, 3, |batch| {
            calls.lock().unwrap().push(batch.len());
            async { Ok(Vec::new()) }
        })
        .await
        .expect("published");
        assert_eq!(*calls.lock().unwrap(), [10, 10, 5]);
    }

    #[tokio::test]
    async fn an_entry_refused_through_no_fault_of_the_sender_is_sent_again_alone() {
        let events = events(3);
        let calls = Mutex::new(Vec::new());
        publish_in_batches(&events, 3, |batch| {
            let first = calls.lock().unwrap().is_empty();
            calls
                .lock()
                .unwrap()
                .push(batch.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
            let outcome = if first {
                vec![refused(batch[1], false)]
            } else {
                Vec::new()
            };
            async move { Ok(outcome) }
        })
        .await
        .expect("published on the second call");
        assert_eq!(calls.lock().unwrap()[1], [events[1].id.clone()]);
    }

    #[tokio::test]
    async fn a_sender_fault_is_not_retried_and_what_never_went_out_is_reported() {
        let events = events(2);
        let calls = Mutex::new(0);
        let error = publish_in_batches(&events, 3, |batch| {
            *calls.lock().unwrap() += 1;
            let outcome = vec![refused(batch[0], true), refused(batch[batch.len() - 1], false)];
            async move { Ok(outcome) }
        })
        .await
        .expect_err("incomplete");
        assert_eq!(*calls.lock().unwrap(), 3, "the transient one is tried up to the limit");
        let ids: Vec<&str> = error.failed.iter().map(|f| f.event_id.as_str()).collect();
        assert!(ids.contains(&events[0].id.as_str()) && ids.contains(&events[1].id.as_str()));
        assert_eq!(
            error.failed.iter().filter(|f| f.event_id == events[0].id).count(),
            1,
            "reported once"
        );
    }

    #[tokio::test]
    async fn a_failed_call_fails_its_whole_batch_after_the_retries() {
        let events = events(12);
        let error = publish_in_batches(&events, 2, |batch| {
            let fail = batch.len() == 2;
            async move {
                if fail {
                    Err::<Vec<FailedEvent>, BoxError>("connection reset".into())
                } else {
                    Ok(Vec::new())
                }
            }
        })
        .await
        .expect_err("the second batch failed");
        assert_eq!(error.failed.len(), 2);
        assert!(error.last_error.is_some());
    }
}
