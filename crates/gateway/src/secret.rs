//! The gateway API key as a type that cannot leak through formatting.
//!
//! The key comes from the caller (the OS keyring); this crate never reads or stores it anywhere
//! else. Its `Debug` and `Display` print a fixed redacted form, and no error message carries it.

use std::fmt;

/// What every formatting of an [`ApiKey`] prints. Fixed on purpose: not even a suffix of the key,
/// because "the last four characters" in a log line still narrow a search for a leaked key.
const REDACTED: &str = "sk_…[redacted]";

/// A secret gateway API key (Stripe `sk_test_…` / `sk_live_…` or a restricted `rk_…` key).
///
/// There is deliberately no `Deref`, `AsRef<str>`, `Serialize` or public accessor: the only reader
/// is the connector, which puts it into a header marked sensitive.
#[derive(Clone)]
pub struct ApiKey(String);

/// Why a key was refused. The messages never contain the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("the API key is empty: paste the secret key from the gateway's dashboard")]
    Empty,
    #[error(
        "the API key contains whitespace or a control character: copy it again without spaces"
    )]
    BadCharacter,
}

impl ApiKey {
    /// Wraps a key; refuses an empty key and characters that cannot travel in an HTTP header
    /// (a pasted newline is the usual culprit).
    pub fn new(key: impl Into<String>) -> Result<ApiKey, ApiKeyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(ApiKeyError::Empty);
        }
        if key
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(ApiKeyError::BadCharacter);
        }
        Ok(ApiKey(key))
    }

    /// True for Stripe test-mode keys, so a caller can refuse a live key in a demo setup.
    pub fn is_test_mode(&self) -> bool {
        self.0.starts_with("sk_test_") || self.0.starts_with("rk_test_")
    }

    /// True for Stripe's restricted keys (`rk_…`): the terminals' keys, which may only do what a
    /// charge needs (see the README's "Keys and TLS in production").
    pub fn is_restricted(&self) -> bool {
        self.0.starts_with("rk_")
    }

    /// The secret itself, for the `Authorization` header and for scrubbing messages. Crate-private.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("sk_test_51SuperSecretValue").unwrap();
        for text in [format!("{key}"), format!("{key:?}"), format!("{key:#?}")] {
            assert!(!text.contains("SuperSecret"), "{text}");
            assert!(text.contains("sk_…[redacted]"), "{text}");
        }
        assert!(key.is_test_mode());
        assert!(!ApiKey::new("sk_live_x").unwrap().is_test_mode());
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        assert_eq!(ApiKey::new("").unwrap_err(), ApiKeyError::Empty);
        let err = ApiKey::new("sk_test_abc\n").unwrap_err();
        assert_eq!(err, ApiKeyError::BadCharacter);
        assert!(!err.to_string().contains("sk_test_abc"));
    }
}
