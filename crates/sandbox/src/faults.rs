//! The fault plan: scripted misbehaviour for the next N requests to an endpoint.
//!
//! Syntax (command line `--fault`, admin `{"spec": ...}`): `ENDPOINT[@KEYS]:KIND[:COUNT]`
//!
//! - `ENDPOINT`: `create`, `confirm`, `retrieve`, `cancel`, `search`, `refund`, `events`, `any`
//! - `KEYS` (optional): `restricted` or `secret` — only requests made with that kind of API key
//!   match (a terminal charges with a restricted key, the central reads with the secret one, so a
//!   fault can break one's path to the gateway and not the other's)
//! - `KIND`: `latency=MS`, `http_500`, `http_500_after_execute`, `http_429`,
//!   `drop_before_execute`, `drop_after_execute`, `execute_late=MS`, and two issuer answers for a
//!   confirm whatever the intent's card: `decline` (as `pm_card_chargeDeclined`) and
//!   `authentication_required` (as `pm_card_authenticationRequired`); on other requests these two
//!   do nothing
//! - `COUNT`: how many matching requests the rule applies to (default 1)
//!
//! e.g. `confirm:drop_after_execute:1`, `create:latency=800:2`, `any:http_429:3`,
//! `retrieve@restricted:drop_before_execute:100`.
//! This module only keeps and matches rules; the server decides what each kind does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::keys::KeyKind;

/// The longest injected delay. Long enough for any client timeout, short enough that a typo does
/// not hang a test run for hours.
pub const FAULT_DELAY_MS_MAX: u64 = 10 * 60 * 1000;

/// A class of API requests a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/payment_intents`
    Create,
    /// `POST /v1/payment_intents/{id}/confirm`
    Confirm,
    /// `GET /v1/payment_intents/{id}`, `GET /v1/refunds/{id}`, `GET /v1/charges/{id}`
    Retrieve,
    /// `POST /v1/payment_intents/{id}/cancel`
    Cancel,
    /// `GET /v1/payment_intents/search`
    Search,
    /// `POST /v1/refunds`
    Refund,
    /// `GET /v1/events`, `GET /v1/events/{id}`
    Events,
    /// Any `/v1` request.
    Any,
}

impl Endpoint {
    fn parse(s: &str) -> Option<Endpoint> {
        Some(match s {
            "create" => Endpoint::Create,
            "confirm" => Endpoint::Confirm,
            "retrieve" => Endpoint::Retrieve,
            "cancel" => Endpoint::Cancel,
            "search" => Endpoint::Search,
            "refund" => Endpoint::Refund,
            "events" => Endpoint::Events,
            "any" => Endpoint::Any,
            _ => return None,
        })
    }
}

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long after the request is accepted (and its idempotency key is in flight).
    LatencyMs(u64),
    /// Do not execute; answer 500 `api_error` (stored under the idempotency key, as Stripe does).
    Http500,
    /// Execute, then answer 500 anyway (stored): the charge happened, the client saw a failure.
    Http500AfterExecute,
    /// Answer 429 `rate_limit` before anything else (never stored).
    Http429,
    /// Close the connection without executing or storing anything.
    DropBeforeExecute,
    /// Execute (and store under the key), then close the connection without a response.
    DropAfterExecute,
    /// Close the connection at once, execute after this delay (the key stays in flight until then).
    ExecuteLateMs(u64),
    /// A confirm is answered as the issuer of `pm_card_chargeDeclined` would: declined.
    Decline,
    /// A confirm is answered as for `pm_card_authenticationRequired`: 3-D Secure is needed.
    AuthenticationRequired,
}

impl FaultKind {
    /// The test card whose issuer answers a confirm under this fault, for the two issuer kinds.
    pub fn issuer_card(self) -> Option<&'static str> {
        match self {
            FaultKind::Decline => Some("pm_card_chargeDeclined"),
            FaultKind::AuthenticationRequired => Some("pm_card_authenticationRequired"),
            _ => None,
        }
    }
}

