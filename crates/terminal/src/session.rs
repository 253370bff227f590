//! Who is signed in at this terminal: sign-in at the central (which checks the PIN and opens a
//! session), and — while the central is unreachable — offline sign-in for an operator who signed
//! in online on this terminal within the last [`OFFLINE_SIGN_IN_MS_MAX`].
//!
//! The terminal never holds the staff's PIN hashes. At each successful online sign-in of an
//! OPERATOR it computes a verifier of that PIN itself — argon2id, 64 MiB, 3 passes, a fresh salt
//! — and keeps it in `sign-in-verifiers.json` with the time; managers get none (a manager signs in
//! online or not at all). Offline attempts are counted in the same file and lock out after
//! [`OFFLINE_FAILURES_MAX`] failures, backing off like the central; the lock is checked before
//! argon2 runs. Deliberately absent: a PIN anywhere but in memory, and a session token anywhere
//! but in the central client's memory.

use std::collections::BTreeMap;
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use paydesk_core::{OperatorId, Pin, Timestamp};
use paydesk_engine::CentralError;
use paydesk_protocol::{Role, SessionGrant, SESSION_AGE_MS_MAX, SESSION_IDLE_MS};
use serde::{Deserialize, Serialize};

use crate::central_http::{HttpCentral, SessionToken};
use crate::files;

/// The offline sign-in verifiers and attempt counters (no PIN, no central hash).
pub const VERIFIERS_FILE: &str = "sign-in-verifiers.json";
/// The old cache of every operator's PIN hash: removed wherever it is found.
pub const OPERATORS_CACHE_FILE: &str = "operators.json";
/// An operator may sign in offline only this long after their last online sign-in here: one
/// shift.
pub const OFFLINE_SIGN_IN_MS_MAX: i64 = 12 * 3_600_000;
/// Wrong PINs in a row before offline sign-in locks (the central's rule).
pub const OFFLINE_FAILURES_MAX: u32 = 5;
/// The first lock lasts this long; each further lock doubles it ...
pub const OFFLINE_LOCK_MS: i64 = 60_000;
/// ... up to this.
pub const OFFLINE_LOCK_MS_MAX: i64 = 3_600_000;
/// The verifier's memory cost in KiB (64 MiB): a 6-digit PIN then takes days on one core to
/// search, against the minutes a default-cost hash of a 4-digit PIN took.
const VERIFIER_M_KIB: u32 = 64 * 1024;
/// The verifier's passes.
const VERIFIER_T: u32 = 3;

/// A person signed in at this terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedIn {
    pub operator: OperatorId,
    pub role: Role,
    /// Signed in against this terminal's verifier because the central was unreachable: there is
    /// no session at the central, and charges can only go offline.
    pub offline: bool,
    pub signed_in_at: Timestamp,
    /// The hard end of the session (the central's, or sign-in plus the maximum age offline).
    pub expires_at: Timestamp,
    /// The session ends after this long without a charge.
    pub idle_ms: i64,
    /// The central's session id (none offline); never the token.
    pub session_id: Option<String>,
}

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// One answer for an unknown operator and a wrong PIN, so it reveals neither.
    #[error("unknown operator or wrong PIN")]
    Refused,
    /// Too many wrong PINs: the message says until when.
    #[error("{0}")]
    Locked(String),
    #[error("too many sign-in attempts from this terminal: {0}")]
    RateLimited(String),
    #[error(
        "the central is unreachable ({detail}): offline sign-in is only for operators (not \
         managers) who signed in online on this terminal in the last 12 hours"
    )]
    UnreachableNoCache { detail: String },
    #[error("{0}")]
    Central(CentralError),
    #[error("the PIN check failed: {0}")]
    Internal(String),
}

/// One operator's verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Verifier {
    /// PHC string of argon2id over the PIN with a fresh salt (this terminal's own, not the
    /// central's).
    phc: String,
    signed_in_at: Timestamp,
}

/// Offline attempts of one operator id (known here or not, so the file cannot tell them apart).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Attempts {
    failures: u32,
    locked_until: Option<Timestamp>,
    lock_count: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct VerifierFile {
    #[serde(default)]
    verifiers: BTreeMap<String, Verifier>,
    #[serde(default)]
    attempts: BTreeMap<String, Attempts>,
}

fn verifier_argon2() -> Argon2<'static> {
    let params = Params::new(VERIFIER_M_KIB, VERIFIER_T, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn load(data_dir: &Path) -> VerifierFile {
    files::read_json(&data_dir.join(VERIFIERS_FILE)).unwrap_or_default()
}

fn save(data_dir: &Path, file: &VerifierFile) -> Result<(), String> {
    files::write_json(&data_dir.join(VERIFIERS_FILE), file)
}

/// Removes the PIN-hash cache older versions kept.
pub(crate) fn remove_operators_cache(data_dir: &Path) {
    if let Err(e) = files::remove(&data_dir.join(OPERATORS_CACHE_FILE)) {
        tracing::warn!(error = %e, "could not remove the old operator cache");
    }
}

/// Signs `operator` in: at the central (the session goes into `client`, replacing any other),
/// or, when it cannot be reached, against this terminal's verifier.
pub async fn sign_in(
    client: &HttpCentral,
    data_dir: &Path,
    operator: &OperatorId,
    pin: Pin,
    now: Timestamp,
) -> Result<SignedIn, SignInError> {
    match client.open_session(operator, &pin).await {
        Ok(grant) => {
            client.set_session(Some(SessionToken::new(grant.session_token.clone())));
            if grant.role == Role::Operator {
                if let Err(e) = remember(data_dir, operator, pin, now).await {
                    tracing::warn!(error = %e, "could not keep the offline sign-in verifier");
                }
            } else {
                forget(data_dir, operator);
            }
            Ok(online(&grant, now))
        }
        Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
            offline_sign_in(data_dir, operator, pin, now, detail).await
        }
        Err(e) => Err(central_refusal(client, e).await),
    }
}

