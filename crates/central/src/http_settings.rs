//! Permissions and limits over HTTP (issue 11, item 8): `GET /v1/settings` for a manager or the
//! admin token, `PUT /v1/settings/approval-threshold`, `PUT /v1/settings/permissions/{role}` and
//! `PUT /v1/settings/limits/{operator_id}/{currency}` for the admin token or a manager who gives
//! the PIN again; and the checks the other routes make with them: [`require`] (may this role take
//! this action) and [`check_refund_limits`] (a person's limits per refund and per day).
//!
//! Editing the settings is not an action a role can lose: a manager can always do it, so the
//! managers cannot lock themselves out. Operators can only hold the actions of
//! [`OPERATOR_ACTIONS_POSSIBLE`] — the other routes need a manager whatever the settings say.
//! Deliberately absent: SQL (`store::settings`), and the threshold's use (`http_reversals`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use paydesk_core::{Currency, Money, OperatorId, Timestamp};
use paydesk_protocol::settings::{
    Action, LimitUpdate, PermissionsUpdate, RolePermissions, Settings, ThresholdUpdate, UserLimit,
    OPERATOR_ACTIONS_POSSIBLE,
};
use paydesk_protocol::Role;

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{AuthError, ManagerOrAdmin, OperatorSession};
use crate::store::{LimitRow, SettingChange, SETTING_APPROVAL_THRESHOLD};

type AuthResult<T> = Result<T, AuthError>;

/// One UTC day, in milliseconds: the per-day limit counts refunds of the current UTC day, the
/// same day the day close uses.
const DAY_MS: i64 = 86_400_000;
/// The highest threshold or limit accepted, in minor units (the largest amount there is).
const LIMIT_MINOR_MAX: i64 = paydesk_core::money::AMOUNT_MINOR_MAX;

fn invalid(message: String) -> AuthError {
    CentralError::Invalid(message).into()
}

/// The four-eyes threshold now: the stored one, else the central's configuration.
pub async fn approval_threshold(state: &AppState) -> AuthResult<i64> {
    Ok(state
        .store
        .setting_i64(SETTING_APPROVAL_THRESHOLD)
        .await?
        .unwrap_or(state.config.reversal_approval_above_minor))
}

/// Refuses (403, audited as `forbidden`) a person whose role may not take `action` now.
pub async fn require(
    state: &AppState,
    s: &OperatorSession,
    action: Action,
) -> Result<(), CentralError> {
    if state.store.role_allows(s.role, action).await? {
        return Ok(());
    }
    let detail = format!(
        "the {} role may not {} (settings)",
        s.role.as_str(),
        action.words()
    );
    tracing::warn!(operator = %s.operator_id, terminal = %s.terminal.terminal_id, %detail, "action refused by the settings");
    state
        .store
        .audit_forbidden(
            s.terminal.terminal_id.as_str(),
            s.operator_id.as_str(),
            &s.session_id,
            &detail,
            clock::now().unix_ms(),
        )
        .await?;
    Err(CentralError::Refused(format!(
        "your role ({}) may not {}: a manager can change this in Settings",
        s.role.as_str(),
        action.words()
    )))
}

