//! SQS batches with partial failures: what every SQS consumer of the kit is built on.
//!
//! [`process_batch`] takes the event (an [`SqsBatch`], each record read on its own) and a
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
//! - The failures are counted, one `BatchFailures` metric document per outcome and batch
//!   ([`crate::metrics`]): `poison` (the record can never succeed: unreadable, a panic, or an
//!   error whose [`RecordFailure::is_poison`] says so; it reaches the DLQ after
//!   `maxReceiveCount`) and `transient` (it may succeed when delivered again).

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage, SqsMessageAttribute};
use std::collections::HashMap;

use futures_util::{FutureExt, StreamExt, stream};
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::{Instrument, debug_span, error, warn};

use crate::telemetry::ErrorChain;

/// What a consumer's record error says about the record: whether it can ever succeed. It only
/// labels the failure's metric (`BatchFailures`, outcome `poison` or `transient`); either kind
/// is reported for redelivery, and SQS moves a record to the DLQ after `maxReceiveCount`.
pub trait RecordFailure: std::error::Error + 'static {
    /// `true` when delivering the record again cannot help: a message that is not what the
    /// consumer reads, or one that breaks its contract.
    fn is_poison(&self) -> bool;
}

/// A record function that cannot fail.
impl RecordFailure for std::convert::Infallible {
    fn is_poison(&self) -> bool {
        match *self {}
    }
}

/// How one record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    Succeeded,
    Poison,
    Transient,
}

/// Why a whole batch fails (and comes back whole).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("the event has no Records array; it is not an SQS batch")]
    NotABatch,
    #[error("record {index} has no messageId, so its failure cannot be reported on its own")]
    UnidentifiedRecord { index: usize },
}

/// An SQS event as Lambda delivers it, each record read on its own: deserialize the invocation's
/// payload straight into it (`LambdaEvent<SqsBatch>`).
///
/// One pass over the payload: each record is read field by field into its `SqsMessage` as the
/// text goes by, and a field of the wrong type, a repeated field or a record that is not an
/// object is noted on that record instead of failing the event, so that the record fails alone
/// (or, without a usable `messageId`, the batch fails whole, before anything ran). Reading the
/// event once, rather than delimiting each record and then parsing its text, is what keeps the
/// helper's cost per record low (`make bench`, `sqs_batch`).
///
/// A payload without a `Records` array does not deserialize; the runtime then fails the
/// invocation, which is all that can be done with an event that is not a batch.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsBatch {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

/// One record: the message, or why it is not one, and what identifies it.
#[derive(Debug, Clone)]
struct Record {
    /// `None` when the record has no usable `messageId` (or is not even an object).
    message_id: Option<String>,
    from_fifo_queue: bool,
    message: Result<SqsMessage, String>,
}

impl Record {
    /// A record that is not an object: `kind` says what it is instead.
    fn unidentified(kind: &'static str) -> Self {
        Self {
            message_id: None,
            from_fifo_queue: false,
            message: Err(format!("{kind}, not a record")),
        }
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordVisitor)
    }
}

/// `Visitor` methods for the kinds of JSON value listed, each answering `$wrong("a boolean")`,
/// `$wrong("a number")`, ... (an array or an object is read through first): how the lenient
/// readers below say what they found instead of failing the whole event.
macro_rules! lenient_visits {
    ($de:lifetime, $value:ty, $wrong:expr; $($kind:ident),*) => {
        $(lenient_visits!(@ $kind $de, $value, $wrong);)*
    };
    (@ boolean $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($wrong("a boolean"))
        }
    };
    (@ number $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($wrong("a number"))
        }

        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($wrong("a number"))
        }

        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($wrong("a number"))
        }
    };
    (@ string $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok($wrong("a string"))
        }
    };
    (@ null $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($wrong("null"))
        }
    };
    (@ array $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_seq<A: SeqAccess<$de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrong("an array"))
        }
    };
    (@ object $de:lifetime, $value:ty, $wrong:expr) => {
        fn visit_map<A: MapAccess<$de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($wrong("an object"))
        }
    };
}

