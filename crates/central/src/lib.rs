//! Paydesk's central server: the sync target of every desktop and the owner of the per-order
//! processing flag (claims with fencing tokens), the results inbox that applies each result
//! exactly once, signature-verified gateway webhooks, the sweeper and reconciliation.
//!
//! Deliberately absent: charging. The central never creates or confirms a payment; it records
//! what terminals and the gateway report, reads the gateway to resolve stale claims, and
//! cancels or refunds only when a manager reverses a payment (`http_reversals`).

// The OpenAPI document's schema table is one large `json!` literal.
#![recursion_limit = "512"]

pub mod allowances;
pub mod auth;
pub mod claim_amount;
pub mod claim_guard;
pub mod clock;
pub mod demo;
pub mod error;
pub mod gateway_actions;
pub mod gateway_lookup;
pub mod http;
mod http_allowance_withdraw;
pub mod http_audit;
pub mod http_auth;
mod http_claim;
pub mod http_customer_action;
mod http_error;
mod http_evidence;
mod http_inbox;
mod http_input;
mod http_journal_head;
mod http_paypal;
pub mod http_reversals;
mod http_sessions;
pub mod http_settings;
pub mod import;
pub mod openapi;
pub mod rate_limit;
pub mod reconcile;
pub mod resolution_rules;
pub mod saved_methods;
pub mod server;
pub mod sessions;
pub mod store;
pub mod sweeper;
pub mod webhook;
pub mod webhook_paypal;

pub use error::{CentralError, CentralResult};
pub use http::{router, AppState, Config};
pub use server::{start, RunningCentral};
pub use store::{Backend, Store};
pub use sweeper::{IntentEvidence, IntentLookup};
