//! Credentials: terminal bearer tokens and operator session tokens (random, stored as SHA-256),
//! the admin token, and operator PIN hashes (argon2id, checked only here at the central; they
//! never leave it).
//!
//! Deliberately absent: any storage or HTTP. A plaintext token exists only in the answer that
//! creates it; nothing here logs a token or a PIN.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use paydesk_core::Pin;
use paydesk_protocol::{Role, MANAGER_PIN_DIGITS_MIN, OPERATOR_PIN_DIGITS_MIN};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a terminal token: 256 bits, beyond guessing, so a fast hash suffices to store it.
const TOKEN_BYTES: usize = 32;
/// Prefix that makes a leaked token recognisable in a secret scanner.
const TOKEN_PREFIX: &str = "pdt_";
/// Prefix of an operator session token (`x-paydesk-session`).
const SESSION_TOKEN_PREFIX: &str = "pds_";
/// Shortest admin token the central starts with: 32 characters of a random token are far beyond
/// guessing; `admin` or a short word is not (finding L5).
pub const ADMIN_TOKEN_CHARS_MIN: usize = 32;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new random terminal token.
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex(TOKEN_BYTES))
}

/// A new random operator session token: `pds_` and 64 hex digits.
pub fn new_session_token() -> String {
    format!("{SESSION_TOKEN_PREFIX}{}", random_hex(TOKEN_BYTES))
}

/// Why an admin token is refused at start-up; `None` when it is strong enough.
pub fn admin_token_weakness(token: &str) -> Option<String> {
    let chars = token.chars().count();
    (chars < ADMIN_TOKEN_CHARS_MIN).then(|| {
        format!(
            "the admin token is {chars} characters; use at least {ADMIN_TOKEN_CHARS_MIN} random \
             characters (for example `openssl rand -hex 32`)"
        )
    })
}

/// Lower-case hex SHA-256 of a token: what the database keeps.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented token with the admin token in constant time.
pub fn admin_token_matches(presented: &str, admin_token: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(admin_token.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// Hashes a PIN with argon2id (the crate's defaults: 19 MiB, 2 passes, OWASP's minimum) into a
/// PHC string. The hashes never leave the central and every check of them is rate limited and
/// locked out, so the default cost is enough. Slow on purpose; call it from a blocking task.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    hash_pin_with(pin, &Argon2::default())
}

/// [`hash_pin`] with chosen argon2 parameters; verification reads them back from the PHC
/// string, so a hash made cheaply (the test harness does, argon2 is slow in debug builds) still
/// verifies through the same code.
pub fn hash_pin_with(pin: &str, argon2: &Argon2<'_>) -> Result<String, String> {
    let pin = Pin::parse(pin).map_err(|e| e.to_string())?;
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(pin.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("could not hash the PIN: {e}"))
}

/// Refuses a PIN too short for the role: six digits for an operator, eight for a manager, who
/// lifts guards and moves money out.
pub fn check_pin_policy(pin: &str, role: Role) -> Result<(), String> {
    Pin::parse(pin).map_err(|e| e.to_string())?;
    let min = match role {
        Role::Operator => OPERATOR_PIN_DIGITS_MIN,
        Role::Manager => MANAGER_PIN_DIGITS_MIN,
    };
    if pin.len() < min {
        return Err(format!(
            "a {} PIN needs at least {min} digits: choose a longer one",
            role.as_str()
        ));
    }
    Ok(())
}

/// The hash an unknown operator's PIN is verified against, so a sign-in for an id that does not
/// exist costs the same argon2 work as a real one and timing does not reveal which ids exist
/// (finding L1). Made once per process from a random PIN nobody knows, with the default cost.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let pin = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
        hash_pin(&pin).expect("a 12-digit PIN always hashes")
    })
}

/// Checks a PIN against a stored hash, or against the dummy hash when there is none (the
/// operator is unknown), which never matches. Slow on purpose; call it from a blocking task.
pub fn verify_pin(stored_hash: Option<&str>, pin: &str) -> bool {
    verify_pin_with(stored_hash, pin, argon2_verify)
}

/// argon2's verification of `pin` against a PHC string; false when the string does not parse.
fn argon2_verify(hash: &str, pin: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`verify_pin`] with the verifier passed in, so a test can see that an unknown operator's PIN
/// really goes through it (against the dummy hash) rather than returning early.
fn verify_pin_with(
    stored_hash: Option<&str>,
    pin: &str,
    verify: impl Fn(&str, &str) -> bool,
) -> bool {
    let Ok(pin) = Pin::parse(pin) else {
        return false;
    };
    match stored_hash {
        Some(hash) => {
            let right = verify(hash, pin.expose());
            if !right && PasswordHash::new(hash).is_err() {
                // A stored hash that does not parse never verifies; spend the time anyway.
                let _ = verify(dummy_hash(), pin.expose());
            }
            right
        }
        None => {
            let _ = verify(dummy_hash(), pin.expose());
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHash, PasswordVerifier};

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 2 * TOKEN_BYTES);
        assert_eq!(token_sha256(&a).len(), 64);
        assert!(admin_token_matches(&a, &a));
        assert!(!admin_token_matches(&a, &b));
    }

    #[test]
    fn an_unknown_operators_pin_goes_through_the_verifier_against_the_dummy_hash() {
        let seen = std::cell::RefCell::new(Vec::new());
        let spy = |hash: &str, _pin: &str| {
            seen.borrow_mut().push(hash.to_string());
            true
        };
        assert!(
            !verify_pin_with(None, "123456", spy),
            "never true, whatever the verifier says"
        );
        assert_eq!(*seen.borrow(), [dummy_hash().to_string()]);
        assert!(
            !verify_pin_with(None, "12", |_, _| panic!("a malformed PIN is not verified")),
            "malformed"
        );
    }

    #[test]
    fn unknown_operators_verify_against_the_dummy_hash_and_fail() {
        assert!(!verify_pin(None, "123456"));
        assert!(dummy_hash().starts_with("$argon2id$"));
        let hash = hash_pin("123456").unwrap();
        assert!(verify_pin(Some(&hash), "123456"));
        assert!(!verify_pin(Some(&hash), "123457"));
        assert!(!verify_pin(Some("not a hash"), "123456"));
    }

    #[test]
    fn pin_policy_by_role() {
        assert!(check_pin_policy("12345", Role::Operator).is_err());
        assert!(check_pin_policy("123456", Role::Operator).is_ok());
        assert!(check_pin_policy("1234567", Role::Manager).is_err());
        assert!(check_pin_policy("12345678", Role::Manager).is_ok());
        assert!(check_pin_policy("12a456", Role::Operator).is_err());
    }

    #[test]
    fn weak_admin_tokens_are_named() {
        assert!(admin_token_weakness("admin").is_some());
        assert!(admin_token_weakness(&"x".repeat(32)).is_none());
        assert!(new_session_token().starts_with("pds_"));
        assert_eq!(new_session_token().len(), 4 + 64);
    }

    #[test]
    fn pins_hash_and_verify() {
        assert!(hash_pin("12a4").is_err());
        assert!(hash_pin("123").is_err());
        let hash = hash_pin("2468").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"2468", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"2469", &parsed).is_err());
    }
}