/// Reads a record leniently: only JSON that is not well-formed stops the event's parse (the
/// runtime would not get that far with it either).
struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an SQS record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut message = SqsMessage::default();
        let mut problem: Option<String> = None;
        let mut seen = 0u16;
        let mut ids = 0;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let (bit, slot) = match key.as_ref() {
                "messageId" => {
                    ids += 1;
                    (1, &mut message.message_id)
                }
                "receiptHandle" => (1 << 1, &mut message.receipt_handle),
                "body" => (1 << 2, &mut message.body),
                "md5OfBody" => (1 << 3, &mut message.md5_of_body),
                "md5OfMessageAttributes" => (1 << 4, &mut message.md5_of_message_attributes),
                "eventSourceARN" => (1 << 5, &mut message.event_source_arn),
                "eventSource" => (1 << 6, &mut message.event_source),
                "awsRegion" => (1 << 7, &mut message.aws_region),
                "attributes" => {
                    if seen & (1 << 8) != 0 {
                        note(&mut problem, format!("duplicate field `{key}`"));
                    }
                    seen |= 1 << 8;
                    match map.next_value::<StringMapField>()? {
                        StringMapField::Map(attributes) => message.attributes = attributes,
                        StringMapField::Wrong(kind) => note(
                            &mut problem,
                            format!("field `{key}`: {kind}, expected an object of strings"),
                        ),
                    }
                    continue;
                }
                "messageAttributes" => {
                    if seen & (1 << 9) != 0 {
                        note(&mut problem, format!("duplicate field `{key}`"));
                    }
                    seen |= 1 << 9;
                    // A small map of structures, read from its own text: a wrong shape stays
                    // with this record.
                    let text = map.next_value::<Box<RawValue>>()?;
                    match serde_json::from_str::<Option<HashMap<String, SqsMessageAttribute>>>(text.get()) {
                        Ok(found) => message.message_attributes = found.unwrap_or_default(),
                        Err(error) => note(&mut problem, format!("field `{key}`: {error}")),
                    }
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if seen & bit != 0 {
                note(&mut problem, format!("duplicate field `{key}`"));
            }
            seen |= bit;
            match map.next_value::<StringField>()? {
                StringField::Text(text) => *slot = Some(text),
                StringField::Null => *slot = None,
                StringField::Other(kind) => {
                    *slot = None;
                    note(&mut problem, format!("field `{key}`: {kind}, expected a string"));
                }
            }
        }
        let message_id = message.message_id.clone().filter(|id| !id.is_empty() && ids == 1);
        Ok(Record {
            message_id,
            from_fifo_queue: message.event_source_arn.as_deref().is_some_and(is_fifo_queue),
            message: match problem {
                None => Ok(message),
                Some(problem) => Err(problem),
            },
        })
    }

    lenient_visits!('de, Record, Record::unidentified; boolean, number, string, array, null);
}

/// A field that should hold a string: the string, `null`, or what it held instead.
enum StringField {
    Text(String),
    Null,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for StringField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = StringField;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_str<E>(self, text: &str) -> Result<StringField, E> {
                Ok(StringField::Text(text.to_owned()))
            }

            fn visit_string<E>(self, text: String) -> Result<StringField, E> {
                Ok(StringField::Text(text))
            }

            fn visit_unit<E>(self) -> Result<StringField, E> {
                Ok(StringField::Null)
            }

            fn visit_none<E>(self) -> Result<StringField, E> {
                Ok(StringField::Null)
            }

            lenient_visits!('de, StringField, StringField::Other; boolean, number, array, object);
        }

        deserializer.deserialize_any(FieldVisitor)
    }
}

/// A field that should hold an object of strings (`attributes`): the map (empty for `null`), or
/// what was wrong with it.
enum StringMapField {
    Map(HashMap<String, String>),
    Wrong(&'static str),
}

impl<'de> Deserialize<'de> for StringMapField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StringMapField;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMapField, A::Error> {
                let mut found = HashMap::with_capacity(map.size_hint().unwrap_or(4));
                let mut wrong = None;
                while let Some(key) = map.next_key::<String>()? {
                    match map.next_value::<StringField>()? {
                        StringField::Text(value) => {
                            found.insert(key, value);
                        }
                        StringField::Null | StringField::Other(_) => {
                            wrong = Some("an object with a value that is not a string")
                        }
                    }
                }
                Ok(wrong.map_or(StringMapField::Map(found), StringMapField::Wrong))
            }

            fn visit_unit<E>(self) -> Result<StringMapField, E> {
                Ok(StringMapField::Map(HashMap::new()))
            }

            fn visit_none<E>(self) -> Result<StringMapField, E> {
                Ok(StringMapField::Map(HashMap::new()))
            }

            lenient_visits!('de, StringMapField, StringMapField::Wrong; boolean, number, string, array);
        }

        deserializer.deserialize_any(MapVisitor)
    }
}

/// Keeps the first thing found wrong with a record: what its failure is logged with.
fn note(problem: &mut Option<String>, text: String) {
    problem.get_or_insert(text);
}

