//! The pure rules of the results inbox: what one result means for its order (`decide`), and the
//! in-memory mirror of the change it leads to, so that a later result of the same batch is
//! decided against the order as it then stands.
//!
//! Deliberately absent: I/O of any kind. No SQL, no clock, no logging; `inbox.rs` reads the
//! order, writes the decision and keeps the mirror in step with what it wrote.

use paydesk_core::GatewayIntentId;
use paydesk_protocol::{ItemStatus, OrderStatus, ResultItem, ResultOutcome};

use super::OrderRow;

/// What applying one result does to its order.
#[derive(Debug, Default)]
pub(super) struct OrderChange {
    pub(super) new_status: Option<OrderStatus>,
    /// The intent that paid the order, set only when a success marks it paid.
    pub(super) paid_intent_id: Option<GatewayIntentId>,
    /// Release the flag (only ever when the result carries the current token).
    pub(super) release: bool,
    pub(super) clear_open_intent: bool,
}

/// What one result means: the receipt's status, why it is flagged (stored with the result and
/// in the flags for a manager), and the change to its order.
#[derive(Debug)]
pub(super) struct Decision {
    pub(super) status: ItemStatus,
    /// Set exactly when `status` is `Flagged`.
    pub(super) flag_reason: Option<String>,
    pub(super) change: OrderChange,
}

impl Decision {
    fn applied(change: OrderChange) -> Decision {
        Decision {
            status: ItemStatus::Applied,
            flag_reason: None,
            change,
        }
    }

    fn flagged(reason: String, change: OrderChange) -> Decision {
        Decision {
            status: ItemStatus::Flagged,
            flag_reason: Some(reason),
            change,
        }
    }
}

impl OrderRow {
    /// Mirrors in memory what `Store::apply_change` wrote, so a later result of the same batch
    /// for the same order is decided against the order as it now stands.
    pub(super) fn mirror(&mut self, change: &OrderChange) {
        if let Some(status) = change.new_status {
            self.order.status = status;
        }
        if let Some(paid) = &change.paid_intent_id {
            self.order.paid_intent_id = Some(paid.clone());
        }
        if change.clear_open_intent {
            self.open_intent_id = None;
        }
        if change.release && self.holder_terminal.is_some() {
            self.holder_terminal = None;
            self.lease_until = None;
            self.order.claim = None;
        }
    }
}

