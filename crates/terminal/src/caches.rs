//! What a terminal keeps so operators can keep working while the central is down: the unpaid
//! queue and the operator list (ids, roles, argon2 PIN hashes) as the central last sent them, the
//! PIN check against that list, and the manager's offline allowance. The files live in the data
//! directory (`queue.json`, `operators.json`, `offline-policy.json`), so both front ends share one
//! set.
//!
//! Deliberately absent: a PIN anywhere but in memory, and a session — the front ends decide who
//! stays signed in.

use std::path::Path;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use paydesk_core::{CustomerId, Money, OperatorId, OrderId, PaymentMethodId, Pin, Timestamp};
use paydesk_engine::{CachedOrder, CentralError, OfflineAllowance, OfflinePolicy, OrderSnapshot};
use paydesk_protocol::{OperatorList, Order, OrderPage, Role, PAGE_ROWS_MAX};
use serde::{Deserialize, Serialize};

use crate::central_http::HttpCentral;

/// The queue cached for offline work.
pub const QUEUE_CACHE_FILE: &str = "queue.json";
/// The operator list (ids, roles, argon2 PIN hashes) cached for offline sign-in.
pub const OPERATORS_CACHE_FILE: &str = "operators.json";
/// The manager's offline allowance in force (caps, times, who approved; no secret).
pub const OFFLINE_POLICY_FILE: &str = "offline-policy.json";
/// The longest offline allowance a manager can grant at once: one shift.
pub const OFFLINE_ALLOWANCE_MS_MAX: i64 = 12 * 3_600_000;
/// Pages of the queue read at most: 10 × 200 orders is more than any person works through in a
/// shift; the bound keeps a runaway central from keeping us forever.
const QUEUE_PAGES_MAX: usize = 10;

/// A cached document and when the central sent it.
#[derive(Debug, Serialize, Deserialize)]
struct Cached<T> {
    fetched_at: Timestamp,
    #[serde(flatten)]
    value: T,
}

#[derive(Debug, Serialize, Deserialize)]
struct QueueFile {
    orders: Vec<Order>,
}

/// The unpaid orders, fresh from the central or, while it is unreachable, as last cached.
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub orders: Vec<Order>,
    /// True when the central could not be reached and `orders` is the cached copy.
    pub offline: bool,
    /// When the cached copy was fetched (only when `offline`).
    pub cached_at: Option<Timestamp>,
    /// Why the central could not be reached (only when `offline`).
    pub offline_reason: Option<String>,
}

/// Why no queue could be shown.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the central is unreachable ({detail}) and no queue is cached yet")]
    UnreachableNoCache { detail: String },
    #[error("{0}")]
    Central(CentralError),
}

/// Reads every page of the unpaid queue and caches it in `data_dir`; falls back to the cache
/// when the central is unreachable. A failed cache write is logged, not an error: the operator
/// still gets the fresh queue.
pub async fn fetch_queue(
    client: &HttpCentral,
    data_dir: &Path,
    now: Timestamp,
) -> Result<Queue, QueueError> {
    let cache = data_dir.join(QUEUE_CACHE_FILE);
    let mut orders = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..QUEUE_PAGES_MAX {
        let path = match &after {
            None => format!("/v1/orders?limit={PAGE_ROWS_MAX}"),
            Some(a) => format!("/v1/orders?limit={PAGE_ROWS_MAX}&after={a}"),
        };
        match client.get_json::<OrderPage>(&path).await {
            Ok(page) => {
                orders.extend(page.orders);
                match page.next_after {
                    Some(next) => after = Some(next.to_string()),
                    None => break,
                }
            }
            // A read changes nothing at the central: no answer in time is as good as none.
            Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
                return match read_cache::<QueueFile>(&cache) {
                    Some(cached) => Ok(Queue {
                        orders: cached.value.orders,
                        offline: true,
                        cached_at: Some(cached.fetched_at),
                        offline_reason: Some(detail),
                    }),
                    None => Err(QueueError::UnreachableNoCache { detail }),
                }
            }
            Err(e) => return Err(QueueError::Central(e)),
        }
    }
    let value = Cached {
        fetched_at: now,
        value: QueueFile { orders },
    };
    if let Err(e) = write_cache(&cache, &value) {
        tracing::warn!(error = %e, "could not cache the queue for offline work");
    }
    Ok(Queue {
        orders: value.value.orders,
        offline: false,
        cached_at: None,
        offline_reason: None,
    })
}

/// A successful PIN check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedIn {
    pub operator: OperatorId,
    pub role: Role,
    /// Checked against the cached operator list because the central was unreachable.
    pub offline: bool,
}

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// One answer for an unknown operator and a wrong PIN, so it reveals neither.
    #[error("unknown operator or wrong PIN")]
    Refused,
    #[error(
        "the central is unreachable ({detail}) and this terminal has never cached the operator \
         list: sign in once while the central is reachable"
    )]
    UnreachableNoCache { detail: String },
    #[error("{0}")]
    Central(CentralError),
    #[error("the PIN check failed: {0}")]
    Internal(String),
}

