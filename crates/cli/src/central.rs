//! The commands that read from the central: `queue` (unpaid orders) and `sign-in` (an operator's
//! PIN checked against the central's argon2 hashes). Both keep a copy in the data directory so
//! an operator can keep working while the central is down.
//!
//! Deliberately absent: PINs anywhere but in memory (read from stdin, compared, dropped) and a
//! session: `sign-in` answers "yes/no" for scripts; the desktop keeps the signed-in operator.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use paydesk_core::{Money, OperatorId, Timestamp};
use paydesk_engine::{CentralError, Clock as _, OfflinePolicy, SystemClock};
use paydesk_protocol::{OperatorList, Order, OrderPage, PAGE_ROWS_MAX};
use paydesk_stack::SignInError;
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, OTHER, REFUSED, SUCCESS, UNREACHABLE};
use crate::output;

/// The queue cached for offline work.
const QUEUE_CACHE_FILE: &str = "queue.json";
/// The operator list (ids, roles, argon2 PIN hashes) cached for offline sign-in.
const OPERATORS_CACHE_FILE: &str = "operators.json";
/// Pages of the queue read at most: 10 × 200 orders is more than any person works through in a
/// shift; the bound keeps a runaway central from keeping us forever.
const QUEUE_PAGES_MAX: usize = 10;
/// Shortest and longest PIN, as the central accepts them.
const PIN_DIGITS_MIN: usize = 4;
const PIN_DIGITS_MAX: usize = 12;

#[derive(Debug, Serialize, Deserialize)]
struct Cached<T> {
    fetched_at: Timestamp,
    #[serde(flatten)]
    value: T,
}

fn write_cache<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_vec(value)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    // The operator cache holds PIN hashes: readable by this user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn read_cache<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<Cached<T>> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn cache_path(settings: &Settings, name: &str) -> Result<PathBuf, Failure> {
    let dir = settings.data_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.join(name))
}

#[derive(Debug, Serialize, Deserialize)]
struct Queue {
    orders: Vec<Order>,
}

#[derive(Serialize)]
struct QueueOutput<'a> {
    orders: &'a [Order],
    offline: bool,
    cached_at: Option<Timestamp>,
    exit_code: u8,
}

pub async fn queue(settings: &Settings) -> CmdResult {
    let client = settings.central_client().await?;
    let cache = cache_path(settings, QUEUE_CACHE_FILE)?;
    let mut orders = Vec::new();
    let mut after: Option<String> = None;
    let mut fetched = Ok(());
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
            Err(e) => {
                fetched = Err(e);
                break;
            }
        }
    }
    let (orders, offline, cached_at, code) = match fetched {
        Ok(()) => {
            let now = SystemClock.now();
            let value = Cached {
                fetched_at: now,
                value: Queue { orders },
            };
            if let Err(e) = write_cache(&cache, &value) {
                eprintln!("paydesk: could not cache the queue for offline work: {e:#}");
            }
            (value.value.orders, false, None, SUCCESS)
        }
        Err(CentralError::Unreachable { detail }) => match read_cache::<Queue>(&cache) {
            Some(cached) => {
                eprintln!(
                    "paydesk: the central is unreachable ({detail}); showing the queue cached at {}",
                    cached.fetched_at
                );
                (
                    cached.value.orders,
                    true,
                    Some(cached.fetched_at),
                    UNREACHABLE,
                )
            }
            None => {
                return Err(Failure::new(
                    UNREACHABLE,
                    anyhow::anyhow!(
                        "the central is unreachable ({detail}) and no queue is cached yet"
                    ),
                ))
            }
        },
        Err(e) => return Err(Failure::new(OTHER, e)),
    };
    if settings.json {
        output::json(&QueueOutput {
            orders: &orders,
            offline,
            cached_at,
            exit_code: code,
        });
    } else if orders.is_empty() {
        out!("the queue is empty: no unpaid orders");
    } else {
        out!(
            "{:<16} {:>14}  {:<8} {:<28} description",
            "order",
            "amount",
            "status",
            "held by"
        );
        for o in &orders {
            let holder = o
                .claim
                .as_ref()
                .map(|c| format!("{} on {}", c.operator_id, c.terminal_id))
                .unwrap_or_else(|| "-".into());
            out!(
                "{:<16} {:>14}  {:<8} {:<28} {}",
                o.order_id.as_str(),
                o.amount.to_string(),
                o.status.as_str(),
                holder,
                o.description
            );
        }
    }
    Ok(code)
}

#[derive(Serialize)]
struct SignInOutput<'a> {
    signed_in: bool,
    operator: &'a str,
    role: Option<&'a str>,
    offline: bool,
    exit_code: u8,
}

/// Reads the PIN from stdin (one line; never from an argument, never echoed).
fn read_pin() -> Result<String, Failure> {
    let mut pin = String::new();
    std::io::stdin()
        .read_line(&mut pin)
        .context("reading the PIN from stdin")?;
    let pin = pin.trim().to_string();
    let ok = (PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&pin.len())
        && pin.chars().all(|c| c.is_ascii_digit());
    if !ok {
        return Err(Failure::usage(format!(
            "the PIN on stdin must be {PIN_DIGITS_MIN} to {PIN_DIGITS_MAX} digits, e.g. \
             `printf 1234 | paydesk sign-in --operator ID`"
        )));
    }
    Ok(pin)
}

