//! Which decisions an order's evidence allows (issue 11, guided resolution): one pure function,
//! [`allowed_actions`], from the order as the central knows it, the live gateway lookup and the
//! order's open inbox items to the list of actions a manager may take. The evidence route sends
//! its answer to the desk, and the resolution route runs it again on fresh evidence and refuses
//! anything it does not offer, so the screen and the central cannot disagree.
//! [`refusal`] says in a sentence why an action is not offered.
//!
//! Deliberately absent: I/O, the clock (`now_ms` is passed) and carrying anything out.

use paydesk_core::{GatewayIntentId, Money};
use paydesk_protocol::manager::{
    AllowedAction, ExceptionItem, GatewayEvidence, GatewayIntentEvidence, ResolutionAction,
};
use paydesk_protocol::{Order, OrderStatus};

use crate::sweeper::{binds_to_order, Expected, Verification};

/// Everything the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub order: &'a Order,
    pub now_ms: i64,
    pub gateway: &'a GatewayEvidence,
    /// The order's open inbox items.
    pub items: &'a [ExceptionItem],
}

/// Whether a terminal's claim on the order is live: it may be charging right now.
fn lease_live(f: &Facts) -> bool {
    f.order
        .claim
        .as_ref()
        .is_some_and(|c| c.lease_until.unix_ms() > f.now_ms)
}

fn is_succeeded(i: &GatewayIntentEvidence) -> bool {
    i.status == "succeeded"
}

/// Money may still move on its own (the gateway is finishing it, or it waits for a capture).
fn in_flight(i: &GatewayIntentEvidence) -> bool {
    matches!(i.status.as_str(), "processing" | "requires_capture")
}

/// It cannot charge any more: cancelled, or declined with nobody to confirm it again.
fn ended_without_charge(i: &GatewayIntentEvidence) -> bool {
    i.status == "canceled" || (i.status == "requires_payment_method" && i.declined)
}

/// It has not charged and may still be confirmed: what `cancel_open_intent` is for.
fn cancelable(i: &GatewayIntentEvidence) -> bool {
    matches!(
        i.status.as_str(),
        "requires_payment_method" | "requires_confirmation" | "requires_action"
    ) && !ended_without_charge(i)
}

/// Why `i` does not show a charge of exactly this order, or `None` when it does.
fn not_a_charge_of(i: &GatewayIntentEvidence, order: &Order) -> Option<String> {
    let id = &i.intent_id;
    if !is_succeeded(i) {
        return Some(if i.declined {
            format!("intent {id} was declined at the gateway")
        } else {
            format!("intent {id} is {} at the gateway, not succeeded", i.status)
        });
    }
    let currency = i.amount.map_or(order.amount.currency(), |a| a.currency());
    let Ok(received) = Money::new(i.amount_received_minor, currency) else {
        return Some(format!("intent {id} received an amount out of range"));
    };
    // The same check the resolution route and the sweeper make against the gateway: amount,
    // customer, payment method and metadata order, all exactly the order's.
    let Ok(gid) = GatewayIntentId::new(&i.intent_id) else {
        return Some(format!("intent {id} is not a gateway intent id"));
    };
    let bound = binds_to_order(
        &gid,
        received,
        i.customer.as_deref(),
        i.payment_method.as_deref(),
        i.metadata_order_id.as_deref(),
        Expected::from(order),
    );
    match bound {
        Verification::Verified => {}
        Verification::Unverified(why) | Verification::Mismatch(why) => return Some(why),
    }
    None
}

fn action(
    action: ResolutionAction,
    intent_id: Option<&str>,
    item_id: Option<&str>,
    label: String,
) -> AllowedAction {
    AllowedAction {
        action,
        intent_id: intent_id.map(str::to_string),
        item_id: item_id.map(str::to_string),
        via: action.via(),
        label,
    }
}

