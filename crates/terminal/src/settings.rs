//! Where a terminal's settings come from, in one place for both front ends: the environment
//! variables and their names, the data directory and the journal in it, the `stack.json` of a
//! running embedded stack, the default gateway, and the two secrets (the OS keyring, or an
//! environment override for automation).
//!
//! The command line lets clap fill [`TerminalSettings`] from flags and the same variables; the
//! desktop reads them with [`TerminalSettings::from_env`]. Deliberately absent: any secret in a
//! file or on a command line, and guessing — a missing setting is an error that says how to
//! supply it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use paydesk_core::TerminalId;
use paydesk_gateway::ApiKey;
use serde::{Deserialize, Serialize};

use crate::secrets::{
    KeyringSecretStore, Secret, SecretError, SecretStore, GATEWAY_API_KEY, KEYRING_SERVICE_DEFAULT,
    PAYPAL_CLIENT_SECRET, TERMINAL_TOKEN,
};

/// The data directory: journal, offline caches, the embedded stack's files.
pub const DATA_DIR_ENV: &str = "PAYDESK_DATA_DIR";
/// The journal file; default: [`JOURNAL_FILE`] in the data directory.
pub const JOURNAL_ENV: &str = "PAYDESK_JOURNAL";
/// The central server's URL, or several separated by commas (centrals on one PostgreSQL database,
/// tried in the order given, the terminal failing over between them); unset means the embedded
/// default.
pub const CENTRAL_URL_ENV: &str = "PAYDESK_CENTRAL_URL";
/// The gateway's URL; default: the embedded stack's sandbox, else [`GATEWAY_URL_DEFAULT`].
pub const GATEWAY_URL_ENV: &str = "PAYDESK_GATEWAY_URL";
/// This terminal's id at the central.
pub const TERMINAL_ENV: &str = "PAYDESK_TERMINAL";
/// The OS keyring service the secrets live under.
pub const KEYRING_SERVICE_ENV: &str = "PAYDESK_KEYRING_SERVICE";
/// Automation-only override of the terminal token (the keyring is the norm).
pub const TERMINAL_TOKEN_ENV: &str = "PAYDESK_TERMINAL_TOKEN";
/// Automation-only override of the gateway key.
pub const GATEWAY_KEY_ENV: &str = "PAYDESK_GATEWAY_KEY";

/// The gateway used when none is configured: the real Stripe API.
pub const GATEWAY_URL_DEFAULT: &str = paydesk_gateway::stripe::STRIPE_API_BASE;
/// The terminal's journal in the data directory.
pub const JOURNAL_FILE: &str = "journal.sqlite";
/// Written by a running embedded stack in its data directory, removed when it stops.
pub const STACK_FILE: &str = "stack.json";
/// Locked (`flock`, exclusive) by a running embedded stack for as long as it runs; the kernel
/// drops the lock when the stack's process ends, however it ends.
pub const STACK_LOCK_FILE: &str = "stack.lock";

/// The embedded stack's terminal id in its data directory, kept across restarts (written by
/// `paydesk-stack`); it outlives the stack, so a terminal still knows who it is once it stops.
pub const STACK_TERMINAL_FILE: &str = "terminal.json";
/// The central (and gateway) URL of an embedded stack that is not running: port 0, where no
/// process can listen (binding port 0 picks another), so every connection is refused by this
/// machine's kernel. A terminal over a stopped stack thus takes its offline paths — the cached
/// queue, the offline sign-in verifier, the signed allowance — and its token goes nowhere, not even
/// to whoever binds the stopped stack's old port (review L6).
pub const STOPPED_STACK_URL: &str = "http://127.0.0.1:0";

/// Where a running embedded stack can be reached, and which terminal it provisioned. Written by
/// `paydesk-stack`, read here so a terminal finds the stack without flags. No secret in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFile {
    pub central_url: String,
    pub gateway_url: String,
    pub terminal_id: TerminalId,
}

