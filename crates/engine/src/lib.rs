//! Paydesk's engine: drives the charge protocol of the core against the real journal, a gateway
//! and the central — the charge flow, recovery, and the outbox relay.
//!
//! Written against narrow traits ([`Clock`], [`Central`], `paydesk_gateway::Gateway`), so the
//! desktop, the command line and the tests run the same code. Deliberately absent: decisions
//! (the core makes them), SQL (the journal), HTTP and wire formats (the gateway and central
//! clients), and anything that needs a window.

mod central;
mod clock;
mod crash;
mod flow;
mod ids;
mod offline;
mod offline_charge;
mod relay;
mod takeover;

pub use central::{
    is_chargeable, Central, CentralError, Claim, ClaimOptions, ClaimRequest, DeliveryStatus,
    OrderSnapshot, OrderStatus,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use crash::{CrashPoint, CRASH_AT_ENV};
pub use flow::{
    ChargeReport, ChargeRequest, Engine, EngineConfig, EngineError, Progress, RecoveryReport,
    AMBIGUOUS_BACKOFF_MS_BASE, INTERACTIVE_AMBIGUOUS_MAX,
};
pub use ids::new_attempt_id;
pub use offline::{
    offline_attempt_number, CachedOrder, OfflineAllowance, OfflinePolicy, OfflineRefusal,
    CACHE_AGE_MS_MAX_DEFAULT, OFFLINE_ATTEMPT_NUMBER_BASE, OFFLINE_CLAIM_TOKEN,
};
pub use paydesk_journal::OUTBOX_BATCH_ROWS_MAX;
pub use relay::RelayOutcome;
