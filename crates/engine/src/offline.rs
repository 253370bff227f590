//! The offline policy: what the engine may do when the central is unreachable but the gateway is
//! not. Blocked by default; a manager may allow offline charging with a per-charge cap, a
//! per-shift cap and a time limit. Pure checks: the engine supplies the numbers.
//!
//! Deliberately absent: PIN checks (the front end verifies the manager's PIN against the
//! operators it cached and then hands the engine an allowance naming the manager).

use paydesk_core::{
    AttemptNumber, ClaimToken, Currency, GatewayIntentId, Money, OfflineGrant, OperatorId,
    TerminalId, Timestamp,
};

use crate::central::OrderSnapshot;
use serde::{Deserialize, Serialize};

/// Offline attempts journaled before offline numbers followed the central's were numbered from
/// here. Such numbers are never reused and never count as "the last number seen".
pub const OFFLINE_ATTEMPT_NUMBER_BASE: u32 = 1_000_000;

/// How old a cached queue may be for an offline charge, when an allowance saved before this limit
/// existed does not say: a queue older than an hour may well list orders charged since.
pub const CACHE_AGE_MS_MAX_DEFAULT: i64 = 3_600_000;

/// The claim token recorded on offline attempts: no central granted one. It is larger than any
/// token the central will reach, so it can never match (and release) a real holder's claim.
pub const OFFLINE_CLAIM_TOKEN: u64 = i64::MAX as u64;

/// A manager's permission to charge while the central is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineAllowance {
    /// No single offline charge above this.
    pub per_charge_max: Money,
    /// Offline charges since `granted_at` together stay within this.
    pub per_shift_max: Money,
    pub granted_at: Timestamp,
    /// The allowance lapses at this time; after it, offline charging is blocked again.
    pub until: Timestamp,
    /// The manager whose PIN approved it.
    pub approved_by: OperatorId,
    /// An order is charged offline only from a cached queue at most this old: the older the
    /// copy, the likelier someone charged the order since.
    #[serde(default = "cache_age_ms_max_default")]
    pub cache_age_ms_max: i64,
    /// The central's id of the signed grant this allowance comes from.
    pub grant_id: String,
    /// The central's Ed25519 signature over the grant (lower-case hex), checked by the front end
    /// against the key it pinned; every offline attempt's journal record carries it.
    pub signature: String,
}

impl OfflineAllowance {
    /// The signed grant as an offline attempt on `terminal` records it in the journal.
    pub fn grant_record(&self, terminal: &TerminalId) -> OfflineGrant {
        OfflineGrant {
            grant_id: self.grant_id.clone(),
            terminal_id: terminal.clone(),
            approved_by: self.approved_by.clone(),
            per_charge_max: self.per_charge_max,
            per_shift_max: self.per_shift_max,
            cache_age_ms_max: self.cache_age_ms_max,
            granted_at: self.granted_at,
            until: self.until,
            signature: self.signature.clone(),
        }
    }
}

fn cache_age_ms_max_default() -> i64 {
    CACHE_AGE_MS_MAX_DEFAULT
}

/// An order as this terminal last saw it in the central's queue, for an offline charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedOrder {
    pub order: OrderSnapshot,
    /// The last attempt number the central had handed out for the order: an offline attempt
    /// takes the next one, so its create key is the one the next online claim would use and the
    /// gateway's idempotency keys make the two collide instead of charging twice.
    pub attempt_seq: u32,
    /// When the central sent the queue this came from.
    pub fetched_at: Timestamp,
}

/// What the engine does when the central cannot be reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum OfflinePolicy {
    /// Nothing is charged without the central (the default).
    #[default]
    Block,
    Allow(OfflineAllowance),
}

