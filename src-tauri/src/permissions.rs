//! The settings screen's commands (issue 11, item 8): the central's permissions per role, each
//! person's refund limits and the four-eyes threshold, read and changed by a manager with the PIN
//! again (`GET /v1/settings`, `PUT /v1/settings/…`). The central enforces and audits all of it;
//! the shell turns typed amounts into minor units with the core's money rules and says what went
//! wrong in a manager's words.
//!
//! Deliberately absent: any rule of its own about who may do what (the central's), and any
//! stored copy of the settings.

use paydesk_core::{Currency, Money};
use paydesk_protocol::settings::{
    Action, LimitUpdate, PermissionsUpdate, Settings, ThresholdUpdate, ACTIONS,
    OPERATOR_ACTIONS_POSSIBLE,
};
use paydesk_protocol::Role;
use paydesk_terminal::day_close::CurrencyExponent;
use serde::Serialize;
use ts_rs::TS;

use crate::desk::Desk;
use crate::error::{UiError, UiErrorKind};
use crate::reports::{manager, manager_error, pin};

/// One action as the screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ActionWords {
    pub action: Action,
    /// "cancel or refund payments".
    pub words: String,
    /// An operator may be given this action at all (the others need a manager anyway).
    pub operator_may_hold: bool,
}

/// The settings and what the screen needs to show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SettingsView {
    pub settings: Settings,
    /// Every action, in the order screens list them.
    pub actions: Vec<ActionWords>,
    /// The exponent of each currency a limit is set in.
    pub exponents: Vec<CurrencyExponent>,
}

fn view(settings: Settings) -> SettingsView {
    let mut currencies: Vec<Currency> = settings.limits.iter().map(|l| l.currency).collect();
    currencies.sort();
    currencies.dedup();
    SettingsView {
        actions: ACTIONS
            .iter()
            .map(|a| ActionWords {
                action: *a,
                words: a.words().to_string(),
                operator_may_hold: OPERATOR_ACTIONS_POSSIBLE.contains(a),
            })
            .collect(),
        exponents: currencies
            .into_iter()
            .map(|c| CurrencyExponent {
                currency: c.code().to_string(),
                exponent: c.exponent(),
            })
            .collect(),
        settings,
    }
}

/// "50.00" in `currency` as minor units; empty text is `None` (no limit).
fn amount(text: &str, currency: Currency, what: &str) -> Result<Option<i64>, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Money::parse(&format!("{text} {}", currency.code()))
        .ok()
        .filter(|m| m.minor() >= 0)
        .map(|m| Some(m.minor()))
        .ok_or_else(|| {
            UiError::bad_input(
                format!(
                    "The {what} {text:?} is not an amount in {}.",
                    currency.code()
                ),
                "Type it with digits, such as 50.00 (or 50 for a currency without cents), or \
                 leave it empty for no limit.",
            )
        })
}

fn currency(code: &str) -> Result<Currency, UiError> {
    Currency::from_code(code).map_err(|_| {
        UiError::bad_input(
            format!("{:?} is not a currency code.", code.trim()),
            "Type a three-letter code such as EUR.",
        )
    })
}

impl Desk {
    /// The central's settings.
    pub async fn settings(&self) -> Result<SettingsView, UiError> {
        let running = manager(self)?;
        let settings: Settings = running
            .terminal
            .central()
            .get_json_in_session("/v1/settings")
            .await
            .map_err(|e| manager_error(&e, false))?;
        Ok(view(settings))
    }

    /// A reversal above `amount` (typed, in `currency`'s units) needs a second manager.
    pub async fn set_approval_threshold(
        &self,
        amount_text: &str,
        currency_code: &str,
        pin_text: &str,
    ) -> Result<SettingsView, UiError> {
        let running = manager(self)?;
        let currency = currency(currency_code)?;
        let minor = amount(amount_text, currency, "threshold")?.ok_or_else(|| {
            UiError::bad_input(
                "The threshold is empty.",
                "Type an amount; 0 makes every refund need a second manager.",
            )
        })?;
        let body = ThresholdUpdate {
            reversal_approval_above_minor: minor,
            pin: Some(pin(pin_text)?.expose().to_string()),
        };
        let settings = running
            .terminal
            .central()
            .put_in_session("/v1/settings/approval-threshold", &body)
            .await
            .map_err(|e| manager_error(&e, true))?;
        Ok(view(settings))
    }

    /// The whole set of actions `role` may take.
    pub async fn set_permissions(
        &self,
        role: Role,
        actions: Vec<Action>,
        pin_text: &str,
    ) -> Result<SettingsView, UiError> {
        let running = manager(self)?;
        let body = PermissionsUpdate {
            actions,
            pin: Some(pin(pin_text)?.expose().to_string()),
        };
        let path = format!("/v1/settings/permissions/{}", role.as_str());
        let settings = running
            .terminal
            .central()
            .put_in_session(&path, &body)
            .await
            .map_err(|e| manager_error(&e, true))?;
        Ok(view(settings))
    }

    /// One person's refund limits in one currency (empty: no limit of that kind).
    pub async fn set_limit(
        &self,
        operator: &str,
        currency_code: &str,
        per_refund: &str,
        per_day: &str,
        pin_text: &str,
    ) -> Result<SettingsView, UiError> {
        let running = manager(self)?;
        let operator = paydesk_core::OperatorId::new(operator.trim()).map_err(|_| {
            UiError::bad_input(
                "That is not an operator id.",
                "Type the person's operator id (letters, digits and '-').",
            )
        })?;
        let currency = currency(currency_code)?;
        let body = LimitUpdate {
            per_refund_minor: amount(per_refund, currency, "limit per refund")?,
            per_day_minor: amount(per_day, currency, "limit per day")?,
            pin: Some(pin(pin_text)?.expose().to_string()),
        };
        let path = format!("/v1/settings/limits/{operator}/{}", currency.code());
        let settings = running
            .terminal
            .central()
            .put_in_session(&path, &body)
            .await
            .map_err(|e| match e {
                paydesk_engine::CentralError::Refused { message, .. }
                    if message.contains("not found") || message.contains("unknown") =>
                {
                    UiError::new(
                        UiErrorKind::BadInput,
                        format!("The central knows no person called {operator}."),
                        "Check the operator id and try again.",
                    )
                }
                e => manager_error(&e, true),
            })?;
        Ok(view(settings))
    }
}
