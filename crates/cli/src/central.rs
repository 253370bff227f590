//! The commands that talk to the central without the journal: `queue` (the orders an operator
//! can charge: unpaid, failed, needing action),
//! `sign-in` (the PIN checked by the central; offline, by this terminal's verifier) and
//! `offline` (a manager's allowance, signed by the central). The offline copies and the sign-in
//! are `paydesk-terminal`'s, shared with the desktop, so an operator can keep working while the
//! central is down.
//!
//! Deliberately absent: PINs anywhere but in memory (read from stdin, sent, dropped), and a
//! session that outlives the command: each one signs in, acts, and signs out.

use anyhow::Context as _;
use paydesk_core::{Money, OperatorId, Pin, Timestamp};
use paydesk_engine::{Clock as _, OfflinePolicy, SystemClock};
use paydesk_protocol::{Order, Role};
use paydesk_terminal::{GrantError, QueueError, SignInError};
use serde::Serialize;

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, OTHER, REFUSED, SUCCESS, UNREACHABLE};
use crate::output;

#[derive(Serialize)]
struct QueueOutput<'a> {
    orders: &'a [Order],
    offline: bool,
    cached_at: Option<Timestamp>,
    exit_code: u8,
}

pub async fn queue(settings: &Settings) -> CmdResult {
    let client = settings.central_client().await?;
    let data_dir = settings.cache_dir()?;
    let queue = paydesk_terminal::fetch_queue_of(
        &client,
        &data_dir,
        SystemClock.now(),
        &paydesk_terminal::ACTIONABLE_STATES,
    )
    .await
    .map_err(|e| match e {
        QueueError::UnreachableNoCache { detail } => {
            let e = QueueError::UnreachableNoCache {
                detail: settings.unreachable_detail(detail),
            };
            Failure::new(UNREACHABLE, anyhow::anyhow!("{e}"))
        }
        QueueError::Central(e) => Failure::new(OTHER, e),
    })?;
    if let (Some(reason), Some(at)) = (&queue.offline_reason, queue.cached_at) {
        let reason = settings.unreachable_detail(reason.clone());
        eprintln!(
            "paydesk: the central is unreachable ({reason}); showing the queue cached at {at}"
        );
    }
    let (orders, offline, cached_at) = (queue.orders, queue.offline, queue.cached_at);
    let code = if offline { UNREACHABLE } else { SUCCESS };
    if settings.json {
        output::json(&QueueOutput {
            orders: &orders,
            offline,
            cached_at,
            exit_code: code,
        });
    } else if orders.is_empty() {
        out!("the queue is empty: no order is unpaid, declined or waiting for an action");
    } else {
        let now = SystemClock.now();
        out!(
            "{:<16} {:>14}  {:<12} {:<20} {:<36} {:<28} description",
            "order",
            "amount",
            "state",
            "customer",
            "card",
            "held by"
        );
        for o in &orders {
            let holder = o
                .claim
                .as_ref()
                .map(|c| format!("{} on {}", c.operator_id, c.terminal_id))
                .unwrap_or_else(|| "-".into());
            out!(
                "{:<16} {:>14}  {:<12} {:<20} {:<36} {:<28} {}",
                fit(o.order_id.as_str(), 16),
                o.amount.to_string(),
                o.status.as_str(),
                fit(&crate::card::customer_words(o), 20),
                fit(&crate::card::method_words(o, now), 36),
                fit(&holder, 28),
                o.description
            );
        }
    }
    Ok(code)
}

/// `text` in at most `width` characters: a longer one is cut and ends with "…", so the table's
/// columns stay aligned.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[derive(Serialize)]
struct SignInOutput<'a> {
    signed_in: bool,
    operator: &'a str,
    role: Option<&'a str>,
    offline: bool,
    exit_code: u8,
}

/// Reads the PIN from stdin (one line; never from an argument, never echoed). `example` is the
/// command to show in the message when what came is not a PIN.
pub fn read_pin(example: &str) -> Result<Pin, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the PIN from stdin")?;
    Pin::parse(line.trim()).map_err(|e| {
        Failure::usage(format!(
            "the PIN on stdin: {e}, e.g. `printf '%s\\n' \"$PIN\" | {example}`"
        ))
    })
}

/// [`sign_in_failure`], with a stopped embedded stack said in words.
pub fn sign_in_failure_in(settings: &Settings, e: SignInError) -> Failure {
    match e {
        SignInError::UnreachableNoCache { detail } => {
            sign_in_failure(SignInError::UnreachableNoCache {
                detail: settings.unreachable_detail(detail),
            })
        }
        other => sign_in_failure(other),
    }
}

/// The exit code and message of a refused or failed sign-in.
pub fn sign_in_failure(e: SignInError) -> Failure {
    match e {
        SignInError::Refused | SignInError::Locked(_) | SignInError::RateLimited(_) => {
            Failure::new(REFUSED, anyhow::anyhow!("sign-in refused: {e}"))
        }
        SignInError::UnreachableNoCache { .. } => Failure::new(UNREACHABLE, anyhow::anyhow!("{e}")),
        other => Failure::new(OTHER, anyhow::anyhow!("{other}")),
    }
}

