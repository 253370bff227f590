//! `paydesk settings show|set …`: a manager reads and changes the central's permissions and
//! limits (issue 11, item 8) — which actions each role may take, each person's refund limits
//! per currency, and the four-eyes threshold of reversals. Each signs the manager in at the
//! central (PIN on stdin), sends the PIN again with a change, and signs out; the central audits
//! every change.
//!
//! Deliberately absent: storing or enforcing anything here (the central does both) and PINs
//! anywhere but in memory.

use clap::Subcommand;
use paydesk_core::{Currency, Money};
use paydesk_protocol::settings::{Action, Settings as Wire, ACTIONS};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;
use crate::reverse::as_manager;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the permissions of each role, the refund limits and the four-eyes threshold.
    Show {
        /// The manager who reads them (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Change one setting (the manager's PIN is read from stdin and checked again).
    Set {
        #[command(subcommand)]
        what: SetCommand,
        /// The manager who changes it.
        #[arg(long, global = true)]
        manager: Option<String>,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long, global = true)]
        pin_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SetCommand {
    /// Reversals above this many minor units (any currency) need a second manager, e.g. 10000
    /// for 100.00 EUR; 0 asks for a second manager every time.
    Threshold { minor: i64 },
    /// The whole set of actions a role may take, comma-separated, or "none": charge, reverse,
    /// approve_reversal, resolve, sign_off_day, grant_offline, export_audit.
    Permissions { role: String, actions: String },
    /// A person's refund limits in one currency, as amounts ("50.00") or "none"; both left out
    /// (or "none") removes the limits.
    Limit {
        operator: String,
        currency: String,
        /// The most one refund may be.
        #[arg(long)]
        per_refund: Option<String>,
        /// The most this person's refunds may add up to in one UTC day.
        #[arg(long)]
        per_day: Option<String>,
    },
}

/// "none" or an amount in `currency` ("50.00", "50.00 EUR"), as minor units.
fn limit_minor(
    flag: &str,
    value: Option<&str>,
    currency: Currency,
) -> Result<Option<i64>, Failure> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let text = if v.contains(' ') {
        v.to_string()
    } else {
        format!("{v} {}", currency.code())
    };
    let money = Money::parse(&text).map_err(|e| {
        Failure::usage(format!(
            "--{flag}: {e} (an amount such as \"50.00\" in {}, or \"none\")",
            currency.code()
        ))
    })?;
    if money.currency() != currency {
        return Err(Failure::usage(format!(
            "--{flag}: the limit is in {}, not {}",
            currency.code(),
            money.currency().code()
        )));
    }
    Ok(Some(money.minor()))
}

fn actions(list: &str) -> Result<Vec<Action>, Failure> {
    if list.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                let known: Vec<&str> = ACTIONS.iter().map(|a| a.as_str()).collect();
                Failure::usage(format!(
                    "ACTIONS: there is no action {a:?}; the actions are {} (or \"none\")",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn amount(minor: Option<i64>, currency: Currency) -> String {
    minor.map_or_else(
        || "no limit".to_string(),
        |m| {
            Money::new(m, currency)
                .map(|m| m.to_string())
                .unwrap_or_else(|_| format!("{m} minor units"))
        },
    )
}

fn print(settings: &Settings, doc: Value) -> CmdResult {
    if settings.json {
        let mut doc = json!({ "settings": doc, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    let wire: Wire = serde_json::from_value(doc).map_err(|e| {
        Failure::new(
            crate::exit::OTHER,
            anyhow::anyhow!("the central's settings could not be read: {e}"),
        )
    })?;
    out!(
        "Reversals above {} minor units need a second manager's approval.",
        wire.reversal_approval_above_minor
    );
    for p in &wire.permissions {
        let what: Vec<&str> = p.actions.iter().map(|a| a.words()).collect();
        out!(
            "The {} role may: {}.",
            p.role.as_str(),
            if what.is_empty() {
                "nothing".to_string()
            } else {
                what.join("; ")
            }
        );
    }
    if wire.limits.is_empty() {
        out!("Nobody has a refund limit.");
    }
    for l in &wire.limits {
        out!(
            "{} in {}: per refund {}, per day {} ({} refunded today).",
            l.operator_id,
            l.currency.code(),
            amount(l.per_refund_minor, l.currency),
            amount(l.per_day_minor, l.currency),
            amount(Some(l.refunded_today_minor), l.currency),
        );
    }
    if let (Some(at), Some(by)) = (wire.updated_at, &wire.updated_by) {
        out!("Last changed by {by} at {}.", at.rfc3339());
    }
    Ok(SUCCESS)
}

pub async fn run(settings: &Settings, command: SettingsCommand) -> CmdResult {
    match command {
        SettingsCommand::Show { manager, pin_stdin } => {
            let doc = as_manager(
                settings,
                &manager,
                pin_stdin,
                "paydesk settings show --manager ID --pin-stdin",
                async |client, _pin| client.get_json_in_session::<Value>("/v1/settings").await,
            )
            .await?;
            print(settings, doc)
        }
        SettingsCommand::Set {
            what,
            manager,
            pin_stdin,
        } => {
            let Some(manager) = manager else {
                return Err(Failure::usage(
                    "--manager is required: the manager who changes the setting (PIN on stdin)",
                ));
            };
            let (path, body) = match what {
                SetCommand::Threshold { minor } => {
                    if minor < 0 {
                        return Err(Failure::usage(
                            "MINOR: the threshold is 0 or more minor units (10000 is 100.00 EUR)",
                        ));
                    }
                    (
                        "/v1/settings/approval-threshold".to_string(),
                        json!({ "reversal_approval_above_minor": minor }),
                    )
                }
                SetCommand::Permissions {
                    role,
                    actions: list,
                } => {
                    let list = actions(&list)?;
                    (
                        format!("/v1/settings/permissions/{role}"),
                        json!({ "actions": list }),
                    )
                }
                SetCommand::Limit {
                    operator,
                    currency,
                    per_refund,
                    per_day,
                } => {
                    let c = Currency::from_code(&currency.to_ascii_uppercase()).map_err(|e| {
                        Failure::usage(format!("CURRENCY: {e} (a code such as EUR)"))
                    })?;
                    (
                        format!("/v1/settings/limits/{operator}/{}", c.code()),
                        json!({
                            "per_refund_minor": limit_minor("per-refund", per_refund.as_deref(), c)?,
                            "per_day_minor": limit_minor("per-day", per_day.as_deref(), c)?,
                        }),
                    )
                }
            };
            let doc = as_manager(
                settings,
                &manager,
                pin_stdin,
                "paydesk settings set … --manager ID --pin-stdin",
                async |client, pin| {
                    let mut body = body;
                    body["pin"] = json!(pin.expose());
                    client.put_in_session::<_, Value>(&path, &body).await
                },
            )
            .await?;
            print(settings, doc)
        }
    }
}
