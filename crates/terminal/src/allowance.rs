//! The manager's offline allowance, as the central signs it: a signed-in manager asks the
//! central (PIN again), the central signs the grant with its Ed25519 key, and the terminal keeps
//! the signed grant in `offline-policy.json`. The policy in force is Allow only for a grant whose
//! signature verifies against the central's key this terminal pinned the first time it asked
//! (`allowance-key.json`), whose terminal is this one and whose window is current; anything else
//! — a hand-written file, a changed cap, another terminal's grant — is Block. The pin changes
//! only during a manager's online grant, when the central now serves another key and the grant it
//! just made verifies against it (a central restarted without a configured key makes a new one).
//!
//! The pinned key is a file in the data directory, not the keyring: it is not a secret, and the
//! keyring (no per-application ACL on Linux) would guard it no better against this user's own
//! processes. Forging a local grant therefore needs the same access as replacing the pin; the
//! central re-checks every offline result against the grants it issued, and every offline
//! attempt's "begun" event in the hash-chained journal records the signed grant (id, manager,
//! caps, window, signature) that allowed it.

use std::path::Path;

use paydesk_core::{Money, Pin, TerminalId, Timestamp};
use paydesk_engine::{CentralError, OfflineAllowance, OfflinePolicy};
use paydesk_protocol::{AllowanceKey, AllowanceRequest, SignedAllowance, OFFLINE_ALLOWANCE_MS_MAX};
use ring::signature::{UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::central_http::HttpCentral;
use crate::files;
use crate::session::{central_refusal, SignInError};

/// The signed offline allowance in force (caps, times, who approved, the central's signature).
pub const OFFLINE_POLICY_FILE: &str = "offline-policy.json";
/// The central's allowance public key, pinned the first time this terminal asked for it.
pub const ALLOWANCE_KEY_FILE: &str = "allowance-key.json";
/// How far this terminal's clock may be behind the central's when a grant starts: the grant's
/// start is the central's time. Its end is never stretched.
const CLOCK_SKEW_MS_MAX: i64 = 5 * 60_000;

/// Why an offline allowance was not granted.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The PIN given again was refused, or sign-in is locked.
    #[error("{0}")]
    SignIn(#[from] SignInError),
    #[error("no manager is signed in at this terminal: a manager signs in (online) first")]
    NotSignedIn,
    #[error("{0} is not a manager: only a manager may allow offline charging")]
    NotManager(paydesk_core::OperatorId),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Central(CentralError),
    /// The central's answer does not verify against the key this terminal pinned, or is not for
    /// this terminal: nothing was saved.
    #[error("the offline allowance the central sent cannot be trusted: {0}")]
    Untrusted(String),
    #[error("could not save the offline allowance: {0}")]
    Save(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct PinnedKey {
    /// Lower-case hex, 32 bytes.
    public_key: String,
    pinned_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedAllowance {
    saved_at: Timestamp,
    signed: SignedAllowance,
}

/// The pinned key's bytes, if one is pinned and well-formed.
fn pinned_key(data_dir: &Path) -> Option<Vec<u8>> {
    let pinned: PinnedKey = files::read_json(&data_dir.join(ALLOWANCE_KEY_FILE))?;
    hex::decode(pinned.public_key)
        .ok()
        .filter(|k| k.len() == 32)
}

/// Pins the central's allowance key unless one is pinned already (the first answer wins; a
/// central whose key changed needs the pin removed by whoever set the terminal up).
pub async fn pin_allowance_key(
    client: &HttpCentral,
    data_dir: &Path,
    now: Timestamp,
) -> Result<(), CentralError> {
    if pinned_key(data_dir).is_some() {
        return Ok(());
    }
    let key: AllowanceKey = client.get_json("/v1/allowance-key").await?;
    let valid = hex::decode(&key.public_key).is_ok_and(|k| k.len() == 32);
    if !valid {
        return Err(CentralError::Invalid(
            "the central's allowance key is not 32 bytes of hex".into(),
        ));
    }
    files::write_json(
        &data_dir.join(ALLOWANCE_KEY_FILE),
        &PinnedKey {
            public_key: key.public_key.to_ascii_lowercase(),
            pinned_at: now,
        },
    )
    .map_err(CentralError::Invalid)
}

/// Checks a signed grant against `key`, this terminal and `now`; the engine's allowance on
/// success.
fn verify(
    signed: &SignedAllowance,
    key: &[u8],
    terminal: &TerminalId,
    now: Timestamp,
) -> Result<OfflineAllowance, String> {
    let signature =
        hex::decode(&signed.signature).map_err(|_| "the signature is not hex".to_string())?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&signed.grant.signing_bytes(), &signature)
        .map_err(|_| "the signature does not verify against the central's pinned key")?;
    let grant = &signed.grant;
    if &grant.terminal_id != terminal {
        return Err(format!(
            "the allowance is for terminal {}, not this one",
            grant.terminal_id
        ));
    }
    // The central's clock made `granted_at`: a terminal's clock a little behind it (or a grant
    // checked with the time taken just before the request) is not a reason to refuse.
    if !(grant.granted_at.plus_ms(-CLOCK_SKEW_MS_MAX) <= now && now < grant.until) {
        return Err("the allowance is not in force now".into());
    }
    Ok(OfflineAllowance {
        per_charge_max: grant.per_charge_max,
        per_shift_max: grant.per_shift_max,
        granted_at: grant.granted_at,
        until: grant.until,
        approved_by: grant.approved_by.clone(),
        cache_age_ms_max: grant.cache_age_ms_max,
        grant_id: grant.grant_id.clone(),
        signature: hex::encode(&signature),
    })
}

/// The offline allowance a manager asks for, checked before it is sent.
fn check_request(
    per_charge_max: Money,
    per_shift_max: Money,
    duration_ms: i64,
    cache_age_ms_max: i64,
) -> Result<(), GrantError> {
    if !(1..=OFFLINE_ALLOWANCE_MS_MAX).contains(&duration_ms) {
        return Err(GrantError::Invalid(format!(
            "an offline allowance lasts between 1 ms and {} hours",
            OFFLINE_ALLOWANCE_MS_MAX / 3_600_000
        )));
    }
    if !(1..=OFFLINE_ALLOWANCE_MS_MAX).contains(&cache_age_ms_max) {
        return Err(GrantError::Invalid(format!(
            "the cached queue's age limit is between 1 ms and {} hours",
            OFFLINE_ALLOWANCE_MS_MAX / 3_600_000
        )));
    }
    if per_charge_max.currency() != per_shift_max.currency() {
        return Err(GrantError::Invalid(
            "the per-charge and per-shift limits must be in the same currency".into(),
        ));
    }
    if per_charge_max.is_zero() || per_charge_max.minor() > per_shift_max.minor() {
        return Err(GrantError::Invalid(
            "the per-charge limit must be above zero and not above the per-shift limit".into(),
        ));
    }
    Ok(())
}

/// Asks the central, in the signed-in manager's session held by `client` (the caller checked the
/// role), for an offline allowance for `terminal`; verifies and saves it.
#[allow(clippy::too_many_arguments)]
pub async fn grant_offline(
    client: &HttpCentral,
    data_dir: &Path,
    terminal: &TerminalId,
    pin: Pin,
    per_charge_max: Money,
    per_shift_max: Money,
    duration_ms: i64,
    cache_age_ms_max: i64,
    now: Timestamp,
) -> Result<OfflineAllowance, GrantError> {
    check_request(per_charge_max, per_shift_max, duration_ms, cache_age_ms_max)?;
    if !client.has_session() {
        return Err(GrantError::NotSignedIn);
    }
    pin_allowance_key(client, data_dir, now)
        .await
        .map_err(GrantError::Central)?;
    let request = AllowanceRequest {
        pin: pin.expose().to_string(),
        per_charge_max,
        per_shift_max,
        duration_ms,
        cache_age_ms_max,
    };
    let signed: SignedAllowance = match client
        .post_in_session("/v1/offline-allowances", &request)
        .await
    {
        Ok(signed) => signed,
        Err(e @ (CentralError::SessionExpired | CentralError::SessionRequired)) => {
            return Err(GrantError::Central(e))
        }
        Err(CentralError::Refused {
            code: paydesk_protocol::ErrorCode::InvalidRequest,
            message,
        }) => return Err(GrantError::Invalid(message)),
        Err(e) => return Err(GrantError::SignIn(central_refusal(client, e).await)),
    };
    let key = pinned_key(data_dir)
        .ok_or_else(|| GrantError::Untrusted("no allowance key is pinned".into()))?;
    let allowance = match verify(&signed, &key, terminal, now) {
        Ok(allowance) => allowance,
        Err(why) => repin_if_rotated(client, data_dir, &signed, &key, terminal, now)
            .await
            .map_err(|_| GrantError::Untrusted(why))?,
    };
    files::write_json(
        &data_dir.join(OFFLINE_POLICY_FILE),
        &SavedAllowance {
            saved_at: now,
            signed,
        },
    )
    .map_err(GrantError::Save)?;
    Ok(allowance)
}

/// The grant did not verify against the pinned key: if the central (reached with this
/// terminal's token, in the manager's session, over a channel the settings allow) now serves
/// another key and the grant verifies against that one, the central's key was rotated (a central
/// without a configured key makes one per run): the new key is pinned and the grant accepted.
/// Any other mismatch is refused. A local forgery gains nothing here: this runs only online, for
/// a grant the central just made.
async fn repin_if_rotated(
    client: &HttpCentral,
    data_dir: &Path,
    signed: &SignedAllowance,
    pinned: &[u8],
    terminal: &TerminalId,
    now: Timestamp,
) -> Result<OfflineAllowance, String> {
    let key: AllowanceKey = client
        .get_json("/v1/allowance-key")
        .await
        .map_err(|e| e.to_string())?;
    let current = hex::decode(&key.public_key).map_err(|e| e.to_string())?;
    if current.len() != 32 || current == pinned {
        return Err("the key did not change".into());
    }
    let allowance = verify(signed, &current, terminal, now)?;
    tracing::warn!("the central's offline-allowance key changed since this terminal pinned it: pinning the new key");
    files::write_json(
        &data_dir.join(ALLOWANCE_KEY_FILE),
        &PinnedKey {
            public_key: hex::encode(&current),
            pinned_at: now,
        },
    )?;
    Ok(allowance)
}

/// The offline policy in force on `terminal` at `now`: the saved allowance while it lasts and
/// verifies, otherwise blocked (also when a file is missing, unreadable or altered: never allow
/// by accident).
pub fn offline_policy(data_dir: &Path, terminal: &TerminalId, now: Timestamp) -> OfflinePolicy {
    let Some(saved) = files::read_json::<SavedAllowance>(&data_dir.join(OFFLINE_POLICY_FILE))
    else {
        return OfflinePolicy::Block;
    };
    let Some(key) = pinned_key(data_dir) else {
        return OfflinePolicy::Block;
    };
    match verify(&saved.signed, &key, terminal, now) {
        Ok(allowance) => OfflinePolicy::Allow(allowance),
        Err(why) => {
            tracing::debug!(%why, "the saved offline allowance is not in force");
            OfflinePolicy::Block
        }
    }
}

/// Withdraws the offline allowance (back to blocked).
pub fn block_offline(data_dir: &Path) -> Result<(), String> {
    files::remove(&data_dir.join(OFFLINE_POLICY_FILE))
        .map_err(|e| format!("withdrawing the offline allowance: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::AllowanceGrant;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    const NOW: i64 = 1_800_000_000_000;

    fn key_pair() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn terminal(id: &str) -> TerminalId {
        TerminalId::new(id).unwrap()
    }

    fn grant(for_terminal: &str) -> AllowanceGrant {
        AllowanceGrant {
            grant_id: "grant-1".into(),
            terminal_id: terminal(for_terminal),
            approved_by: paydesk_core::OperatorId::new("boss").unwrap(),
            per_charge_max: Money::parse("50.00 EUR").unwrap(),
            per_shift_max: Money::parse("300.00 EUR").unwrap(),
            cache_age_ms_max: 3_600_000,
            granted_at: Timestamp::from_unix_ms(NOW - 1_000),
            until: Timestamp::from_unix_ms(NOW + 3_600_000),
        }
    }

    fn sign(key: &Ed25519KeyPair, grant: AllowanceGrant) -> SignedAllowance {
        let signature = hex::encode(key.sign(&grant.signing_bytes()).as_ref());
        SignedAllowance { grant, signature }
    }

    /// A data directory with `key` pinned and `signed` saved as the allowance.
    fn saved(key: &Ed25519KeyPair, signed: &SignedAllowance) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        files::write_json(
            &dir.path().join(ALLOWANCE_KEY_FILE),
            &PinnedKey {
                public_key: hex::encode(key.public_key().as_ref()),
                pinned_at: Timestamp::from_unix_ms(0),
            },
        )
        .unwrap();
        files::write_json(
            &dir.path().join(OFFLINE_POLICY_FILE),
            &SavedAllowance {
                saved_at: Timestamp::from_unix_ms(NOW),
                signed: signed.clone(),
            },
        )
        .unwrap();
        dir
    }

    fn policy(dir: &tempfile::TempDir, at: i64) -> OfflinePolicy {
        offline_policy(dir.path(), &terminal("till-1"), Timestamp::from_unix_ms(at))
    }

    #[test]
    fn a_grant_the_central_signed_for_this_terminal_allows_within_its_window() {
        let key = key_pair();
        let dir = saved(&key, &sign(&key, grant("till-1")));
        let OfflinePolicy::Allow(allowance) = policy(&dir, NOW) else {
            panic!("a valid grant allows");
        };
        assert_eq!(allowance.approved_by.as_str(), "boss");
        assert_eq!(allowance.per_charge_max, Money::parse("50.00 EUR").unwrap());
        // Before (beyond the clock skew allowed) and after the window: blocked.
        assert!(matches!(
            policy(&dir, NOW - 60_000),
            OfflinePolicy::Allow(_)
        ));
        assert_eq!(
            policy(&dir, NOW - 1_000 - CLOCK_SKEW_MS_MAX - 1),
            OfflinePolicy::Block
        );
        assert_eq!(policy(&dir, NOW + 3_600_000), OfflinePolicy::Block);
        // Withdrawn: blocked.
        block_offline(dir.path()).unwrap();
        assert_eq!(policy(&dir, NOW), OfflinePolicy::Block);
    }

    /// What an offline attempt's journal record holds is enough to prove the grant: the
    /// central's grant rebuilt from it has the signed bytes, and its signature verifies.
    #[test]
    fn the_grant_an_offline_attempt_records_verifies_against_the_centrals_key() {
        let key = key_pair();
        let signed = sign(&key, grant("till-1"));
        let dir = saved(&key, &signed);
        let OfflinePolicy::Allow(allowance) = policy(&dir, NOW) else {
            panic!("a valid grant allows");
        };
        assert_eq!(allowance.grant_id, "grant-1");
        assert_eq!(allowance.signature, signed.signature);
        let record = allowance.grant_record(&terminal("till-1"));
        let rebuilt = AllowanceGrant {
            grant_id: record.grant_id,
            terminal_id: record.terminal_id,
            approved_by: record.approved_by,
            per_charge_max: record.per_charge_max,
            per_shift_max: record.per_shift_max,
            cache_age_ms_max: record.cache_age_ms_max,
            granted_at: record.granted_at,
            until: record.until,
        };
        assert_eq!(rebuilt, signed.grant);
        let signature = hex::decode(&record.signature).unwrap();
        UnparsedPublicKey::new(&ED25519, key.public_key().as_ref())
            .verify(&rebuilt.signing_bytes(), &signature)
            .expect("the recorded signature verifies");
    }

    #[test]
    fn a_hand_written_allowance_file_blocks() {
        let key = key_pair();
        let dir = saved(&key, &sign(&key, grant("till-1")));
        // The review's exploit: an unsigned allowance with no caps, written by hand.
        std::fs::write(
            dir.path().join(OFFLINE_POLICY_FILE),
            r#"{"fetched_at":0,"per_charge_max":{"minor":999999999999,"currency":"EUR"},
                "per_shift_max":{"minor":999999999999,"currency":"EUR"},"granted_at":0,
                "until":4102444800000,"approved_by":"demo-manager"}"#,
        )
        .unwrap();
        assert_eq!(policy(&dir, NOW), OfflinePolicy::Block);
        // No pinned key at all: blocked even with a well-signed grant.
        let dir = saved(&key, &sign(&key, grant("till-1")));
        std::fs::remove_file(dir.path().join(ALLOWANCE_KEY_FILE)).unwrap();
        assert_eq!(policy(&dir, NOW), OfflinePolicy::Block);
    }

    #[test]
    fn a_tampered_signature_or_cap_blocks() {
        let key = key_pair();
        let mut signed = sign(&key, grant("till-1"));
        let mut sig = hex::decode(&signed.signature).unwrap();
        sig[0] ^= 1;
        signed.signature = hex::encode(sig);
        assert_eq!(policy(&saved(&key, &signed), NOW), OfflinePolicy::Block);

        let mut raised = sign(&key, grant("till-1"));
        raised.grant.per_charge_max = Money::parse("5000.00 EUR").unwrap();
        assert_eq!(policy(&saved(&key, &raised), NOW), OfflinePolicy::Block);

        // Signed by another key than the pinned one.
        let other = key_pair();
        let forged = sign(&other, grant("till-1"));
        assert_eq!(policy(&saved(&key, &forged), NOW), OfflinePolicy::Block);
    }

    #[test]
    fn an_allowance_for_another_terminal_blocks() {
        let key = key_pair();
        let dir = saved(&key, &sign(&key, grant("till-2")));
        assert_eq!(policy(&dir, NOW), OfflinePolicy::Block);
    }

    #[test]
    fn a_request_out_of_bounds_is_refused_before_anything_is_sent() {
        let eur = |s: &str| Money::parse(s).unwrap();
        let refused = [
            check_request(eur("10.00 EUR"), eur("50.00 EUR"), 0, 60_000),
            check_request(eur("10.00 EUR"), eur("50.00 EUR"), 13 * 3_600_000, 60_000),
            check_request(
                eur("10.00 EUR"),
                Money::parse("50.00 USD").unwrap(),
                60_000,
                60_000,
            ),
            check_request(eur("60.00 EUR"), eur("50.00 EUR"), 60_000, 60_000),
            check_request(eur("0.00 EUR"), eur("50.00 EUR"), 60_000, 60_000),
        ];
        for r in refused {
            assert!(matches!(r, Err(GrantError::Invalid(_))), "{r:?}");
        }
        assert!(check_request(eur("10.00 EUR"), eur("50.00 EUR"), 60_000, 60_000).is_ok());
    }
}