/// `paydesk sign-in`: checks the PIN at the central (offline: this terminal's verifier, for an
/// operator who signed in online here recently), then ends the session at once — a script's
/// yes/no, which also prepares offline sign-in for that operator.
pub async fn sign_in(settings: &Settings, operator: &str) -> CmdResult {
    let operator =
        OperatorId::new(operator).map_err(|e| Failure::usage(format!("--operator: {e}")))?;
    let pin = read_pin("paydesk sign-in --operator ID")?;
    let client = settings.central_client().await?;
    let data_dir = settings.cache_dir()?;
    let now = SystemClock.now();
    let checked = paydesk_terminal::sign_in(&client, &data_dir, &operator, pin, now).await;
    let (verified, role, offline) = match checked {
        Ok(signed) => {
            if signed.offline {
                eprintln!(
                    "paydesk: the central is unreachable; checked against this terminal's \
                     offline sign-in verifier"
                );
            } else {
                if let Err(e) = paydesk_terminal::pin_allowance_key(&client, &data_dir, now).await {
                    eprintln!("paydesk: could not pin the central's allowance key: {e}");
                }
                if let Err(e) = client.end_session().await {
                    eprintln!("paydesk: could not end the session at the central: {e}");
                }
            }
            (true, Some(signed.role.as_str()), signed.offline)
        }
        Err(SignInError::Refused) => (false, None, false),
        Err(e) => return Err(sign_in_failure_in(settings, e)),
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

/// `paydesk offline allow`: the manager signs in at the central (PIN on stdin) and asks it for a
/// signed allowance for this terminal (the PIN again); the terminal verifies and keeps it.
pub async fn allow_offline(
    settings: &Settings,
    manager: &str,
    per_charge: &str,
    per_shift: &str,
    hours: u32,
    cache_minutes: u32,
) -> CmdResult {
    let manager =
        OperatorId::new(manager).map_err(|e| Failure::usage(format!("--manager: {e}")))?;
    let per_charge =
        Money::parse(per_charge).map_err(|e| Failure::usage(format!("--per-charge: {e}")))?;
    let per_shift =
        Money::parse(per_shift).map_err(|e| Failure::usage(format!("--per-shift: {e}")))?;
    if !(1..=12).contains(&hours) {
        return Err(Failure::usage(format!(
            "--hours {hours}: an offline allowance lasts between 1 and 12 hours"
        )));
    }
    if cache_minutes == 0 {
        return Err(Failure::usage(
            "--cache-minutes 0: the cached queue must be allowed at least 1 minute of age",
        ));
    }
    if per_charge.currency() != per_shift.currency() {
        return Err(Failure::usage(format!(
            "--per-charge is {} and --per-shift {}: an allowance covers one currency, and orders \
             in any other are refused offline",
            per_charge.currency(),
            per_shift.currency()
        )));
    }
    let pin = read_pin("paydesk offline allow --manager ID …")?;
    let client = settings.central_client().await?;
    let data_dir = settings.cache_dir()?;
    let terminal = settings.terminal_id()?;
    let now = SystemClock.now();
    let signed = paydesk_terminal::sign_in(&client, &data_dir, &manager, pin.clone(), now)
        .await
        .map_err(|e| sign_in_failure_in(settings, e))?;
    if signed.offline {
        return Err(Failure::new(
            UNREACHABLE,
            anyhow::anyhow!(
                "the central is unreachable: a manager allows offline work online only"
            ),
        ));
    }
    let granted = if signed.role != Role::Manager {
        Err(GrantError::NotManager(signed.operator))
    } else {
        paydesk_terminal::grant_offline(
            &client,
            &data_dir,
            &terminal,
            pin,
            per_charge,
            per_shift,
            i64::from(hours).saturating_mul(3_600_000),
            i64::from(cache_minutes).saturating_mul(60_000),
            now,
        )
        .await
    };
    if let Err(e) = client.end_session().await {
        eprintln!("paydesk: could not end the manager's session at the central: {e}");
    }
    let granted = granted.map_err(|e| match e {
        GrantError::Invalid(m) => Failure::usage(m),
        GrantError::SignIn(e) => sign_in_failure(e),
        GrantError::NotManager(_) | GrantError::NotSignedIn => {
            Failure::new(REFUSED, anyhow::anyhow!("{e}"))
        }
        other => Failure::new(OTHER, anyhow::anyhow!("{other}")),
    })?;
    print_offline(settings, &OfflinePolicy::Allow(granted));
    Ok(SUCCESS)
}

/// `paydesk offline block`: back to the default.
pub fn block_offline(settings: &Settings) -> CmdResult {
    paydesk_terminal::block_offline(&settings.data_dir()?)
        .map_err(|e| Failure::new(OTHER, anyhow::anyhow!(e)))?;
    print_offline(settings, &OfflinePolicy::Block);
    Ok(SUCCESS)
}

/// `paydesk offline show`: the allowance in force (only one whose signature verifies).
pub fn show_offline(settings: &Settings) -> CmdResult {
    let terminal = settings.terminal_id()?;
    let policy =
        paydesk_terminal::offline_policy(&settings.data_dir()?, &terminal, SystemClock.now());
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
            "offline charging: allowed by {} until {}, at most {} per charge and {} in all, from \
             a cached queue at most {} minutes old; orders in another currency than {} are \
             refused offline",
            a.approved_by,
            a.until,
            a.per_charge_max,
            a.per_shift_max,
            a.cache_age_ms_max / 60_000,
            a.per_charge_max.currency()
        ),
    }
}