fn is_fifo_queue(arn: &str) -> bool {
    arn.ends_with(".fifo")
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

/// Runs `process_record` on every record of an SQS event and reports the failed ones.
pub async fn process_batch<F, Fut, E>(
    event: SqsBatch,
    concurrency: usize,
    process_record: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: RecordFailure,
{
    // Every record is read, and must be identifiable, before any runs: a batch that has to fail
    // whole fails before it had side effects.
    let mut identified = Vec::with_capacity(event.records.len());
    let fifo = event.records.first().is_some_and(|record| record.from_fifo_queue);
    for (index, record) in event.records.into_iter().enumerate() {
        let Some(id) = record.message_id else {
            return Err(BatchError::UnidentifiedRecord { index });
        };
        identified.push((index, id, record.message));
    }

    let mut failed: Vec<(usize, String, Ran)> = Vec::new();
    if fifo {
        let mut records = identified.into_iter();
        for (index, id, record) in records.by_ref() {
            let ran = run_record(&id, record, &process_record).await;
            if ran != Ran::Succeeded {
                failed.push((index, id, ran));
                break;
            }
        }
        // Not run: reported to keep the order, and counted as transient (they may well succeed).
        failed.extend(records.map(|(index, id, _)| (index, id, Ran::Transient)));
    } else {
        failed = stream::iter(identified)
            .map(|(index, id, record)| {
                let process_record = &process_record;
                async move {
                    let ran = run_record(&id, record, process_record).await;
                    (ran != Ran::Succeeded).then_some((index, id, ran))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .filter_map(|failure| async move { failure })
            .collect()
            .await;
        failed.sort_unstable_by_key(|(index, _, _)| *index);
    }
    let poison = failed.iter().filter(|(_, _, ran)| *ran == Ran::Poison).count();
    crate::metrics::count("BatchFailures", "poison", poison);
    crate::metrics::count("BatchFailures", "transient", failed.len() - poison);

    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|(_, id, _)| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

/// One record, in its own span, and how it ended.
///
/// The span is at DEBUG level: with it, every line a record's function logs carries the
/// record's `message_id` (`AWS_LAMBDA_LOG_LEVEL=DEBUG`). At INFO it is not created — a JSON
/// span costs a sixth of the helper's work per record (`make bench`, instruction counts) — and
/// the lines written here name the `message_id` themselves; a record's function logs its own
/// identifiers (event id, job id).
async fn run_record<F, Fut, E>(id: &str, record: Result<SqsMessage, String>, process_record: &F) -> Ran
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: RecordFailure,
{
    let span = debug_span!("record", message_id = id);
    let message = match record {
        Ok(message) => message,
        Err(error) => {
            warn!(message_id = id, %error, "record is not an SQS message; reported for redelivery");
            return Ran::Poison;
        }
    };
    // Only in local-stack builds (feature `local`): a production binary has no such branch.
    #[cfg(feature = "local")]
    if crate::faults::configured().is_some_and(|faults| faults.fails(&message)) {
        warn!(
            message_id = id,
            "injected transient fault (LOCAL_FAULT_TRANSIENT_RATE); reported for redelivery"
        );
        return Ran::Transient;
    }
    // Both the call and the future it returns may panic.
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| process_record(message))) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().instrument(span.clone()).await,
        Err(panic) => Err(panic),
    };
    let _entered = span.enter();
    match outcome {
        Ok(Ok(())) => Ran::Succeeded,
        Ok(Err(error)) => {
            let poison = error.is_poison();
            warn!(message_id = id, error = %ErrorChain(&error), poison, "record failed; reported for redelivery");
            if poison { Ran::Poison } else { Ran::Transient }
        }
        Err(panic) => {
            error!(
                message_id = id,
                panic = panic_message(panic.as_ref()),
                "record panicked; reported for redelivery"
            );
            // A panic is a bug the same record will hit again.
            Ran::Poison
        }
    }
}

/// What a caught panic said, as far as it can be read.
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
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

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct CannotHandle(String);

    impl RecordFailure for CannotHandle {
        fn is_poison(&self) -> bool {
            false
        }
    }

    async fn by_body(message: SqsMessage) -> Result<(), CannotHandle> {
        match message.body.as_deref() {
            Some("ok") => Ok(()),
            Some("panic") => panic!("boom"),
            other => Err(CannotHandle(format!("cannot handle {other:?}"))),
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
        let mut event = batch_json(&["ok", "ok", "ok", "ok", "ok"], QUEUE);
        event["Records"][1]["messageAttributes"] = json!("not a map");
        // Found by the fuzz tests: a retyped eventSourceARN once failed the whole batch.
        event["Records"][2]["eventSourceARN"] = json!({"not": "a string"});
        event["Records"][3]["attributes"] = json!({"ApproximateReceiveCount": 1});
        let response = process_batch(event.try_into().unwrap(), 2, by_body)
            .await
            .expect("batch");
        assert_eq!(failed_ids(&response), ["m1", "m2", "m3"]);

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
            Ok::<_, CannotHandle>(())
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
    fn a_well_formed_record_reads_as_the_stock_type_reads_it() {
        let text = r#"{"Records": [
            {"messageId": "m0", "receiptHandle": "r0", "body": "{\"a\": \"\u00e9\\n\"}", "md5OfBody": "x",
             "md5OfMessageAttributes": "y", "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
             "messageAttributes": {"kind": {"stringValue": "report", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                                   "blob": {"binaryValue": "aGk=", "dataType": "Binary"}},
             "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q", "awsRegion": "eu-west-1", "extra": [1, {"x": null}]},
            {"messageId": "m1", "body": null, "attributes": null, "messageAttributes": null},
            {"messageId": "m2"}
        ]}"#;
        let stock: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(text).expect("the stock type reads it");
        let ours: SqsBatch = serde_json::from_str(text).expect("a batch");
        for (stock, ours) in stock.records.into_iter().zip(ours.records) {
            assert_eq!(ours.message_id, stock.message_id);
            assert_eq!(ours.message.expect("a message"), stock);
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