/// Which rule refused an offline charge. The front ends show the sentence and may branch on the
/// rule (the UI names it to the operator); nobody parses the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum OfflineRefusal {
    /// No allowance: offline charging is blocked (the default).
    #[error("offline charging is blocked: ask a manager to allow it, or wait for the central")]
    NotAllowed,
    /// The allowance's time limit has passed.
    #[error(
        "the offline allowance approved by {approved_by} ended at {until}: ask a manager to renew it"
    )]
    Expired {
        approved_by: OperatorId,
        until: Timestamp,
    },
    /// The allowance's caps are in another currency.
    #[error("offline charging is allowed in {allowed} only")]
    WrongCurrency { allowed: Currency },
    /// Above the per-charge cap.
    #[error("{amount} is above the offline limit of {per_charge_max} per charge")]
    PerChargeCap {
        amount: Money,
        per_charge_max: Money,
    },
    /// This charge would take the shift's offline total above its cap.
    #[error(
        "{amount} on top of this shift's {so_far} of offline charges would pass the shift limit \
         of {per_shift_max}"
    )]
    ShiftCap {
        amount: Money,
        so_far: Money,
        per_shift_max: Money,
    },
    /// The order is not in the cached queue, so the amount the operator expects cannot be
    /// checked against anything.
    #[error("this order is not in the cached queue, so its amount cannot be checked")]
    NotCached,
    /// The cached queue is older than the allowance lets an offline charge rely on.
    #[error(
        "the cached queue is from {fetched_at}, older than the {minutes} minutes the offline \
         allowance accepts: someone may have charged the order since",
        minutes = .age_ms_max / 60_000
    )]
    StaleCache {
        fetched_at: Timestamp,
        #[ts(type = "number")]
        age_ms_max: i64,
    },
    /// The gateway shows an intent of this order that has succeeded or still may.
    #[error(
        "the gateway shows payment {intent} of this order as {status}: it is paid or being paid; \
         do not charge it again"
    )]
    GatewayShowsCharge {
        intent: GatewayIntentId,
        status: String,
    },
    /// The gateway could not be asked whether the order was charged already.
    #[error("the gateway could not be asked whether this order was charged already ({detail})")]
    GatewayNotAsked { detail: String },
}

impl OfflinePolicy {
    /// Whether an offline charge of `amount` is allowed at `now`, given the offline amounts
    /// already charged (or possibly charged) in this shift. `Err` names the rule that refused.
    pub fn check(
        &self,
        amount: Money,
        shift_so_far: Money,
        now: Timestamp,
    ) -> Result<&OfflineAllowance, OfflineRefusal> {
        let allowance = match self {
            OfflinePolicy::Block => return Err(OfflineRefusal::NotAllowed),
            OfflinePolicy::Allow(a) => a,
        };
        if now >= allowance.until {
            return Err(OfflineRefusal::Expired {
                approved_by: allowance.approved_by.clone(),
                until: allowance.until,
            });
        }
        if amount.currency() != allowance.per_charge_max.currency() {
            return Err(OfflineRefusal::WrongCurrency {
                allowed: allowance.per_charge_max.currency(),
            });
        }
        if amount.minor() > allowance.per_charge_max.minor() {
            return Err(OfflineRefusal::PerChargeCap {
                amount,
                per_charge_max: allowance.per_charge_max,
            });
        }
        // An overflowing total is above any cap.
        let within_shift = shift_so_far
            .checked_add(amount)
            .is_ok_and(|total| total.minor() <= allowance.per_shift_max.minor());
        if !within_shift {
            return Err(OfflineRefusal::ShiftCap {
                amount,
                so_far: shift_so_far,
                per_shift_max: allowance.per_shift_max,
            });
        }
        Ok(allowance)
    }
}

/// The number of a new offline attempt of an order: the one after the last the central handed
/// out (as cached) and after every number this terminal used for the order. Online and offline
/// attempts of one order so share one number sequence, and with it the create keys: an online
/// claim after an offline charge (or the other way round) lands on the same key at the gateway,
/// which refuses the second one instead of creating a second intent.
pub fn offline_attempt_number(
    attempt_seq: u32,
    local_numbers: impl IntoIterator<Item = AttemptNumber>,
) -> AttemptNumber {
    let last = local_numbers
        .into_iter()
        .map(|n| n.get())
        .filter(|n| *n < OFFLINE_ATTEMPT_NUMBER_BASE)
        .fold(attempt_seq, u32::max);
    AttemptNumber::new(last.saturating_add(1)).expect("one or more")
}

