//! Logging set-up.

/// Installs the tracing subscriber once, at init.
///
/// Lambda's advanced logging controls are honoured: `AWS_LAMBDA_LOG_FORMAT=JSON` gives one JSON
/// object per line (what the template configures), `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`) the level.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Displays an error with all its sources, `outer: inner: root`, for one log field. SDK errors
/// say little at the top ("service error") and the cause deeper down.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_lists_every_source() {
        let error = Outer(std::io::Error::other("root cause"));
        assert_eq!(ErrorChain(&error).to_string(), "outer: root cause");
    }
}
