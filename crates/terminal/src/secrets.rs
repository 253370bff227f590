//! Secrets (the terminal's bearer token, the gateway API key) behind a small trait: the OS keyring
//! in the product, an in-memory map in tests.
//!
//! A secret value only ever travels as a [`Secret`], whose `Debug` and `Display` are redacted, and
//! no error here carries a value (the keyring's own `BadEncoding` error holds the raw bytes; it is
//! mapped to a message without them). Deliberately absent: any file, database or environment
//! fallback — where a secret comes from besides the keyring is the front end's explicit choice
//! (the command line's `PAYDESK_TERMINAL_TOKEN` for automation), never a silent default here.
//!
//! The keyring calls block (D-Bus round trips to the Secret Service): call them from a blocking
//! task, never on an async runtime thread or the UI's main thread.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// The keyring entry of this terminal's bearer token for the central.
pub const TERMINAL_TOKEN: &str = "terminal-token";

/// The keyring entry of the gateway's secret API key.
pub const GATEWAY_API_KEY: &str = "gateway-api-key";

/// The keyring entry of the PayPal app's client secret (its client id and URL are not secret).
pub const PAYPAL_CLIENT_SECRET: &str = "paypal-client-secret";

/// The keyring "service" all of Paydesk's entries live under (the entry name is the "user").
pub const KEYRING_SERVICE_DEFAULT: &str = "paydesk";

/// Longest secret accepted, in bytes: a Stripe key is ~110 characters and a terminal token 68; the
/// cap stops a pasted document from landing in the keyring.
pub const SECRET_BYTES_MAX: usize = 4_096;

/// Longest entry name: names are short constants like [`TERMINAL_TOKEN`].
const NAME_CHARS_MAX: usize = 64;

/// A secret value. Its formatting never shows it; [`Secret::expose`] is the one explicit way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value; refuses an empty one, one longer than [`SECRET_BYTES_MAX`], and whitespace or
    /// control characters (a pasted newline is the usual culprit; no token or key contains them).
    pub fn new(value: impl Into<String>) -> Result<Secret, SecretError> {
        let value = value.into();
        if value.is_empty() {
            return Err(SecretError::BadValue("the secret is empty"));
        }
        if value.len() > SECRET_BYTES_MAX {
            return Err(SecretError::BadValue(
                "the secret is longer than 4096 bytes",
            ));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SecretError::BadValue(
                "the secret contains whitespace or a control character",
            ));
        }
        Ok(Secret(value))
    }

    /// The value itself, for the one place that needs it (an HTTP header, a key type).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a secret could not be read or written. No variant carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No keyring to talk to (no D-Bus session, no Secret Service on it).
    #[error("no Secret Service is running: start a desktop session or gnome-keyring ({detail})")]
    Unavailable { detail: String },
    /// The keyring is there but refused (locked, access denied, a platform failure).
    #[error("the OS keyring refused the request: {detail}")]
    Keyring { detail: String },
    /// The stored value cannot be used (not UTF-8, or fails [`Secret::new`]'s checks).
    #[error(
        "the keyring entry {name:?} holds a value that is not a usable secret: store it again"
    )]
    Unusable { name: String },
    #[error("{0:?} is not a secret name: use lower-case letters, digits and '-'")]
    BadName(String),
    #[error("{0}")]
    BadValue(&'static str),
}

/// Where secrets live. Names are short constants ([`TERMINAL_TOKEN`], [`GATEWAY_API_KEY`]).
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The secret, or `None` when there is no entry of that name.
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError>;
    /// Stores (or replaces) the secret.
    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError>;
    /// Removes the entry; `false` if there was none.
    fn delete(&self, name: &str) -> Result<bool, SecretError>;
}

fn check_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_CHARS_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(SecretError::BadName(name.to_string()))
    }
}

/// Secrets in memory, for tests and for a process that was handed its secrets another way.
/// Everything is lost when it is dropped.
#[derive(Default)]
pub struct MemorySecretStore {
    entries: Mutex<HashMap<String, Secret>>,
}

impl MemorySecretStore {
    pub fn new() -> MemorySecretStore {
        MemorySecretStore::default()
    }
}

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .entries
            .lock()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("MemorySecretStore")
            .field("names", &names)
            .finish()
    }
}

