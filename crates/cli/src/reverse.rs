//! `paydesk reverse` and `paydesk approve`: a manager cancels or refunds a paid order at the
//! central (which reads the gateway and picks cancel or refund), and a second manager approves a
//! reversal above the threshold. Each signs the manager in at the central (PIN on stdin), sends
//! the PIN again with the request, and signs out.
//!
//! Deliberately absent: any gateway call (the central makes it) and PINs anywhere but in memory.

use paydesk_core::{Money, OperatorId, OrderId, Pin};
use paydesk_engine::{CentralError, Clock as _, SystemClock};
use paydesk_protocol::{ErrorCode, Role};
use serde_json::{json, Value};

use crate::central::{read_pin, sign_in_failure_in};
use crate::config::Settings;
use crate::exit::{CmdResult, Failure, CONFLICT, OTHER, PENDING, REFUSED, SUCCESS, UNREACHABLE};
use crate::output;

/// The arguments of `paydesk reverse`.
#[derive(Debug)]
pub struct ReverseArgs<'a> {
    pub order: &'a str,
    pub manager: &'a str,
    pub reason: &'a str,
    pub amount: Option<&'a str>,
    pub approval: Option<&'a str>,
    /// The reversal key: re-running with the same key repeats the same reversal, never a second.
    pub key: Option<&'a str>,
    pub pin_stdin: bool,
}

pub(crate) fn central_failure(e: CentralError) -> Failure {
    let code = match &e {
        CentralError::Unreachable { .. } | CentralError::NoAnswer { .. } => UNREACHABLE,
        CentralError::Forbidden(_) | CentralError::Locked(_) | CentralError::RateLimited(_) => {
            REFUSED
        }
        CentralError::UnknownOrder(_) => CONFLICT,
        CentralError::Refused { code, .. } => match code {
            ErrorCode::Conflict | ErrorCode::OrderNotFound | ErrorCode::NotFound => CONFLICT,
            ErrorCode::Forbidden => REFUSED,
            ErrorCode::InvalidRequest => crate::exit::USAGE,
            _ => OTHER,
        },
        _ => OTHER,
    };
    Failure::new(code, anyhow::anyhow!("{e}"))
}

/// Signs `manager` in (PIN from stdin), checks the role, runs `act` with the PIN, signs out.
pub(crate) async fn as_manager(
    settings: &Settings,
    manager: &str,
    pin_stdin: bool,
    example: &str,
    act: impl AsyncFnOnce(&paydesk_terminal::HttpCentral, &Pin) -> Result<Value, CentralError>,
) -> Result<Value, Failure> {
    let manager =
        OperatorId::new(manager).map_err(|e| Failure::usage(format!("--manager: {e}")))?;
    if !pin_stdin {
        return Err(Failure::usage(format!(
            "--pin-stdin is required: the manager's PIN is read from stdin, never an argument, \
             e.g. `printf '%s\\n' \"$PIN\" | {example}`"
        )));
    }
    let pin = read_pin(example)?;
    let client = settings.central_client().await?;
    let data_dir = settings.cache_dir()?;
    let signed =
        paydesk_terminal::sign_in(&client, &data_dir, &manager, pin.clone(), SystemClock.now())
            .await
            .map_err(|e| sign_in_failure_in(settings, e))?;
    if signed.offline {
        let _ = client.end_session().await;
        return Err(Failure::new(
            UNREACHABLE,
            anyhow::anyhow!("the central is unreachable: reversals are made online only"),
        ));
    }
    let answer = if signed.role != Role::Manager {
        Err(Failure::new(
            REFUSED,
            anyhow::anyhow!("{manager} is not a manager: a manager signs in for this"),
        ))
    } else {
        act(&client, &pin).await.map_err(central_failure)
    };
    if let Err(e) = client.end_session().await {
        eprintln!("paydesk: could not end the manager's session at the central: {e}");
    }
    answer
}

/// A fresh reversal key: the time in nanoseconds and the process id, unique per run on this
/// terminal; printed, so a re-run can pass it with `--key`.
fn new_key() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("cli-{nanos}-{}", std::process::id())
}

/// `paydesk reverse ORDER --manager M --reason TEXT [--amount A] [--approval ID] --pin-stdin`.
pub async fn reverse(settings: &Settings, args: ReverseArgs<'_>) -> CmdResult {
    let order = OrderId::new(args.order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let amount = args
        .amount
        .map(Money::parse)
        .transpose()
        .map_err(|e| Failure::usage(format!("--amount: {e}")))?;
    if args.reason.trim().is_empty() {
        return Err(Failure::usage(
            "--reason is required: say why in a few words",
        ));
    }
    let key = args.key.map(str::to_string).unwrap_or_else(new_key);
    let example = format!("paydesk reverse {order} --manager ID --reason TEXT --pin-stdin");
    let row = as_manager(
        settings,
        args.manager,
        args.pin_stdin,
        &example,
        async |client, pin| {
            let body = json!({
                "reversal_key": key, "amount": amount, "reason": args.reason,
                "pin": pin.expose(), "approval_id": args.approval,
            });
            client
                .post_in_session::<_, Value>(&format!("/v1/orders/{order}/reversals"), &body)
                .await
        },
    )
    .await?;
    let state = row["state"].as_str().unwrap_or("");
    let code = match state {
        "succeeded" => SUCCESS,
        "pending" => PENDING,
        _ => REFUSED,
    };
    if settings.json {
        let mut doc = json!({ "reversal": row, "exit_code": code });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
    } else {
        let minor = row["amount_minor"].as_i64().unwrap_or(0);
        let currency = row["currency"].as_str().unwrap_or("");
        let amount = paydesk_core::Currency::from_code(currency)
            .ok()
            .and_then(|c| Money::new(minor, c).ok())
            .map(|m| m.to_string())
            .unwrap_or_else(|| format!("{minor} {currency}"));
        out!(
            "{} of {amount} for order {order}: {state}{} (reversal {}, key {key})",
            row["kind"].as_str().unwrap_or("reversal"),
            row["failure"]
                .as_str()
                .map(|f| format!(" — {f}"))
                .unwrap_or_default(),
            row["reversal_id"].as_str().unwrap_or(""),
        );
        if code == PENDING {
            out!("the gateway has not finished: run the same command with --key {key} later");
        }
    }
    Ok(code)
}

/// `paydesk approve ORDER --manager M --amount A --pin-stdin`: prints the approval id.
pub async fn approve(
    settings: &Settings,
    order: &str,
    manager: &str,
    amount: &str,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let amount = Money::parse(amount).map_err(|e| Failure::usage(format!("--amount: {e}")))?;
    let example = format!("paydesk approve {order} --manager ID --amount \"{amount}\" --pin-stdin");
    let approval = as_manager(
        settings,
        manager,
        pin_stdin,
        &example,
        async |client, pin| {
            let body = json!({
                "action": "reversal", "order_id": order.as_str(), "amount": amount,
                "pin": pin.expose(),
            });
            client
                .post_in_session::<_, Value>("/v1/approvals", &body)
                .await
        },
    )
    .await?;
    let id = approval["approval_id"].as_str().unwrap_or("").to_string();
    if settings.json {
        let mut doc = json!({ "approval": approval, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
    } else {
        out!("{id}");
        eprintln!(
            "paydesk: approved a reversal of {amount} for order {order}; the other manager \
             passes --approval {id} (once, within 10 minutes)"
        );
    }
    Ok(SUCCESS)
}
