//! When the customer must act (issue 12, item 6): the wire shapes of a payment link, a recorded
//! contact and the list of orders waiting for their customer, written once for the central, the
//! command line and the desk (whose TypeScript is generated from these).
//!
//! Times are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// The answer to `POST /v1/orders/{order_id}/payment-link`. `url` is shown once: the central
/// keeps only its token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PaymentLink {
    pub order_id: String,
    pub intent_id: String,
    /// `{central}/pay/{token}`: nothing in it but an unguessable token.
    pub url: String,
    pub sent_by: String,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
}

/// `POST /v1/orders/{order_id}/customer-contacted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// What was said, in a few words (optional, one line).
    #[serde(default)]
    pub note: String,
}

/// The answer to `POST /v1/orders/{order_id}/customer-contacted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ContactRecord {
    pub order_id: String,
    pub intent_id: String,
    pub contacted_by: String,
    #[ts(type = "number")]
    pub contacted_at: i64,
    pub note: String,
}

/// One order waiting for its customer, with its newest link and contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerWait {
    pub order_id: String,
    /// The intent the customer is asked to complete.
    pub intent_id: String,
    /// Since when the order waits.
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number | null")]
    pub link_sent_at: Option<i64>,
    pub link_sent_by: Option<String>,
    #[ts(type = "number | null")]
    pub link_expires_at: Option<i64>,
    #[ts(type = "number | null")]
    pub contacted_at: Option<i64>,
    pub contacted_by: Option<String>,
    pub contact_note: Option<String>,
}

/// `GET /v1/customer-waits`: oldest wait first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerWaitList {
    pub items: Vec<CustomerWait>,
}