impl SecretStore for MemorySecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        check_name(name)?;
        Ok(self.lock()?.get(name).cloned())
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        check_name(name)?;
        self.lock()?.insert(name.to_string(), value.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        check_name(name)?;
        Ok(self.lock()?.remove(name).is_some())
    }
}

impl MemorySecretStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Secret>>, SecretError> {
        self.entries.lock().map_err(|_| SecretError::Keyring {
            detail: "the in-memory secret store's lock was poisoned".into(),
        })
    }
}

/// The OS keyring through the `keyring` crate: on Linux the freedesktop Secret Service
/// (gnome-keyring, KWallet) over D-Bus, on macOS the Keychain, on Windows the Credential Manager.
#[derive(Debug, Clone)]
pub struct KeyringSecretStore {
    /// The keyring "service" of every entry; the entry name is the keyring "user".
    service: String,
}

impl KeyringSecretStore {
    /// A store whose entries live under `service` (normally [`KEYRING_SERVICE_DEFAULT`]).
    pub fn new(service: impl Into<String>) -> KeyringSecretStore {
        KeyringSecretStore {
            service: service.into(),
        }
    }

    /// Asks the keyring whether it can be reached at all (one read of a name nobody uses), so a
    /// front end can say "no keyring" at start-up instead of at the first charge.
    pub fn probe(&self) -> Result<(), SecretError> {
        self.get("probe").map(|_| ())
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, SecretError> {
        check_name(name)?;
        keyring::Entry::new(&self.service, name).map_err(|e| map_keyring_error(name, e))
    }
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Secret::new(value)
                .map(Some)
                .map_err(|_| SecretError::Unusable {
                    name: name.to_string(),
                }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(name, e)),
        }
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        self.entry(name)?
            .set_password(value.expose())
            .map_err(|e| map_keyring_error(name, e))
    }

    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_keyring_error(name, e)),
        }
    }
}

/// Words in a platform error that mean "there is no Secret Service to talk to" rather than "it
/// refused": no session bus, nobody owning `org.freedesktop.secrets`, no way to autolaunch one.
const NO_SERVICE_MARKERS: &[&str] = &[
    "ServiceUnknown",
    "org.freedesktop.secrets",
    "autolaunch",
    "DBUS_SESSION_BUS_ADDRESS",
    "NoReply",
    "No such file or directory",
    "Connection refused",
];

