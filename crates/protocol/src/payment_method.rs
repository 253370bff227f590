//! The saved payment method of an order as the central last read it from the order's gateway
//! (issue 12, item 1): a card's brand, last four digits and expiry, or a PayPal wallet's e-mail,
//! and the holder's name — what an operator needs to say what will be charged. Never a card
//! number: the gateways do not give one, and nothing here could hold one.
//!
//! Deliberately absent: whether a card has expired (that depends on the reader's clock; the UI
//! and the command line judge it against the month they are in).

use paydesk_core::Timestamp;
use serde::{Deserialize, Serialize};

/// What kind of saved method it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SavedMethodKind {
    Card,
    PaypalWallet,
    /// Another kind the gateway named (a bank account, …): only `kind_name` says which.
    Other,
    /// Never read successfully: `refresh_error` says why.
    Unread,
}

impl SavedMethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SavedMethodKind::Card => "card",
            SavedMethodKind::PaypalWallet => "paypal_wallet",
            SavedMethodKind::Other => "other",
            SavedMethodKind::Unread => "unread",
        }
    }

    pub fn parse(s: &str) -> Option<SavedMethodKind> {
        Some(match s {
            "card" => SavedMethodKind::Card,
            "paypal_wallet" => SavedMethodKind::PaypalWallet,
            "other" => SavedMethodKind::Other,
            "unread" => SavedMethodKind::Unread,
            _ => return None,
        })
    }
}

/// An order's saved payment method as its gateway described it at `read_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SavedMethod {
    pub kind: SavedMethodKind,
    /// A card's brand in lower case as Stripe writes it (`visa`, `mastercard`, `amex`).
    pub brand: Option<String>,
    /// A card's last four digits.
    pub last4: Option<String>,
    /// A card's expiry month, 1 to 12.
    pub exp_month: Option<u8>,
    /// A card's expiry year, four digits.
    pub exp_year: Option<u16>,
    /// A PayPal wallet's e-mail address.
    pub email: Option<String>,
    /// The name on the card or the PayPal account, when the gateway holds one.
    pub holder_name: Option<String>,
    /// The gateway's name for a kind this central does not describe.
    pub kind_name: Option<String>,
    /// When the details above were read from the gateway (for `unread`: when it was tried).
    pub read_at: Timestamp,
    /// The last attempt to read it failed (the details above are then from `read_at`): what
    /// the gateway said, for a person.
    pub refresh_error: Option<String>,
    /// When the last attempt (successful or not) was made.
    pub checked_at: Timestamp,
}
