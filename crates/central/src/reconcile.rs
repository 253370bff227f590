//! Reconciliation: the central's recorded successes matched against the gateway's intents.
//!
//! A pure function over two lists, so every mismatch class is tested without a gateway.
//! Deliberately absent: fixing anything — the report is for a manager, who decides.

use std::collections::{BTreeMap, HashMap};

use paydesk_core::Timestamp;
use paydesk_protocol::{ReconcileEntry, ReconcileReport};

use crate::store::RecordedSuccess;
use crate::sweeper::GatewayIntent;

/// Builds the report for `[from, to)` from the central's records and the gateway's intents.
pub fn reconcile(
    from: Timestamp,
    to: Timestamp,
    recorded: &[RecordedSuccess],
    gateway: &[GatewayIntent],
) -> ReconcileReport {
    let mut report = ReconcileReport {
        from,
        to,
        charged_not_recorded: Vec::new(),
        recorded_not_charged: Vec::new(),
        amount_mismatch: Vec::new(),
        multiple_successes: Vec::new(),
    };
    let by_intent: HashMap<&str, &GatewayIntent> =
        gateway.iter().map(|g| (g.intent_id.as_str(), g)).collect();
    let recorded_intents: HashMap<&str, &RecordedSuccess> = recorded
        .iter()
        .filter_map(|r| r.intent_id.as_ref().map(|i| (i.as_str(), r)))
        .collect();
    for g in gateway.iter().filter(|g| g.succeeded) {
        if !recorded_intents.contains_key(g.intent_id.as_str()) {
            report.charged_not_recorded.push(ReconcileEntry {
                order_id: g.order_id.clone(),
                intent_id: Some(g.intent_id.clone()),
                detail: format!(
                    "the gateway charged {} that the central has no record of",
                    g.amount
                ),
            });
        }
    }
    for r in recorded {
        let found = r
            .intent_id
            .as_ref()
            .and_then(|i| by_intent.get(i.as_str()))
            .filter(|g| g.succeeded);
        match found {
            None => report.recorded_not_charged.push(ReconcileEntry {
                order_id: Some(r.order_id.clone()),
                intent_id: r.intent_id.clone(),
                detail: format!(
                    "the central recorded {} paid with no matching gateway success",
                    r.amount
                ),
            }),
            Some(g) if g.amount != r.amount => report.amount_mismatch.push(ReconcileEntry {
                order_id: Some(r.order_id.clone()),
                intent_id: r.intent_id.clone(),
                detail: format!(
                    "the central recorded {}, the gateway charged {}",
                    r.amount, g.amount
                ),
            }),
            Some(_) => {}
        }
    }
    let mut per_order: BTreeMap<String, Vec<&GatewayIntent>> = BTreeMap::new();
    for g in gateway.iter().filter(|g| g.succeeded) {
        if let Some(order) = &g.order_id {
            per_order.entry(order.to_string()).or_default().push(g);
        }
    }
    for intents in per_order.values().filter(|v| v.len() > 1) {
        let ids: Vec<&str> = intents.iter().map(|g| g.intent_id.as_str()).collect();
        report.multiple_successes.push(ReconcileEntry {
            order_id: intents[0].order_id.clone(),
            intent_id: None,
            detail: format!("{} successful intents: {}", ids.len(), ids.join(", ")),
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_core::{GatewayIntentId, Money, OrderId};

    fn rec(order: &str, intent: &str, amount: &str) -> RecordedSuccess {
        RecordedSuccess {
            order_id: OrderId::new(order).unwrap(),
            intent_id: Some(GatewayIntentId::new(intent).unwrap()),
            amount: Money::parse(amount).unwrap(),
        }
    }

    fn gw(order: &str, intent: &str, amount: &str, succeeded: bool) -> GatewayIntent {
        GatewayIntent {
            intent_id: GatewayIntentId::new(intent).unwrap(),
            order_id: Some(OrderId::new(order).unwrap()),
            amount: Money::parse(amount).unwrap(),
            succeeded,
        }
    }

    #[test]
    fn finds_every_mismatch_class() {
        let recorded = [
            rec("o1", "pi_1", "10.00 EUR"),
            rec("o2", "pi_2", "20.00 EUR"),
            rec("o3", "pi_3", "30.00 EUR"),
        ];
        let gateway = [
            gw("o1", "pi_1", "10.00 EUR", true),
            gw("o2", "pi_2", "25.00 EUR", true),
            gw("o3", "pi_3", "30.00 EUR", false),
            gw("o4", "pi_4", "40.00 EUR", true),
            gw("o1", "pi_5", "10.00 EUR", true),
        ];
        let t = Timestamp::from_unix_ms(0);
        let r = reconcile(t, t, &recorded, &gateway);
        let ids = |v: &[ReconcileEntry]| -> Vec<String> {
            v.iter()
                .map(|e| {
                    e.order_id
                        .as_ref()
                        .map(|o| o.to_string())
                        .unwrap_or_default()
                })
                .collect()
        };
        assert_eq!(ids(&r.charged_not_recorded), ["o4", "o1"]);
        assert_eq!(ids(&r.recorded_not_charged), ["o3"]);
        assert_eq!(ids(&r.amount_mismatch), ["o2"]);
        assert_eq!(ids(&r.multiple_successes), ["o1"]);
    }

    #[test]
    fn agreement_is_an_empty_report() {
        let t = Timestamp::from_unix_ms(0);
        let r = reconcile(
            t,
            t,
            &[rec("o1", "pi_1", "10.00 EUR")],
            &[gw("o1", "pi_1", "10.00 EUR", true)],
        );
        assert!(r.charged_not_recorded.is_empty() && r.recorded_not_charged.is_empty());
        assert!(r.amount_mismatch.is_empty() && r.multiple_successes.is_empty());
    }
}
