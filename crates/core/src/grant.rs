//! The central's signed offline grant as the journal records it on every offline attempt: the
//! grant's fields exactly as the central signed them, and its Ed25519 signature (hex). With the
//! central's public key, the journal alone proves which signed grant allowed each offline charge;
//! the record sits in the "begun" event's detail, which the hash chain covers.
//!
//! Deliberately absent: checking the signature (the terminal does that before it charges, with
//! the key it pinned; the core holds no keys and does no cryptography beyond hashing).

use serde::{Deserialize, Serialize};

use crate::ids::{OperatorId, TerminalId};
use crate::money::Money;
use crate::time::Timestamp;

/// The key of an offline attempt's "begun" detail that holds its [`OfflineGrant`].
pub const OFFLINE_GRANT_KEY: &str = "offline_grant";

/// A signed offline grant: the fields of the protocol's `AllowanceGrant`, in its order and with
/// its names, so the signed bytes can be rebuilt from the record, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineGrant {
    pub grant_id: String,
    pub terminal_id: TerminalId,
    /// The manager whose PIN approved it.
    pub approved_by: OperatorId,
    pub per_charge_max: Money,
    pub per_shift_max: Money,
    pub cache_age_ms_max: i64,
    pub granted_at: Timestamp,
    pub until: Timestamp,
    /// The central's Ed25519 signature over the grant, lower-case hex.
    pub signature: String,
}
