//! The operator's words for what happened to an attempt: a journal event (`journal show`) and a
//! step of a charge as it runs (progress), instead of the engine's event names and JSON details.
//!
//! Deliberately absent: any decision. These functions only describe; the kinds and states come
//! from the journal and the engine as they are. An event this file does not know (a newer
//! journal) is shown by its stored name rather than dropped.

use paydesk_core::{
    AttemptEvent, AttemptState, ChargeOutcome, CreateOutcome, IntentStatus, OfflineGrant,
    RegisterOutcome, Resolution, OFFLINE_GRANT_KEY,
};
use paydesk_journal::StoredEvent;

/// One journal event in words, e.g. "the gateway created payment pi_123".
pub fn event(e: &StoredEvent) -> String {
    if e.kind == "begun" {
        return match serde_json::from_value::<OfflineGrant>(e.detail[OFFLINE_GRANT_KEY].clone()) {
            Ok(grant) => format!("attempt started, {}", allowed_offline(&grant)),
            Err(_) => "attempt started".into(),
        };
    }
    match serde_json::from_value::<AttemptEvent>(e.detail["event"].clone()) {
        Ok(event) => attempt_event(&event),
        // Not an event this version knows: its name is still better than nothing.
        Err(_) => e.kind.replace('_', " "),
    }
}

/// The signed grant an offline attempt began under, e.g. "allowed offline by mgr-bo under grant
/// g-1 (50.00 EUR per charge, 300.00 EUR per shift, until 2026-11-30T18:00:00.000Z)".
fn allowed_offline(grant: &OfflineGrant) -> String {
    format!(
        "allowed offline by {} under grant {} ({} per charge, {} per shift, until {})",
        grant.approved_by, grant.grant_id, grant.per_charge_max, grant.per_shift_max, grant.until
    )
}

fn attempt_event(event: &AttemptEvent) -> String {
    match event {
        AttemptEvent::CreateAnswered(outcome) => match outcome {
            CreateOutcome::Created { intent } => format!("the gateway created payment {intent}"),
            CreateOutcome::Refused { reason } => {
                format!("the gateway refused to create the payment: {reason}")
            }
            CreateOutcome::NotSent => "the request to create the payment never reached the \
                                       gateway"
                .into(),
            CreateOutcome::Unknown => {
                "no clear answer from the gateway to creating the payment; asked again".into()
            }
        },
        AttemptEvent::RegisterAnswered(outcome) => match outcome {
            RegisterOutcome::Accepted => "the central registered the payment".into(),
            RegisterOutcome::AcceptedOffline => {
                "allowed offline under the manager's allowance".into()
            }
            RegisterOutcome::Claimed { .. } => {
                "the central was back: the order was claimed and the payment registered".into()
            }
            RegisterOutcome::StaleClaim => {
                "the central refused: someone else holds the order now".into()
            }
        },
        AttemptEvent::ConfirmBegun => "charging the card".into(),
        AttemptEvent::ConfirmAnswered(outcome) => match outcome {
            ChargeOutcome::Succeeded => "the card was charged".into(),
            ChargeOutcome::Declined { reason } => format!("the card was declined: {reason}"),
            ChargeOutcome::RequiresAction => {
                "the customer must authenticate (3-D Secure); not charged".into()
            }
            ChargeOutcome::NotSent => "the charge request never reached the gateway".into(),
            ChargeOutcome::Unknown => {
                "no clear answer from the gateway to the charge; checked again".into()
            }
        },
        AttemptEvent::Retrieved(status) => {
            format!("checked at the gateway: {}", intent_status(status))
        }
        AttemptEvent::CreateAbandoned => {
            "given up: the payment was never created, nothing was charged".into()
        }
        AttemptEvent::CreateSearched { found } => match found {
            Some(intent) => format!("searched the gateway: found payment {intent}"),
            None => "searched the gateway: no payment of this attempt exists".into(),
        },
        AttemptEvent::TakeoverCancel { previous } => {
            format!("canceling the previous holder's payment {previous}")
        }
        AttemptEvent::Withdrawn { reason } => {
            format!("ended before anything was charged: {reason}")
        }
        AttemptEvent::Escalated { reason } => format!("sent to a manager: {reason}"),
        AttemptEvent::Resolved {
            resolution,
            evidence,
            by,
        } => {
            let resolution = match resolution {
                Resolution::Succeeded => "paid",
                Resolution::Declined => "declined",
                Resolution::Canceled => "canceled",
            };
            format!("resolved by {by} as {resolution}: {evidence}")
        }
    }
}

fn intent_status(status: &IntentStatus) -> String {
    match status {
        IntentStatus::RequiresConfirmation => "not charged yet".into(),
        IntentStatus::RequiresPaymentMethod { reason } => format!("declined ({reason})"),
        IntentStatus::RequiresAction => "the customer must authenticate".into(),
        IntentStatus::Processing => "still processing".into(),
        IntentStatus::Succeeded => "charged".into(),
        IntentStatus::Canceled => "canceled, nothing charged".into(),
    }
}