/// True while an embedded stack runs over `data_dir` (it holds [`STACK_LOCK_FILE`]).
pub fn stack_alive(data_dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(data_dir.join(STACK_LOCK_FILE)) else {
        return false;
    };
    // Fully qualified: the standard library's newer inherent `try_lock_shared` would win.
    matches!(
        fs4::FileExt::try_lock_shared(&file),
        Err(fs4::TryLockError::WouldBlock)
    )
}

/// The running stack's description in `data_dir`, if one is there, readable, and its stack is
/// still running (review L6: after a crashed stack, `stack.json` stays behind, and whoever binds
/// its recorded port next would receive this terminal's token).
pub fn read_stack_file(data_dir: &Path) -> Option<StackFile> {
    if !stack_alive(data_dir) {
        return None;
    }
    let bytes = std::fs::read(data_dir.join(STACK_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The terminal id of an embedded stack that ran over `data_dir` and is not running now (its
/// [`STACK_TERMINAL_FILE`] is there, its [`STACK_LOCK_FILE`] is not held).
pub fn stopped_stack_terminal(data_dir: &Path) -> Option<TerminalId> {
    #[derive(Deserialize)]
    struct TerminalFile {
        terminal_id: TerminalId,
    }
    if stack_alive(data_dir) {
        return None;
    }
    let bytes = std::fs::read(data_dir.join(STACK_TERMINAL_FILE)).ok()?;
    serde_json::from_slice::<TerminalFile>(&bytes)
        .ok()
        .map(|f| f.terminal_id)
}

/// A setting that is missing or malformed; the message says how to supply it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// One of the terminal's secrets, with where it comes from and how to provide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    TerminalToken,
    GatewayKey,
    /// The PayPal app's client secret (only for a terminal with PayPal access).
    PaypalSecret,
}

impl SecretKind {
    /// The keyring entry.
    pub fn entry(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => TERMINAL_TOKEN,
            SecretKind::GatewayKey => GATEWAY_API_KEY,
            SecretKind::PaypalSecret => PAYPAL_CLIENT_SECRET,
        }
    }

    /// The environment override.
    pub fn env(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => TERMINAL_TOKEN_ENV,
            SecretKind::GatewayKey => GATEWAY_KEY_ENV,
            SecretKind::PaypalSecret => crate::open::PAYPAL_SECRET_ENV,
        }
    }

    /// What a person calls it.
    pub fn what(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => "terminal token",
            SecretKind::GatewayKey => "gateway key",
            SecretKind::PaypalSecret => "PayPal client secret",
        }
    }

    /// The `paydesk provision` argument that stores it.
    pub fn provision_arg(self) -> &'static str {
        match self {
            SecretKind::TerminalToken => "terminal-token",
            SecretKind::GatewayKey => "gateway-key",
            SecretKind::PaypalSecret => "paypal-secret",
        }
    }

    /// Checks a value before it is stored: a secret at all, and for the gateways a key the
    /// connector accepts. The message never contains the value.
    pub fn parse(self, text: &str) -> Result<Secret, String> {
        let secret = Secret::new(text.trim()).map_err(|e| e.to_string())?;
        if self != SecretKind::TerminalToken {
            ApiKey::new(secret.expose()).map_err(|e| e.to_string())?;
        }
        Ok(secret)
    }
}

/// Why a secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretLoadError {
    /// The keyring has no such entry.
    #[error(
        "no {what} in the OS keyring: store it with `paydesk provision {arg}` (it reads the value \
         from stdin), or set {env} for automation",
        what = .0.what(), arg = .0.provision_arg(), env = .0.env()
    )]
    Missing(SecretKind),
    /// The environment override is not a usable secret.
    #[error("{env}: {detail}", env = .kind.env())]
    BadOverride { kind: SecretKind, detail: String },
    /// The keyring itself failed (not running, locked, refused).
    #[error("{error}")]
    Keyring {
        kind: SecretKind,
        #[source]
        error: SecretError,
    },
}

