//! Money: integer minor units with an ISO 4217 currency and its exponent.
//!
//! There is no float anywhere in this module, no `Default`, and no way to build a `Money` that is
//! negative or whose currency is unknown. Arithmetic is checked; an overflow is an error value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency this product accepts, with the number of digits after the decimal point.
///
/// The table is deliberately a closed list: an unknown code is refused at the edge rather than
/// guessed (a wrong exponent would charge 100× too much or too little).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")] // serialized as its code ("EUR"): see `impl Serialize for Currency`
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// ISO 4217 codes and their minor-unit exponents. Zero-decimal and three-decimal currencies are
/// included on purpose, because they are where float- or "cents"-based code goes wrong.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("RUB", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// The largest amount accepted in minor units. Stripe's own limit is 8 digits for most
/// currencies (99,999,999 minor units); we allow more headroom for zero-decimal currencies but
/// keep sums of thousands of amounts far away from `i64::MAX`.
pub const AMOUNT_MINOR_MAX: i64 = 999_999_999_999;

/// Why a currency or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?}: use a three-letter ISO 4217 code such as EUR, USD or JPY")]
    UnknownCurrency(String),
    #[error("amount {0} is negative: amounts are never below zero")]
    Negative(i64),
    #[error("amount {input:?} is negative: amounts are never below zero")]
    NegativeText { input: String },
    #[error("amount {minor} is above the limit of {max} minor units")]
    TooLarge { minor: i64, max: i64 },
    #[error(
        "malformed amount {input:?}: write it as digits, a point and the currency's decimals, then \
         the code, e.g. \"12.34 EUR\" or \"1200 JPY\""
    )]
    Malformed { input: String },
    #[error(
        "{input:?} has {} but {currency} has {}",
        decimals(*given as u64),
        decimals(u64::from(*exponent))
    )]
    WrongDecimals {
        input: String,
        given: usize,
        currency: Currency,
        exponent: u8,
    },
    #[error("cannot combine {left} with {right}: currencies differ")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("arithmetic overflow")]
    Overflow,
}

impl Currency {
    /// Looks up an ISO 4217 code (case-insensitive). Unknown codes are refused.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|(c, exponent)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *exponent,
                }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
    }

    /// The upper-case three-letter code.
    pub fn code(&self) -> &str {
        // The bytes come from the ASCII table above, so this cannot fail.
        std::str::from_utf8(&self.code).expect("currency codes are ASCII")
    }

    /// Digits after the decimal point (0 for JPY, 2 for EUR, 3 for KWD).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

/// A non-negative amount of money in integer minor units of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
pub struct Money {
    // JSON numbers: amounts stay below AMOUNT_MINOR_MAX, far inside a double's exact integers.
    #[ts(type = "number")]
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Builds an amount from minor units. Refuses negative amounts and amounts above
    /// [`AMOUNT_MINOR_MAX`].
    pub fn new(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(minor));
        }
        if minor > AMOUNT_MINOR_MAX {
            return Err(MoneyError::TooLarge {
                minor,
                max: AMOUNT_MINOR_MAX,
            });
        }
        Ok(Money { minor, currency })
    }

    /// Zero in the given currency.
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// The amount in minor units (cents for EUR, yen for JPY).
    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// Sum of two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Money::new(minor, self.currency).map_err(|_| MoneyError::Overflow)
    }

    /// Difference of two amounts of the same currency; refuses a result below zero.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Money::new(minor, self.currency)
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// Parses "12.34 EUR", "1200 JPY", "0.500 KWD". The number of decimals must be exactly the
    /// currency's exponent, or none at all ("12 EUR" is 12.00 EUR). Signs, exponents, thousands
    /// separators and commas are refused rather than guessed.
    pub fn parse(input: &str) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::Malformed {
            input: input.to_string(),
        };
        let mut parts = input.split_whitespace();
        let (number, code) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(c), None) => (n, c),
            _ => return Err(malformed()),
        };
        if number.starts_with('-') {
            return Err(MoneyError::NegativeText {
                input: input.to_string(),
            });
        }
        let currency = Currency::from_code(code)?;
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let exponent = currency.exponent();
        let frac_digits = match frac {
            None => "",
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed())
            }
            Some(f) if f.len() != exponent as usize => {
                return Err(MoneyError::WrongDecimals {
                    input: input.to_string(),
                    given: f.len(),
                    currency,
                    exponent,
                })
            }
            Some(f) => f,
        };
        let too_large = || MoneyError::TooLarge {
            minor: i64::MAX,
            max: AMOUNT_MINOR_MAX,
        };
        let whole: i64 = whole.parse().map_err(|_| too_large())?;
        let scale = 10_i64.pow(exponent as u32);
        let frac: i64 = if frac_digits.is_empty() {
            0
        } else {
            frac_digits.parse().map_err(|_| malformed())?
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(frac))
            .ok_or_else(too_large)?;
        Money::new(minor, currency)
    }
}