/// Maps the keyring crate's error without ever formatting a value it might carry.
fn map_keyring_error(name: &str, e: keyring::Error) -> SecretError {
    match e {
        // Holds the raw bytes of the stored value: never format it.
        keyring::Error::BadEncoding(_) => SecretError::Unusable {
            name: name.to_string(),
        },
        keyring::Error::NoStorageAccess(inner) => {
            let detail = inner.to_string();
            if NO_SERVICE_MARKERS.iter().any(|m| detail.contains(m)) {
                SecretError::Unavailable { detail }
            } else {
                SecretError::Keyring { detail }
            }
        }
        keyring::Error::PlatformFailure(inner) => {
            let detail = inner.to_string();
            if NO_SERVICE_MARKERS.iter().any(|m| detail.contains(m)) {
                SecretError::Unavailable { detail }
            } else {
                SecretError::Keyring { detail }
            }
        }
        keyring::Error::NoEntry => SecretError::Keyring {
            detail: format!("no entry {name:?}"),
        },
        keyring::Error::TooLong(attr, max) => SecretError::Keyring {
            detail: format!("{attr} is longer than the keyring's limit of {max}"),
        },
        keyring::Error::Invalid(attr, why) => SecretError::Keyring {
            detail: format!("{attr}: {why}"),
        },
        keyring::Error::Ambiguous(found) => SecretError::Keyring {
            detail: format!(
                "{} keyring entries match {name:?}: remove the duplicates with the keyring's own \
                 tool",
                found.len()
            ),
        },
        // The enum is non-exhaustive; a future variant is reported by kind only.
        _ => SecretError::Keyring {
            detail: "an unexpected keyring error".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set to `1` by the test script that runs these tests under `dbus-run-session` with an
    /// unlocked gnome-keyring: a missing Secret Service then fails the test instead of skipping.
    const REQUIRE_KEYRING_ENV: &str = "PAYDESK_REQUIRE_KEYRING";

    fn round_trip(store: &dyn SecretStore, name: &str) {
        let value = Secret::new("pdt_0123456789abcdef").unwrap();
        let _ = store.delete(name).unwrap();
        assert_eq!(store.get(name).unwrap(), None);
        store.set(name, &value).unwrap();
        assert_eq!(store.get(name).unwrap(), Some(value.clone()));
        let replaced = Secret::new("pdt_fedcba9876543210").unwrap();
        store.set(name, &replaced).unwrap();
        assert_eq!(store.get(name).unwrap(), Some(replaced));
        assert!(store.delete(name).unwrap());
        assert!(!store.delete(name).unwrap());
        assert_eq!(store.get(name).unwrap(), None);
    }

    #[test]
    fn the_memory_store_keeps_and_forgets() {
        round_trip(&MemorySecretStore::new(), TERMINAL_TOKEN);
    }

    #[test]
    fn secrets_never_show_in_formatting_or_errors() {
        let secret = Secret::new("sk_test_SuperSecretValue").unwrap();
        for text in [format!("{secret}"), format!("{secret:?}")] {
            assert!(!text.contains("SuperSecret"), "{text}");
        }
        let store = MemorySecretStore::new();
        store.set(GATEWAY_API_KEY, &secret).unwrap();
        assert!(!format!("{store:?}").contains("SuperSecret"));
        let err = Secret::new("sk_test_abc\n").unwrap_err();
        assert!(!err.to_string().contains("sk_test_abc"), "{err}");
        let err = map_keyring_error(
            GATEWAY_API_KEY,
            keyring::Error::BadEncoding(b"sk_test_SuperSecretValue".to_vec()),
        );
        assert!(!err.to_string().contains("SuperSecret"), "{err}");
        assert!(!format!("{err:?}").contains("SuperSecret"), "{err:?}");
    }

    #[test]
    fn bad_names_and_values_are_refused() {
        let store = MemorySecretStore::new();
        assert!(matches!(
            store.get("Terminal Token"),
            Err(SecretError::BadName(_))
        ));
        assert!(Secret::new("").is_err());
        assert!(Secret::new("x".repeat(SECRET_BYTES_MAX + 1)).is_err());
    }

    #[test]
    fn a_missing_secret_service_is_a_clear_error() {
        let err = map_keyring_error(
            TERMINAL_TOKEN,
            keyring::Error::PlatformFailure(
                "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was \
                 not provided by any .service files"
                    .into(),
            ),
        );
        assert!(matches!(err, SecretError::Unavailable { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(
                "no Secret Service is running: start a desktop session or gnome-keyring"
            ),
            "{err}"
        );
    }

    /// The real OS keyring. Without a Secret Service (plain `cargo test`) it says "skipped";
    /// with `PAYDESK_REQUIRE_KEYRING=1` (the test script, under `dbus-run-session` with an
    /// unlocked gnome-keyring) a missing service fails it.
    #[test]
    fn the_os_keyring_keeps_and_forgets() {
        let required = std::env::var(REQUIRE_KEYRING_ENV).as_deref() == Ok("1");
        // A service name of its own, so the test never touches a real installation's entries.
        let store = KeyringSecretStore::new(format!("paydesk-test-{}", std::process::id()));
        match store.probe() {
            Ok(()) => {}
            Err(SecretError::Unavailable { detail }) if !required => {
                println!("skipped: no Secret Service ({detail})");
                return;
            }
            Err(e) => panic!("the OS keyring is required ({REQUIRE_KEYRING_ENV}=1): {e}"),
        }
        round_trip(&store, TERMINAL_TOKEN);
        // A second store object sees what the first one wrote: the value is in the keyring, not
        // in the object (the keyring crate's mock store would fail this).
        let value = Secret::new("sk_test_keyring_round_trip").unwrap();
        store.set(GATEWAY_API_KEY, &value).unwrap();
        let again = KeyringSecretStore::new(store.service.clone());
        assert_eq!(again.get(GATEWAY_API_KEY).unwrap(), Some(value));
        assert!(again.delete(GATEWAY_API_KEY).unwrap());
    }
}
