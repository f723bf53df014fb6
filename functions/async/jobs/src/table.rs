//! The jobs table: one item per job, keyed by `id`. Every state change is a conditional write,
//! so concurrent or repeated deliveries of one job cannot both move it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError; // starter: with fanout
use aws_sdk_dynamodb::types::TransactWriteItem; // starter: with fanout
use aws_sdk_dynamodb::types::{ReturnValue, Update};
use chrono::{DateTime, Utc};
use lambda_kit::dynamodb::{
    Item, MalformedItem, is_condition_failed, n, number, optional_string, s, send_update, string,
};
use lambda_kit::events::Envelope; // starter: with fanout
use lambda_kit::outbox::OutboxTable; // starter: with fanout
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
            .set_item(Some(job_to_item(job)))
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
        Ok(output.item.as_ref().map(job_from_item).transpose()?)
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
                Some(item) => Ok(Start::Started(job_from_item(&item)?)),
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
    /// With an `event`, the event that reports it goes into the outbox in the same transaction. // starter: with fanout
    pub async fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<(&OutboxTable, &Envelope)>, // starter: with fanout
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

        // starter: with fanout
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

    // starter: with fanout
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

/// A job item, written by hand rather than through serde_dynamo on purpose: `input` and `result`
/// are the caller's JSON and are kept as JSON text, because arbitrary JSON does not map onto
/// DynamoDB's types without loss (a number past 38 significant digits, or outside 1e-130..1e126,
/// is refused), and the finish writes `result` in the same conditional update that moves the
/// state.
fn job_to_item(job: &Job) -> Item {
    let expires_at = job.created_at.timestamp() + JOB_RETENTION.as_secs() as i64;
    let mut item = Item::from([
        ("id".to_owned(), s(&job.id)),
        ("type".to_owned(), s(job.job_type.as_str())),
        ("status".to_owned(), s(job.status.as_str())),
        ("input".to_owned(), s(job.input.to_string())),
        ("attempts".to_owned(), n(job.attempts)),
        ("created_at".to_owned(), s(format_timestamp(&job.created_at))),
        ("updated_at".to_owned(), s(format_timestamp(&job.updated_at))),
        ("expires_at".to_owned(), n(expires_at)),
    ]);
    if let Some(result) = &job.result {
        item.insert("result".to_owned(), s(result.to_string()));
    }
    if let Some(error) = &job.error {
        item.insert("error".to_owned(), s(error));
    }
    if let Some(url) = &job.callback_url {
        item.insert("callback_url".to_owned(), s(url));
    }
    item
}

fn job_from_item(item: &Item) -> Result<Job, MalformedItem> {
    let json = |name: &str, text: String| {
        serde_json::from_str::<Value>(&text).map_err(|_| MalformedItem(format!("{name} is not JSON")))
    };
    let time = |name: &str, text: String| {
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| MalformedItem(format!("{name} is not a timestamp")))
    };
    // Any name: a job of a type this deployment no longer runs still reads back (and fails).
    let job_type = string(item, "type")?;
    let status = string(item, "status")?;
    Ok(Job {
        id: string(item, "id")?,
        job_type: JobType::from(job_type),
        status: JobStatus::parse(&status).ok_or_else(|| MalformedItem(format!("unknown job status {status:?}")))?,
        input: json("input", string(item, "input")?)?,
        attempts: number(item, "attempts")?,
        callback_url: optional_string(item, "callback_url"),
        result: optional_string(item, "result")
            .map(|text| json("result", text))
            .transpose()?,
        error: optional_string(item, "error"),
        created_at: time("created_at", string(item, "created_at")?)?,
        updated_at: time("updated_at", string(item, "updated_at")?)?,
        started_at: optional_string(item, "started_at")
            .map(|text| time("started_at", text))
            .transpose()?,
        finished_at: optional_string(item, "finished_at")
            .map(|text| time("finished_at", text))
            .transpose()?,
    })
}
