//! Fault injection for the local load and failure runs (`make load`): a switch that makes a
//! chosen share of SQS records fail transiently, in every consumer built on
//! [`crate::sqs::process_batch`] (every SQS consumer of the project).
//!
//! Off by default, and unable to reach production by accident:
//! - it is read from `LOCAL_FAULT_TRANSIENT_RATE` (a share between 0 and 1), which template.yaml
//!   never sets (a template test checks that);
//! - it is honoured only when the SDK endpoint (`AWS_ENDPOINT_URL`) is on loopback, that is
//!   under the local stack; anywhere else the variable is ignored, with an error in the log;
//! - when active, the function says so in its log at init.
//!
//! A record fails on its first delivery only (`ApproximateReceiveCount` 1), before its work
//! starts, and the share is chosen by a hash of the `messageId`: the same records fail in every
//! run, and each of them succeeds when SQS delivers it again. So a fault costs a redelivery,
//! never a message.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::local::is_loopback_url;
use crate::sqs::SqsMessage;

/// The switch: the share of records whose first delivery fails.
pub const TRANSIENT_RATE_VARIABLE: &str = "LOCAL_FAULT_TRANSIENT_RATE";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    transient_rate: f64,
}

impl Faults {
    /// The faults `rate` and `endpoint` ask for, if any: `None` unless `rate` is a share in
    /// (0, 1] and `endpoint` is an `http://` URL on loopback.
    pub fn from_settings(rate: Option<&str>, endpoint: Option<&str>) -> Result<Option<Self>, &'static str> {
        let Some(rate) = rate.filter(|rate| !rate.trim().is_empty()) else {
            return Ok(None);
        };
        let transient_rate: f64 = rate.trim().parse().map_err(|_| "not a number")?;
        if !(transient_rate > 0.0 && transient_rate <= 1.0) {
            return Err("not a share in (0, 1]");
        }
        if !endpoint.is_some_and(is_loopback_url) {
            return Err("AWS_ENDPOINT_URL is not on loopback: fault injection runs only under the local stack");
        }
        Ok(Some(Self { transient_rate }))
    }

    /// Whether this delivery of `message` fails.
    pub fn fails(&self, message: &SqsMessage) -> bool {
        let first_delivery = message
            .attributes
            .get("ApproximateReceiveCount")
            .is_none_or(|count| count == "1");
        let id = message.message_id.as_deref().unwrap_or_default();
        first_delivery && share_of(id) < self.transient_rate
    }
}

/// The faults this process was started with, read once.
pub fn configured() -> Option<&'static Faults> {
    static FAULTS: OnceLock<Option<Faults>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            let rate = std::env::var(TRANSIENT_RATE_VARIABLE).ok();
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            match Faults::from_settings(rate.as_deref(), endpoint.as_deref()) {
                Ok(Some(faults)) => {
                    tracing::warn!(
                        transient_rate = faults.transient_rate,
                        "FAULT INJECTION IS ON: a share of SQS records fail their first delivery"
                    );
                    Some(faults)
                }
                Ok(None) => None,
                Err(reason) => {
                    tracing::error!(variable = TRANSIENT_RATE_VARIABLE, reason, "fault injection ignored");
                    None
                }
            }
        })
        .as_ref()
}

/// A stable number in [0, 1) for an id.
fn share_of(id: &str) -> f64 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, receive_count: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message
            .attributes
            .insert("ApproximateReceiveCount".to_owned(), receive_count.to_owned());
        message
    }

    #[test]
    fn the_switch_is_off_unless_set_and_local() {
        let local = Some("http://127.0.0.1:4566");
        assert_eq!(Faults::from_settings(None, local), Ok(None));
        assert_eq!(Faults::from_settings(Some(""), local), Ok(None));
        assert!(Faults::from_settings(Some("0.1"), local).unwrap().is_some());
        assert!(
            Faults::from_settings(Some("0.1"), Some("http://localhost:4566/"))
                .unwrap()
                .is_some()
        );
        for production in [
            None,
            Some("https://dynamodb.eu-west-1.amazonaws.com"),
            Some("http://127.0.0.1.evil.example:80"),
            Some("http://10.0.0.1:4566"),
        ] {
            assert!(
                Faults::from_settings(Some("0.1"), production).is_err(),
                "{production:?}"
            );
        }
        for bad in ["-0.1", "0", "1.5", "NaN", "ten percent"] {
            assert!(Faults::from_settings(Some(bad), local).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_chosen_share_fails_on_first_delivery_only() {
        let faults = Faults { transient_rate: 0.1 };
        let ids: Vec<String> = (0..10_000).map(|i| format!("message-{i}")).collect();
        let failing = ids.iter().filter(|id| faults.fails(&message(id, "1"))).count();
        assert!((900..1100).contains(&failing), "{failing} of 10,000");
        assert!(
            ids.iter().all(|id| !faults.fails(&message(id, "2"))),
            "a redelivery always succeeds"
        );
        let again = ids.iter().filter(|id| faults.fails(&message(id, "1"))).count();
        assert_eq!(failing, again, "the same records fail every time");
    }
}
