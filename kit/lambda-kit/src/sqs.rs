//! SQS batches with partial failures: what every SQS consumer of the kit is built on.
//!
//! [`process_batch`] takes the event (an [`SqsBatch`], each record still raw JSON) and a
//! per-record async function and returns the `batchItemFailures` answer of an event source
//! mapping with `ReportBatchItemFailures`:
//!
//! - Each record is deserialized on its own, so one malformed record fails that record only.
//! - A record whose function returns `Err` or panics is reported by its `messageId`; SQS delivers
//!   it again after the visibility timeout, and moves it to the DLQ after `maxReceiveCount`.
//!   (Panics are caught here only if the binary unwinds: the workspace keeps `panic = "unwind"`.)
//! - Records of a standard queue run concurrently, at most `concurrency` at a time. Records of a
//!   FIFO queue run in order, and the first failure also reports every later record, as Lambda
//!   requires to keep the order.
//! - Only a event that is not an SQS batch at all, or a record without a `messageId` (which could
//!   not be reported alone), fails the whole invocation.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage, SqsMessageAttribute};
use futures_util::{FutureExt, StreamExt, stream};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::{Instrument, error, info_span, warn};

use crate::telemetry::ErrorChain;

/// Why a whole batch fails (and comes back whole).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("the event has no Records array; it is not an SQS batch")]
    NotABatch,
    #[error("record {index} has no messageId, so its failure cannot be reported on its own")]
    UnidentifiedRecord { index: usize },
}

/// An SQS event as Lambda delivers it, each record kept as its JSON text until
/// [`process_batch`] reads it. Deserialize the invocation's payload straight into it
/// (`LambdaEvent<SqsBatch>`): reading each record once, into its final type, costs about half
/// of going through a `serde_json::Value` first (`make bench`, `sqs_batch`).
///
/// A payload without a `Records` array does not deserialize; the runtime then fails the
/// invocation, which is all that can be done with an event that is not a batch.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsBatch {
    #[serde(rename = "Records")]
    records: Vec<RawRecord>,
}

/// One record's JSON text and what identifies it, read together while the text is fresh in cache.
#[derive(Debug, Clone)]
struct RawRecord {
    text: Box<RawValue>,
    /// `None` when the record has no usable `messageId` (or is not even an object).
    message_id: Option<String>,
    from_fifo_queue: bool,
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Box::<RawValue>::deserialize(deserializer)?;
        let identity = serde_json::from_str::<RecordIdentity>(text.get()).ok();
        let (message_id, source) = identity.map_or((None, None), |i| (i.message_id, i.event_source_arn));
        Ok(Self {
            message_id: message_id.filter(|id| !id.is_empty()).map(Cow::into_owned),
            from_fifo_queue: source.is_some_and(|arn| arn.ends_with(".fifo")),
            text,
        })
    }
}

impl SqsBatch {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl TryFrom<Value> for SqsBatch {
    type Error = BatchError;

    fn try_from(event: Value) -> Result<Self, BatchError> {
        serde_json::from_value(event).map_err(|_| BatchError::NotABatch)
    }
}

/// What identifies a record, borrowed from its text. Read leniently: only a missing, empty,
/// non-string or repeated `messageId` leaves a record unidentified; anything else wrong with the
/// record (a retyped or repeated `eventSourceARN` included) fails that record alone, later.
#[derive(Default)]
struct RecordIdentity<'a> {
    message_id: Option<Cow<'a, str>>,
    event_source_arn: Option<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for RecordIdentity<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RecordIdentity<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an SQS record")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut identity = RecordIdentity::default();
                let mut ids = 0;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "messageId" => {
                            ids += 1;
                            identity.message_id = map.next_value::<Lenient<'de>>()?.0;
                        }
                        "eventSourceARN" if identity.event_source_arn.is_none() => {
                            identity.event_source_arn = map.next_value::<Lenient<'de>>()?.0;
                        }
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                if ids > 1 {
                    identity.message_id = None; // which one would SQS accept? Neither.
                }
                Ok(identity)
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// A string, or `None` for any other JSON value.
struct Lenient<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum StringOrNot<'a> {
            String(#[serde(borrow)] Cow<'a, str>),
            Other(serde::de::IgnoredAny),
        }
        Ok(Lenient(match StringOrNot::deserialize(deserializer)? {
            StringOrNot::String(text) => Some(text),
            StringOrNot::Other(_) => None,
        }))
    }
}