impl FaultKind {
    fn parse(s: &str) -> Result<FaultKind, String> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let ms = || -> Result<u64, String> {
            let a = arg.ok_or_else(|| format!("fault kind {name:?} needs a delay: {name}=MS"))?;
            let v: u64 = a
                .parse()
                .map_err(|_| format!("fault delay {a:?} is not a number of milliseconds"))?;
            if v > FAULT_DELAY_MS_MAX {
                return Err(format!(
                    "fault delay {v} ms is above {FAULT_DELAY_MS_MAX} ms"
                ));
            }
            Ok(v)
        };
        let no_arg = |k: FaultKind| match arg {
            None => Ok(k),
            Some(_) => Err(format!("fault kind {name:?} takes no argument")),
        };
        match name {
            "latency" | "latency_ms" => Ok(FaultKind::LatencyMs(ms()?)),
            "execute_late" | "execute_late_ms" => Ok(FaultKind::ExecuteLateMs(ms()?)),
            "http_500" => no_arg(FaultKind::Http500),
            "http_500_after_execute" => no_arg(FaultKind::Http500AfterExecute),
            "http_429" => no_arg(FaultKind::Http429),
            "drop_before_execute" => no_arg(FaultKind::DropBeforeExecute),
            "drop_after_execute" => no_arg(FaultKind::DropAfterExecute),
            "decline" => no_arg(FaultKind::Decline),
            "authentication_required" => no_arg(FaultKind::AuthenticationRequired),
            _ => Err(format!(
                "unknown fault kind {name:?}: use latency=MS, http_500, http_500_after_execute, \
                 http_429, drop_before_execute, drop_after_execute, execute_late=MS, decline or \
                 authentication_required"
            )),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::LatencyMs(ms) => write!(f, "latency={ms}"),
            FaultKind::Http500 => f.write_str("http_500"),
            FaultKind::Http500AfterExecute => f.write_str("http_500_after_execute"),
            FaultKind::Http429 => f.write_str("http_429"),
            FaultKind::DropBeforeExecute => f.write_str("drop_before_execute"),
            FaultKind::DropAfterExecute => f.write_str("drop_after_execute"),
            FaultKind::ExecuteLateMs(ms) => write!(f, "execute_late={ms}"),
            FaultKind::Decline => f.write_str("decline"),
            FaultKind::AuthenticationRequired => f.write_str("authentication_required"),
        }
    }
}

/// One rule: `kind` for the next `count` requests matching `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub endpoint: Endpoint,
    pub kind: FaultKind,
    pub count: u32,
    /// Only requests made with this kind of key match; `None`: any request.
    pub keys: Option<KeyKind>,
}

impl FromStr for FaultRule {
    type Err = String;

    fn from_str(spec: &str) -> Result<FaultRule, String> {
        let parts: Vec<&str> = spec.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(format!(
                "fault {spec:?} is not ENDPOINT:KIND[:COUNT], e.g. confirm:drop_after_execute:1"
            ));
        }
        let (endpoint, keys) = match parts[0].split_once('@') {
            Some((endpoint, "restricted")) => (endpoint, Some(KeyKind::Restricted)),
            Some((endpoint, "secret")) => (endpoint, Some(KeyKind::Secret)),
            Some((_, other)) => {
                return Err(format!(
                    "unknown key kind {other:?} after '@': use restricted or secret"
                ))
            }
            None => (parts[0], None),
        };
        let endpoint = Endpoint::parse(endpoint).ok_or_else(|| {
            format!(
                "unknown endpoint {endpoint:?}: use create, confirm, retrieve, cancel, search, \
                 refund, events or any"
            )
        })?;
        let kind = FaultKind::parse(parts[1])?;
        let count = match parts.get(2) {
            None => 1,
            Some(c) => c
                .parse::<u32>()
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| format!("fault count {c:?} is not a positive number"))?,
        };
        Ok(FaultRule {
            endpoint,
            kind,
            count,
            keys,
        })
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = serde_json::to_value(self.endpoint)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let keys = match self.keys {
            None => "",
            Some(KeyKind::Restricted) => "@restricted",
            Some(KeyKind::Secret) => "@secret",
        };
        write!(f, "{endpoint}{keys}:{}:{}", self.kind, self.count)
    }
}

/// The faults that apply to one request, taken from the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The sum of every matching latency rule.
    pub latency_ms: u64,
    /// The first matching non-latency rule, if any.
    pub action: Option<FaultKind>,
}

