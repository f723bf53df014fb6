//! Settings that exist for the local stack only, kept off the production path twice:
//! - they are compiled in only with the `local` feature, which only local-stack builds turn on
//!   (`make test`, `make demo`, `make load`); in any other build [`switch`] is a constant `false`
//!   and no variable is read;
//! - even then a switch is honoured only when the SDK endpoint (`AWS_ENDPOINT_URL`) is an
//!   `http://` URL on loopback, that is under the local stack, with an error in the log otherwise.

/// `LOCAL_WEBHOOKS_ALLOW_LOOPBACK=true`: callback URLs may be `http://` on loopback, so the
/// tests' webhook receivers on 127.0.0.1 can be called. template.yaml never sets it.
pub const ALLOW_LOOPBACK_CALLBACKS: &str = "LOCAL_WEBHOOKS_ALLOW_LOOPBACK";

/// Whether the SDK endpoint is the local stack's.
pub fn is_local_endpoint(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(is_loopback_url)
}

/// Reads a local-only boolean switch: `true` only when the variable says `true` and the process
/// runs under the local stack.
#[cfg(feature = "local")]
pub fn switch(name: &str) -> bool {
    let on = std::env::var(name).is_ok_and(|value| value.trim() == "true");
    if !on {
        return false;
    }
    if !is_local_endpoint(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()) {
        tracing::error!(
            variable = name,
            "local-only switch ignored: AWS_ENDPOINT_URL is not on loopback"
        );
        return false;
    }
    tracing::warn!(variable = name, "local-only switch is on");
    true
}

/// A build without the `local` feature has no local switches: every one is off.
#[cfg(not(feature = "local"))]
pub const fn switch(_name: &str) -> bool {
    false
}

/// Whether this binary was built for the local stack (feature `local`).
pub const fn is_local_build() -> bool {
    cfg!(feature = "local")
}

pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_http_loopback_endpoint_is_local() {
        assert!(is_local_endpoint(Some("http://127.0.0.1:5000")));
        assert!(is_local_endpoint(Some("http://localhost:4566/")));
        assert!(is_local_endpoint(Some("http://[::1]:5000")));
        assert!(!is_local_endpoint(Some("https://127.0.0.1:5000")));
        assert!(!is_local_endpoint(Some("http://127.0.0.1.attacker.example")));
        assert!(!is_local_endpoint(Some("https://dynamodb.eu-west-1.amazonaws.com")));
        assert!(!is_local_endpoint(None));
    }
}