/// A [`SignedIn`] from the central's grant.
pub(crate) fn online(grant: &SessionGrant, now: Timestamp) -> SignedIn {
    SignedIn {
        operator: grant.operator_id.clone(),
        role: grant.role,
        offline: false,
        signed_in_at: now,
        expires_at: grant.expires_at,
        idle_ms: grant.idle_ms,
        session_id: Some(grant.session_id.clone()),
    }
}

/// What a refused sign-in means. A 401 is a wrong PIN or unknown operator — unless the
/// terminal's own token is what was refused, which a read with the token alone tells apart.
pub(crate) async fn central_refusal(client: &HttpCentral, e: CentralError) -> SignInError {
    match e {
        CentralError::Unauthorized | CentralError::Forbidden(_) => {
            match client.get_json::<serde_json::Value>("/v1/operators").await {
                Err(CentralError::Unauthorized) => SignInError::Central(CentralError::Unauthorized),
                _ => SignInError::Refused,
            }
        }
        CentralError::Locked(message) => SignInError::Locked(message),
        CentralError::RateLimited(message) => SignInError::RateLimited(message),
        other => SignInError::Central(other),
    }
}

/// Computes and keeps the verifier of an operator who just signed in online.
async fn remember(
    data_dir: &Path,
    operator: &OperatorId,
    pin: Pin,
    now: Timestamp,
) -> Result<(), String> {
    let phc = tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        verifier_argon2()
            .hash_password(pin.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("computing the verifier: {e}"))
    })
    .await
    .map_err(|e| e.to_string())??;
    let mut file = load(data_dir);
    file.verifiers.insert(
        operator.to_string(),
        Verifier {
            phc,
            signed_in_at: now,
        },
    );
    // The central just checked this PIN: the local count starts afresh.
    file.attempts.remove(operator.as_str());
    save(data_dir, &file)
}

/// Drops an operator's verifier (a manager never has one).
fn forget(data_dir: &Path, operator: &OperatorId) {
    let mut file = load(data_dir);
    if file.verifiers.remove(operator.as_str()).is_some() {
        if let Err(e) = save(data_dir, &file) {
            tracing::warn!(error = %e, "could not drop an offline sign-in verifier");
        }
    }
}

fn locked_message(operator: &OperatorId, until: Timestamp) -> String {
    format!(
        "offline sign-in for {operator} on this terminal is locked until {until} after too many \
         wrong PINs"
    )
}

/// Offline sign-in against this terminal's verifier, counting failures (lock checked first).
async fn offline_sign_in(
    data_dir: &Path,
    operator: &OperatorId,
    pin: Pin,
    now: Timestamp,
    detail: String,
) -> Result<SignedIn, SignInError> {
    let mut file = load(data_dir);
    let attempts = file
        .attempts
        .get(operator.as_str())
        .cloned()
        .unwrap_or_default();
    if let Some(until) = attempts.locked_until.filter(|until| now < *until) {
        return Err(SignInError::Locked(locked_message(operator, until)));
    }
    let verifier = file
        .verifiers
        .get(operator.as_str())
        .filter(|v| {
            let age = now.millis_since(v.signed_in_at);
            (0..OFFLINE_SIGN_IN_MS_MAX).contains(&age)
        })
        .cloned();
    let Some(verifier) = verifier else {
        return Err(SignInError::UnreachableNoCache { detail });
    };
    let verified = tokio::task::spawn_blocking(move || check_verifier(&verifier.phc, &pin))
        .await
        .map_err(|e| SignInError::Internal(e.to_string()))?;
    let mut attempts = attempts;
    if verified {
        file.attempts.remove(operator.as_str());
    } else {
        attempts.failures += 1;
        if attempts.failures >= OFFLINE_FAILURES_MAX {
            attempts.failures = 0;
            let lock_ms = OFFLINE_LOCK_MS
                .saturating_mul(1_i64 << attempts.lock_count.min(20))
                .min(OFFLINE_LOCK_MS_MAX);
            attempts.lock_count += 1;
            attempts.locked_until = Some(now.plus_ms(lock_ms));
        }
        file.attempts.insert(operator.to_string(), attempts);
    }
    // The count must survive: a failure that cannot be recorded refuses the sign-in.
    save(data_dir, &file).map_err(SignInError::Internal)?;
    if !verified {
        return Err(SignInError::Refused);
    }
    Ok(SignedIn {
        operator: operator.clone(),
        role: Role::Operator,
        offline: true,
        signed_in_at: now,
        expires_at: now.plus_ms(SESSION_AGE_MS_MAX),
        idle_ms: SESSION_IDLE_MS,
        session_id: None,
    })
}

/// True when `pin` matches the verifier — and the verifier has this terminal's cost (a cheap
/// one planted in the file is not accepted).
fn check_verifier(phc: &str, pin: &Pin) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let strong = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .is_ok_and(|p| p.m_cost() >= VERIFIER_M_KIB && p.t_cost() >= VERIFIER_T);
    strong
        && verifier_argon2()
            .verify_password(pin.expose().as_bytes(), &parsed)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    #[test]
    fn a_cheap_verifier_is_not_accepted() {
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"123456", &salt)
        .unwrap()
        .to_string();
        assert!(!check_verifier(&cheap, &pin("123456")));
        let strong = verifier_argon2()
            .hash_password(b"123456", &salt)
            .unwrap()
            .to_string();
        assert!(check_verifier(&strong, &pin("123456")));
        assert!(!check_verifier(&strong, &pin("123457")));
    }
}
