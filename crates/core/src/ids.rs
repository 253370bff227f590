//! Identifiers as newtypes with one validating constructor each, and the deterministic
//! idempotency keys of the charge protocol.
//!
//! Nothing here generates an id: attempt ids (UUID v7) are made by the caller from its clock and
//! random source and only *checked* here, so the core stays free of randomness and clock reads.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is longer than {max} characters")]
    TooLong {
        kind: &'static str,
        value: String,
        max: usize,
    },
    #[error("{kind} {value:?} contains {bad:?}: use only letters, digits and . _ - :")]
    BadCharacter {
        kind: &'static str,
        value: String,
        bad: char,
    },
    #[error("{kind} {value:?} is only dots: it would read as a path step")]
    OnlyDots { kind: &'static str, value: String },
    #[error("attempt id {0:?} is not a UUID")]
    NotUuid(String),
    #[error("attempt id {0} is not a version 7 (time-ordered) UUID")]
    NotV7(Uuid),
    #[error("{kind} must be at least 1, got {value}")]
    Zero { kind: &'static str, value: u64 },
}

/// Longest external identifier accepted (order ids come from other systems; 64 is generous and
/// keeps the derived idempotency keys well under Stripe's 255-character limit).
pub const EXTERNAL_ID_LEN_MAX: usize = 64;

/// Longest gateway object id accepted (Stripe ids are ~30 characters; PayPal's are 17).
pub const GATEWAY_ID_LEN_MAX: usize = 128;

fn check_token(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.chars().count() > max {
        return Err(IdError::TooLong {
            kind,
            value: value.to_string(),
            max,
        });
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
    {
        return Err(IdError::BadCharacter {
            kind,
            value: value.to_string(),
            bad,
        });
    }
    // `.` and `..` (and longer runs) are path steps wherever an id lands in a URL or a file name.
    if value.chars().all(|c| c == '.') {
        return Err(IdError::OnlyDots {
            kind,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Declares a string newtype whose only constructor validates with [`check_token`].
macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ts_rs::TS)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<$name, IdError> {
                let value = value.into();
                check_token($kind, &value, $max)?;
                Ok($name(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

token_id!(
    /// An order's id as the back office knows it (external, stable, unique per site).
    OrderId,
    "order id",
    EXTERNAL_ID_LEN_MAX
);
token_id!(
    /// A desktop installation; each has its own bearer token at the central.
    TerminalId,
    "terminal id",
    EXTERNAL_ID_LEN_MAX
);
token_id!(
    /// A person who signs in at a terminal (operator or manager).
    OperatorId,
    "operator id",
    EXTERNAL_ID_LEN_MAX
);
token_id!(
    /// The gateway's id of a customer (Stripe `cus_…`) whose saved payment method is charged.
    CustomerId,
    "customer id",
    GATEWAY_ID_LEN_MAX
);
token_id!(
    /// A saved payment method at the gateway (Stripe `pm_…`). A reference, never card data.
    PaymentMethodId,
    "payment method id",
    GATEWAY_ID_LEN_MAX
);
token_id!(
    /// The gateway's id of a payment intent (Stripe `pi_…`, PayPal order id).
    GatewayIntentId,
    "gateway intent id",
    GATEWAY_ID_LEN_MAX
);

/// One charge attempt of one order: a UUID v7, so ids sort by creation time across terminals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ts_rs::TS)]
#[serde(transparent)]
pub struct AttemptId(Uuid);

impl AttemptId {
    /// Accepts only a version 7 UUID (made by the caller from its clock).
    pub fn from_uuid(uuid: Uuid) -> Result<AttemptId, IdError> {
        if uuid.get_version_num() == 7 {
            Ok(AttemptId(uuid))
        } else {
            Err(IdError::NotV7(uuid))
        }
    }

    pub fn parse(s: &str) -> Result<AttemptId, IdError> {
        let uuid = Uuid::parse_str(s).map_err(|_| IdError::NotUuid(s.to_string()))?;
        AttemptId::from_uuid(uuid)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttemptId({})", self.0.hyphenated())
    }
}

impl std::str::FromStr for AttemptId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttemptId::parse(s)
    }
}

impl<'de> Deserialize<'de> for AttemptId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AttemptId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Declares a positive-integer newtype.
macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, ts_rs::TS)]
        #[serde(transparent)]
        // A JSON number: claim tokens and attempt numbers grow by one, never near 2^53.
        pub struct $name(#[ts(type = "number")] $inner);

        impl $name {
            pub fn new(value: $inner) -> Result<$name, IdError> {
                if value == 0 {
                    Err(IdError::Zero { kind: $kind, value: value as u64 })
                } else {
                    Ok($name(value))
                }
            }

            pub fn get(&self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <$inner>::deserialize(d)?;
                $name::new(v).map_err(serde::de::Error::custom)
            }
        }
    };
}

positive_id!(
    /// The fencing token of a claim: grows with every claim of an order at the central, so a
    /// decision carrying an older token can be recognised and refused.
    ClaimToken,
    u64,
    "claim token"
);
positive_id!(
    /// The 1-based number of an attempt within its order, assigned by the central's claim.
    AttemptNumber,
    u32,
    "attempt number"
);

positive_id!(
    /// The 1-based number of a payment within its order (issue 12, installments): 1 for the
    /// first (a deposit, or the whole amount), 2 for the payment after the first success, and so
    /// on. The central's claim hands it out from the successes it has counted; several attempts
    /// (a decline, then a retry) may share one. It is deliberately *not* part of any idempotency
    /// key: the attempt number already grows per order, so each installment's attempts have
    /// their own keys, and an offline attempt whose cached view of the order is stale (it thinks
    /// installment 1 while the central counted a deposit) must still collide at the gateway with
    /// the online attempt of the same number — a key that also named the installment would let
    /// the two differ and both charge.
    InstallmentNumber,
    u32,
    "installment number"
);

impl InstallmentNumber {
    /// The first payment of an order; also what every record written before installments reads as.
    pub const FIRST: InstallmentNumber = InstallmentNumber(1);

    /// `FIRST`, for `#[serde(default = ...)]` on records written before installments existed.
    pub fn first() -> InstallmentNumber {
        InstallmentNumber::FIRST
    }

    pub fn is_first(&self) -> bool {
        self.0 == 1
    }
}

/// A gateway idempotency key. Deterministic: the same step of the same attempt always yields the
/// same key, on every terminal and after every restart, so a re-sent request can never become a
/// second charge.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

/// Prefix of every key this product sends, so keys are recognisable in the gateway's logs.
const KEY_PREFIX: &str = "paydesk";

impl IdempotencyKey {
    /// Key for creating the gateway intent of attempt `attempt` of `order`.
    pub fn for_create(order: &OrderId, attempt: AttemptNumber) -> IdempotencyKey {
        IdempotencyKey(format!("{KEY_PREFIX}:create:{order}:{attempt}"))
    }

    /// Key for confirming one gateway intent. Derived from the intent id, so every confirm of the
    /// same intent (by any terminal, after any restart) shares it.
    pub fn for_confirm(intent: &GatewayIntentId) -> IdempotencyKey {
        IdempotencyKey(format!("{KEY_PREFIX}:confirm:{intent}"))
    }

    /// Key for the create of attempt `attempt` of `order` after `retry` earlier keys were given
    /// up. `retry` 0 is [`IdempotencyKey::for_create`] itself, so records and keys written before
    /// numbered keys existed stay valid. A new number is taken only once the gateway showed that
    /// no intent exists for the attempt (see `attempt.rs`): the gateway replays a stored error
    /// under a key for its whole window, so the old key could never succeed.
    pub fn for_create_retry(order: &OrderId, attempt: AttemptNumber, retry: u32) -> IdempotencyKey {
        match retry {
            0 => IdempotencyKey::for_create(order, attempt),
            k => IdempotencyKey(format!("{KEY_PREFIX}:create:{order}:{attempt}:{k}")),
        }
    }

    /// Key for the `retry`-th re-confirm of one gateway intent (0: [`IdempotencyKey::for_confirm`]).
    /// Taken only after a lookup showed the intent still `requires_confirmation`; safe because
    /// the intent, not the key, is the unit that succeeds at most once.
    pub fn for_confirm_retry(intent: &GatewayIntentId, retry: u32) -> IdempotencyKey {
        match retry {
            0 => IdempotencyKey::for_confirm(intent),
            k => IdempotencyKey(format!("{KEY_PREFIX}:confirm:{intent}:{k}")),
        }
    }

    /// Key for cancelling one gateway intent.
    pub fn for_cancel(intent: &GatewayIntentId) -> IdempotencyKey {
        IdempotencyKey(format!("{KEY_PREFIX}:cancel:{intent}"))
    }

    /// Key for the `n`-th refund (1-based) of one gateway intent.
    pub fn for_refund(intent: &GatewayIntentId, n: AttemptNumber) -> IdempotencyKey {
        IdempotencyKey(format!("{KEY_PREFIX}:refund:{intent}:{n}"))
    }

    /// Rebuilds a key read back from storage; it must have been made by one of the constructors.
    pub fn from_stored(s: &str) -> Result<IdempotencyKey, IdError> {
        let ok = s
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|rest| {
                ["create:", "confirm:", "cancel:", "refund:"]
                    .iter()
                    .any(|p| rest.starts_with(p))
            })
            .unwrap_or(false);
        if ok && s.len() <= 255 {
            Ok(IdempotencyKey(s.to_string()))
        } else {
            Err(IdError::BadCharacter {
                kind: "idempotency key",
                value: s.to_string(),
                bad: s.chars().next().unwrap_or(' '),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_only_dots_are_refused() {
        for dots in [".", "..", "..."] {
            assert!(matches!(OrderId::new(dots), Err(IdError::OnlyDots { .. })));
            assert!(matches!(
                TerminalId::new(dots),
                Err(IdError::OnlyDots { .. })
            ));
            assert!(matches!(
                OperatorId::new(dots),
                Err(IdError::OnlyDots { .. })
            ));
            assert!(serde_json::from_str::<OrderId>(&format!("{dots:?}")).is_err());
        }
        assert!(OrderId::new("a.b").is_ok());
        assert!(OrderId::new(".a").is_ok());
        assert!(OperatorId::new("..x").is_ok());
    }

    #[test]
    fn order_ids_are_validated() {
        assert!(OrderId::new("ORD-1001").is_ok());
        assert!(OrderId::new("shop:2024.17_a").is_ok());
        assert_eq!(OrderId::new(""), Err(IdError::Empty { kind: "order id" }));
        assert!(matches!(
            OrderId::new("a b"),
            Err(IdError::BadCharacter { bad: ' ', .. })
        ));
        assert!(OrderId::new("x".repeat(65)).is_err());
        assert!(OrderId::new("ü").is_err());
        assert!(serde_json::from_str::<OrderId>("\"a/b\"").is_err());
    }

    #[test]
    fn attempt_ids_must_be_v7() {
        let v7 = "01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10";
        assert_eq!(AttemptId::parse(v7).unwrap().to_string(), v7);
        assert!(matches!(
            AttemptId::parse("550e8400-e29b-41d4-a716-446655440000"),
            Err(IdError::NotV7(_))
        ));
        assert!(matches!(AttemptId::parse("nope"), Err(IdError::NotUuid(_))));
    }

    #[test]
    fn positive_ids_refuse_zero() {
        assert!(ClaimToken::new(0).is_err());
        assert!(AttemptNumber::new(0).is_err());
        assert_eq!(AttemptNumber::new(3).unwrap().get(), 3);
        assert!(serde_json::from_str::<ClaimToken>("0").is_err());
    }

    #[test]
    fn idempotency_keys_are_deterministic_and_distinct() {
        let order = OrderId::new("ORD-7").unwrap();
        let one = AttemptNumber::new(1).unwrap();
        let two = AttemptNumber::new(2).unwrap();
        assert_eq!(
            IdempotencyKey::for_create(&order, one),
            IdempotencyKey::for_create(&order, one)
        );
        assert_ne!(
            IdempotencyKey::for_create(&order, one),
            IdempotencyKey::for_create(&order, two)
        );
        let pi = GatewayIntentId::new("pi_123").unwrap();
        assert_eq!(
            IdempotencyKey::for_confirm(&pi).as_str(),
            "paydesk:confirm:pi_123"
        );
        assert_ne!(
            IdempotencyKey::for_confirm(&pi),
            IdempotencyKey::for_cancel(&pi)
        );
        let k = IdempotencyKey::for_create(&order, one);
        assert_eq!(IdempotencyKey::from_stored(k.as_str()).unwrap(), k);
        // Numbered keys: 0 is the original key; every other number is a key of its own.
        assert_eq!(IdempotencyKey::for_create_retry(&order, one, 0), k);
        assert_eq!(
            IdempotencyKey::for_create_retry(&order, one, 2).as_str(),
            "paydesk:create:ORD-7:1:2"
        );
        assert_eq!(
            IdempotencyKey::for_confirm_retry(&pi, 0),
            IdempotencyKey::for_confirm(&pi)
        );
        let k1 = IdempotencyKey::for_confirm_retry(&pi, 1);
        assert_eq!(k1.as_str(), "paydesk:confirm:pi_123:1");
        assert_ne!(k1, IdempotencyKey::for_confirm_retry(&pi, 2));
        assert_eq!(IdempotencyKey::from_stored(k1.as_str()).unwrap(), k1);
        assert!(IdempotencyKey::from_stored("random-key").is_err());
    }
}