/// Checks `pin` against the central's operator list (argon2, on a blocking thread), caching the
/// list for offline sign-in; while the central is unreachable, checks against the cached list.
pub async fn check_pin(
    client: &HttpCentral,
    data_dir: &Path,
    operator: &OperatorId,
    pin: Pin,
    now: Timestamp,
) -> Result<SignedIn, SignInError> {
    let cache = data_dir.join(OPERATORS_CACHE_FILE);
    let (list, offline) = match client.get_json::<OperatorList>("/v1/operators").await {
        Ok(list) => {
            let value = Cached {
                fetched_at: now,
                value: list,
            };
            if let Err(e) = write_cache(&cache, &value) {
                tracing::warn!(error = %e, "could not cache the operators for offline sign-in");
            }
            (value.value, false)
        }
        Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
            match read_cache::<OperatorList>(&cache) {
                Some(cached) => (cached.value, true),
                None => return Err(SignInError::UnreachableNoCache { detail }),
            }
        }
        Err(e) => return Err(SignInError::Central(e)),
    };
    let Some(record) = list
        .operators
        .into_iter()
        .find(|o| &o.operator_id == operator)
    else {
        return Err(SignInError::Refused);
    };
    let hash = record.pin_hash;
    // argon2 is slow on purpose: off the async threads.
    let verified = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(pin.expose().as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| SignInError::Internal(e.to_string()))?;
    if !verified {
        return Err(SignInError::Refused);
    }
    Ok(SignedIn {
        operator: record.operator_id,
        role: record.role,
        offline,
    })
}

fn write_cache<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    // The operator cache holds PIN hashes: readable by this user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("restricting {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn read_cache<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<Cached<T>> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Why an offline allowance was not granted.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    SignIn(#[from] SignInError),
    #[error("{0} is not a manager: only a manager may allow offline charging")]
    NotManager(OperatorId),
    #[error("{0}")]
    Invalid(String),
    #[error("could not save the offline allowance: {0}")]
    Save(String),
}

/// A manager allows offline charging on this terminal: their PIN is checked (against the central,
/// or its cached operator list while it is down), then the allowance is saved in `data_dir` for
/// both front ends. The caps share one currency; the allowance lasts `duration_ms`.
#[allow(clippy::too_many_arguments)]
pub async fn grant_offline(
    client: &HttpCentral,
    data_dir: &Path,
    manager: &OperatorId,
    pin: Pin,
    per_charge_max: Money,
    per_shift_max: Money,
    duration_ms: i64,
    cache_age_ms_max: i64,
    now: Timestamp,
) -> Result<OfflineAllowance, GrantError> {
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
    let signed = check_pin(client, data_dir, manager, pin, now).await?;
    if signed.role != Role::Manager {
        return Err(GrantError::NotManager(signed.operator));
    }
    let allowance = OfflineAllowance {
        per_charge_max,
        per_shift_max,
        granted_at: now,
        until: now.plus_ms(duration_ms),
        approved_by: signed.operator,
        cache_age_ms_max,
    };
    let value = Cached {
        fetched_at: now,
        value: allowance.clone(),
    };
    write_cache(&data_dir.join(OFFLINE_POLICY_FILE), &value).map_err(GrantError::Save)?;
    Ok(allowance)
}

/// The offline policy in force on this terminal at `now`: the saved allowance while it lasts,
/// otherwise blocked (also when the file is missing or unreadable: never allow by accident).
pub fn offline_policy(data_dir: &Path, now: Timestamp) -> OfflinePolicy {
    match read_cache::<OfflineAllowance>(&data_dir.join(OFFLINE_POLICY_FILE)) {
        Some(cached) if now < cached.value.until => OfflinePolicy::Allow(cached.value),
        _ => OfflinePolicy::Block,
    }
}

/// Withdraws the offline allowance (back to blocked).
pub fn block_offline(data_dir: &Path) -> Result<(), String> {
    match std::fs::remove_file(data_dir.join(OFFLINE_POLICY_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing the offline allowance: {e}")),
    }
}

/// The order as the cached queue shows it, with the queue's age and the order's last attempt
/// number, for an offline charge (the engine checks the amount the operator expects against it,
/// the cache's age against the allowance, and numbers the attempt after the last one).
pub fn cached_order(data_dir: &Path, order: &OrderId) -> Option<CachedOrder> {
    let cached = read_cache::<QueueFile>(&data_dir.join(QUEUE_CACHE_FILE))?;
    let fetched_at = cached.fetched_at;
    let o = cached
        .value
        .orders
        .into_iter()
        .find(|o| &o.order_id == order)?;
    let customer = match o.customer_id.as_str() {
        "" => None,
        id => Some(CustomerId::new(id).ok()?),
    };
    Some(CachedOrder {
        attempt_seq: o.attempt_seq,
        fetched_at,
        order: OrderSnapshot {
            id: o.order_id,
            amount: o.amount,
            status: o.status,
            customer,
            payment_method: PaymentMethodId::new(o.payment_method_id).ok()?,
        },
    })
}
