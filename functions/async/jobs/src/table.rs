//! The jobs table: one item per job, keyed by `id`. Every state change is a conditional write,
//! so concurrent or repeated deliveries of one job cannot both move it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError; // starter: with fanout|events
use aws_sdk_dynamodb::types::TransactWriteItem; // starter: with fanout|events
use aws_sdk_dynamodb::types::{ReturnValue, Update};
use chrono::{DateTime, Utc};
use lambda_kit::dynamodb::{Item, MalformedItem, is_condition_failed, n, s, send_update};
use lambda_kit::events::Envelope; // starter: with fanout|events
use lambda_kit::outbox::OutboxTable; // starter: with fanout|events
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::model::{Job, JobStatus, JobType, format_timestamp};
use crate::store::{Finish, JobStoreError, Start};

// What the store answers is the port's (`crate::store`); this is only where it is kept.
lambda_kit::sdk_error_classified_into!(JobStoreError);

/// How long a job record is kept after it was created (the table's TTL attribute `expires_at`).
pub const JOB_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct JobsTable {
    client: Client,
    table: String,
}

impl JobsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Stores a new job; refused if the id exists.
    pub async fn insert(&self, job: &Job) -> Result<(), JobStoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Err(error) if is_condition_failed(&error) => Err(JobStoreError::AlreadyExists),
            other => other.map(drop).map_err(Into::into),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Job>, JobStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.map(job_from_item).transpose()?)
    }

    /// Removes a job that was never queued (its message could not be sent). A job that has
    /// moved on is left alone.
    pub async fn delete_queued(&self, id: &str) -> Result<(), JobStoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(id))
            .condition_expression("#status = :queued AND attempts = :zero")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Err(error) if is_condition_failed(&error) => Ok(()),
            other => other.map(drop).map_err(Into::into),
        }
    }

    /// Moves a job to `RUNNING` if it is `QUEUED`, or `RUNNING` under a lease that ran out (its
    /// invocation crashed or timed out). The new lease lasts until `lease_until_millis`.
    pub async fn start(&self, id: &str, now: DateTime<Utc>, lease_until_millis: i64) -> Result<Start, JobStoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(
                "SET #status = :running, attempts = attempts + :one, started_at = :now, updated_at = :now, \
                 lease_until = :lease",
            )
            .condition_expression(
                "attribute_exists(id) AND (#status = :queued OR (#status = :running AND lease_until < :now_millis))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(format_timestamp(&now)))
            .expression_attribute_values(":now_millis", n(now.timestamp_millis()))
            .expression_attribute_values(":lease", n(lease_until_millis))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(Start::Started(job_from_item(item)?)),
                None => Err(JobStoreError::Malformed(MalformedItem(
                    "the started job came back empty".into(),
                ))),
            },
            Err(error) if is_condition_failed(&error) => Ok(match self.get(id).await? {
                None => Start::Unknown,
                Some(job) if job.status.is_finished() => Start::AlreadyFinished(job),
                Some(_) => Start::Busy,
            }),
            Err(error) => Err(error.into()),
        }
    }

    /// Records how run number `attempt` ended. `false` when the run no longer owns the job (its
    /// lease ran out and another run took over): then nothing is written.
    /// With an `event`, the event that reports it goes into the outbox in the same transaction. // starter: with fanout|events
    pub async fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<(&OutboxTable, &Envelope)>, // starter: with fanout|events
    ) -> Result<bool, JobStoreError> {
        let (status, field, value, finished) = match finish {
            Finish::Succeeded(result) => (JobStatus::Succeeded, "#result", result.to_string(), true),
            Finish::Failed(reason) => (JobStatus::Failed, "#error", reason.clone(), true),
            Finish::Requeue(reason) => (JobStatus::Queued, "#error", reason.clone(), false),
        };
        let mut expression = format!("SET #status = :status, {field} = :value, updated_at = :now");
        if finished {
            expression.push_str(", finished_at = :now");
        }
        expression.push_str(" REMOVE lease_until");
        let update = Update::builder()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(expression)
            .condition_expression("#status = :running AND attempts = :attempt")
            .expression_attribute_names("#status", "status")
            // RESULT and ERROR are DynamoDB reserved words: named through placeholders.
            .expression_attribute_names(field, &field[1..])
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_values(":value", s(value))
            .expression_attribute_values(":now", s(format_timestamp(&now)))
            .build()
            .map_err(|error| JobStoreError::Failed(error.into()))?;

        // starter: with fanout|events
        if let Some((outbox, event)) = event {
            return self.finish_with_event(update, outbox, event, now).await;
        }
        // starter: end
        match send_update(&self.client, update).await {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    // starter: with fanout|events
    /// The finishing `update` and the `event` into the outbox, in one transaction.
    async fn finish_with_event(
        &self,
        update: Update,
        outbox: &OutboxTable,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<bool, JobStoreError> {
        let put_event = outbox.put(event, now).map_err(JobStoreError::Failed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put_event).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .first()
                        .and_then(|reason| reason.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                _ => Err(error.into()),
            },
        }
    }
    // starter: end
}

/// A job as its table keeps it, one attribute per field through serde_dynamo (written by
/// `job_to_item`, read back here). `input` and `result` are JSON text, not DynamoDB maps: any JSON
/// a kind takes or returns fits in a string (DynamoDB refuses a number past 38 significant digits
/// or outside 1e-130..1e126) and reads back exactly as written.
#[derive(Deserialize)]
struct JobItem {
    id: String,
    // Any name: a job of a kind this deployment no longer has still reads back (and fails).
    #[serde(rename = "type")]
    job_type: JobType,
    status: JobStatus,
    #[serde(deserialize_with = "json_text::deserialize")]
    input: Value,
    attempts: u32,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default, deserialize_with = "json_text::optional")]
    result: Option<Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(with = "contracts::time")]
    created_at: DateTime<Utc>,
    #[serde(with = "contracts::time")]
    updated_at: DateTime<Utc>,
    // Set by the start and finish updates.
    #[serde(default, deserialize_with = "optional_time")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "optional_time")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
}

