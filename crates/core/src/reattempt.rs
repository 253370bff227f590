//! The card networks' reattempt rules: may a card that was declined be charged again now, and if
//! not, why and from when.
//!
//! Visa: at most 15 reattempts per card in 30 days, and none after a "category 1" decline (the
//! issuer will never approve: lost or stolen card, pick-up, closed or invalid account, …).
//! Mastercard: at most 10 reattempts in 24 hours and 35 in 30 days, and none after Merchant Advice
//! Code 03 or 21. A card whose network is not known gets every limit of both networks, so it is
//! never retried more than either would allow. A "reattempt" here is any attempt after a
//! declined one: with `n` declines in a window, the next attempt is the `n`-th reattempt in it.
//!
//! Pure: the declines and the time come in as arguments (the central keeps the count across
//! operators and terminals). Deliberately absent: storage and wording for a particular screen.

use crate::time::Timestamp;

/// One hour, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day, in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The Stripe decline codes (and raw network codes) after which a card must never be retried:
/// Visa's category 1 (lost, stolen, pick-up, closed or invalid account, not allowed for the
/// card, revoked authorizations) and the advice "do not try again".
pub const DO_NOT_RETRY_CODES: &[&str] = &[
    "do_not_try_again",
    "lost_card",
    "stolen_card",
    "pickup_card",
    "pick_up_card",
    "invalid_account",
    "invalid_number",
    "transaction_not_allowed",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "stop_payment_order",
];

/// Mastercard Merchant Advice Codes after which the card must never be retried.
pub const DO_NOT_RETRY_MERCHANT_ADVICE: &[&str] = &["03", "21"];

/// The card network whose rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardNetwork {
    Visa,
    Mastercard,
    /// Not known (or another network): every limit of Visa and Mastercard applies.
    Unknown,
}

impl CardNetwork {
    /// The network from a gateway's brand text (`visa`, `Mastercard`, `MASTER_CARD`, `mc`…).
    pub fn from_brand(brand: &str) -> CardNetwork {
        let b: String = brand
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match b.as_str() {
            "visa" => CardNetwork::Visa,
            "mastercard" | "mc" => CardNetwork::Mastercard,
            _ => CardNetwork::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardNetwork::Visa => "visa",
            CardNetwork::Mastercard => "mastercard",
            CardNetwork::Unknown => "unknown",
        }
    }

    /// The limits that apply, as (most reattempts, window in ms).
    pub fn limits(self) -> &'static [(u32, i64)] {
        match self {
            CardNetwork::Visa => &[(15, 30 * DAY_MS)],
            CardNetwork::Mastercard => &[(10, DAY_MS), (35, 30 * DAY_MS)],
            CardNetwork::Unknown => &[(10, DAY_MS), (15, 30 * DAY_MS)],
        }
    }

    /// The network in words for a message.
    pub fn words(self) -> &'static str {
        match self {
            CardNetwork::Visa => "Visa",
            CardNetwork::Mastercard => "Mastercard",
            CardNetwork::Unknown => "card networks (brand unknown: the stricter limits)",
        }
    }
}

/// A decline recorded for the card, with the codes the gateway gave if they are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDecline {
    pub at: Timestamp,
    pub decline_code: Option<String>,
    pub advice_code: Option<String>,
}

/// Why a new attempt on the card is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReattemptRefusal {
    /// A decline said never to retry this card: `code` is the decline or advice code.
    DoNotRetry {
        code: String,
        declined_at: Timestamp,
    },
    /// Too many reattempts in the window; a retry is allowed again from `retry_at`.
    LimitReached {
        network: CardNetwork,
        limit: u32,
        window_ms: i64,
        declines_in_window: u32,
        retry_at: Timestamp,
    },
}

impl ReattemptRefusal {
    /// When a retry becomes allowed (`None`: never).
    pub fn retry_at(&self) -> Option<Timestamp> {
        match self {
            ReattemptRefusal::DoNotRetry { .. } => None,
            ReattemptRefusal::LimitReached { retry_at, .. } => Some(*retry_at),
        }
    }

    /// The refusal in words: why, and whether and when a retry becomes allowed.
    pub fn message(&self) -> String {
        match self {
            ReattemptRefusal::DoNotRetry { code, declined_at } => format!(
                "this card was declined at {declined_at} with code {code}, which means the \
                 issuer will never approve it: do not retry it (card network rules); ask the \
                 customer for another payment method"
            ),
            ReattemptRefusal::LimitReached {
                network,
                limit,
                window_ms,
                declines_in_window,
                retry_at,
            } => format!(
                "this card was declined {declines_in_window} times in the last {}; {} allow at \
                 most {limit} reattempts in that time: a retry is allowed again from {retry_at}",
                window_words(*window_ms),
                network.words()
            ),
        }
    }
}

fn window_words(ms: i64) -> String {
    if ms % DAY_MS == 0 && ms > DAY_MS {
        format!("{} days", ms / DAY_MS)
    } else if ms % HOUR_MS == 0 {
        format!("{} hours", ms / HOUR_MS)
    } else {
        format!("{} ms", ms)
    }
}

