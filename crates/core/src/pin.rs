//! An operator's PIN: 4 to 12 ASCII digits, parsed once at the edge (stdin, a sign-in form, the
//! central's API) and passed on as a [`Pin`], so no later code re-checks or re-states the rule.
//!
//! Deliberately absent: hashing and comparing (the central and the terminal's caches do that with
//! argon2), and any way to print a PIN by accident — `Debug` is redacted and there is no
//! `Display`.

use std::fmt;

/// Shortest PIN accepted, in digits: four is what people remember; shorter is guessable by hand.
pub const PIN_DIGITS_MIN: usize = 4;
/// Longest PIN accepted, in digits: long enough for any policy, short enough to type.
pub const PIN_DIGITS_MAX: usize = 12;

/// A PIN of the right shape. The one way to its digits is [`Pin::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

/// Why a text is not a PIN; safe to show (it never contains the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a PIN is {PIN_DIGITS_MIN} to {PIN_DIGITS_MAX} digits")]
pub struct PinError;

impl Pin {
    /// Parses a PIN exactly as typed (callers trim a line ending first).
    pub fn parse(text: &str) -> Result<Pin, PinError> {
        let ok = (PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&text.len())
            && text.chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Pin(text.to_string()))
        } else {
            Err(PinError)
        }
    }

    /// The digits, for the one place that needs them (a hash, a request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_to_twelve_ascii_digits_are_a_pin() {
        for ok in ["1234", "000000000000", "9999"] {
            assert_eq!(Pin::parse(ok).unwrap().expose(), ok);
        }
        for bad in [
            "",
            "123",
            "1234567890123",
            "12a4",
            " 1234",
            "１２３４",
            "12 4",
        ] {
            assert_eq!(Pin::parse(bad), Err(PinError), "{bad:?}");
        }
        assert_eq!(PinError.to_string(), "a PIN is 4 to 12 digits");
    }

    #[test]
    fn a_pin_never_prints() {
        assert_eq!(
            format!("{:?}", Pin::parse("2468").unwrap()),
            "Pin([redacted])"
        );
    }
}