/// A terminal's settings as given (flags, environment, or a test), resolved on demand.
#[derive(Debug, Clone)]
pub struct TerminalSettings {
    pub data_dir: Option<PathBuf>,
    pub journal: Option<PathBuf>,
    pub central_url: Option<String>,
    pub gateway_url: Option<String>,
    pub terminal: Option<String>,
    /// Where the secrets live: the OS keyring in the product, a memory store in tests.
    pub secrets: Arc<dyn SecretStore>,
    /// The keyring service name (for messages; the store already uses it).
    pub keyring_service: String,
    pub terminal_token_override: Option<String>,
    pub gateway_key_override: Option<String>,
    /// `PAYDESK_PAYPAL_SECRET`: the PayPal client secret for automation (else the keyring).
    pub paypal_secret_override: Option<String>,
}

impl TerminalSettings {
    /// Settings with nothing given and the OS keyring under `keyring_service`.
    pub fn new(keyring_service: impl Into<String>) -> TerminalSettings {
        let keyring_service = keyring_service.into();
        TerminalSettings {
            data_dir: None,
            journal: None,
            central_url: None,
            gateway_url: None,
            terminal: None,
            secrets: Arc::new(KeyringSecretStore::new(keyring_service.clone())),
            keyring_service,
            terminal_token_override: None,
            gateway_key_override: None,
            paypal_secret_override: None,
        }
    }

