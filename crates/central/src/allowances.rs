//! Offline allowances: the central's Ed25519 signing key (a PKCS#8 file, made on first start),
//! checking a manager's request, and signing the grant a terminal verifies with the public key
//! it pinned (`GET /v1/allowance-key`).
//!
//! Deliberately absent: who may ask (a manager's session and PIN, checked by the route) and
//! what an offline result may do under a grant (the results inbox checks that).

use std::io::Write;
use std::path::Path;

use paydesk_core::{OperatorId, TerminalId, Timestamp};
use paydesk_protocol::{
    AllowanceGrant, AllowanceRequest, SignedAllowance, OFFLINE_ALLOWANCE_MS_MAX,
};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A new key pair in memory.
pub fn generate_key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("the system random source works");
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key ring just made parses")
}

/// Reads the signing key from `path`, or makes one there when the file does not exist: created
/// with mode 0600 and `create_new`, so an existing file (or a symlink planted at the path) is
/// never overwritten or followed. The key never appears in a log or an error.
pub fn load_or_create_key(path: &Path) -> Result<Ed25519KeyPair, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| {
            format!(
                "{} is not an Ed25519 PKCS#8 key: restore the central's allowance key or move \
                 the file away to make a new one (terminals must then fetch the new public key)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| "the system random source failed".to_string())?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600).custom_flags(libc_o_nofollow());
            }
            let mut file = options
                .open(path)
                .map_err(|e| format!("creating {}: {e}", path.display()))?;
            file.write_all(pkcs8.as_ref())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "made a new offline-allowance signing key");
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| "a key just made does not parse".to_string())
        }
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// `O_NOFOLLOW` on Linux (the only target the central ships for); `create_new` already refuses
/// an existing path, this also refuses a dangling symlink.
#[cfg(unix)]
fn libc_o_nofollow() -> i32 {
    #[cfg(target_os = "linux")]
    {
        0o400_000
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The public key as lower-case hex (32 bytes).
pub fn public_key_hex(key: &Ed25519KeyPair) -> String {
    hex::encode(key.public_key().as_ref())
}

/// Checks a manager's request: caps in one currency, positive, per charge at most per shift, a
/// duration and a cache age from 1 ms to [`OFFLINE_ALLOWANCE_MS_MAX`].
pub fn check_request(req: &AllowanceRequest) -> Result<(), String> {
    if req.per_charge_max.currency() != req.per_shift_max.currency() {
        return Err("per_charge_max and per_shift_max must be in the same currency".into());
    }
    if req.per_charge_max.minor() <= 0 || req.per_shift_max.minor() <= 0 {
        return Err("per_charge_max and per_shift_max must be more than zero".into());
    }
    if req.per_charge_max.minor() > req.per_shift_max.minor() {
        return Err("per_charge_max must not be more than per_shift_max".into());
    }
    if !(1..=OFFLINE_ALLOWANCE_MS_MAX).contains(&req.duration_ms) {
        return Err(format!(
            "duration_ms must be 1 to {OFFLINE_ALLOWANCE_MS_MAX} (one shift)"
        ));
    }
    if !(1..=OFFLINE_ALLOWANCE_MS_MAX).contains(&req.cache_age_ms_max) {
        return Err(format!(
            "cache_age_ms_max must be 1 to {OFFLINE_ALLOWANCE_MS_MAX}"
        ));
    }
    Ok(())
}

/// The grant for a checked request, bound to the manager's terminal, signed.
pub fn grant(
    key: &Ed25519KeyPair,
    req: &AllowanceRequest,
    terminal: &TerminalId,
    manager: &OperatorId,
    now: Timestamp,
) -> SignedAllowance {
    let grant = AllowanceGrant {
        grant_id: format!("grant_{}", uuid::Uuid::now_v7().simple()),
        terminal_id: terminal.clone(),
        approved_by: manager.clone(),
        per_charge_max: req.per_charge_max,
        per_shift_max: req.per_shift_max,
        cache_age_ms_max: req.cache_age_ms_max,
        granted_at: now,
        until: Timestamp::from_unix_ms(now.unix_ms().saturating_add(req.duration_ms)),
    };
    let signature = hex::encode(key.sign(&grant.signing_bytes()).as_ref());
    SignedAllowance { grant, signature }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_core::Money;
    use ring::signature::{UnparsedPublicKey, ED25519};

    fn request() -> AllowanceRequest {
        AllowanceRequest {
            pin: "87654321".into(),
            per_charge_max: Money::parse("50.00 EUR").unwrap(),
            per_shift_max: Money::parse("200.00 EUR").unwrap(),
            duration_ms: 3_600_000,
            cache_age_ms_max: 600_000,
        }
    }

    #[test]
    fn a_grant_verifies_with_the_public_key_and_not_once_changed() {
        let key = generate_key();
        let signed = grant(
            &key,
            &request(),
            &TerminalId::new("t1").unwrap(),
            &OperatorId::new("mgr").unwrap(),
            Timestamp::from_unix_ms(1_000),
        );
        let public = hex::decode(public_key_hex(&key)).unwrap();
        let signature = hex::decode(&signed.signature).unwrap();
        let verifier = UnparsedPublicKey::new(&ED25519, &public);
        assert!(verifier
            .verify(&signed.grant.signing_bytes(), &signature)
            .is_ok());
        let mut forged = signed.grant.clone();
        forged.per_shift_max = Money::parse("2000.00 EUR").unwrap();
        assert!(verifier
            .verify(&forged.signing_bytes(), &signature)
            .is_err());
        assert_eq!(signed.grant.until.unix_ms(), 3_601_000);
    }

    #[test]
    fn requests_are_checked() {
        assert!(check_request(&request()).is_ok());
        let mut r = request();
        r.per_charge_max = Money::parse("500.00 EUR").unwrap();
        assert!(check_request(&r).is_err());
        let mut r = request();
        r.per_shift_max = Money::parse("200.00 USD").unwrap();
        assert!(check_request(&r).is_err());
        let mut r = request();
        r.duration_ms = OFFLINE_ALLOWANCE_MS_MAX + 1;
        assert!(check_request(&r).is_err());
        let mut r = request();
        r.cache_age_ms_max = 0;
        assert!(check_request(&r).is_err());
    }

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allowance.key");
        let made = load_or_create_key(&path).unwrap();
        let again = load_or_create_key(&path).unwrap();
        assert_eq!(public_key_hex(&made), public_key_hex(&again));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let link = dir.path().join("link.key");
            std::os::unix::fs::symlink(dir.path().join("absent"), &link).unwrap();
            assert!(
                load_or_create_key(&link).is_err(),
                "a dangling symlink is not followed"
            );
            assert!(!dir.path().join("absent").exists());
        }
        std::fs::write(&path, b"junk").unwrap();
        assert!(load_or_create_key(&path).is_err());
    }
}