/// The remaining rules, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Consumes one count of every latency rule and of the first other rule matching `endpoint`
    /// (rules for one kind of key never match here: see [`FaultPlan::take_for`]).
    pub fn take(&mut self, endpoint: Endpoint) -> Applied {
        self.take_for(endpoint, None)
    }

    /// The same for a request made with a key of kind `keys` (`None`: not known), which rules
    /// limited to that kind of key match too.
    pub fn take_for(&mut self, endpoint: Endpoint, keys: Option<KeyKind>) -> Applied {
        let mut applied = Applied::default();
        for rule in &mut self.rules {
            if rule.endpoint != endpoint && rule.endpoint != Endpoint::Any {
                continue;
            }
            if rule.keys.is_some() && rule.keys != keys {
                continue;
            }
            match rule.kind {
                FaultKind::LatencyMs(ms) => {
                    applied.latency_ms = applied.latency_ms.saturating_add(ms);
                    rule.count -= 1;
                }
                kind if applied.action.is_none() => {
                    applied.action = Some(kind);
                    rule.count -= 1;
                }
                _ => {}
            }
        }
        self.rules.retain(|r| r.count > 0);
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let r: FaultRule = "confirm:drop_after_execute:2".parse().unwrap();
        assert_eq!(
            r,
            FaultRule {
                endpoint: Endpoint::Confirm,
                kind: FaultKind::DropAfterExecute,
                count: 2,
                keys: None,
            }
        );
        let r: FaultRule = "confirm@restricted:decline".parse().unwrap();
        assert_eq!(r.kind, FaultKind::Decline);
        assert_eq!(r.kind.issuer_card(), Some("pm_card_chargeDeclined"));
        assert_eq!(r.to_string(), "confirm@restricted:decline:1");
        let r: FaultRule = "confirm:authentication_required:2".parse().unwrap();
        assert_eq!(r.kind, FaultKind::AuthenticationRequired);
        assert_eq!(r.to_string(), "confirm:authentication_required:2");
        let r: FaultRule = "any:latency=300".parse().unwrap();
        assert_eq!(r.kind, FaultKind::LatencyMs(300));
        assert_eq!(r.count, 1);
        assert_eq!(r.to_string(), "any:latency=300:1");
        for bad in [
            "confirm",
            "nope:http_500",
            "create:http_501",
            "create:latency",
            "create:http_500:0",
            "create:http_500=3",
            "confirm:decline=1",
            "create@public:http_500",
            "nope@secret:http_500",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn rules_are_consumed_per_matching_request() {
        let mut plan = FaultPlan::default();
        plan.add("confirm:http_500:2".parse().unwrap());
        plan.add("any:latency=10:1".parse().unwrap());
        assert_eq!(plan.take(Endpoint::Create).latency_ms, 10);
        assert_eq!(plan.take(Endpoint::Create), Applied::default());
        assert_eq!(
            plan.take(Endpoint::Confirm).action,
            Some(FaultKind::Http500)
        );
        assert_eq!(
            plan.take(Endpoint::Confirm).action,
            Some(FaultKind::Http500)
        );
        assert_eq!(plan.take(Endpoint::Confirm).action, None);
        assert!(plan.rules().is_empty());
    }

    #[test]
    fn a_rule_for_one_kind_of_key_matches_only_its_requests() {
        let rule: FaultRule = "retrieve@restricted:drop_before_execute:2".parse().unwrap();
        assert_eq!(rule.keys, Some(KeyKind::Restricted));
        assert_eq!(
            rule.to_string(),
            "retrieve@restricted:drop_before_execute:2"
        );
        let mut plan = FaultPlan::default();
        plan.add(rule);
        // The central's secret key, and a request whose key kind is not known: untouched.
        assert_eq!(
            plan.take_for(Endpoint::Retrieve, Some(KeyKind::Secret)),
            Applied::default()
        );
        assert_eq!(plan.take(Endpoint::Retrieve), Applied::default());
        for _ in 0..2 {
            assert_eq!(
                plan.take_for(Endpoint::Retrieve, Some(KeyKind::Restricted))
                    .action,
                Some(FaultKind::DropBeforeExecute)
            );
        }
        assert!(plan.rules().is_empty());
    }
}
