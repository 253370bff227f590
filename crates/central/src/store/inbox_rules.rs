//! The pure rules of the results inbox: what one result means for its order (`decide`), and the
//! in-memory mirror of the change it leads to, so that a later result of the same batch is
//! decided against the order as it then stands.
//!
//! Deliberately absent: I/O of any kind. No SQL, no clock, no logging; `inbox.rs` reads the
//! order, writes the decision and keeps the mirror in step with what it wrote.

use paydesk_core::GatewayIntentId;
use paydesk_protocol::{ItemStatus, OrderStatus, ResultItem, ResultOutcome};

use super::installments::Payment;
use super::OrderRow;
use crate::sweeper::Verification;

/// What applying one result does to its order.
#[derive(Debug, Default)]
pub(super) struct OrderChange {
    pub(super) new_status: Option<OrderStatus>,
    /// The intent that paid the order, set only when a success marks it paid.
    pub(super) paid_intent_id: Option<GatewayIntentId>,
    /// Release the flag (only ever when the result carries the current token).
    pub(super) release: bool,
    pub(super) clear_open_intent: bool,
    /// An intent no claim registered (an offline attempt's, gone to review) that becomes the
    /// order's open intent, so the sweeper can settle it from the gateway's evidence.
    pub(super) adopt_intent: Option<GatewayIntentId>,
    /// Raise the order's attempt sequence to this number (an offline attempt numbered above
    /// it), so no later claim hands the number, and its create key, out again.
    pub(super) attempt_seq: Option<i64>,
    /// A verified success to count towards the order's paid total (once per intent).
    pub(super) payment: Option<Payment>,
}

/// Whether a result may speak for its order at all (C1, H3): checked by the inbox against the
/// claim audit and the offline grants before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Admission {
    /// An online result under a claim token the claim audit shows was granted to this terminal.
    Bound,
    /// An offline result covered by an offline grant the central issued to this terminal.
    Granted,
    /// An online result under a claim this terminal was never granted: no effect on the order.
    /// (A fresh one is refused before it gets here and not stored; this decides a report stored
    /// as rejected earlier, when its order is imported.)
    Unbound(String),
    /// An offline result no grant covers (none, out of its window, another currency, over its
    /// caps): stored and flagged, no effect on the order.
    NoGrant(String),
}

/// What the inbox knows about the result's attempt and its evidence.
#[derive(Debug, Clone)]
pub(super) struct Context {
    /// A final result of an attempt whose interim `needs_review` was applied: it settles the
    /// review that report started.
    pub(super) settles_review: bool,
    /// An interim `needs_review` of an attempt whose final result is already applied: history.
    pub(super) after_last: bool,
    /// The order has a flag (a contradiction a person must look at): a review hold it is in is
    /// not only this attempt's, so no result of this attempt ends it (the sweeper skips such
    /// orders too). Flags of successes only awaiting the gateway (`unverified`) do not count.
    pub(super) review_flagged: bool,
    pub(super) admission: Admission,
    /// For a success naming an intent: what the gateway says about it for this order (read
    /// before the transaction), or why it could not be checked. `None` when not looked up (the
    /// success is the one that already paid the order): such a success never marks it paid.
    pub(super) verification: Option<Verification>,
    /// The result's intent is already counted as one of the order's successes (by a webhook,
    /// the sweeper or an earlier report): the same money, never counted twice.
    pub(super) counted: bool,
}

/// What one result means: the receipt's status, why it is flagged (stored with the result and
/// in the flags for a manager), and the change to its order.
#[derive(Debug)]
pub(super) struct Decision {
    pub(super) status: ItemStatus,
    /// Set exactly when `status` is `Flagged` or `Rejected`: why.
    pub(super) flag_reason: Option<String>,
    /// The flag's source: `result`, or `unverified` for a success only awaiting the gateway's
    /// evidence (the sweeper still settles such an order; another flag stops it).
    pub(super) flag_source: &'static str,
    pub(super) change: OrderChange,
}

impl Decision {
    fn applied(change: OrderChange) -> Decision {
        Decision {
            status: ItemStatus::Applied,
            flag_reason: None,
            flag_source: FLAG_SOURCE_RESULT,
            change,
        }
    }

    fn flagged(reason: String, change: OrderChange) -> Decision {
        Decision {
            status: ItemStatus::Flagged,
            flag_reason: Some(reason),
            flag_source: FLAG_SOURCE_RESULT,
            change,
        }
    }

    fn rejected(reason: String) -> Decision {
        Decision {
            status: ItemStatus::Rejected,
            flag_reason: Some(reason),
            flag_source: FLAG_SOURCE_RESULT,
            change: OrderChange::default(),
        }
    }
}