fn job_to_item(job: &Job) -> Result<Item, MalformedItem> {
    /// What the first write of a job holds: [`JobItem`]'s attributes, borrowed from the job.
    #[derive(Serialize)]
    struct NewJobItem<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        job_type: &'a JobType,
        status: JobStatus,
        #[serde(serialize_with = "json_text::serialize")]
        input: &'a Value,
        attempts: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        callback_url: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "json_text::serialize")]
        result: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        #[serde(with = "contracts::time")]
        created_at: &'a DateTime<Utc>,
        #[serde(with = "contracts::time")]
        updated_at: &'a DateTime<Utc>,
        expires_at: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_id: Option<&'a str>,
    }
    let item = NewJobItem {
        id: &job.id,
        job_type: &job.job_type,
        status: job.status,
        input: &job.input,
        attempts: job.attempts,
        callback_url: job.callback_url.as_deref(),
        result: job.result.as_ref(),
        error: job.error.as_deref(),
        created_at: &job.created_at,
        updated_at: &job.updated_at,
        expires_at: job.created_at.timestamp() + JOB_RETENTION.as_secs() as i64,
        owner: job.owner.as_deref(),
        customer_id: job.customer_id.as_deref(),
    };
    serde_dynamo::to_item(item).map_err(|error| MalformedItem(format!("a job does not make an item: {error}")))
}

fn job_from_item(item: Item) -> Result<Job, MalformedItem> {
    let item: JobItem = serde_dynamo::from_item(item).map_err(|error| MalformedItem(format!("not a job: {error}")))?;
    Ok(Job {
        id: item.id,
        job_type: item.job_type,
        status: item.status,
        input: item.input,
        attempts: item.attempts,
        customer_id: item.customer_id,
        callback_url: item.callback_url,
        result: item.result,
        error: item.error,
        created_at: item.created_at,
        updated_at: item.updated_at,
        started_at: item.started_at,
        finished_at: item.finished_at,
        owner: item.owner,
    })
}

fn optional_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<Timestamp>::deserialize(deserializer).map(|at| at.map(|Timestamp(at)| at))
}

#[derive(Deserialize)]
struct Timestamp(#[serde(with = "contracts::time")] DateTime<Utc>);

/// A JSON value kept as its text.
mod json_text {
    use std::borrow::Cow;

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    /// `Some(value)` is written as `value`'s text (a `None` is skipped before this is called).
    pub fn serialize<S: Serializer, T: Serialize>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&serde_json::to_string(value).map_err(S::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
        Option::<Cow<'de, str>>::deserialize(deserializer)?
            .map(|text| serde_json::from_str(&text).map_err(D::Error::custom))
            .transpose()
    }
}