impl fmt::Display for Money {
    /// "12.34 EUR", "1200 JPY", "0.500 KWD".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent() as u32;
        if exponent == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10_i64.pow(exponent);
        write!(
            f,
            "{}.{:0width$} {}",
            self.minor / scale,
            self.minor % scale,
            self.currency,
            width = exponent as usize
        )
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// `{"minor": 1234, "currency": "EUR"}`; validated like [`Money::new`], unknown fields refused.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            minor: i64,
            currency: Currency,
        }
        let w = Wire::deserialize(d)?;
        Money::new(w.minor, w.currency).map_err(serde::de::Error::custom)
    }
}

/// "1 decimal", "2 decimals", "no decimals".
fn decimals(n: u64) -> String {
    match n {
        0 => "no decimals".into(),
        1 => "1 decimal".into(),
        n => format!("{n} decimals"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn parse_and_display_round_trip() {
        for (text, minor, code) in [
            ("12.34 EUR", 1234, "EUR"),
            ("0.05 USD", 5, "USD"),
            ("1200 JPY", 1200, "JPY"),
            ("0.500 KWD", 500, "KWD"),
            ("7.00 GBP", 700, "GBP"),
        ] {
            let m = Money::parse(text).unwrap();
            assert_eq!(m.minor(), minor, "{text}");
            assert_eq!(m.currency().code(), code);
            assert_eq!(m.to_string(), text);
        }
        assert_eq!(Money::parse("12 EUR").unwrap().minor(), 1200);
        assert_eq!(Money::parse("12.34 eur").unwrap().to_string(), "12.34 EUR");
    }

    #[test]
    fn parse_refuses_bad_input() {
        for bad in [
            "",
            "12.34",
            "EUR",
            "-1.00 EUR",
            "1,00 EUR",
            "1.2 EUR",
            "1.234 EUR",
            "12.5 JPY",
            "1e3 EUR",
            "12.34 XXX",
            "12.34 EUR extra",
            ".5 EUR",
            "5. EUR",
            "+5.00 EUR",
            "99999999999999999999 EUR",
            "9999999999999.00 EUR",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(
            Money::parse("1.2 EUR"),
            Err(MoneyError::WrongDecimals { given: 1, .. })
        ));
        assert!(matches!(
            Money::parse("1.00 ABC"),
            Err(MoneyError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn new_refuses_negative_and_too_large() {
        assert_eq!(Money::new(-1, eur()), Err(MoneyError::Negative(-1)));
        assert!(Money::new(AMOUNT_MINOR_MAX + 1, eur()).is_err());
        assert!(Money::new(AMOUNT_MINOR_MAX, eur()).is_ok());
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::new(AMOUNT_MINOR_MAX, eur()).unwrap();
        assert!(a.checked_add(Money::new(1, eur()).unwrap()).is_err());
        let b = Money::new(5, eur()).unwrap();
        assert!(b.checked_sub(Money::new(6, eur()).unwrap()).is_err());
        assert_eq!(
            b.checked_sub(Money::new(5, eur()).unwrap()).unwrap(),
            Money::zero(eur())
        );
        let usd = Money::new(5, Currency::from_code("USD").unwrap()).unwrap();
        assert!(matches!(
            b.checked_add(usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn serde_validates() {
        let m: Money = serde_json::from_str(r#"{"minor":1234,"currency":"EUR"}"#).unwrap();
        assert_eq!(m.to_string(), "12.34 EUR");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"minor":1234,"currency":"EUR"}"#
        );
        for bad in [
            r#"{"minor":-1,"currency":"EUR"}"#,
            r#"{"minor":1,"currency":"XYZ"}"#,
            r#"{"minor":1.5,"currency":"EUR"}"#,
            r#"{"minor":1,"currency":"EUR","extra":1}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(minor in 0..=AMOUNT_MINOR_MAX, idx in 0..CURRENCIES.len()) {
            let currency = Currency::from_code(CURRENCIES[idx].0).unwrap();
            let m = Money::new(minor, currency).unwrap();
            proptest::prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }
    }
}