/// The actions this evidence allows, in the order a manager would consider them.
pub fn allowed_actions(f: &Facts) -> Vec<AllowedAction> {
    let order = f.order;
    let paid = order.status == OrderStatus::Paid;
    let intents = &f.gateway.intents;
    let complete = f.gateway.unreadable.is_empty();
    let mut out = Vec::new();
    if !paid {
        for i in intents
            .iter()
            .filter(|i| not_a_charge_of(i, order).is_none())
        {
            out.push(action(
                ResolutionAction::MarkCharged,
                Some(&i.intent_id),
                None,
                format!(
                    "Mark the order paid by {}: the gateway shows it succeeded for this order \
                     and amount.",
                    i.intent_id
                ),
            ));
        }
        if complete && !lease_live(f) && intents.iter().all(ended_without_charge) {
            out.push(action(
                ResolutionAction::MarkNotCharged,
                None,
                None,
                "Mark the order not charged and put it back in the queue: no intent of it can \
                 charge any more."
                    .into(),
            ));
        }
    }
    if !lease_live(f) {
        for i in intents.iter().filter(|i| cancelable(i)) {
            out.push(action(
                ResolutionAction::CancelOpenIntent,
                Some(&i.intent_id),
                None,
                format!(
                    "Cancel {} at the gateway ({}): it has not charged and could still be \
                     confirmed.",
                    i.intent_id, i.status
                ),
            ));
        }
    }
    let unsettled = intents.iter().any(|i| is_succeeded(i) || in_flight(i));
    if !paid && complete && !unsettled && !intents.is_empty() {
        out.push(action(
            ResolutionAction::Retry,
            None,
            None,
            "Retry the same attempt on the terminal that holds it: it reuses its keys, so it \
             cannot charge twice."
                .into(),
        ));
    }
    let paid_by = order.paid_intent_id.as_ref().map(|p| p.as_str());
    for i in intents.iter().filter(|i| is_succeeded(i)) {
        let left = i.amount_received_minor - i.amount_refunded_minor.unwrap_or(0);
        if left <= 0 {
            continue;
        }
        // "215.00 EUR", as the manager reads money everywhere else.
        let currency = i.amount.map_or(order.amount.currency(), |a| a.currency());
        let left = Money::new(left, currency)
            .map(|m| m.to_string())
            .unwrap_or_else(|_| format!("{left} minor units"));
        let label = match paid_by {
            Some(p) if p != i.intent_id => format!(
                "Refund {}: a second charge of {left} (the order is paid by {p}).",
                i.intent_id
            ),
            _ => format!(
                "Refund all or part of {} ({left} not refunded yet).",
                i.intent_id
            ),
        };
        out.push(action(
            ResolutionAction::Reverse,
            Some(&i.intent_id),
            None,
            label,
        ));
    }
    for item in f.items.iter().filter(|i| i.kind.is_acknowledgeable()) {
        out.push(action(
            ResolutionAction::Acknowledge,
            None,
            Some(&item.item_id),
            format!(
                "Close this item with a reason, without moving money: {}",
                item.summary
            ),
        ));
    }
    out
}

/// Whether `allowed` offers exactly this action (on this intent or item).
pub fn offers(
    allowed: &[AllowedAction],
    what: ResolutionAction,
    intent_id: Option<&str>,
    item_id: Option<&str>,
) -> bool {
    allowed.iter().any(|a| {
        a.action == what && a.intent_id.as_deref() == intent_id && a.item_id.as_deref() == item_id
    })
}

