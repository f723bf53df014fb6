//! SQS batches with partial failures: what every SQS consumer of the kit is built on.
//!
//! [`process_batch`] takes the raw event and a per-record async function and returns the
//! `batchItemFailures` answer of an event source mapping with `ReportBatchItemFailures`:
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
use std::future::Future;
use std::panic::AssertUnwindSafe;

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage, SqsMessageAttribute};
use futures_util::{FutureExt, StreamExt, stream};
use serde_json::Value;
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

/// Runs `process_record` on every record of an SQS event and reports the failed ones.
pub async fn process_batch<F, Fut, E>(
    event: Value,
    concurrency: usize,
    process_record: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let Value::Object(mut event) = event else {
        return Err(BatchError::NotABatch);
    };
    let Some(Value::Array(records)) = event.remove("Records") else {
        return Err(BatchError::NotABatch);
    };
    let mut identified = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let id = record
            .get("messageId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let Some(id) = id.map(str::to_owned) else {
            return Err(BatchError::UnidentifiedRecord { index });
        };
        identified.push((index, id, record));
    }
    let fifo = identified
        .first()
        .and_then(|(_, _, record)| record.get("eventSourceARN"))
        .and_then(Value::as_str)
        .is_some_and(|arn| arn.ends_with(".fifo"));

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
async fn run_record<F, Fut, E>(id: &str, record: Value, process_record: &F) -> bool
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let span = info_span!("record", message_id = %id);
    let message: SqsMessage = match serde_json::from_value(record) {
        Ok(message) => message,
        Err(error) => {
            span.in_scope(|| warn!(%error, "record is not an SQS message"));
            return false;
        }
    };
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

    fn batch(bodies: &[&str], arn: &str) -> Value {
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
        let mut event = batch(&["ok", "ok"], QUEUE);
        event["Records"][1]["messageAttributes"] = json!("not a map");
        let response = process_batch(event, 2, by_body).await.expect("batch");
        assert_eq!(failed_ids(&response), ["m1"]);
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
            process_batch(json!({"hello": 1}), 2, by_body).await.unwrap_err(),
            BatchError::NotABatch
        );
        let mut event = batch(&["ok", "ok"], QUEUE);
        event["Records"][1].as_object_mut().unwrap().remove("messageId");
        assert_eq!(
            process_batch(event, 2, by_body).await.unwrap_err(),
            BatchError::UnidentifiedRecord { index: 1 }
        );
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