/// The claim token of offline attempts.
pub fn offline_claim_token() -> ClaimToken {
    ClaimToken::new(OFFLINE_CLAIM_TOKEN).expect("positive")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(&format!("{s} EUR")).unwrap()
    }

    fn allow() -> OfflinePolicy {
        OfflinePolicy::Allow(OfflineAllowance {
            per_charge_max: eur("50.00"),
            per_shift_max: eur("100.00"),
            granted_at: Timestamp::from_unix_ms(1_000),
            until: Timestamp::from_unix_ms(10_000),
            approved_by: OperatorId::new("mgr-bo").unwrap(),
            cache_age_ms_max: CACHE_AGE_MS_MAX_DEFAULT,
            grant_id: "grant-1".into(),
            signature: "ab".repeat(64),
        })
    }

    #[test]
    fn block_refuses_and_allow_checks_every_limit() {
        let now = Timestamp::from_unix_ms(5_000);
        assert!(OfflinePolicy::Block
            .check(eur("1.00"), eur("0.00"), now)
            .unwrap_err()
            .to_string()
            .contains("blocked"));
        assert!(allow().check(eur("50.00"), eur("50.00"), now).is_ok());
        assert!(allow()
            .check(eur("50.01"), eur("0.00"), now)
            .unwrap_err()
            .to_string()
            .contains("per charge"));
        assert!(allow()
            .check(eur("20.00"), eur("90.00"), now)
            .unwrap_err()
            .to_string()
            .contains("shift"));
        assert!(allow()
            .check(eur("1.00"), eur("0.00"), Timestamp::from_unix_ms(10_000))
            .unwrap_err()
            .to_string()
            .contains("ended"));
        let usd = Money::parse("1.00 USD").unwrap();
        assert!(allow()
            .check(usd, eur("0.00"), now)
            .unwrap_err()
            .to_string()
            .contains("EUR"));
    }

    #[test]
    fn each_refusal_names_its_rule() {
        let now = Timestamp::from_unix_ms(5_000);
        let rule = |policy: &OfflinePolicy, amount: &str, so_far: &str, now: Timestamp| {
            let refusal = policy.check(eur(amount), eur(so_far), now).unwrap_err();
            serde_json::to_value(&refusal).unwrap()["rule"].clone()
        };
        assert_eq!(
            rule(&OfflinePolicy::Block, "1.00", "0.00", now),
            "not_allowed"
        );
        assert_eq!(rule(&allow(), "50.01", "0.00", now), "per_charge_cap");
        assert_eq!(rule(&allow(), "20.00", "90.00", now), "shift_cap");
        let late = Timestamp::from_unix_ms(10_000);
        assert_eq!(rule(&allow(), "1.00", "0.00", late), "expired");
        let huge = Money::new(
            paydesk_core::money::AMOUNT_MINOR_MAX,
            eur("0.00").currency(),
        )
        .unwrap();
        assert!(matches!(
            allow().check(eur("1.00"), huge, now),
            Err(OfflineRefusal::ShiftCap { .. })
        ));
    }

    #[test]
    fn an_offline_number_follows_the_centrals_and_this_terminals_last() {
        let n = |v: u32| AttemptNumber::new(v).unwrap();
        assert_eq!(offline_attempt_number(0, []).get(), 1);
        assert_eq!(offline_attempt_number(3, [n(1), n(2)]).get(), 4);
        assert_eq!(offline_attempt_number(1, [n(1), n(5)]).get(), 6);
        // Numbers of the old offline scheme never count.
        assert_eq!(
            offline_attempt_number(2, [n(OFFLINE_ATTEMPT_NUMBER_BASE + 1)]).get(),
            3
        );
    }

    #[test]
    fn an_allowance_saved_before_the_cache_limit_existed_gets_the_default() {
        let old = r#"{"per_charge_max":{"minor":5000,"currency":"EUR"},
            "per_shift_max":{"minor":10000,"currency":"EUR"},"granted_at":1,"until":2,
            "approved_by":"mgr-bo","grant_id":"grant-1","signature":"abab"}"#;
        let allowance: OfflineAllowance = serde_json::from_str(old).unwrap();
        assert_eq!(allowance.cache_age_ms_max, CACHE_AGE_MS_MAX_DEFAULT);
    }

    #[test]
    fn offline_tokens_never_meet_the_centrals() {
        assert!(
            i64::try_from(offline_claim_token().get()).is_ok(),
            "fits the journal"
        );
    }
}
