//! Permissions and limits, as they cross the wire: which actions each role may take, each
//! person's refund limits, and the four-eyes threshold of reversals (issue 11, item 8).
//!
//! `GET /v1/settings` (a manager's session or the admin token) answers [`Settings`]; each
//! `PUT /v1/settings/…` (the admin token, or a manager with the PIN again) changes one part and
//! answers the whole [`Settings`] again. Every change is audited at the central (who, when, old →
//! new). Deliberately absent: where the settings are stored and how the central enforces them;
//! editing the settings themselves is not an [`Action`] — a manager can always do it, so the
//! managers can never lock themselves out.

use paydesk_core::{Currency, OperatorId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Role;

/// Something a person does that a role may or may not be allowed to do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Take a payment (claim an order and charge it).
    Charge,
    /// Charge an amount other than the order's balance due (a deposit, an agreed part-payment),
    /// with a reason that is audited (issue 12, installments).
    ChargeOtherAmount,
    /// Cancel or refund a payment.
    Reverse,
    /// Be the second manager who approves a large reversal.
    ApproveReversal,
    /// Resolve an exception from the inbox (mark charged, not charged, cancel, retry).
    Resolve,
    /// Sign off a day's close.
    SignOffDay,
    /// Let a terminal charge offline for a while.
    GrantOffline,
    /// Read and export the audit log.
    ExportAudit,
}

/// Every action, in the order screens list them.
pub const ACTIONS: [Action; 8] = [
    Action::Charge,
    Action::ChargeOtherAmount,
    Action::Reverse,
    Action::ApproveReversal,
    Action::Resolve,
    Action::SignOffDay,
    Action::GrantOffline,
    Action::ExportAudit,
];

/// The actions the central lets an operator hold at all: the other routes need a manager
/// whatever the settings say, so an operator can only be given, or lose, these.
pub const OPERATOR_ACTIONS_POSSIBLE: [Action; 2] = [Action::Charge, Action::ChargeOtherAmount];

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Charge => "charge",
            Action::ChargeOtherAmount => "charge_other_amount",
            Action::Reverse => "reverse",
            Action::ApproveReversal => "approve_reversal",
            Action::Resolve => "resolve",
            Action::SignOffDay => "sign_off_day",
            Action::GrantOffline => "grant_offline",
            Action::ExportAudit => "export_audit",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        ACTIONS.into_iter().find(|a| a.as_str() == s)
    }

    /// The action in a few plain words, for messages and screens ("take payments").
    pub fn words(self) -> &'static str {
        match self {
            Action::Charge => "take payments",
            Action::ChargeOtherAmount => "charge an amount other than the balance due",
            Action::Reverse => "cancel or refund payments",
            Action::ApproveReversal => "approve another manager's large refund",
            Action::Resolve => "resolve exceptions",
            Action::SignOffDay => "sign off a day's close",
            Action::GrantOffline => "allow a terminal to work offline",
            Action::ExportAudit => "read and export the audit log",
        }
    }

    /// Whether `role` holds this action when nobody changed the settings: operators take
    /// payments (deposits and part-payments included: they are everyday post-sale work, and a
    /// manager can withdraw them in Settings), managers do everything.
    pub fn default_for(self, role: Role) -> bool {
        match role {
            Role::Manager => true,
            Role::Operator => matches!(self, Action::Charge | Action::ChargeOtherAmount),
        }
    }
}

/// The actions one role may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct RolePermissions {
    pub role: Role,
    /// In the order of [`ACTIONS`].
    pub actions: Vec<Action>,
}

/// One person's refund limits in one currency. `None`: no limit of that kind. A refund in a
/// currency without a limit row is not limited for that person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct UserLimit {
    pub operator_id: OperatorId,
    pub currency: Currency,
    /// The most one refund may be, in minor units.
    #[ts(type = "number | null")]
    pub per_refund_minor: Option<i64>,
    /// The most this person's refunds may add up to in one UTC day, in minor units.
    #[ts(type = "number | null")]
    pub per_day_minor: Option<i64>,
    /// What this person's refunds in this currency add up to today (UTC) so far, in minor
    /// units (failed ones not counted).
    #[ts(type = "number")]
    pub refunded_today_minor: i64,
}

/// `GET /v1/settings`, and the answer to every `PUT /v1/settings/…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Settings {
    /// A reversal of more than this many minor units (any currency) needs a second manager's
    /// approval.
    #[ts(type = "number")]
    pub reversal_approval_above_minor: i64,
    /// One entry per role, operators first.
    pub permissions: Vec<RolePermissions>,
    /// Every limit set, by person then currency.
    pub limits: Vec<UserLimit>,
    /// When a setting was last changed, and by whom (`admin` for the admin token); `None`
    /// while everything is at its default.
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

/// `PUT /v1/settings/approval-threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ThresholdUpdate {
    /// Minor units, 0 or more: 0 means every reversal needs a second manager.
    #[ts(type = "number")]
    pub reversal_approval_above_minor: i64,
    /// The manager's PIN again; leave it out with the admin token.
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
}

/// `PUT /v1/settings/permissions/{role}`: the whole set of actions the role may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct PermissionsUpdate {
    pub actions: Vec<Action>,
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
}

/// `PUT /v1/settings/limits/{operator_id}/{currency}`: both limits of one person in one
/// currency; both `None` removes the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct LimitUpdate {
    #[serde(default)]
    #[ts(type = "number | null")]
    pub per_refund_minor: Option<i64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub per_day_minor: Option<i64>,
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_from_their_names() {
        for a in ACTIONS {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        assert_eq!(Action::parse("edit_settings"), None);
    }

    #[test]
    fn defaults_are_todays_behaviour() {
        assert!(ACTIONS.iter().all(|a| a.default_for(Role::Manager)));
        let operator: Vec<Action> = ACTIONS
            .into_iter()
            .filter(|a| a.default_for(Role::Operator))
            .collect();
        // An operator charges, and may take a deposit or part-payment (with a reason) until a
        // manager withdraws it: the desk's "Done when" has a new operator taking a deposit.
        assert_eq!(operator, vec![Action::Charge, Action::ChargeOtherAmount]);
    }
}
