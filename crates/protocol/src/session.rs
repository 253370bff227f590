//! Who is asking: operator sessions, the manager's signed offline allowance and the admin's
//! terminal-token management, as they cross the wire.
//!
//! A terminal authenticates with its bearer token (`Authorization: Bearer pdt_…`). A person at
//! that terminal signs in with their PIN, which only the central checks, and gets a session token
//! (`pds_…`) bound to the terminal, the operator and the role; requests made for that person send
//! it in [`SESSION_HEADER`]. The operator a claim is made for comes from the session, never from
//! the body. Deliberately absent: how sessions are stored and checked (the central owns that).

use paydesk_core::{Money, OperatorId, TerminalId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Role;

/// The header that carries an operator session token, next to the terminal's bearer token.
pub const SESSION_HEADER: &str = "x-paydesk-session";
/// A session ends after this long without a request (a shared back-office PC left signed in).
pub const SESSION_IDLE_MS: i64 = 15 * 60_000;
/// A session ends this long after sign-in whatever its use: one shift.
pub const SESSION_AGE_MS_MAX: i64 = 12 * 3_600_000;
/// Fewest digits in an operator's PIN.
pub const OPERATOR_PIN_DIGITS_MIN: usize = 6;
/// Fewest digits in a manager's PIN: a manager lifts guards and moves money out.
pub const MANAGER_PIN_DIGITS_MIN: usize = 8;
/// The longest offline allowance a manager can grant at once: one shift.
pub const OFFLINE_ALLOWANCE_MS_MAX: i64 = 12 * 3_600_000;

/// `POST /v1/sessions` (terminal token): a person signs in at this terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub operator_id: OperatorId,
    pub pin: String,
}

/// A session the central opened. The token is shown in this answer only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    /// Send it in [`SESSION_HEADER`]; never log or store it beyond the process.
    pub session_token: String,
    /// Recorded with every claim and audit row the session makes.
    pub session_id: String,
    pub operator_id: OperatorId,
    pub role: Role,
    pub terminal_id: TerminalId,
    /// The hard end (sign-in plus [`SESSION_AGE_MS_MAX`]); it ends earlier when idle.
    pub expires_at: Timestamp,
    pub idle_ms: i64,
}

/// `POST /v1/sessions/check` (session): the caller's PIN again, before an action that moves
/// money out or lifts a guard. Counts toward the lockout like a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinCheckRequest {
    pub pin: String,
}

/// `POST /v1/offline-allowances` (manager session, PIN again): allow this terminal to charge
/// while the central is unreachable, within caps, until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowanceRequest {
    pub pin: String,
    pub per_charge_max: Money,
    pub per_shift_max: Money,
    pub duration_ms: i64,
    /// How old the cached queue may be for an offline charge, in milliseconds.
    pub cache_age_ms_max: i64,
}

/// The allowance as the central granted it: what is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowanceGrant {
    pub grant_id: String,
    pub terminal_id: TerminalId,
    pub approved_by: OperatorId,
    pub per_charge_max: Money,
    pub per_shift_max: Money,
    pub cache_age_ms_max: i64,
    pub granted_at: Timestamp,
    pub until: Timestamp,
}

impl AllowanceGrant {
    /// The exact bytes the central signs and the terminal verifies: the grant's canonical JSON
    /// (field order as declared), prefixed with a domain tag so the signature means nothing else.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = b"paydesk-offline-allowance-v1\n".to_vec();
        bytes.extend(serde_json::to_vec(self).expect("a grant always serializes"));
        bytes
    }
}

/// A grant with the central's Ed25519 signature over [`AllowanceGrant::signing_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedAllowance {
    pub grant: AllowanceGrant,
    /// Lower-case hex, 64 bytes.
    pub signature: String,
}

/// `GET /v1/allowance-key`: the public key that signs offline allowances, which a terminal pins
/// when it is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceKey {
    /// Lower-case hex, 32 bytes (Ed25519).
    pub public_key: String,
}

/// Admin: a terminal's token was rotated; the old one stopped working. Shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateTerminalResponse {
    pub terminal_id: TerminalId,
    pub token_id: String,
    pub token: String,
}

/// Admin: a terminal as listed, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRecord {
    pub terminal_id: TerminalId,
    pub token_id: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_seen_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalList {
    pub terminals: Vec<TerminalRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_bytes_are_tagged_and_stable() {
        let grant = AllowanceGrant {
            grant_id: "g-1".into(),
            terminal_id: TerminalId::new("t1").unwrap(),
            approved_by: OperatorId::new("mgr").unwrap(),
            per_charge_max: Money::parse("10.00 EUR").unwrap(),
            per_shift_max: Money::parse("50.00 EUR").unwrap(),
            cache_age_ms_max: 3_600_000,
            granted_at: Timestamp::from_unix_ms(1),
            until: Timestamp::from_unix_ms(2),
        };
        let bytes = grant.signing_bytes();
        assert!(bytes.starts_with(b"paydesk-offline-allowance-v1\n"));
        assert_eq!(bytes, grant.clone().signing_bytes());
        let mut other = grant;
        other.per_shift_max = Money::parse("50.01 EUR").unwrap();
        assert_ne!(bytes, other.signing_bytes());
    }
}