/// A state as the operator reads it.
pub fn state(state: AttemptState) -> &'static str {
    match state {
        AttemptState::Intent => "starting",
        AttemptState::Created => "payment created",
        AttemptState::Registered => "registered at the central",
        AttemptState::ConfirmSent => "charging",
        AttemptState::Unknown => "outcome not known yet",
        AttemptState::NeedsReview => "waiting for a manager",
        AttemptState::Succeeded => "paid",
        AttemptState::Declined => "declined",
        AttemptState::RequiresAction => "needs the customer (3-D Secure)",
        AttemptState::Canceled => "canceled, nothing charged",
    }
}

/// A step of a running charge: what just happened and, while it goes on, what comes next.
/// `kind` is the journal event's name, `to` the state it led to.
pub fn step(kind: &str, to: AttemptState) -> String {
    match (kind, to) {
        ("begun", _) => "creating the payment at the gateway…".into(),
        ("takeover_cancel", _) => "canceling the previous holder's payment first…".into(),
        ("create_searched", _) => "searched the gateway for this attempt's payment".into(),
        (_, AttemptState::Intent) => "no clear answer from the gateway yet; asking again…".into(),
        (_, AttemptState::Created) => {
            "the gateway created the payment (nothing charged yet)…".into()
        }
        (_, AttemptState::Registered) => "cleared to charge".into(),
        (_, AttemptState::ConfirmSent) => "charging the card…".into(),
        (_, AttemptState::Unknown) => {
            "no clear answer from the gateway; checking the payment…".into()
        }
        (_, AttemptState::NeedsReview) => "sent to a manager: the outcome is not clear".into(),
        (_, AttemptState::Succeeded) => "the card was charged".into(),
        (_, AttemptState::Declined) => "the payment was declined".into(),
        (_, AttemptState::RequiresAction) => "the customer must authenticate (3-D Secure)".into(),
        (_, AttemptState::Canceled) => "ended; nothing was charged".into(),
    }
}

/// Who a running charge waits for after reaching `to`, for the "still waiting" line; `None`
/// once nothing more happens.
pub fn waiting_for(to: AttemptState) -> Option<&'static str> {
    match to {
        AttemptState::Created => Some("the central"),
        AttemptState::NeedsReview => None,
        s if s.is_terminal() => None,
        _ => Some("the gateway"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_events_read_as_sentences_not_json() {
        let detail = serde_json::json!({
            "event": { "event": "create_answered", "kind": "created", "intent": "pi_123" },
            "effects": [{ "kind": "register_intent" }],
        });
        let e = StoredEvent {
            seq: 2,
            attempt_id: paydesk_core::AttemptId::parse("0193a7d2-7a1b-7cde-8f00-000000000001")
                .unwrap(),
            at: paydesk_core::Timestamp::from_unix_ms(0),
            kind: "create_answered".into(),
            from_state: Some(AttemptState::Intent),
            to_state: AttemptState::Created,
            detail,
            hash: String::new(),
        };
        assert_eq!(event(&e), "the gateway created payment pi_123");
        let unknown = StoredEvent {
            kind: "from_the_future".into(),
            detail: serde_json::json!({ "event": { "event": "from_the_future" } }),
            ..e
        };
        assert_eq!(event(&unknown), "from the future");
        let online = StoredEvent {
            kind: "begun".into(),
            detail: serde_json::json!({ "offline": false }),
            ..unknown.clone()
        };
        assert_eq!(event(&online), "attempt started");
        let offline = StoredEvent {
            detail: serde_json::json!({ "offline": true, "offline_grant": {
                "grant_id": "grant-7f3a", "terminal_id": "till-1", "approved_by": "mgr-bo",
                "per_charge_max": { "minor": 5000, "currency": "EUR" },
                "per_shift_max": { "minor": 30000, "currency": "EUR" },
                "cache_age_ms_max": 3600000, "granted_at": 1795336758123_i64,
                "until": 1795340358123_i64, "signature": "ab".repeat(64),
            } }),
            ..online
        };
        assert_eq!(
            event(&offline),
            "attempt started, allowed offline by mgr-bo under grant grant-7f3a (50.00 EUR per \
             charge, 300.00 EUR per shift, until 2026-11-22T09:39:18.123Z)"
        );
    }

    #[test]
    fn a_step_says_what_happens_next() {
        assert_eq!(
            step("register_answered", AttemptState::Registered),
            "cleared to charge"
        );
        assert_eq!(
            step("confirm_begun", AttemptState::ConfirmSent),
            "charging the card…"
        );
        assert_eq!(waiting_for(AttemptState::Registered), Some("the gateway"));
        assert_eq!(waiting_for(AttemptState::Created), Some("the central"));
        assert_eq!(waiting_for(AttemptState::Succeeded), None);
    }
}