pub async fn sign_in(settings: &Settings, operator: &str) -> CmdResult {
    let operator =
        OperatorId::new(operator).map_err(|e| Failure::usage(format!("--operator: {e}")))?;
    let pin = read_pin()?;
    let client = settings.central_client().await?;
    let cache = cache_path(settings, OPERATORS_CACHE_FILE)?;
    let (list, offline) = match client.get_json::<OperatorList>("/v1/operators").await {
        Ok(list) => {
            let value = Cached {
                fetched_at: SystemClock.now(),
                value: list,
            };
            if let Err(e) = write_cache(&cache, &value) {
                eprintln!("paydesk: could not cache the operators for offline sign-in: {e:#}");
            }
            (value.value, false)
        }
        Err(CentralError::Unreachable { detail }) => match read_cache::<OperatorList>(&cache) {
            Some(cached) => {
                eprintln!(
                    "paydesk: the central is unreachable ({detail}); checking against the \
                     operator list cached at {}",
                    cached.fetched_at
                );
                (cached.value, true)
            }
            None => {
                return Err(Failure::new(
                    UNREACHABLE,
                    anyhow::anyhow!(
                        "the central is unreachable ({detail}) and this terminal has never \
                         cached the operator list: sign in once while the central is reachable"
                    ),
                ))
            }
        },
        Err(e) => return Err(Failure::new(OTHER, e)),
    };
    let record = list
        .operators
        .into_iter()
        .find(|o| o.operator_id == operator);
    let role = record.as_ref().map(|r| r.role.as_str());
    // argon2 is slow on purpose: off the async threads.
    let verified = match record.as_ref().map(|r| r.pin_hash.clone()) {
        None => false,
        Some(hash) => tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(pin.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .context("the PIN check failed")?,
    };
    let code = if verified { SUCCESS } else { REFUSED };
    if settings.json {
        output::json(&SignInOutput {
            signed_in: verified,
            operator: operator.as_str(),
            role: if verified { role } else { None },
            offline,
            exit_code: code,
        });
    } else if verified {
        out!(
            "signed in: {operator} ({}){}",
            role.unwrap_or("operator"),
            if offline { ", offline" } else { "" }
        );
    } else {
        // One message for both cases, so the answer does not reveal which operator ids exist.
        out!("sign-in refused: unknown operator or wrong PIN");
    }
    Ok(code)
}

/// `paydesk offline allow`: a manager's PIN (stdin) allows offline charging within caps.
pub async fn allow_offline(
    settings: &Settings,
    manager: &str,
    per_charge: &str,
    per_shift: &str,
    hours: u32,
) -> CmdResult {
    let manager =
        OperatorId::new(manager).map_err(|e| Failure::usage(format!("--manager: {e}")))?;
    let per_charge =
        Money::parse(per_charge).map_err(|e| Failure::usage(format!("--per-charge: {e}")))?;
    let per_shift =
        Money::parse(per_shift).map_err(|e| Failure::usage(format!("--per-shift: {e}")))?;
    let pin = read_pin()?;
    let client = settings.central_client().await?;
    let data_dir = settings.data_dir()?;
    let granted = paydesk_stack::grant_offline(
        &client,
        &data_dir,
        &manager,
        pin,
        per_charge,
        per_shift,
        i64::from(hours).saturating_mul(3_600_000),
        SystemClock.now(),
    )
    .await
    .map_err(|e| match e {
        paydesk_stack::GrantError::Invalid(m) => Failure::usage(m),
        paydesk_stack::GrantError::SignIn(SignInError::UnreachableNoCache { .. }) => {
            Failure::new(UNREACHABLE, anyhow::anyhow!("{e}"))
        }
        paydesk_stack::GrantError::SignIn(SignInError::BadPin(m)) => Failure::usage(m),
        paydesk_stack::GrantError::SignIn(SignInError::Refused)
        | paydesk_stack::GrantError::NotManager(_) => Failure::new(REFUSED, anyhow::anyhow!("{e}")),
        other => Failure::new(OTHER, anyhow::anyhow!("{other}")),
    })?;
    print_offline(settings, &OfflinePolicy::Allow(granted));
    Ok(SUCCESS)
}

/// `paydesk offline block`: back to the default.
pub fn block_offline(settings: &Settings) -> CmdResult {
    paydesk_stack::block_offline(&settings.data_dir()?)
        .map_err(|e| Failure::new(OTHER, anyhow::anyhow!(e)))?;
    print_offline(settings, &OfflinePolicy::Block);
    Ok(SUCCESS)
}

/// `paydesk offline show`.
pub fn show_offline(settings: &Settings) -> CmdResult {
    let policy = paydesk_stack::offline_policy(&settings.data_dir()?, SystemClock.now());
    print_offline(settings, &policy);
    Ok(SUCCESS)
}

fn print_offline(settings: &Settings, policy: &OfflinePolicy) {
    if settings.json {
        output::json(policy);
        return;
    }
    match policy {
        OfflinePolicy::Block => out!("offline charging: blocked"),
        OfflinePolicy::Allow(a) => out!(
            "offline charging: allowed by {} until {}, at most {} per charge and {} in all",
            a.approved_by,
            a.until,
            a.per_charge_max,
            a.per_shift_max
        ),
    }
}