    /// Every setting from its environment variable; empty values count as unset.
    pub fn from_env() -> TerminalSettings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut settings = TerminalSettings::new(
            var(KEYRING_SERVICE_ENV).unwrap_or_else(|| KEYRING_SERVICE_DEFAULT.into()),
        );
        settings.data_dir = var(DATA_DIR_ENV).map(PathBuf::from);
        settings.journal = var(JOURNAL_ENV).map(PathBuf::from);
        settings.central_url = var(CENTRAL_URL_ENV);
        settings.gateway_url = var(GATEWAY_URL_ENV);
        settings.terminal = var(TERMINAL_ENV);
        settings.terminal_token_override = var(TERMINAL_TOKEN_ENV);
        settings.gateway_key_override = var(GATEWAY_KEY_ENV);
        settings.paypal_secret_override = var(crate::open::PAYPAL_SECRET_ENV);
        settings
    }

    /// The data directory given, or `default` (each front end has its own default place).
    pub fn data_dir_or(&self, default: Option<PathBuf>) -> Result<PathBuf, SettingsError> {
        self.data_dir.clone().or(default).ok_or_else(|| {
            SettingsError(format!(
                "no data directory: pass --data-dir DIR or set {DATA_DIR_ENV}"
            ))
        })
    }

    /// When no central is given and the embedded stack of `data_dir` is stopped: these settings
    /// with that stack's central and gateway at [`STOPPED_STACK_URL`] (unreachable without a
    /// connection) and its terminal id, so the commands answer offline (exit 5, the cached queue)
    /// instead of "no central configured". `None` when a central is given, the stack runs, or no
    /// stack ever ran there.
    pub fn over_stopped_stack(&self, data_dir: &Path) -> Option<TerminalSettings> {
        if self.central_url.is_some() {
            return None;
        }
        let terminal = stopped_stack_terminal(data_dir)?;
        let mut settings = self.clone();
        settings.central_url = Some(STOPPED_STACK_URL.to_string());
        settings
            .gateway_url
            .get_or_insert(STOPPED_STACK_URL.to_string());
        settings
            .terminal
            .get_or_insert(terminal.as_str().to_string());
        Some(settings)
    }

    /// The journal given, or [`JOURNAL_FILE`] in `data_dir`.
    pub fn journal_path(&self, data_dir: &Path) -> PathBuf {
        self.journal
            .clone()
            .unwrap_or_else(|| data_dir.join(JOURNAL_FILE))
    }

    /// The central given, else the running stack's; `None` when neither is there.
    pub fn central_url(&self, stack: Option<&StackFile>) -> Result<Option<String>, SettingsError> {
        let url = match (&self.central_url, stack) {
            (Some(url), _) => url.clone(),
            (None, Some(stack)) => stack.central_url.clone(),
            (None, None) => return Ok(None),
        };
        // One central, or several on one database separated by commas (tried in that order).
        crate::transport::checked_base_urls(&url)
            .map_err(|detail| SettingsError(format!("--central / {CENTRAL_URL_ENV}: {detail}")))?;
        Ok(Some(url))
    }

    /// The central, required: what to do when there is none.
    pub fn require_central_url(&self, stack: Option<&StackFile>) -> Result<String, SettingsError> {
        self.central_url(stack)?.ok_or_else(|| {
            SettingsError(format!(
                "no central server configured: pass --central URL or set {CENTRAL_URL_ENV} (or \
                 start the embedded one with `paydesk stack`)"
            ))
        })
    }

    /// The gateway given, else the running stack's sandbox, else the real Stripe API.
    pub fn gateway_url(&self, stack: Option<&StackFile>) -> Result<String, SettingsError> {
        let url = match (&self.gateway_url, stack) {
            (Some(url), _) => url.clone(),
            (None, Some(stack)) => stack.gateway_url.clone(),
            (None, None) => GATEWAY_URL_DEFAULT.to_string(),
        };
        check_url("--gateway", GATEWAY_URL_ENV, &url)?;
        Ok(url)
    }

    /// This terminal's id: given, else the running stack's.
    pub fn terminal(&self, stack: Option<&StackFile>) -> Result<TerminalId, SettingsError> {
        match (&self.terminal, stack) {
            (Some(id), _) => TerminalId::new(id.as_str()).map_err(|e| {
                SettingsError(format!(
                    "--terminal / {TERMINAL_ENV}: {e} (the id the central registered)"
                ))
            }),
            (None, Some(stack)) => Ok(stack.terminal_id.clone()),
            (None, None) => Err(SettingsError(format!(
                "no terminal id configured: pass --terminal ID or set {TERMINAL_ENV}"
            ))),
        }
    }

    /// A secret from its environment override, else from the secret store (on a blocking
    /// thread: the keyring speaks D-Bus synchronously).
    pub async fn secret(&self, kind: SecretKind) -> Result<Secret, SecretLoadError> {
        let env_override = match kind {
            SecretKind::TerminalToken => &self.terminal_token_override,
            SecretKind::GatewayKey => &self.gateway_key_override,
            SecretKind::PaypalSecret => &self.paypal_secret_override,
        };
        if let Some(value) = env_override {
            return Secret::new(value.as_str()).map_err(|e| SecretLoadError::BadOverride {
                kind,
                detail: e.to_string(),
            });
        }
        let store = Arc::clone(&self.secrets);
        let found = tokio::task::spawn_blocking(move || store.get(kind.entry()))
            .await
            .unwrap_or_else(|e| {
                Err(SecretError::Keyring {
                    detail: format!("the keyring task failed: {e}"),
                })
            });
        match found {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(SecretLoadError::Missing(kind)),
            Err(error) => Err(SecretLoadError::Keyring { kind, error }),
        }
    }
}

