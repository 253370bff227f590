//! API keys as Stripe tells them apart: a secret key (`sk_test_…`) may do everything, a
//! restricted key (`rk_test_…`) only what its permissions allow, and anything else is a 401.
//!
//! The sandbox gives restricted keys one fixed set of permissions: **PaymentIntents: Write**
//! (which includes reading them), exactly what a terminal needs to charge and to recover a charge
//! (create, confirm, cancel, retrieve, search). Every other resource answers a restricted key with
//! Stripe's 403 permission error: refunds, charges, events, and the resources the sandbox does not
//! implement but a stolen terminal key would be tried on (customers, payment methods, webhook
//! endpoints, balance, payouts). Deliberately absent: per-key permission sets (one set is what
//! Paydesk's terminals use; see the README's "Keys and TLS in production").

/// What a key that authenticated may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_test_…`: every endpoint.
    Secret,
    /// `rk_test_…`: PaymentIntents only.
    Restricted,
}

/// The keys a sandbox accepts.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// The one secret key accepted, or `None` for any `sk_test_…` key.
    pub secret: Option<String>,
    /// The restricted keys accepted. Empty with `secret: None` means any `rk_test_…` key; empty
    /// with a fixed secret key means none.
    pub restricted: Vec<String>,
}

impl Keys {
    /// The kind of `key`, or `None` when the sandbox does not accept it (a 401).
    pub fn classify(&self, key: &str) -> Option<KeyKind> {
        if key.starts_with("sk_test_") && self.secret.as_deref().is_none_or(|k| k == key) {
            return Some(KeyKind::Secret);
        }
        let restricted_ok = if self.restricted.is_empty() {
            self.secret.is_none()
        } else {
            self.restricted.iter().any(|k| k == key)
        };
        (key.starts_with("rk_test_") && restricted_ok).then_some(KeyKind::Restricted)
    }
}

/// The permission Stripe would name for a `/v1` resource the sandbox does not route (so a
/// restricted key gets Stripe's 403 there, not a 404 that would tell it nothing). `None` for
/// paths that are not one of these resources.
pub fn unrouted_permission(method: &str, path: &str) -> Option<&'static str> {
    let resource = path.trim_start_matches('/').split('/').nth(1)?;
    let write = method != "GET";
    Some(match (resource, write) {
        ("customers", false) => "rak_customer_read",
        ("customers", true) => "rak_customer_write",
        ("payment_methods", false) => "rak_payment_method_read",
        ("payment_methods", true) => "rak_payment_method_write",
        ("webhook_endpoints", false) => "rak_webhook_read",
        ("webhook_endpoints", true) => "rak_webhook_write",
        ("balance" | "balance_transactions", _) => "rak_balance_read",
        ("payouts", false) => "rak_payout_read",
        ("payouts", true) => "rak_payout_write",
        ("refunds", false) => "rak_refund_read",
        ("refunds", true) => "rak_refund_write",
        ("charges", false) => "rak_charge_read",
        ("charges", true) => "rak_charge_write",
        ("events", _) => "rak_event_read",
        _ => return None,
    })
}

/// Shows a key the way Stripe does in errors: never the whole secret.
pub fn redact(key: &str) -> String {
    if key.len() <= 12 {
        return "****".to_string();
    }
    format!("{}****{}", &key[..8], &key[key.len() - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_told_apart_as_stripe_does() {
        let any = Keys::default();
        assert_eq!(any.classify("sk_test_a"), Some(KeyKind::Secret));
        assert_eq!(any.classify("rk_test_a"), Some(KeyKind::Restricted));
        assert_eq!(any.classify("sk_live_a"), None);
        assert_eq!(any.classify("rk_live_a"), None);
        let fixed = Keys {
            secret: Some("sk_test_one".into()),
            restricted: vec!["rk_test_one".into()],
        };
        assert_eq!(fixed.classify("sk_test_one"), Some(KeyKind::Secret));
        assert_eq!(fixed.classify("rk_test_one"), Some(KeyKind::Restricted));
        assert_eq!(fixed.classify("sk_test_two"), None);
        assert_eq!(fixed.classify("rk_test_two"), None);
        let secret_only = Keys {
            secret: Some("sk_test_one".into()),
            restricted: Vec::new(),
        };
        assert_eq!(secret_only.classify("rk_test_one"), None);
    }
}