/// Decides what one result means for its order: the pure part of the results inbox.
///
/// A success is a fact about money that moved, so it is never refused: if it contradicts the
/// central (other amount, a second success) the order goes to review and the result is flagged.
/// Any other outcome is a decision, accepted only under the order's current claim token (I5).
pub(super) fn decide(row: &OrderRow, item: &ResultItem) -> Decision {
    let order = &row.order;
    let current = item.claim_token.get() as i64 == row.claim_token;
    let holds = current && row.holder_terminal.is_some();
    let intent = item.intent_id.as_ref();
    let closes_open_intent =
        intent.is_some_and(|i| row.open_intent_id.as_deref() == Some(i.as_str()));
    if item.amount != order.amount {
        let reason = format!(
            "result amount {} differs from the order's {}",
            item.amount, order.amount
        );
        let change = if item.outcome == ResultOutcome::Succeeded {
            OrderChange {
                new_status: Some(OrderStatus::NeedsReview),
                release: holds,
                ..OrderChange::default()
            }
        } else {
            OrderChange::default()
        };
        return Decision::flagged(reason, change);
    }
    match item.outcome {
        ResultOutcome::Succeeded => {
            if order.status == OrderStatus::Paid {
                if intent.is_some() && order.paid_intent_id.as_ref() == intent {
                    // Already recorded from the webhook or the sweeper: the same charge.
                    return Decision::applied(OrderChange {
                        release: holds,
                        clear_open_intent: closes_open_intent,
                        ..OrderChange::default()
                    });
                }
                let reason = format!(
                    "second success for order {}: intent {} after {}",
                    order.order_id,
                    intent.map(|i| i.as_str()).unwrap_or("(none)"),
                    order
                        .paid_intent_id
                        .as_ref()
                        .map(|p| p.as_str())
                        .unwrap_or("(none)")
                );
                return Decision::flagged(
                    reason,
                    OrderChange {
                        new_status: Some(OrderStatus::NeedsReview),
                        release: holds,
                        ..OrderChange::default()
                    },
                );
            }
            let change = OrderChange {
                new_status: Some(OrderStatus::Paid),
                paid_intent_id: intent.cloned(),
                release: holds,
                clear_open_intent: holds || closes_open_intent,
            };
            if current || item.offline {
                Decision::applied(change)
            } else {
                let reason = format!(
                    "success reported under stale claim token {} (current {}); the order is \
                     marked paid because the charge happened",
                    item.claim_token, row.claim_token
                );
                Decision::flagged(reason, change)
            }
        }
        _ if !current && !item.offline => {
            let reason = format!(
                "{} reported under stale claim token {} (current {}): not applied",
                item.outcome.as_str(),
                item.claim_token,
                row.claim_token
            );
            Decision::flagged(reason, OrderChange::default())
        }
        // A late non-success for an order already paid is history, not a status change.
        _ if order.status == OrderStatus::Paid => Decision::applied(OrderChange {
            release: holds,
            clear_open_intent: closes_open_intent,
            ..OrderChange::default()
        }),
        ResultOutcome::Declined => Decision::applied(OrderChange {
            new_status: Some(OrderStatus::Failed),
            release: holds,
            clear_open_intent: closes_open_intent || holds,
            ..OrderChange::default()
        }),
        ResultOutcome::Canceled => Decision::applied(OrderChange {
            release: holds,
            clear_open_intent: closes_open_intent || holds,
            ..OrderChange::default()
        }),
        // The intent stays open: the customer may still complete it, so a later claimant must
        // look at it before creating another.
        ResultOutcome::RequiresAction => Decision::applied(OrderChange {
            new_status: Some(OrderStatus::NeedsAction),
            release: holds,
            ..OrderChange::default()
        }),
        ResultOutcome::NeedsReview => Decision::applied(OrderChange {
            new_status: Some(OrderStatus::NeedsReview),
            release: holds,
            ..OrderChange::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use paydesk_core::{AttemptId, AttemptNumber, ClaimToken, Money, OrderId, Timestamp};
    use paydesk_protocol::Order;

    use super::*;

    /// An order of 10.00 EUR with current token 2, held or not, in `status`, paid by `paid`.
    fn row(status: OrderStatus, held: bool, paid: Option<&str>, open: Option<&str>) -> OrderRow {
        OrderRow {
            order: Order {
                order_id: OrderId::new("o").unwrap(),
                amount: Money::parse("10.00 EUR").unwrap(),
                customer_id: "c".into(),
                payment_method_id: "p".into(),
                description: String::new(),
                status,
                claim: None,
                paid_intent_id: paid.map(|p| GatewayIntentId::new(p).unwrap()),
                refunded_minor: 0,
                disputed: false,
                created_at: Timestamp::from_unix_ms(0),
                updated_at: Timestamp::from_unix_ms(0),
            },
            claim_token: 2,
            attempt_seq: 2,
            holder_terminal: held.then(|| "t".to_string()),
            lease_until: held.then_some(1),
            open_intent_id: open.map(str::to_string),
        }
    }

    fn item(outcome: ResultOutcome, token: u64, amount: &str, intent: Option<&str>) -> ResultItem {
        ResultItem {
            attempt_id: AttemptId::parse("0190a5d4-7e1c-7c3e-8d2a-1b2c3d4e5f60").unwrap(),
            order_id: OrderId::new("o").unwrap(),
            attempt_number: AttemptNumber::new(2).unwrap(),
            claim_token: ClaimToken::new(token).unwrap(),
            outcome,
            amount: Money::parse(amount).unwrap(),
            intent_id: intent.map(|i| GatewayIntentId::new(i).unwrap()),
            offline: false,
            occurred_at: Timestamp::from_unix_ms(0),
        }
    }

    /// (status, new order status, release) for one case.
    fn check(row: OrderRow, item: ResultItem) -> (ItemStatus, Option<OrderStatus>, bool) {
        let decision = decide(&row, &item);
        (
            decision.status,
            decision.change.new_status,
            decision.change.release,
        )
    }

    #[test]
    fn decide_table() {
        use ItemStatus::{Applied, Flagged};
        use OrderStatus::*;
        use ResultOutcome as R;
        let open = Some("pi_1");
        let cases = [
            // Current holder reports: applied, order moves, flag released.
            (
                row(Unpaid, true, None, open),
                item(R::Succeeded, 2, "10.00 EUR", open),
                (Applied, Some(Paid), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Declined, 2, "10.00 EUR", open),
                (Applied, Some(Failed), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::RequiresAction, 2, "10.00 EUR", open),
                (Applied, Some(NeedsAction), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Canceled, 2, "10.00 EUR", open),
                (Applied, None, true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::NeedsReview, 2, "10.00 EUR", open),
                (Applied, Some(NeedsReview), true),
            ),
            // A stale success still marks the order paid (the money moved) but is flagged and
            // leaves the newer holder alone; a stale decision is flagged and not applied.
            (
                row(Unpaid, true, None, None),
                item(R::Succeeded, 1, "10.00 EUR", Some("pi_0")),
                (Flagged, Some(Paid), false),
            ),
            (
                row(Unpaid, true, None, None),
                item(R::Declined, 1, "10.00 EUR", None),
                (Flagged, None, false),
            ),
            // Contradictions: another amount, a second success.
            (
                row(Unpaid, true, None, open),
                item(R::Succeeded, 2, "10.01 EUR", open),
                (Flagged, Some(NeedsReview), true),
            ),
            (
                row(Unpaid, true, None, open),
                item(R::Declined, 2, "10.01 EUR", open),
                (Flagged, None, false),
            ),
            (
                row(Paid, false, Some("pi_1"), None),
                item(R::Succeeded, 2, "10.00 EUR", Some("pi_2")),
                (Flagged, Some(NeedsReview), false),
            ),
            // The same success seen first by a webhook: nothing more to do.
            (
                row(Paid, true, Some("pi_1"), open),
                item(R::Succeeded, 2, "10.00 EUR", open),
                (Applied, None, true),
            ),
            // A late decline for a paid order is history only.
            (
                row(Paid, false, Some("pi_1"), None),
                item(R::Declined, 2, "10.00 EUR", Some("pi_0")),
                (Applied, None, false),
            ),
        ];
        for (i, (row, item, expected)) in cases.into_iter().enumerate() {
            assert_eq!(check(row, item), expected, "case {i}");
        }
    }
}
