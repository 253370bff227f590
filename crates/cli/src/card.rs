//! The saved payment method in words (issue 12, item 1): `paydesk queue` shows each order's
//! customer and card ("visa •••• 4242 exp 12/28", "expired 08/26" once past), and
//! `paydesk refresh-card ORDER --operator ID --pin-stdin` asks the central to read the card at
//! the gateway again (a reissued card's new expiry) and prints it.
//!
//! Deliberately absent: any gateway call of the terminal's own and any card number (there is
//! none to show).

use paydesk_core::{OrderId, Timestamp};
use paydesk_protocol::payment_method::{SavedMethod, SavedMethodKind};
use paydesk_protocol::Order;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::exit::{CmdResult, Failure, SUCCESS};
use crate::output;

/// Whether a card expiring at the end of `month`/`year` has expired by `now` (UTC): a card is
/// good through the last day of its expiry month.
pub fn expired(month: u8, year: u16, now: Timestamp) -> bool {
    let (now_year, now_month) = year_month(now);
    (i64::from(year), i64::from(month)) < (now_year, now_month)
}

/// (year, month) of a timestamp, UTC.
fn year_month(t: Timestamp) -> (i64, i64) {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = t.unix_ms().div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// The customer as a person reads it: the imported name, else the gateway's holder name, else
/// the customer id, else "-".
pub fn customer_words(o: &Order) -> String {
    let holder = o.saved_method.as_ref().and_then(|m| m.holder_name.clone());
    [
        Some(o.customer_name.clone()),
        holder,
        Some(o.customer_id.clone()),
    ]
    .into_iter()
    .flatten()
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| "-".into())
}

/// The saved method in words, with its gateway: "visa •••• 4242 exp 12/28 (stripe)".
pub fn method_words(o: &Order, now: Timestamp) -> String {
    let gateway = o.gateway.as_str();
    match &o.saved_method {
        None => format!("not read yet ({gateway})"),
        Some(m) => format!("{} ({gateway})", saved_words(m, now)),
    }
}

fn saved_words(m: &SavedMethod, now: Timestamp) -> String {
    match m.kind {
        SavedMethodKind::Card => {
            let brand = m.brand.as_deref().unwrap_or("card");
            let last4 = m.last4.as_deref().unwrap_or("????");
            match (m.exp_month, m.exp_year) {
                (Some(mo), Some(y)) if expired(mo, y, now) => {
                    format!("{brand} •••• {last4} EXPIRED {mo:02}/{:02}", y % 100)
                }
                (Some(mo), Some(y)) => format!("{brand} •••• {last4} exp {mo:02}/{:02}", y % 100),
                _ => format!("{brand} •••• {last4}"),
            }
        }
        SavedMethodKind::PaypalWallet => {
            format!("PayPal {}", m.email.as_deref().unwrap_or("wallet"))
        }
        SavedMethodKind::Other => m.kind_name.clone().unwrap_or_else(|| "other".into()),
        SavedMethodKind::Unread => format!(
            "not read: {}",
            m.refresh_error
                .as_deref()
                .unwrap_or("the gateway gave no details")
        ),
    }
}

/// `paydesk refresh-card ORDER --operator ID --pin-stdin`.
pub async fn refresh(
    settings: &Settings,
    order: &str,
    operator: &str,
    pin_stdin: bool,
) -> CmdResult {
    let order = OrderId::new(order).map_err(|e| Failure::usage(format!("ORDER: {e}")))?;
    let example = format!("paydesk refresh-card {order} --operator ID --pin-stdin");
    let answer =
        crate::customer::as_operator(settings, operator, pin_stdin, &example, async |client| {
            client
                .post_in_session::<_, Value>(
                    &format!("/v1/orders/{order}/payment-method/refresh"),
                    &json!({}),
                )
                .await
        })
        .await?;
    let now = paydesk_engine::Clock::now(&paydesk_engine::SystemClock);
    if settings.json {
        let mut doc = json!({ "order": answer, "exit_code": SUCCESS });
        output::times_to_rfc3339(&mut doc);
        output::json(&doc);
        return Ok(SUCCESS);
    }
    let order: Order = serde_json::from_value(answer).map_err(|e| {
        Failure::new(
            crate::exit::OTHER,
            anyhow::anyhow!("the central's answer: {e}"),
        )
    })?;
    out!("Order {}: {}", order.order_id, customer_words(&order));
    out!("  {}", method_words(&order, now));
    if let Some(why) = order
        .saved_method
        .as_ref()
        .and_then(|m| m.refresh_error.as_ref())
    {
        out!("  The gateway could not be read this time: {why}");
    }
    Ok(SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32) -> Timestamp {
        // Days from the civil date, the inverse of `year_month`'s algorithm.
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * i64::from(m) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Timestamp::from_unix_ms((era * 146_097 + doe - 719_468) * 86_400_000)
    }

    #[test]
    fn a_card_is_good_through_its_expiry_month() {
        assert_eq!(year_month(at(2026, 11, 30)), (2026, 11));
        assert_eq!(year_month(at(2024, 2, 29)), (2024, 2));
        assert!(!expired(11, 2026, at(2026, 11, 30)));
        assert!(expired(10, 2026, at(2026, 11, 1)));
        assert!(expired(12, 2025, at(2026, 1, 1)));
        assert!(!expired(1, 2027, at(2026, 12, 31)));
    }
}