/// What a declined attempt keeps as its reason: the issuer's decline code, and its advice code
/// when it gave one (`insufficient_funds advice:try_again_later`).
pub fn decline_reason(decline_code: &str, advice_code: Option<&str>) -> String {
    match advice_code {
        Some(advice) => format!("{decline_code} {ADVICE_TAG}{advice}"),
        None => decline_code.to_string(),
    }
}

const ADVICE_TAG: &str = "advice:";

/// The decline code and the advice code in a declined attempt's reason (see
/// [`decline_reason`]), or `None` when the reason is words rather than codes.
pub fn decline_codes_in(reason: &str) -> Option<(String, Option<String>)> {
    let mut words = reason.split_whitespace();
    let code = words.next().filter(|c| is_code(c))?;
    let advice = match words.next() {
        None => None,
        Some(w) => Some(
            w.strip_prefix(ADVICE_TAG)
                .filter(|a| is_code(a))?
                .to_string(),
        ),
    };
    if words.next().is_some() {
        return None;
    }
    Some((code.to_string(), advice))
}

fn is_code(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 64
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// True when a decline with these codes means the card must never be retried.
pub fn is_do_not_retry(decline_code: Option<&str>, advice_code: Option<&str>) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase();
    decline_code.is_some_and(|c| DO_NOT_RETRY_CODES.contains(&norm(c).as_str()))
        || advice_code.is_some_and(|a| {
            let a = norm(a);
            a == "do_not_try_again" || DO_NOT_RETRY_MERCHANT_ADVICE.contains(&a.as_str())
        })
}

