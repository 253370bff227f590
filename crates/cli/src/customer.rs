//! `paydesk send-link` and `paydesk mark-contacted`: for an order waiting for its customer (a
//! 3-D Secure card stopped the charge), an operator sends a payment link or records that the
//! customer was contacted. Each signs the operator in at the central (PIN on stdin), asks, and
//! signs out. The link is printed once: the central keeps only its token's hash.
//!
//! Deliberately absent: any gateway call (the central makes it) and any charge.

use paydesk_core::{OperatorId, OrderId};
use paydesk_engine::{CentralError, Clock as _, SystemClock};
use serde_json::{json, Value};

use crate::central::{read_pin, sign_in_failure_in};
use crate::config::Settings;
use crate::exit::{CmdResult, Failure, SUCCESS, UNREACHABLE};
use crate::output;
use crate::reverse::central_failure;

/// Signs `operator` in (PIN from stdin), runs `act`, signs out.
pub(crate) async fn as_operator(
    settings: &Settings,
    operator: &str,
    pin_stdin: bool,
    example: &str,
    act: impl AsyncFnOnce(&paydesk_terminal::HttpCentral) -> Result<Value, CentralError>,
) -> Result<Value, Failure> {
    let operator =
        OperatorId::new(operator).map_err(|e| Failure::usage(format!("--operator: {e}")))?;
    if !pin_stdin {
        return Err(Failure::usage(format!(
            "--pin-stdin is required: the operator's PIN is read from stdin, never an argument, \
             e.g. `printf '%s\\n' \"$PIN\" | {example}`"
        )));
    }
    let pin = read_pin(example)?;
    let client = settings.central_client().await?;
    let data_dir = settings.cache_dir()?;
    let signed = paydesk_terminal::sign_in(&client, &data_dir, &operator, pin, SystemClock.now())
        .await
        .map_err(|e| sign_in_failure_in(settings, e))?;
    let answer = if signed.offline {
        Err(Failure::new(
            UNREACHABLE,
            anyhow::anyhow!("the central is unreachable: links and contacts are recorded online"),
        ))
    } else {
        act(&client).await.map_err(central_failure)
    };
    if let Err(e) = client.end_session().await {
        eprintln!("paydesk: could not end the operator's session at the central: {e}");
    }
    answer
}

/// `paydesk send-link ORDER --operator ID --pin-stdin`.
pub async fn send_link(
    settings: &Settings,
    order: &str,
    operator: &str,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let example = format!("paydesk send-link {order} --operator ID --pin-stdin");
    let link = as_operator(settings, operator, pin_stdin, &example, async |client| {
        client
            .post_in_session::<_, Value>(&format!("/v1/orders/{order}/payment-link"), &json!({}))
            .await
    })
    .await?;
    if settings.json {
        let mut doc = json!({ "link": link, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    out!("Payment link for order {order} (send it to the customer; it is shown only now):");
    out!("  {}", link["url"].as_str().unwrap_or_default());
    out!(
        "It works until the order is paid, a newer link is sent, or {}.",
        paydesk_core::Timestamp::from_unix_ms(link["expires_at"].as_i64().unwrap_or_default())
            .rfc3339()
    );
    Ok(SUCCESS)
}

/// `paydesk mark-contacted ORDER --operator ID --pin-stdin [--note TEXT]`.
pub async fn mark_contacted(
    settings: &Settings,
    order: &str,
    operator: &str,
    note: Option<&str>,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let example = format!("paydesk mark-contacted {order} --operator ID --pin-stdin");
    let body = json!({ "note": note.unwrap_or_default() });
    let record = as_operator(settings, operator, pin_stdin, &example, async |client| {
        client
            .post_in_session::<_, Value>(&format!("/v1/orders/{order}/customer-contacted"), &body)
            .await
    })
    .await?;
    if settings.json {
        let mut doc = json!({ "contact": record, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    out!(
        "Order {order}: customer contacted by {} at {}.",
        record["contacted_by"].as_str().unwrap_or_default(),
        paydesk_core::Timestamp::from_unix_ms(record["contacted_at"].as_i64().unwrap_or_default())
            .rfc3339()
    );
    Ok(SUCCESS)
}
