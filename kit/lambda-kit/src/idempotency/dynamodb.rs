//! Idempotency records in a DynamoDB table keyed by `key`, expiring through the TTL attribute
//! `expires_at` (epoch seconds).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, Update};

use serde::{Deserialize, Serialize};

use super::{Claim, ExistingClaim, NewClaim, StoredResponse};
use crate::dynamodb::{BoxError, Item, MalformedItem, is_condition_failed, n, s, send_update};

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// Throttling, a timeout or an outage: retrying later may succeed.
    #[error("the idempotency table is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the idempotency table request failed")]
    Failed(#[source] BoxError),
    #[error(transparent)]
    Malformed(#[from] MalformedItem),
    /// The claim this request held was taken over (its invocation outlived the claim).
    #[error("the idempotency claim was lost")]
    ClaimLost,
}

crate::sdk_error_classified_into!(IdempotencyError);

impl super::ClaimStore for IdempotencyTable {
    type Error = IdempotencyError;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, IdempotencyError> {
        IdempotencyTable::claim(self, claim).await
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), IdempotencyError> {
        IdempotencyTable::complete(self, claim, response).await
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), IdempotencyError> {
        IdempotencyTable::release(self, claim).await
    }
}

#[derive(Debug, Clone)]
pub struct IdempotencyTable {
    client: Client,
    table: String,
}

impl IdempotencyTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Claims the key, or reports who holds it.
    ///
    /// One conditional update in the common cases: a new key is claimed (with the id the claim
    /// reserves), an abandoned or released claim is resumed (keeping the id its first request
    /// reserved: `if_not_exists`), and a key held by another request comes back with the
    /// failed condition (`ReturnValuesOnConditionCheckFailure`). Only a record past its TTL but
    /// not yet swept (DynamoDB deletes expired items within days, not at once) takes a second
    /// write, which starts the key's new window afresh.
    pub async fn claim(&self, claim: &NewClaim) -> Result<Claim, IdempotencyError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key", s(claim.key.as_str()))
            .condition_expression(
                "attribute_not_exists(#key) \
                 OR (#status = :in_progress AND in_progress_until < :now_millis AND expires_at >= :now_seconds)",
            )
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":fingerprint", s(&claim.fingerprint))
            .expression_attribute_values(":until", n(claim.in_progress_until_millis))
            .expression_attribute_values(":expires_at", n(claim.expires_at_seconds))
            .expression_attribute_values(":now_seconds", n(claim.now_millis / 1000))
            .expression_attribute_values(":now_millis", n(claim.now_millis))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut set = "SET #status = :in_progress, fingerprint = :fingerprint, in_progress_until = :until, \
                       expires_at = :expires_at"
            .to_owned();
        if let Some(reserved_id) = &claim.reserved_id {
            set.push_str(", reserved_id = if_not_exists(reserved_id, :reserved_id)");
            update = update.expression_attribute_values(":reserved_id", s(reserved_id));
        }
        let existing = match update.update_expression(set).send().await {
            Ok(output) => {
                let inherited = output
                    .attributes
                    .and_then(|mut old| old.remove("reserved_id"))
                    .and_then(|id| id.as_s().ok().cloned());
                return Ok(match inherited {
                    Some(reserved_id) => Claim::Resumed { reserved_id },
                    None => Claim::Acquired,
                });
            }
            Err(error) if is_condition_failed(&error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                _ => None,
            },
            Err(error) => return Err(error.into()),
        };
        let existing = match existing {
            Some(item) => item,
            // Released or swept between our write and now: report it as in progress; the
            // client's retry will find the key free.
            None => match self.read(claim).await? {
                Some(item) => item,
                None => return Ok(in_progress(claim)),
            },
        };
        let expired = existing
            .get("expires_at")
            .and_then(|at| at.as_n().ok())
            .and_then(|at| at.parse::<i64>().ok())
            .is_some_and(|at| at < claim.now_millis / 1000);
        if !expired {
            return Ok(Claim::Existing(existing_claim(existing)?));
        }
        self.claim_expired(claim).await
    }

    /// Claims a key whose record is past its TTL: a new window, nothing of the old one kept.
    async fn claim_expired(&self, claim: &NewClaim) -> Result<Claim, IdempotencyError> {
        let item = serde_dynamo::to_item(NewClaimItem {
            key: claim.key.as_str(),
            status: IN_PROGRESS,
            fingerprint: &claim.fingerprint,
            in_progress_until: claim.in_progress_until_millis,
            expires_at: claim.expires_at_seconds,
            reserved_id: claim.reserved_id.as_deref(),
        })
        .map_err(|error| IdempotencyError::Failed(error.into()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("expires_at < :now_seconds")
            .expression_attribute_values(":now_seconds", n(claim.now_millis / 1000))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            // Another request started the new window first.
            Err(error) if is_condition_failed(&error) => match self.read(claim).await? {
                Some(item) => Ok(Claim::Existing(existing_claim(item)?)),
                None => Ok(in_progress(claim)),
            },
            Err(error) => Err(error.into()),
        }
    }

    async fn read(&self, claim: &NewClaim) -> Result<Option<Item>, IdempotencyError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key", s(claim.key.as_str()))
            .consistent_read(true)
            .send()
            .await?
            .item)
    }

    /// The update that completes a claim with its answer, to run in the same transaction as the
    /// write it protects. It fails if the claim is no longer this request's.
    pub fn completion(&self, claim: &NewClaim, response: &StoredResponse) -> Result<Update, IdempotencyError> {
        let mut update_expression =
            "SET #status = :completed, response_status = :status, response_body = :body".to_owned();
        let mut builder = Update::builder()
            .table_name(&self.table)
            .key("key", s(claim.key.as_str()))
            .condition_expression(
                "#status = :in_progress AND fingerprint = :fingerprint AND in_progress_until = :until",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":fingerprint", s(&claim.fingerprint))
            .expression_attribute_values(":until", n(claim.in_progress_until_millis))
            .expression_attribute_values(":status", n(response.status))
            .expression_attribute_values(":body", s(&response.body));
        if let Some(location) = &response.location {
            update_expression.push_str(", response_location = :location");
            builder = builder.expression_attribute_values(":location", s(location));
        }
        builder
            .update_expression(update_expression)
            .build()
            .map_err(|error| IdempotencyError::Failed(error.into()))
    }

    /// Completes a claim on its own, when what it protects is not a single DynamoDB transaction.
    pub async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), IdempotencyError> {
        let update = self.completion(claim, response)?;
        match send_update(&self.client, update).await {
            Err(error) if is_condition_failed(&error) => Err(IdempotencyError::ClaimLost),
            other => other.map_err(Into::into),
        }
    }

    /// Gives up this request's claim while it is in progress (the protected write failed): the
    /// next request with the key resumes it at once, with its reserved id (so it finds anything
    /// the failed attempt left). A completed claim, or one another request took over meanwhile,
    /// is left alone.
    pub async fn release(&self, claim: &NewClaim) -> Result<(), IdempotencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key", s(claim.key.as_str()))
            .update_expression("SET in_progress_until = :released")
            .condition_expression("#status = :in_progress AND in_progress_until = :until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":until", n(claim.in_progress_until_millis))
            .expression_attribute_values(":released", n(0))
            .send()
            .await;
        match result {
            Err(error) if is_condition_failed(&error) => Ok(()),
            other => other.map(drop).map_err(Into::into),
        }
    }
}

