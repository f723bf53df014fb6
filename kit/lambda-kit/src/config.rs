//! Reading typed settings from the environment.
//!
//! Each function declares its own config struct and builds it with these helpers in `main`, so a
//! missing or malformed setting stops the function at init with a message naming the variable,
//! instead of failing on the first request.

use std::str::FromStr;

/// A setting that is missing or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// A required string setting.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name }),
    }
}

/// A string setting that may be absent: `None` when unset or empty. For what another part of
/// the stack provides only where it is deployed: the template sets it only then.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// An optional setting parsed as `T`, with a default when it is unset or empty.
pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value.trim().parse().map_err(|err: T::Err| ConfigError::Invalid {
            name,
            value,
            reason: err.to_string(),
        }),
        _ => Ok(default),
    }
}