/// One sentence saying why the evidence does not allow the action (for an action
/// [`allowed_actions`] does not offer).
pub fn refusal(
    f: &Facts,
    what: ResolutionAction,
    intent_id: Option<&str>,
    item_id: Option<&str>,
) -> String {
    let order = f.order;
    let o = &order.order_id;
    let find = |id: &str| f.gateway.intents.iter().find(|i| i.intent_id == id);
    let holder = || {
        f.order.claim.as_ref().map_or(String::new(), |c| {
            format!(
                "terminal {} holds the order's claim until {}: it may be charging; wait for \
                 the claim to end",
                c.terminal_id, c.lease_until
            )
        })
    };
    match what {
        ResolutionAction::MarkCharged => {
            if order.status == OrderStatus::Paid {
                let by = order
                    .paid_intent_id
                    .as_ref()
                    .map_or("another intent".to_string(), |i| format!("intent {i}"));
                return format!("order {o} is already paid by {by}: nothing to mark");
            }
            let id = intent_id.unwrap_or("?");
            match find(id) {
                None => format!(
                    "intent {id} is not one the gateway shows for order {o}: it cannot be \
                     marked charged"
                ),
                Some(i) => format!(
                    "{}: it cannot be marked charged",
                    not_a_charge_of(i, order).unwrap_or_default()
                ),
            }
        }
        ResolutionAction::MarkNotCharged => {
            if order.status == OrderStatus::Paid {
                return format!(
                    "order {o} is paid: it cannot be marked not charged (reverse it instead)"
                );
            }
            let intents = &f.gateway.intents;
            if let Some(i) = intents.iter().find(|i| is_succeeded(i)) {
                return format!(
                    "intent {0} succeeded at the gateway: the order cannot be marked not \
                     charged (mark it charged by {0}, or reverse it)",
                    i.intent_id
                );
            }
            if let Some(i) = intents.iter().find(|i| in_flight(i)) {
                return format!(
                    "intent {} is still {} at the gateway and may yet charge: look again in a \
                     minute",
                    i.intent_id, i.status
                );
            }
            if let Some(i) = intents.iter().find(|i| !ended_without_charge(i)) {
                return format!(
                    "intent {} is still {} at the gateway and may yet charge: cancel it first",
                    i.intent_id, i.status
                );
            }
            if lease_live(f) {
                return holder();
            }
            format!(
                "the gateway could not be read for {}: nothing can be decided; try again",
                f.gateway.unreadable.join(", ")
            )
        }
        ResolutionAction::CancelOpenIntent => {
            let id = intent_id.unwrap_or("?");
            let Some(i) = find(id) else {
                return format!("intent {id} is not one the gateway shows for order {o}");
            };
            if lease_live(f) {
                return holder();
            }
            if is_succeeded(i) {
                format!("intent {id} succeeded: it cannot be cancelled (reverse it instead)")
            } else if i.status == "canceled" {
                format!("intent {id} is already cancelled")
            } else if ended_without_charge(i) {
                format!(
                    "intent {id} was declined and cannot charge: nothing to cancel (mark the \
                     order not charged)"
                )
            } else {
                format!(
                    "intent {id} is {} at the gateway: it cannot be cancelled now",
                    i.status
                )
            }
        }
        ResolutionAction::Acknowledge => {
            let id = item_id.unwrap_or("?");
            match f.items.iter().find(|i| i.item_id == id) {
                None => format!("item {id} is not open in the inbox for order {o}"),
                Some(i) => format!(
                    "a {} item is closed by a decision about the money, not acknowledged",
                    i.kind.as_str()
                ),
            }
        }
        ResolutionAction::Retry => {
            "the evidence does not allow a retry: the order is paid or has no intent to retry, \
             an intent succeeded or may still charge, or the gateway could not be read"
                .into()
        }
        // Never a question of evidence: the result was refused and the terminal keeps it.
        ResolutionAction::ArchiveResult => {
            "a refused result is archived by the terminal that holds it".into()
        }
        ResolutionAction::Reverse => format!(
            "intent {} has nothing left to refund at the gateway",
            intent_id.unwrap_or("?")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_core::{Currency, Money, OperatorId, OrderId, TerminalId, Timestamp};
    use paydesk_protocol::manager::{ExceptionKind, FoundBy};
    use paydesk_protocol::ClaimHolder;
    use ResolutionAction::*;

    const NOW: i64 = 1_000_000;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap()
    }

    fn order(status: OrderStatus, lease_until: Option<i64>, paid_by: Option<&str>) -> Order {
        Order {
            order_id: OrderId::new("o-1").unwrap(),
            amount: eur(1250),
            customer_id: "cus_1".into(),
            payment_method_id: "pm_1".into(),
            description: String::new(),
            status,
            claim: lease_until.map(|ms| ClaimHolder {
                operator_id: OperatorId::new("alice").unwrap(),
                terminal_id: TerminalId::new("t1").unwrap(),
                since: Timestamp::from_unix_ms(0),
                lease_until: Timestamp::from_unix_ms(ms),
            }),
            paid_intent_id: paid_by.map(|p| paydesk_core::GatewayIntentId::new(p).unwrap()),
            refunded_minor: 0,
            disputed: false,
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
            attempt_seq: 1,
            gateway: paydesk_protocol::GatewayName::Stripe,
            customer_name: String::new(),
            saved_method: None,
            paid_minor: 0,
        }
    }

    /// An intent `id` in `status`; `declined` for `requires_payment_method!`, and a received
    /// amount of 1250 for `succeeded` (`succeeded:N` for another amount, `succeeded@o-9` for
    /// another order).
    fn intent(spec: &str) -> GatewayIntentEvidence {
        let (id, status) = spec.split_once('=').unwrap();
        let (status, declined) = match status.strip_suffix('!') {
            Some(s) => (s, true),
            None => (status, false),
        };
        let (status, meta) = match status.split_once('@') {
            Some((s, o)) => (s, o.to_string()),
            None => (status, "o-1".to_string()),
        };
        let (status, received) = match status.split_once(':') {
            Some((s, n)) => (s, n.parse().unwrap()),
            None if status == "succeeded" => (status, 1250),
            None => (status, 0),
        };
        GatewayIntentEvidence {
            intent_id: id.into(),
            found_by: FoundBy::Central,
            status: status.into(),
            declined,
            decline_reason: None,
            amount: Some(eur(1250)),
            amount_received_minor: received,
            amount_refunded_minor: Some(0),
            refunds: vec![],
            metadata_order_id: Some(meta),
            metadata_attempt_id: None,
            metadata_terminal_id: None,
            customer: Some("cus_1".into()),
            payment_method: Some("pm_1".into()),
            latest_charge: None,
            cancellation_reason: None,
            created: 0,
        }
    }

    fn item(kind: ExceptionKind, id: &str) -> ExceptionItem {
        ExceptionItem {
            kind,
            item_id: id.into(),
            order_id: Some("o-1".into()),
            since: String::new(),
            since_ms: 0,
            age_ms: 0,
            summary: "s".into(),
            evidence: vec![],
            acknowledgeable: kind.is_acknowledgeable(),
            gateway: None,
        }
    }

    /// The allowed actions as `action intent/item` words, for one-line cases.
    fn check(
        order: Order,
        intents: &[&str],
        unreadable: &[&str],
        items: &[ExceptionItem],
        expected: &[&str],
    ) {
        let gateway = GatewayEvidence {
            intents: intents.iter().map(|s| intent(s)).collect(),
            unreadable: unreadable.iter().map(|s| s.to_string()).collect(),
            searched: true,
            notes: vec![],
        };
        let facts = Facts {
            order: &order,
            now_ms: NOW,
            gateway: &gateway,
            items,
        };
        let got: Vec<String> = allowed_actions(&facts)
            .iter()
            .map(|a| {
                let on = a.intent_id.clone().or(a.item_id.clone());
                match on {
                    Some(on) => format!("{} {on}", a.action.as_str()),
                    None => a.action.as_str().to_string(),
                }
            })
            .collect();
        assert_eq!(
            got, expected,
            "intents {intents:?} unreadable {unreadable:?}"
        );
        for a in allowed_actions(&facts) {
            assert!(offers(
                &allowed_actions(&facts),
                a.action,
                a.intent_id.as_deref(),
                a.item_id.as_deref()
            ));
            assert_eq!(a.via, a.action.via());
        }
    }

    use OrderStatus::{NeedsReview, Paid, Unpaid};

    #[test]
    fn a_success_for_this_order_and_amount_may_be_marked_charged_or_reversed() {
        check(
            order(NeedsReview, None, None),
            &["pi_1=succeeded"],
            &[],
            &[],
            &["mark_charged pi_1", "reverse pi_1"],
        );
    }

    #[test]
    fn a_success_of_another_amount_or_order_is_not_a_charge_of_this_order() {
        let o = || order(NeedsReview, None, None);
        check(o(), &["pi_1=succeeded:999"], &[], &[], &["reverse pi_1"]);
        check(o(), &["pi_1=succeeded@o-9"], &[], &[], &["reverse pi_1"]);
    }

    #[test]
    fn a_success_on_another_card_or_customer_is_not_a_charge_of_this_order() {
        // What the resolution route checks at the gateway: offering it here would be a promise
        // the route then refuses (the demo's demo-1008, charged on the customer's other card).
        let o = || order(NeedsReview, None, None);
        let mut other_card = intent("pi_1=succeeded");
        other_card.payment_method = Some("pm_2".into());
        let mut other_customer = intent("pi_1=succeeded");
        other_customer.customer = Some("cus_2".into());
        for i in [other_card, other_customer] {
            let g = GatewayEvidence {
                intents: vec![i],
                unreadable: vec![],
                searched: true,
                notes: vec![],
            };
            let order = o();
            let f = Facts {
                order: &order,
                now_ms: NOW,
                gateway: &g,
                items: &[],
            };
            let offered: Vec<ResolutionAction> =
                allowed_actions(&f).iter().map(|a| a.action).collect();
            assert!(!offered.contains(&MarkCharged), "{offered:?}");
            assert!(offered.contains(&Reverse), "{offered:?}");
        }
    }

    #[test]
    fn declined_and_cancelled_intents_allow_not_charged_and_a_retry() {
        check(
            order(NeedsReview, None, None),
            &["pi_1=requires_payment_method!", "pi_2=canceled"],
            &[],
            &[],
            &["mark_not_charged", "retry"],
        );
    }

    #[test]
    fn an_order_without_intents_may_be_released_but_not_retried() {
        check(
            order(Unpaid, Some(1), None),
            &[],
            &[],
            &[],
            &["mark_not_charged"],
        );
    }

    #[test]
    fn an_open_intent_must_be_cancelled_before_release() {
        check(
            order(NeedsReview, None, None),
            &["pi_1=requires_confirmation", "pi_2=canceled"],
            &[],
            &[],
            &["cancel_open_intent pi_1", "retry"],
        );
        check(
            order(NeedsReview, None, None),
            &["pi_1=requires_action"],
            &[],
            &[],
            &["cancel_open_intent pi_1", "retry"],
        );
    }

    #[test]
    fn processing_or_awaiting_capture_allows_nothing_but_waiting() {
        for s in ["pi_1=processing", "pi_1=requires_capture"] {
            check(order(NeedsReview, None, None), &[s], &[], &[], &[]);
        }
    }

    #[test]
    fn a_live_claim_blocks_release_and_cancel_but_not_marking_a_proven_charge() {
        let live = || order(Unpaid, Some(NOW + 1), None);
        check(live(), &["pi_1=canceled"], &[], &[], &["retry"]);
        check(
            live(),
            &["pi_1=requires_confirmation"],
            &[],
            &[],
            &["retry"],
        );
        check(
            live(),
            &["pi_1=succeeded"],
            &[],
            &[],
            &["mark_charged pi_1", "reverse pi_1"],
        );
        // A lease that ran out exactly now is not live.
        check(
            order(Unpaid, Some(NOW), None),
            &["pi_1=canceled"],
            &[],
            &[],
            &["mark_not_charged", "retry"],
        );
    }

    #[test]
    fn an_unreadable_intent_blocks_everything_that_depends_on_every_intent() {
        check(
            order(NeedsReview, None, None),
            &["pi_2=canceled"],
            &["pi_1"],
            &[],
            &[],
        );
        check(
            order(NeedsReview, None, None),
            &["pi_2=succeeded"],
            &["pi_1"],
            &[],
            &["mark_charged pi_2", "reverse pi_2"],
        );
    }

    #[test]
    fn a_paid_order_offers_reversal_of_each_success_and_cancel_of_a_stray_intent() {
        check(
            order(Paid, None, Some("pi_1")),
            &[
                "pi_1=succeeded",
                "pi_2=succeeded",
                "pi_3=requires_confirmation",
            ],
            &[],
            &[],
            &["cancel_open_intent pi_3", "reverse pi_1", "reverse pi_2"],
        );
    }

    #[test]
    fn a_fully_refunded_success_offers_no_reversal() {
        let order = order(Paid, None, Some("pi_1"));
        let mut gateway = GatewayEvidence {
            intents: vec![intent("pi_1=succeeded")],
            unreadable: vec![],
            searched: true,
            notes: vec![],
        };
        gateway.intents[0].amount_refunded_minor = Some(1250);
        let facts = Facts {
            order: &order,
            now_ms: NOW,
            gateway: &gateway,
            items: &[],
        };
        assert!(allowed_actions(&facts).is_empty());
    }

    #[test]
    fn only_items_without_a_money_decision_may_be_acknowledged() {
        let items = [
            item(ExceptionKind::Flag, "flag:1"),
            item(ExceptionKind::OutsideRefund, "outside:re_1"),
            item(ExceptionKind::NeedsReview, "order:o-1"),
            item(ExceptionKind::UnknownOutcome, "unknown:pi_1"),
            item(ExceptionKind::RefundPending, "refund:re_2"),
        ];
        check(
            order(Paid, None, Some("pi_1")),
            &[],
            &[],
            &items,
            &["acknowledge flag:1", "acknowledge outside:re_1"],
        );
    }

    #[test]
    fn refusals_say_why() {
        let order = order(NeedsReview, None, None);
        let gateway = GatewayEvidence {
            intents: vec![
                intent("pi_u=requires_payment_method!"),
                intent("pi_x=processing"),
            ],
            unreadable: vec![],
            searched: true,
            notes: vec![],
        };
        let items = [item(ExceptionKind::NeedsReview, "order:o-1")];
        let f = Facts {
            order: &order,
            now_ms: NOW,
            gateway: &gateway,
            items: &items,
        };
        let says = |what, intent, item, needle: &str| {
            let m = refusal(&f, what, intent, item);
            assert!(m.contains(needle), "{m}");
        };
        says(
            MarkCharged,
            Some("pi_u"),
            None,
            "pi_u was declined at the gateway: it cannot be marked charged",
        );
        says(
            MarkCharged,
            Some("pi_zz"),
            None,
            "not one the gateway shows",
        );
        says(MarkNotCharged, None, None, "pi_x is still processing");
        says(CancelOpenIntent, Some("pi_u"), None, "nothing to cancel");
        says(
            CancelOpenIntent,
            Some("pi_x"),
            None,
            "cannot be cancelled now",
        );
        says(Acknowledge, None, Some("order:o-1"), "closed by a decision");
        says(Acknowledge, None, Some("flag:9"), "not open");
    }
}
