//! Credentials: terminal bearer tokens (random, stored as SHA-256), the admin token, and operator
//! PIN hashes (argon2id, handed to terminals for offline sign-in).
//!
//! Deliberately absent: any storage or HTTP. A plaintext token exists only in the answer that
//! creates it; nothing here logs a token or a PIN.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use paydesk_core::Pin;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a terminal token: 256 bits, beyond guessing, so a fast hash suffices to store it.
const TOKEN_BYTES: usize = 32;
/// Prefix that makes a leaked token recognisable in a secret scanner.
const TOKEN_PREFIX: &str = "pdt_";
/// A new random terminal token.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
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

/// Hashes a PIN with argon2id (the crate's defaults: 19 MiB, 2 passes) into a PHC string.
/// Slow on purpose; call it from a blocking task.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    let pin = Pin::parse(pin).map_err(|e| e.to_string())?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("could not hash the PIN: {e}"))
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