/// May the card be charged again at `now`, given its past declines (any order, any operator)?
pub fn check_reattempt(
    network: CardNetwork,
    declines: &[PastDecline],
    now: Timestamp,
) -> Result<(), ReattemptRefusal> {
    if let Some(d) = declines
        .iter()
        .filter(|d| is_do_not_retry(d.decline_code.as_deref(), d.advice_code.as_deref()))
        .min_by_key(|d| d.at)
    {
        let code = d
            .decline_code
            .clone()
            .filter(|c| DO_NOT_RETRY_CODES.contains(&c.trim().to_ascii_lowercase().as_str()))
            .or_else(|| d.advice_code.clone())
            .unwrap_or_default();
        return Err(ReattemptRefusal::DoNotRetry {
            code,
            declined_at: d.at,
        });
    }
    let mut refusal: Option<ReattemptRefusal> = None;
    for &(limit, window_ms) in network.limits() {
        let from = now.plus_ms(-window_ms);
        let mut times: Vec<Timestamp> = declines
            .iter()
            .map(|d| d.at)
            .filter(|&at| at > from && at <= now)
            .collect();
        let n = times.len() as u32;
        if n <= limit {
            continue;
        }
        times.sort();
        // Dropping the oldest `n - limit` declines brings the count back to the limit: the last
        // of those leaves the window at its time plus the window.
        let retry_at = times[(n - limit - 1) as usize].plus_ms(window_ms);
        if refusal.as_ref().and_then(|r| r.retry_at()) < Some(retry_at) {
            refusal = Some(ReattemptRefusal::LimitReached {
                network,
                limit,
                window_ms,
                declines_in_window: n,
                retry_at,
            });
        }
    }
    refusal.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_ms(1_800_000_000_000);

    #[test]
    fn a_reason_holds_the_decline_and_advice_codes_or_words() {
        let codes = |d: &str, a: Option<&str>| Some((d.to_string(), a.map(str::to_string)));
        assert_eq!(
            decline_codes_in(" stolen_card "),
            codes("stolen_card", None)
        );
        let reason = decline_reason("insufficient_funds", Some("try_again_later"));
        assert_eq!(reason, "insufficient_funds advice:try_again_later");
        assert_eq!(
            decline_codes_in(&reason),
            codes("insufficient_funds", Some("try_again_later"))
        );
        assert_eq!(
            decline_codes_in("do-not.honor2"),
            codes("do-not.honor2", None)
        );
        assert_eq!(decline_codes_in("the card was declined"), None);
        assert_eq!(decline_codes_in("generic_decline advice:"), None);
        assert_eq!(decline_codes_in(""), None);
        assert_eq!(decline_codes_in(&"x".repeat(65)), None);
    }

    fn declines(n: usize, every_ms: i64) -> Vec<PastDecline> {
        (0..n)
            .map(|i| PastDecline {
                at: NOW.plus_ms(-(i as i64 + 1) * every_ms),
                decline_code: Some("insufficient_funds".into()),
                advice_code: None,
            })
            .collect()
    }

    #[test]
    fn visa_allows_fifteen_reattempts_in_thirty_days_then_says_when() {
        assert_eq!(
            check_reattempt(CardNetwork::Visa, &declines(15, HOUR_MS), NOW),
            Ok(())
        );
        let d = declines(16, HOUR_MS);
        let err = check_reattempt(CardNetwork::Visa, &d, NOW).unwrap_err();
        // The oldest decline is 16 h ago; it leaves the window 30 days after it happened.
        let oldest = NOW.plus_ms(-16 * HOUR_MS);
        assert_eq!(err.retry_at(), Some(oldest.plus_ms(30 * DAY_MS)));
        let msg = err.message();
        assert!(msg.contains("16 times in the last 30 days"), "{msg}");
        assert!(msg.contains("Visa allow at most 15"), "{msg}");
        assert!(
            msg.contains(&oldest.plus_ms(30 * DAY_MS).to_string()),
            "{msg}"
        );
        // Visa has no 24-hour limit: 15 declines in an hour are still allowed.
        assert_eq!(
            check_reattempt(CardNetwork::Visa, &declines(15, 60_000), NOW),
            Ok(())
        );
    }

    #[test]
    fn declines_older_than_the_window_do_not_count() {
        let mut d = declines(15, HOUR_MS);
        d.push(PastDecline {
            at: NOW.plus_ms(-30 * DAY_MS),
            decline_code: None,
            advice_code: None,
        });
        assert_eq!(check_reattempt(CardNetwork::Visa, &d, NOW), Ok(()));
    }

    #[test]
    fn mastercard_limits_ten_a_day_and_thirty_five_a_month() {
        assert_eq!(
            check_reattempt(CardNetwork::Mastercard, &declines(10, HOUR_MS), NOW),
            Ok(())
        );
        let err =
            check_reattempt(CardNetwork::Mastercard, &declines(11, HOUR_MS), NOW).unwrap_err();
        assert_eq!(err.retry_at(), Some(NOW.plus_ms(-11 * HOUR_MS + DAY_MS)));
        assert!(err.message().contains("last 24 hours"), "{}", err.message());
        // 35 over 30 days, at most 2 a day: the daily limit holds, the monthly one does not.
        assert_eq!(
            check_reattempt(CardNetwork::Mastercard, &declines(35, 20 * HOUR_MS), NOW),
            Ok(())
        );
        let err =
            check_reattempt(CardNetwork::Mastercard, &declines(36, 19 * HOUR_MS), NOW).unwrap_err();
        match err {
            ReattemptRefusal::LimitReached {
                limit,
                window_ms,
                declines_in_window,
                ..
            } => {
                assert_eq!(
                    (limit, window_ms, declines_in_window),
                    (35, 30 * DAY_MS, 36)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_limits_over_gives_the_later_retry_time() {
        // 40 declines in the last 40 hours: over 10/day (retry in hours) and 35/month (in days).
        let err =
            check_reattempt(CardNetwork::Mastercard, &declines(40, HOUR_MS), NOW).unwrap_err();
        let oldest_5th = NOW.plus_ms(-36 * HOUR_MS);
        assert_eq!(err.retry_at(), Some(oldest_5th.plus_ms(30 * DAY_MS)));
    }

    #[test]
    fn unknown_network_gets_the_stricter_of_each() {
        assert!(check_reattempt(CardNetwork::Unknown, &declines(11, HOUR_MS), NOW).is_err());
        assert!(check_reattempt(CardNetwork::Unknown, &declines(16, DAY_MS), NOW).is_err());
        assert_eq!(
            check_reattempt(CardNetwork::Unknown, &declines(10, HOUR_MS), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_do_not_retry_code_refuses_forever() {
        let mut d = declines(1, 40 * DAY_MS);
        d[0].decline_code = Some("stolen_card".into());
        let err = check_reattempt(CardNetwork::Visa, &d, NOW).unwrap_err();
        assert_eq!(err.retry_at(), None);
        assert!(err.message().contains("stolen_card"), "{}", err.message());
        assert!(err.message().contains("do not retry"), "{}", err.message());
        let advice = PastDecline {
            at: NOW.plus_ms(-1),
            decline_code: Some("generic_decline".into()),
            advice_code: Some("03".into()),
        };
        let err = check_reattempt(CardNetwork::Mastercard, &[advice], NOW).unwrap_err();
        assert!(matches!(err, ReattemptRefusal::DoNotRetry { ref code, .. } if code == "03"));
    }

    #[test]
    fn retryable_codes_are_not_do_not_retry() {
        for code in [
            "insufficient_funds",
            "generic_decline",
            "processing_error",
            "expired_card",
        ] {
            assert!(!is_do_not_retry(Some(code), None), "{code}");
        }
        assert!(!is_do_not_retry(None, Some("try_again_later")));
        assert!(is_do_not_retry(None, Some("do_not_try_again")));
        assert!(is_do_not_retry(Some(" Lost_Card "), None));
        assert!(is_do_not_retry(None, Some("21")));
    }

    #[test]
    fn brands_map_to_networks() {
        assert_eq!(CardNetwork::from_brand("visa"), CardNetwork::Visa);
        assert_eq!(
            CardNetwork::from_brand("MasterCard"),
            CardNetwork::Mastercard
        );
        assert_eq!(
            CardNetwork::from_brand("MASTER_CARD"),
            CardNetwork::Mastercard
        );
        assert_eq!(CardNetwork::from_brand("amex"), CardNetwork::Unknown);
    }
}
