//! Paydesk's gateway connectors: the only crate that talks to a payment gateway.
//!
//! It offers one trait, [`Gateway`], whose calls answer with explicit outcome values
//! (`Succeeded | Declined | RequiresAction | NotSent | Unknown` and their relatives) rather than
//! a generic error, because "the request may have landed" must never be mistaken for "failed".
//! [`StripeGateway`] speaks Stripe's real wire format (form-encoded PaymentIntents, `Idempotency-Key`,
//! a pinned `Stripe-Version`), so the same code runs against Stripe and the local sandbox;
//! [`PaypalGateway`] speaks PayPal's Orders v2, and [`DispatchGateway`] puts both behind one
//! `Gateway`, each call going to the gateway of the order it is about.
//!
//! Deliberately absent: any journal, retry policy across calls or recovery decision (the engine and
//! the core own those); the only retries here are the gateway's own "try again with the same key"
//! answers (429, 409 `idempotency_key_in_use`), bounded and under the same idempotency key.

pub mod dispatch;
mod error;
mod gateway;
mod model;
pub mod payment_method;
pub mod paypal;
mod secret;
pub mod stripe;
pub mod url_policy;

pub use dispatch::{DispatchGateway, Route};
pub use error::{GatewayError, ParseError};
pub use gateway::Gateway;
pub use model::{
    CancelResult, ChargeView, ConfirmRequest, ConfirmResult, CreateIntentRequest, CreateResult,
    DisputeView, EventPage, EventQuery, EventView, IntentMetadata, IntentView, MetadataQuery,
    PaymentError, RefundReason, RefundRequest, RefundResult, RefundStatus, RefundView,
};
pub use payment_method::{PaymentMethodDetails, PaymentMethodView};
pub use paypal::{PaypalConfig, PaypalGateway};
pub use secret::{ApiKey, ApiKeyError};
pub use stripe::{StripeConfig, StripeGateway};