/// A URL a token or key may be sent to: https://, or plain http:// to this machine only.
fn check_url(flag: &str, env: &str, url: &str) -> Result<(), SettingsError> {
    crate::transport::checked_base_url(url)
        .map(|_| ())
        .map_err(|detail| SettingsError(format!("{flag} / {env}: {detail}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemorySecretStore;

    fn settings() -> TerminalSettings {
        let mut s = TerminalSettings::new("paydesk-test");
        s.secrets = Arc::new(MemorySecretStore::new());
        s
    }

    fn stack() -> StackFile {
        StackFile {
            central_url: "http://127.0.0.1:1".into(),
            gateway_url: "http://127.0.0.1:2".into(),
            terminal_id: TerminalId::new("desk-1").unwrap(),
        }
    }

    #[test]
    fn given_settings_win_over_the_stack_and_the_stack_over_defaults() {
        let mut s = settings();
        assert_eq!(s.central_url(None).unwrap(), None);
        assert!(s
            .require_central_url(None)
            .unwrap_err()
            .0
            .contains("paydesk stack"));
        assert_eq!(s.gateway_url(None).unwrap(), GATEWAY_URL_DEFAULT);
        assert_eq!(
            s.central_url(Some(&stack())).unwrap().as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(s.terminal(Some(&stack())).unwrap().as_str(), "desk-1");
        s.central_url = Some("https://central.example".into());
        s.terminal = Some("desk-2".into());
        assert_eq!(
            s.central_url(Some(&stack())).unwrap().as_deref(),
            Some("https://central.example")
        );
        assert_eq!(s.terminal(Some(&stack())).unwrap().as_str(), "desk-2");
    }

    #[test]
    fn a_stopped_stack_is_an_unreachable_central_and_keeps_its_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings();
        assert!(s.over_stopped_stack(dir.path()).is_none(), "no stack ran");
        std::fs::write(
            dir.path().join(STACK_TERMINAL_FILE),
            br#"{"terminal_id":"desk-0000abcd"}"#,
        )
        .unwrap();
        // A stack.json left behind is still not believed: only the record of who we are is.
        std::fs::write(
            dir.path().join(STACK_FILE),
            serde_json::to_vec(&stack()).unwrap(),
        )
        .unwrap();
        assert!(read_stack_file(dir.path()).is_none());
        let stopped = s.over_stopped_stack(dir.path()).unwrap();
        assert_eq!(
            stopped.central_url(None).unwrap().as_deref(),
            Some(STOPPED_STACK_URL)
        );
        assert_eq!(stopped.gateway_url(None).unwrap(), STOPPED_STACK_URL);
        assert_eq!(stopped.terminal(None).unwrap().as_str(), "desk-0000abcd");
        // A running stack is the stack itself, and a given central wins.
        let lock = std::fs::File::create(dir.path().join(STACK_LOCK_FILE)).unwrap();
        fs4::FileExt::try_lock(&lock).unwrap();
        assert!(s.over_stopped_stack(dir.path()).is_none());
        drop(lock);
        let mut given = settings();
        given.central_url = Some("https://central.example".into());
        assert!(given.over_stopped_stack(dir.path()).is_none());
    }

    #[test]
    fn a_malformed_setting_says_what_is_wrong() {
        let mut s = settings();
        s.central_url = Some("central.example".into());
        assert!(s.central_url(None).unwrap_err().0.contains("is not a URL"));
        s.terminal = Some("no spaces please".into());
        assert!(s.terminal(None).unwrap_err().0.contains(TERMINAL_ENV));
        assert!(s.data_dir_or(None).unwrap_err().0.contains(DATA_DIR_ENV));
    }

    #[tokio::test]
    async fn a_secret_comes_from_its_override_else_the_store_and_missing_says_how_to_add_it() {
        let mut s = settings();
        let missing = s.secret(SecretKind::TerminalToken).await.unwrap_err();
        assert!(missing
            .to_string()
            .contains("paydesk provision terminal-token"));
        s.secrets
            .set(TERMINAL_TOKEN, &Secret::new("pdt_stored").unwrap())
            .unwrap();
        assert_eq!(
            s.secret(SecretKind::TerminalToken).await.unwrap().expose(),
            "pdt_stored"
        );
        s.terminal_token_override = Some("pdt_env".into());
        assert_eq!(
            s.secret(SecretKind::TerminalToken).await.unwrap().expose(),
            "pdt_env"
        );
        s.gateway_key_override = Some("has space".into());
        let bad = s.secret(SecretKind::GatewayKey).await.unwrap_err();
        assert!(bad.to_string().starts_with(GATEWAY_KEY_ENV));
        assert!(
            !bad.to_string().contains("has space"),
            "no value in messages"
        );
    }

    #[tokio::test]
    async fn the_paypal_secret_comes_from_its_override_else_the_keyring() {
        use crate::open::{ConnectError, PAYPAL_SECRET_ENV};
        let url = || Some("https://api-m.sandbox.paypal.com".to_string());
        let id = || Some("client-1".to_string());
        let mut s = settings();
        // No PayPal at all: none, and the store is not asked.
        assert!(s.paypal_access_with(None, None).await.unwrap().is_none());
        // URL and client id without a secret anywhere: says how to store it.
        let missing = s.paypal_access_with(url(), id()).await.unwrap_err();
        let text = missing.to_string();
        assert!(
            matches!(
                missing,
                ConnectError::Secret(SecretLoadError::Missing(SecretKind::PaypalSecret))
            ) && text.contains("paydesk provision paypal-secret")
                && text.contains(PAYPAL_SECRET_ENV),
            "{text}"
        );
        // From the keyring, as the Stripe key is.
        s.secrets
            .set(PAYPAL_CLIENT_SECRET, &Secret::new("pp-stored").unwrap())
            .unwrap();
        let access = s.paypal_access_with(url(), id()).await.unwrap().unwrap();
        assert_eq!(access.secret.expose(), "pp-stored");
        assert_eq!(access.client_id, "client-1");
        // The environment still works, and wins.
        s.paypal_secret_override = Some("pp-env".into());
        let access = s.paypal_access_with(url(), id()).await.unwrap().unwrap();
        assert_eq!(access.secret.expose(), "pp-env");
        // Only some of the three: an error naming them, never the value.
        for (u, i) in [(None, None), (url(), None), (None, id())] {
            let err = s.paypal_access_with(u, i).await.unwrap_err().to_string();
            assert!(
                err.contains("PAYDESK_PAYPAL_CLIENT_ID") && !err.contains("pp-env"),
                "{err}"
            );
        }
        s.paypal_secret_override = Some("has space".into());
        let bad = s.paypal_access_with(url(), id()).await.unwrap_err();
        assert!(bad.to_string().starts_with(PAYPAL_SECRET_ENV), "{bad}");
        assert!(!bad.to_string().contains("has space"));
        assert!(SecretKind::PaypalSecret.parse("é-secret").is_err());
        assert!(SecretKind::PaypalSecret
            .parse(" EPaypal-Secret_1 \n")
            .is_ok());
    }

    #[test]
    fn plain_http_to_another_machine_is_refused_for_both_urls() {
        let mut s = settings();
        s.central_url = Some("http://10.0.0.5:8787".into());
        let err = s.central_url(None).unwrap_err().0;
        assert!(
            err.contains(CENTRAL_URL_ENV) && err.contains("plain HTTP"),
            "{err}"
        );
        s.gateway_url = Some("http://gateway.lan".into());
        let err = s.gateway_url(None).unwrap_err().0;
        assert!(
            err.contains(GATEWAY_URL_ENV) && err.contains("plain HTTP"),
            "{err}"
        );
        s.central_url = Some("https://a.lan:8787,http://10.0.0.5:8787".into());
        let err = s.central_url(None).unwrap_err().0;
        assert!(
            err.contains(CENTRAL_URL_ENV) && err.contains("plain HTTP"),
            "every central of a list is checked: {err}"
        );
        s.central_url = Some("https://a.lan:8787, https://b.lan:8787".into());
        assert!(s.central_url(None).is_ok(), "several centrals");
        s.central_url = Some("http://[::1]:8787".into());
        s.gateway_url = Some("https://api.stripe.com".into());
        assert!(s.central_url(None).is_ok());
        assert!(s.gateway_url(None).is_ok());
    }

    #[test]
    fn a_gateway_key_to_provision_must_be_a_key() {
        // A terminal token may be any secret; a gateway key must also be plain ASCII.
        assert!(SecretKind::TerminalToken.parse("pdt_é").is_ok());
        assert!(SecretKind::GatewayKey.parse("sk_test_é").is_err());
        assert!(SecretKind::GatewayKey.parse(" sk_test_abc \n").is_ok());
        assert!(SecretKind::GatewayKey.parse("  ").is_err());
    }
}