/// The flag source of a result that contradicts the central.
pub(super) const FLAG_SOURCE_RESULT: &str = "result";
/// The flag source of a success the gateway has not confirmed yet.
pub(super) const FLAG_SOURCE_UNVERIFIED: &str = "unverified";

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
        } else if let Some(adopted) = &change.adopt_intent {
            self.open_intent_id = Some(adopted.as_str().to_string());
        }
        if let Some(payment) = &change.payment {
            self.order.paid_minor = self.order.paid_minor.saturating_add(payment.amount_minor);
        }
        if let Some(seq) = change.attempt_seq {
            self.attempt_seq = self.attempt_seq.max(seq);
            self.order.attempt_seq = self
                .order
                .attempt_seq
                .max(u32::try_from(seq).unwrap_or(u32::MAX));
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
/// A review hold is left only by a result that settles the review: a success of the attempt
/// that started it or of the open intent, or that attempt's own final non-success when nothing
/// else holds the order. Any other non-success, or offline result, never clears it.
pub(super) fn decide(row: &OrderRow, item: &ResultItem, context: &Context) -> Decision {
    match &context.admission {
        Admission::Bound | Admission::Granted => {}
        Admission::Unbound(reason) => return Decision::rejected(reason.clone()),
        Admission::NoGrant(reason) => {
            return Decision::flagged(reason.clone(), OrderChange::default())
        }
    }
    let mut decision = decide_outcome(row, item, context);
    let number = i64::from(item.attempt_number.get());
    if number > row.attempt_seq {
        decision.change.attempt_seq = Some(number);
    }
    decision
}

fn decide_outcome(row: &OrderRow, item: &ResultItem, context: &Context) -> Decision {
    let order = &row.order;
    let current = item.claim_token.get() as i64 == row.claim_token;
    let holds = current && row.holder_terminal.is_some();
    let intent = item.intent_id.as_ref();
    let closes_open_intent =
        intent.is_some_and(|i| row.open_intent_id.as_deref() == Some(i.as_str()));
    if context.after_last {
        // The attempt's final result is in: a late interim report is history.
        return Decision::applied(OrderChange::default());
    }
    if item.offline
        && row.holder_terminal.is_some()
        && !matches!(
            item.outcome,
            ResultOutcome::Succeeded | ResultOutcome::NeedsReview
        )
    {
        // An offline attempt never held the claim: its decision says nothing about the holder's
        // charge, so it neither fails the order nor ends or clears anything (C1). (Its unknown
        // outcome still holds the order for review: that only stops further charges.)
        let reason = format!(
            "offline {} for order {} while a claim holds it: recorded, not applied",
            item.outcome.as_str(),
            order.order_id
        );
        return Decision::flagged(reason, OrderChange::default());
    }
    // An installment charges part of the order (issue 12): any amount above zero, in the
    // order's currency, up to the order's amount is one it may carry; whether it fits the
    // balance due is decided with the success below.
    let amount_fits = item.amount.currency() == order.amount.currency()
        && item.amount.minor() > 0
        && item.amount.minor() <= order.amount.minor();
    if !amount_fits {
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
    let in_review = order.status == OrderStatus::NeedsReview;
    match item.outcome {
        ResultOutcome::Succeeded => {
            if context.counted && !in_review {
                // Counted already (a webhook or the sweeper was first): the same charge.
                return Decision::applied(OrderChange {
                    release: holds,
                    clear_open_intent: closes_open_intent,
                    ..OrderChange::default()
                });
            }
            let same_as_paid = intent.is_some() && order.paid_intent_id.as_ref() == intent;
            if order.status == OrderStatus::Paid || (in_review && same_as_paid) {
                if same_as_paid {
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
            if in_review
                && (context.review_flagged || !(context.settles_review || closes_open_intent))
            {
                // The hold is about something else (a contradiction, or another attempt's
                // unknown outcome): the money is recorded, a person decides.
                let reason = format!(
                    "success for order {} (intent {}) while it is held for review: recorded, \
                     left in review",
                    order.order_id,
                    intent.map(|i| i.as_str()).unwrap_or("(none)"),
                );
                return Decision::flagged(
                    reason,
                    OrderChange {
                        release: holds,
                        ..OrderChange::default()
                    },
                );
            }
            let Some(intent) = intent else {
                let reason = format!(
                    "success for order {} names no intent: the central cannot check it at the \
                     gateway, so the order is not marked paid",
                    order.order_id
                );
                return Decision::flagged(
                    reason,
                    OrderChange {
                        new_status: Some(OrderStatus::NeedsReview),
                        release: holds,
                        ..OrderChange::default()
                    },
                );
            };
            match &context.verification {
                Some(Verification::Verified) => {}
                Some(Verification::Mismatch(reason)) => {
                    return Decision::flagged(
                        format!("{reason}: not marked paid"),
                        OrderChange {
                            new_status: Some(OrderStatus::NeedsReview),
                            release: holds,
                            ..OrderChange::default()
                        },
                    );
                }
                Some(Verification::Unverified(reason)) => {
                    return unverified(row, intent, holds, reason);
                }
                None => {
                    return unverified(row, intent, holds, "the intent was not checked");
                }
            }
            let payment = Some(Payment {
                intent_id: intent.as_str().to_string(),
                amount_minor: item.amount.minor(),
                installment: i64::from(item.installment.get()),
            });
            let paid_after = order.paid_minor.saturating_add(item.amount.minor());
            if paid_after > order.amount.minor() {
                // I1: the successes of an order never add up to more than its amount. One
                // live claim per order keeps online installments apart; an offline charge can
                // still meet one. The money moved: it is counted and recorded, and a manager
                // decides (reverse the excess) with the order held for review.
                let reason = format!(
                    "over-charge on order {}: intent {intent} charged {} (installment {}) with \
                     {} already counted of {}, {} over the amount; the money is recorded: \
                     reverse the excess",
                    order.order_id,
                    item.amount,
                    item.installment,
                    paydesk_core::Money::new(order.paid_minor, order.amount.currency())
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    order.amount,
                    paydesk_core::Money::new(
                        paid_after - order.amount.minor(),
                        order.amount.currency()
                    )
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
                );
                return Decision::flagged(
                    reason,
                    OrderChange {
                        new_status: Some(OrderStatus::NeedsReview),
                        release: holds,
                        clear_open_intent: holds || closes_open_intent,
                        payment,
                        ..OrderChange::default()
                    },
                );
            }
            // The balance reached 0: paid. Otherwise partly paid: back in the queue (unpaid,
            // chargeable) with its balance due, the next claim the next installment.
            let fully = paid_after == order.amount.minor();
            let change = OrderChange {
                new_status: Some(if fully {
                    OrderStatus::Paid
                } else {
                    OrderStatus::Unpaid
                }),
                paid_intent_id: fully.then(|| intent.clone()),
                release: holds,
                clear_open_intent: holds || closes_open_intent,
                payment,
                ..OrderChange::default()
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
        // The outcome is unknown: the order is held (not chargeable) with the intent open, so
        // the sweeper can settle it from the gateway; an offline attempt's intent, which no
        // claim registered, is adopted as the open intent when there is none.
        ResultOutcome::NeedsReview => Decision::applied(OrderChange {
            new_status: Some(OrderStatus::NeedsReview),
            release: holds,
            adopt_intent: intent.filter(|_| row.open_intent_id.is_none()).cloned(),
            ..OrderChange::default()
        }),
        // A review hold stays: a non-success proves nothing about the charge it is about. The
        // holder's own result still ends its claim. Only the attempt whose interim report started
        // the hold settles it with its own final result (gateway evidence, as the sweeper's
        // would be), when nothing else holds the order: no flag, no other intent open.
        _ if in_review
            && !(context.settles_review
                && !context.review_flagged
                && (row.open_intent_id.is_none() || closes_open_intent)) =>
        {
            Decision::applied(OrderChange {
                release: holds,
                ..OrderChange::default()
            })
        }
        ResultOutcome::Declined => Decision::applied(OrderChange {
            new_status: Some(OrderStatus::Failed),
            release: holds,
            clear_open_intent: closes_open_intent || holds,
            ..OrderChange::default()
        }),
        // Nothing was charged: an order its own attempt had held for review is chargeable again.
        ResultOutcome::Canceled => Decision::applied(OrderChange {
            new_status: in_review.then_some(OrderStatus::Unpaid),
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
    }
}

/// A success the gateway could not confirm yet: recorded, the order held for review with the
/// intent open (adopted when no other is), so the sweeper settles it from the gateway's evidence.
/// With another intent open the sweeper cannot, and a person must: flagged as a contradiction.
fn unverified(row: &OrderRow, intent: &GatewayIntentId, holds: bool, why: &str) -> Decision {
    let order = &row.order;
    let open = row.open_intent_id.as_deref();
    let adoptable = open.is_none() || open == Some(intent.as_str());
    let mut decision = Decision::flagged(
        format!(
            "success of intent {intent} for order {} not verified at the gateway ({why}): held \
             for review{}",
            order.order_id,
            if adoptable {
                "; the sweeper settles it from the gateway's evidence"
            } else {
                "; another intent is open, so a person must settle it"
            }
        ),
        OrderChange {
            new_status: Some(OrderStatus::NeedsReview),
            release: holds,
            adopt_intent: open.is_none().then(|| intent.clone()),
            ..OrderChange::default()
        },
    );
    if adoptable {
        decision.flag_source = FLAG_SOURCE_UNVERIFIED;
    }
    decision
}

#[cfg(test)]
#[path = "inbox_rules_tests.rs"]
mod tests;