/// Held by a person's reversal from its limit check until it is recorded (and sent): one at a
/// time per person, so two refunds at once cannot both fit under the limit per day. Within this
/// process by a lock per person; across every central on one PostgreSQL database by an advisory
/// lock per person as well (`Store::person_refund_lock`), so refunds made at the same moment
/// through different centrals also wait for each other.
#[derive(Debug)]
pub struct RefundTurn {
    /// Released first (declared first): the shared lock, then this process's.
    _shared: crate::store::SharedLock,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

/// Waits for `operator`'s turn to refund (see [`RefundTurn`]).
pub async fn one_refund_at_a_time(
    store: &crate::store::Store,
    operator: &str,
) -> Result<RefundTurn, CentralError> {
    static PEOPLE: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let lock = {
        let mut people = PEOPLE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Locks nobody holds or waits for are dropped, so the map stays as small as the people
        // refunding right now.
        people.retain(|_, l| Arc::strong_count(l) > 1);
        Arc::clone(people.entry(operator.to_string()).or_default())
    };
    // This process's lock first, so one central holds at most one database connection waiting
    // per person.
    let local = lock.lock_owned().await;
    let shared = store.person_refund_lock(operator).await?;
    Ok(RefundTurn {
        _shared: shared,
        _local: local,
    })
}

/// The message refusing a refund of `amount` by `operator` under their limits, if it breaks
/// one: above the limit per refund, or today's refunds plus this one above the limit per day.
pub async fn check_refund_limits(
    state: &AppState,
    operator: &str,
    amount: Money,
    now: Timestamp,
) -> AuthResult<Option<String>> {
    let currency = amount.currency();
    let currency = currency.code();
    let Some(limit) = state.store.user_limit(operator, currency).await? else {
        return Ok(None);
    };
    let money = |minor: i64| {
        Money::new(minor, amount.currency()).map_err(|e| CentralError::Corrupt(e.to_string()))
    };
    if let Some(max) = limit.per_refund_minor {
        if amount.minor() > max {
            return Ok(Some(format!(
                "a refund of {amount} is above {operator}'s limit per refund of {}: a manager \
                 can raise it in Settings, or a manager with a higher limit can refund",
                money(max)?
            )));
        }
    }
    if let Some(max) = limit.per_day_minor {
        let from = now.unix_ms().div_euclid(DAY_MS) * DAY_MS;
        let today = state
            .store
            .refunded_by(operator, currency, from, from + DAY_MS)
            .await?;
        if today.saturating_add(amount.minor()) > max {
            return Ok(Some(format!(
                "a refund of {amount} would take {operator}'s refunds today (UTC) to {}, above \
                 the limit per day of {}: a manager can raise it in Settings, or a manager with \
                 room left today can refund",
                money(today.saturating_add(amount.minor()))?,
                money(max)?
            )));
        }
    }
    Ok(None)
}

/// The whole settings as the API shows them.
async fn settings(state: &AppState) -> AuthResult<Settings> {
    let mut permissions = Vec::new();
    for role in [Role::Operator, Role::Manager] {
        permissions.push(RolePermissions {
            role,
            actions: state.store.role_actions(role).await?,
        });
    }
    let from = clock::now().unix_ms().div_euclid(DAY_MS) * DAY_MS;
    let mut limits = Vec::new();
    for l in state.store.user_limits().await? {
        let refunded_today_minor = state
            .store
            .refunded_by(&l.operator_id, &l.currency, from, from + DAY_MS)
            .await?;
        limits.push(UserLimit {
            operator_id: OperatorId::new(l.operator_id)
                .map_err(|e| CentralError::Corrupt(e.to_string()))?,
            currency: Currency::from_code(&l.currency)
                .map_err(|e| CentralError::Corrupt(e.to_string()))?,
            per_refund_minor: l.per_refund_minor,
            per_day_minor: l.per_day_minor,
            refunded_today_minor,
        });
    }
    let updated = state.store.settings_updated().await?;
    Ok(Settings {
        reversal_approval_above_minor: approval_threshold(state).await?,
        permissions,
        limits,
        updated_at: updated.as_ref().map(|(at, _)| Timestamp::from_unix_ms(*at)),
        updated_by: updated.map(|(_, by)| by),
    })
}

/// The admin token, or a manager whose PIN is right: who makes the change.
async fn changer<'a>(
    state: &AppState,
    who: &'a ManagerOrAdmin,
    pin: Option<&str>,
) -> AuthResult<SettingChange<'a>> {
    match who {
        ManagerOrAdmin::Admin => Ok(SettingChange::default()),
        ManagerOrAdmin::Manager(s) => {
            let Some(pin) = pin.filter(|p| !p.is_empty()) else {
                return Err(invalid(
                    "pin is required: a manager enters their PIN again to change a setting".into(),
                ));
            };
            s.recheck_pin(state, pin).await?;
            Ok(SettingChange {
                operator_id: Some(s.operator_id.as_str()),
                terminal_id: Some(s.terminal.terminal_id.as_str()),
                token_id: Some(s.terminal.token_id.as_str()),
                session_id: Some(&s.session_id),
            })
        }
    }
}

