//! The AWS adapters of the ports: DynamoDB for jobs and keys, SQS for the queue.

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue};
use jobs::model::{Job, JobMessage};
use jobs::store::JobStoreError;
use jobs::table::JobsTable;
use lambda_kit::idempotency::dynamodb::{IdempotencyError, IdempotencyTable};
use lambda_kit::idempotency::{Claim, ClaimStore, NewClaim, StoredResponse};

use crate::ports::{JobQueue, JobStore, QueueError};

#[derive(Debug, Clone)]
pub struct DynamoDbJobStore {
    jobs: JobsTable,
    idempotency: IdempotencyTable,
}

impl DynamoDbJobStore {
    pub fn new(jobs: JobsTable, idempotency: IdempotencyTable) -> Self {
        Self { jobs, idempotency }
    }
}

impl JobStore for DynamoDbJobStore {
    async fn insert_job(&self, job: &Job) -> Result<(), JobStoreError> {
        self.jobs.insert(job).await
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, JobStoreError> {
        self.jobs.get(id).await
    }

    async fn delete_queued_job(&self, id: &str) -> Result<(), JobStoreError> {
        self.jobs.delete_queued(id).await
    }
}

impl ClaimStore for DynamoDbJobStore {
    type Error = IdempotencyError;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, IdempotencyError> {
        self.idempotency.claim(claim).await
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), IdempotencyError> {
        self.idempotency.complete(claim, response).await
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), IdempotencyError> {
        self.idempotency.release(claim).await
    }
}

/// The jobs queue. The body names the job; the job id and type also travel as message attributes
/// (visible to consumers and tools without parsing), and the trace header as the `AWSTraceHeader`
/// system attribute, which Lambda's SQS poller continues.
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsJobQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|error| QueueError(error.into()))
}

impl JobQueue for SqsJobQueue {
    async fn send(&self, message: &JobMessage, trace_header: Option<&str>) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|error| QueueError(error.into()))?;
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("job_id", string_attribute(&message.job_id)?)
            .message_attributes("job_type", string_attribute(message.job_type.as_str())?);
        if let Some(trace_header) = trace_header {
            let value = MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(trace_header)
                .build()
                .map_err(|error| QueueError(error.into()))?;
            request = request.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
        }
        request.send().await.map(drop).map_err(|error| QueueError(error.into()))
    }
}