/// A claim as [`IdempotencyTable::claim`] writes it (through serde_dynamo): in progress, until
/// the completion's update adds the answer.
#[derive(Serialize)]
struct NewClaimItem<'a> {
    key: &'a str,
    status: &'a str,
    fingerprint: &'a str,
    in_progress_until: i64,
    expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reserved_id: Option<&'a str>,
}

/// A claim as a request that finds it reads it back.
#[derive(Deserialize)]
struct ClaimItem {
    status: String,
    fingerprint: String,
    #[serde(default)]
    response_status: Option<u16>,
    #[serde(default)]
    response_location: Option<String>,
    #[serde(default)]
    response_body: Option<String>,
}

/// A key another request holds, as far as this one can tell.
fn in_progress(claim: &NewClaim) -> Claim {
    Claim::Existing(ExistingClaim {
        fingerprint: claim.fingerprint.clone(),
        response: None,
    })
}

fn existing_claim(item: Item) -> Result<ExistingClaim, MalformedItem> {
    let malformed = |error: String| MalformedItem(format!("not an idempotency record: {error}"));
    let item: ClaimItem = serde_dynamo::from_item(item).map_err(|error| malformed(error.to_string()))?;
    let response = match (item.status.as_str(), item.response_status, item.response_body) {
        (COMPLETED, Some(status), Some(body)) => Some(StoredResponse {
            status,
            location: item.response_location,
            body,
        }),
        (COMPLETED, _, _) => return Err(malformed("a completed record without its answer".into())),
        _ => None,
    };
    Ok(ExistingClaim {
        fingerprint: item.fingerprint,
        response,
    })
}