fn check_minor(name: &str, v: i64, least: i64) -> AuthResult<()> {
    if v < least || v > LIMIT_MINOR_MAX {
        return Err(invalid(format!(
            "{name} must be a whole number of minor units from {least} to {LIMIT_MINOR_MAX} \
             (cents for EUR, yen for JPY), not {v}"
        )));
    }
    Ok(())
}

fn log_change(detail: &Option<String>, who: &SettingChange<'_>) {
    if let Some(d) = detail {
        tracing::info!(by = who.by(), change = %d, "setting changed");
    }
}

pub(crate) async fn get_settings(
    State(state): State<AppState>,
    _who: ManagerOrAdmin,
) -> AuthResult<Json<Settings>> {
    Ok(Json(settings(&state).await?))
}

pub(crate) async fn put_threshold(
    State(state): State<AppState>,
    who: ManagerOrAdmin,
    ApiJson(req): ApiJson<ThresholdUpdate>,
) -> AuthResult<Json<Settings>> {
    check_minor(
        "reversal_approval_above_minor",
        req.reversal_approval_above_minor,
        0,
    )?;
    let by = changer(&state, &who, req.pin.as_deref()).await?;
    let current = approval_threshold(&state).await?;
    let detail = state
        .store
        .set_setting_i64(
            SETTING_APPROVAL_THRESHOLD,
            current,
            req.reversal_approval_above_minor,
            &by,
            clock::now().unix_ms(),
        )
        .await?;
    log_change(&detail, &by);
    Ok(Json(settings(&state).await?))
}

pub(crate) async fn put_permissions(
    State(state): State<AppState>,
    who: ManagerOrAdmin,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<PermissionsUpdate>,
) -> AuthResult<Json<Settings>> {
    let Path(raw) = path.map_err(|e| invalid(e.body_text()))?;
    let role = Role::parse(&raw).ok_or_else(|| {
        invalid(format!(
            "there is no role {raw:?}: the roles are \"operator\" and \"manager\""
        ))
    })?;
    if role == Role::Operator {
        if let Some(a) = req
            .actions
            .iter()
            .find(|a| !OPERATOR_ACTIONS_POSSIBLE.contains(a))
        {
            return Err(invalid(format!(
                "an operator cannot be allowed to {}: only managers can; make the person a \
                 manager instead",
                a.words()
            )));
        }
    }
    let by = changer(&state, &who, req.pin.as_deref()).await?;
    let detail = state
        .store
        .set_role_actions(role, &req.actions, &by, clock::now().unix_ms())
        .await?;
    log_change(&detail, &by);
    Ok(Json(settings(&state).await?))
}

pub(crate) async fn put_limit(
    State(state): State<AppState>,
    who: ManagerOrAdmin,
    path: Result<Path<(String, String)>, PathRejection>,
    ApiJson(req): ApiJson<LimitUpdate>,
) -> AuthResult<Json<Settings>> {
    let Path((operator, currency)) = path.map_err(|e| invalid(e.body_text()))?;
    let operator = OperatorId::new(operator)
        .map_err(|e| invalid(format!("bad operator id in the path: {e}")))?;
    let currency = Currency::from_code(&currency).map_err(|e| {
        invalid(format!(
            "bad currency in the path: {e} (a three-letter code such as EUR)"
        ))
    })?;
    if let Some(v) = req.per_refund_minor {
        check_minor("per_refund_minor", v, 1)?;
    }
    if let Some(v) = req.per_day_minor {
        check_minor("per_day_minor", v, 1)?;
    }
    if !state.store.operator_exists(&operator).await? {
        return Err(invalid(format!(
            "there is no person {operator} at the central: check the id"
        )));
    }
    let by = changer(&state, &who, req.pin.as_deref()).await?;
    let row = LimitRow {
        operator_id: operator.as_str().to_string(),
        currency: currency.code().to_string(),
        per_refund_minor: req.per_refund_minor,
        per_day_minor: req.per_day_minor,
    };
    let detail = state
        .store
        .set_user_limit(&row, &by, clock::now().unix_ms())
        .await?;
    log_change(&detail, &by);
    Ok(Json(settings(&state).await?))
}
