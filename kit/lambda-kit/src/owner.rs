//! Who owns what a request creates, and who may read it: the caller the API's authorizer
//! established ([`crate::http::caller`]), kept as a digest beside the thing.
//!
//! Behind an authorizer (`AuthMode` IAM or JWT) what a caller creates is that caller's: another
//! caller reads it as if it did not exist (404), so ids reveal nothing. On an open API
//! (`AuthMode` NONE) nothing tells callers apart, and anyone reads anything.

use sha2::{Digest, Sha256};

/// The owner of what `request` creates, or `None` on a route without an authorizer.
#[cfg(feature = "http")]
pub fn of(request: &lambda_http::Request) -> Option<String> {
    crate::http::caller(request).map(|caller| digest(&caller))
}

/// A caller as it is kept: its SHA-256, hex. A fixed length, and no identity in a table (a JWT
/// subject may be an e-mail address).
pub fn digest(caller: &str) -> String {
    hex::encode(Sha256::digest(caller.as_bytes()))
}

/// Whether `reader` (an owner as [`of`] gives it) may see what `owner` created: on an open API
/// (`reader` is `None`) anyone may; behind an authorizer only its owner. A thing created on an
/// open API has no owner, and is then no one's to read: switching the API from NONE to IAM or
/// JWT closes what was made while it was open.
pub fn may_read(owner: Option<&str>, reader: Option<&str>) -> bool {
    match reader {
        None => true,
        Some(reader) => owner == Some(reader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_an_authorizer_only_the_owner_reads() {
        let alice = digest("jwt:https://idp alice");
        let bob = digest("jwt:https://idp bob");
        assert!(may_read(Some(&alice), Some(&alice)));
        assert!(!may_read(Some(&alice), Some(&bob)));
        assert!(
            !may_read(None, Some(&bob)),
            "what was made on an open API is no caller's"
        );
    }

    #[test]
    fn on_an_open_api_anyone_reads() {
        assert!(may_read(Some(&digest("iam:arn:aws:iam::1:user/a")), None));
        assert!(may_read(None, None));
    }

    #[test]
    fn a_digest_names_no_identity_and_tells_callers_apart() {
        let alice = digest("jwt:https://idp alice@example.com");
        assert_eq!(alice.len(), 64);
        assert!(!alice.contains("alice"));
        assert_ne!(alice, digest("jwt:https://idp bob@example.com"));
    }
}
