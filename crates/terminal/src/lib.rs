//! Paydesk's terminal: everything a terminal does, written once for both front ends (the `paydesk`
//! command line and the desktop shell). Settings from flags, environment and the data directory
//! (`settings.rs`); the two secrets from the OS keyring (`secrets.rs`); the central's HTTP client
//! (`central_http.rs`); sign-in at the central and offline sign-in for operators who signed in
//! here recently (`session.rs`); the central-signed offline allowance (`allowance.rs`); the cached
//! queue (`caches.rs`) and the private files they live in (`files.rs`); and [`Terminal`], which
//! holds who is signed in, opens the journal and the engine and charges, recovers, drains the
//! outbox and reports the journal's health (`terminal.rs`, `open.rs`); the day close beside the
//! journal, and the journal's CSV export (`day_close.rs`, `export.rs`); the manager's exception
//! inbox, the central's items beside this terminal's own (`inbox.rs`).
//!
//! Deliberately absent: wording and exit codes (each front end renders for its people), the
//! charge protocol (the engine and the core), SQL (the journal), a window, and the embedded
//! central and sandbox (`paydesk-stack`).

mod allowance;
mod caches;
mod central_http;
mod context;
pub mod day_close;
pub mod export;
mod files;
pub mod inbox;
mod open;
mod private_fs;
mod secrets;
mod session;
mod settings;
mod terminal;
mod transport;

pub use allowance::{
    block_offline, grant_offline, offline_policy, pin_allowance_key, GrantError,
    ALLOWANCE_KEY_FILE, OFFLINE_POLICY_FILE,
};
pub use caches::{
    cached_order, fetch_queue, fetch_queue_of, Queue, QueueError, ACTIONABLE_STATES,
    QUEUE_CACHE_FILE,
};
pub use central_http::{
    HttpCentral, SessionToken, TerminalToken, CENTRAL_ANSWER_BYTES_MAX, CENTRAL_CONNECT_TIMEOUT_MS,
    CENTRAL_REQUEST_TIMEOUT_MS,
};
pub use context::ReceiptError;
pub use open::{
    central_client, ConnectError, Connection, OpenError, PaypalAccess, PAYPAL_CLIENT_ID_ENV,
    PAYPAL_SECRET_ENV, PAYPAL_URL_ENV,
};
pub use paydesk_protocol::OFFLINE_ALLOWANCE_MS_MAX;
pub use private_fs::{private_dir, private_file};
pub use secrets::{
    KeyringSecretStore, MemorySecretStore, Secret, SecretError, SecretStore, GATEWAY_API_KEY,
    KEYRING_SERVICE_DEFAULT, PAYPAL_CLIENT_SECRET, SECRET_BYTES_MAX, TERMINAL_TOKEN,
};
pub use session::{
    sign_in, SignInError, SignedIn, OFFLINE_FAILURES_MAX, OFFLINE_LOCK_MS, OFFLINE_LOCK_MS_MAX,
    OFFLINE_SIGN_IN_MS_MAX, OPERATORS_CACHE_FILE, VERIFIERS_FILE,
};
pub use settings::{
    read_stack_file, stack_alive, stopped_stack_terminal, SecretKind, SecretLoadError,
    SettingsError, StackFile, TerminalSettings, CENTRAL_URL_ENV, DATA_DIR_ENV, GATEWAY_KEY_ENV,
    GATEWAY_URL_DEFAULT, GATEWAY_URL_ENV, JOURNAL_ENV, JOURNAL_FILE, KEYRING_SERVICE_ENV,
    STACK_FILE, STACK_LOCK_FILE, STACK_TERMINAL_FILE, STOPPED_STACK_URL, TERMINAL_ENV,
    TERMINAL_TOKEN_ENV,
};
pub use terminal::{
    ChargeError, DrainReport, DrainWait, JournalHealth, ManagerActionError, RecoveryTurn, Terminal,
    DRAIN_ROUNDS_MAX, HEALTH_PROBE_MS_MAX, VERIFY_REUSE_MS_MAX,
};
pub use transport::{central_http_client_with_ca, checked_base_url, CENTRAL_CA_ENV};