/// Runs `process_record` on every record of an SQS event and reports the failed ones.
pub async fn process_batch<F, Fut, E>(
    event: SqsBatch,
    concurrency: usize,
    process_record: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    // Every record is read, and must be identifiable, before any runs: a batch that has to fail
    // whole fails before it had side effects.
    let mut identified = Vec::with_capacity(event.records.len());
    let fifo = event.records.first().is_some_and(|record| record.from_fifo_queue);
    for (index, record) in event.records.into_iter().enumerate() {
        let Some(id) = record.message_id else {
            return Err(BatchError::UnidentifiedRecord { index });
        };
        identified.push((index, id, record.text));
    }

    let mut failed: Vec<(usize, String)> = Vec::new();
    if fifo {
        let mut records = identified.into_iter();
        for (index, id, record) in records.by_ref() {
            if !run_record(&id, record, &process_record).await {
                failed.push((index, id));
                break;
            }
        }
        failed.extend(records.map(|(index, id, _)| (index, id)));
    } else {
        failed = stream::iter(identified)
            .map(|(index, id, record)| {
                let process_record = &process_record;
                async move { (!run_record(&id, record, process_record).await).then_some((index, id)) }
            })
            .buffer_unordered(concurrency.max(1))
            .filter_map(|failure| async move { failure })
            .collect()
            .await;
        failed.sort_unstable_by_key(|(index, _)| *index);
    }

    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|(_, id)| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

/// One record, in its own span; `true` when it succeeded.
async fn run_record<F, Fut, E>(id: &str, record: Box<RawValue>, process_record: &F) -> bool
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let span = info_span!("record", message_id = %id);
    let message: SqsMessage = match serde_json::from_str(record.get()) {
        Ok(message) => message,
        Err(error) => {
            span.in_scope(|| warn!(%error, "record is not an SQS message"));
            return false;
        }
    };
    // Only in local-stack builds (feature `local`): a production binary has no such branch.
    #[cfg(feature = "local")]
    if crate::faults::configured().is_some_and(|faults| faults.fails(&message)) {
        span.in_scope(|| warn!("injected transient fault (LOCAL_FAULT_TRANSIENT_RATE); reported for redelivery"));
        return false;
    }
    // Both the call and the future it returns may panic.
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| process_record(message))) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().instrument(span.clone()).await,
        Err(panic) => Err(panic),
    };
    let _entered = span.enter();
    match outcome {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            warn!(error = %ErrorChain(&error), "record failed; reported for redelivery");
            false
        }
        Err(panic) => {
            error!(
                panic = panic_message(panic.as_ref()),
                "record panicked; reported for redelivery"
            );
            false
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    fn batch(bodies: &[&str], arn: &str) -> SqsBatch {
        SqsBatch::try_from(batch_json(bodies, arn)).expect("an SQS batch")
    }

    fn batch_json(bodies: &[&str], arn: &str) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| json!({"messageId": format!("m{i}"), "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": arn}))
            .collect();
        json!({"Records": records})
    }

    const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:jobs";

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    async fn by_body(message: SqsMessage) -> Result<(), std::io::Error> {
        match message.body.as_deref() {
            Some("ok") => Ok(()),
            Some("panic") => panic!("boom"),
            other => Err(std::io::Error::other(format!("cannot handle {other:?}"))),
        }
    }

    #[tokio::test]
    async fn a_clean_batch_reports_no_failure() {
        let response = process_batch(batch(&["ok", "ok", "ok"], QUEUE), 4, by_body)
            .await
            .expect("batch");
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn errors_and_panics_fail_only_their_own_records() {
        let response = process_batch(batch(&["ok", "bad", "ok", "panic", "ok"], QUEUE), 2, by_body)
            .await
            .expect("batch");
        assert_eq!(failed_ids(&response), ["m1", "m3"]);
    }

    #[tokio::test]
    async fn a_record_that_is_not_an_sqs_message_fails_alone() {
        let mut event = batch_json(&["ok", "ok", "ok"], QUEUE);
        event["Records"][1]["messageAttributes"] = json!("not a map");
        // Found by the fuzz tests: a retyped eventSourceARN once failed the whole batch.
        event["Records"][2]["eventSourceARN"] = json!({"not": "a string"});
        let response = process_batch(event.try_into().unwrap(), 2, by_body)
            .await
            .expect("batch");
        assert_eq!(failed_ids(&response), ["m1", "m2"]);

        let text = r#"{"Records": [{"messageId": "m0", "body": "ok", "eventSourceARN": "a", "eventSourceARN": "b"}]}"#;
        let batch: SqsBatch = serde_json::from_str(text).expect("a batch");
        let response = process_batch(batch, 2, by_body).await.expect("batch");
        assert_eq!(failed_ids(&response), ["m0"], "a repeated field fails its record alone");
    }

    #[tokio::test]
    async fn a_fifo_batch_stops_at_the_first_failure_and_reports_the_rest() {
        let seen = Mutex::new(Vec::new());
        let response = process_batch(
            batch(&["ok", "bad", "ok", "ok"], "arn:aws:sqs:eu-west-1:1:jobs.fifo"),
            4,
            |m| {
                seen.lock().unwrap().push(m.message_id.clone().unwrap_or_default());
                by_body(m)
            },
        )
        .await
        .expect("batch");
        assert_eq!(failed_ids(&response), ["m1", "m2", "m3"]);
        assert_eq!(*seen.lock().unwrap(), ["m0", "m1"], "nothing after the failure runs");
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let running = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let bodies = vec!["ok"; 20];
        process_batch(batch(&bodies, QUEUE), 3, |_| async {
            let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            tokio::task::yield_now().await;
            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::io::Error>(())
        })
        .await
        .expect("batch");
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_batch_without_records_or_ids_fails_whole() {
        assert_eq!(
            SqsBatch::try_from(json!({"hello": 1})).unwrap_err(),
            BatchError::NotABatch
        );
        for unidentified in [
            json!({"body": "ok"}),
            json!({"messageId": ""}),
            json!({"messageId": 42}),
            json!("not even an object"),
        ] {
            let mut event = batch_json(&["ok", "ok"], QUEUE);
            event["Records"][1] = unidentified;
            let ran = std::sync::atomic::AtomicUsize::new(0);
            let outcome = process_batch(event.try_into().unwrap(), 2, |m| {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                by_body(m)
            })
            .await;
            assert_eq!(outcome.unwrap_err(), BatchError::UnidentifiedRecord { index: 1 });
            assert_eq!(ran.into_inner(), 0, "nothing runs in a batch that fails whole");
        }
    }

    #[test]
    fn the_answer_has_the_shape_lambda_expects() {
        let mut response = SqsBatchResponse::default();
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = "m1".into();
        response.batch_item_failures.push(failure);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
        );
    }
}
