//! Permissions and limits (migration 0010): which actions each role may take, each person's
//! refund limits per currency, and central-wide numbers such as the four-eyes threshold.
//!
//! Only what was changed is stored; a missing row is the default (see
//! `paydesk_protocol::settings::Action::default_for`). Every change is written together with its
//! audit row (`auth_audit`, event `setting_changed`, detail `what: old → new`) in one
//! transaction, so no change goes unaudited and an unchanged value writes nothing. Deliberately
//! absent: who may change what and the checks of the values (`crate::http_settings`).

use paydesk_protocol::settings::{Action, ACTIONS};
use paydesk_protocol::Role;
use sqlx::Row;

use super::Store;
use crate::error::CentralResult;

/// The name of the four-eyes threshold in `central_settings`.
pub const SETTING_APPROVAL_THRESHOLD: &str = "reversal_approval_above_minor";

/// Who changes a setting: a manager's session, or the admin token (all `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SettingChange<'a> {
    pub operator_id: Option<&'a str>,
    pub terminal_id: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

impl SettingChange<'_> {
    /// The name recorded as `updated_by`.
    pub fn by(&self) -> &str {
        self.operator_id.unwrap_or("admin")
    }
}

/// One person's limits in one currency, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRow {
    pub operator_id: String,
    pub currency: String,
    pub per_refund_minor: Option<i64>,
    pub per_day_minor: Option<i64>,
}

fn limit_text(v: Option<i64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn actions_text(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "nothing".into();
    }
    actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    async fn audit_setting(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        who: &SettingChange<'_>,
        detail: &str,
        now: i64,
    ) -> CentralResult<()> {
        sqlx::query(
            "INSERT INTO auth_audit (at, terminal_id, operator_id, event, token_id, session_id, \
             detail) VALUES ($1, $2, $3, 'setting_changed', $4, $5, $6)",
        )
        .bind(now)
        .bind(who.terminal_id)
        .bind(who.operator_id.unwrap_or("admin"))
        .bind(who.token_id)
        .bind(who.session_id)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The actions `role` may take now, in the order of [`ACTIONS`].
    pub async fn role_actions(&self, role: Role) -> CentralResult<Vec<Action>> {
        let rows = sqlx::query("SELECT action, allowed FROM role_permissions WHERE role = $1")
            .bind(role.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("action")?;
            let allowed: i64 = r.try_get("allowed")?;
            // An action a later version removed is ignored, not an error.
            if let Some(a) = Action::parse(&name) {
                stored.push((a, allowed != 0));
            }
        }
        Ok(ACTIONS
            .into_iter()
            .filter(|a| {
                stored
                    .iter()
                    .find(|(s, _)| s == a)
                    .map_or(a.default_for(role), |(_, allowed)| *allowed)
            })
            .collect())
    }

    /// Whether `role` may take `action` now.
    pub async fn role_allows(&self, role: Role, action: Action) -> CentralResult<bool> {
        Ok(self.role_actions(role).await?.contains(&action))
    }

    /// Replaces the actions of `role`; `None` when nothing changed (nothing written), else the
    /// audit detail written.
    pub async fn set_role_actions(
        &self,
        role: Role,
        actions: &[Action],
        who: &SettingChange<'_>,
        now: i64,
    ) -> CentralResult<Option<String>> {
        let old = self.role_actions(role).await?;
        let new: Vec<Action> = ACTIONS
            .into_iter()
            .filter(|a| actions.contains(a))
            .collect();
        if old == new {
            return Ok(None);
        }
        let detail = format!(
            "permissions of the {} role: {} → {}",
            role.as_str(),
            actions_text(&old),
            actions_text(&new)
        );
        let mut tx = self.pool.begin().await?;
        for a in ACTIONS {
            sqlx::query(
                "INSERT INTO role_permissions (role, action, allowed, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (role, action) DO UPDATE SET \
                 allowed = excluded.allowed, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(role.as_str())
            .bind(a.as_str())
            .bind(i64::from(new.contains(&a)))
            .bind(now)
            .bind(who.by())
            .execute(&mut *tx)
            .await?;
        }
        Store::audit_setting(&mut tx, who, &detail, now).await?;
        tx.commit().await?;
        Ok(Some(detail))
    }

    /// A central-wide number, if it was ever set.
    pub async fn setting_i64(&self, name: &str) -> CentralResult<Option<i64>> {
        let row = sqlx::query("SELECT value FROM central_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Sets a central-wide number whose current value (stored, or the default) is `current`;
    /// `None` when it is unchanged.
    pub async fn set_setting_i64(
        &self,
        name: &str,
        current: i64,
        value: i64,
        who: &SettingChange<'_>,
        now: i64,
    ) -> CentralResult<Option<String>> {
        if current == value {
            return Ok(None);
        }
        let detail = format!("{name}: {current} → {value}");
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO central_settings (name, value, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(name)
        .bind(value)
        .bind(now)
        .bind(who.by())
        .execute(&mut *tx)
        .await?;
        Store::audit_setting(&mut tx, who, &detail, now).await?;
        tx.commit().await?;
        Ok(Some(detail))
    }

    /// Every limit set, by person then currency.
    pub async fn user_limits(&self) -> CentralResult<Vec<LimitRow>> {
        let rows = sqlx::query(
            "SELECT operator_id, currency, per_refund_minor, per_day_minor FROM user_limits \
             ORDER BY operator_id, currency",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LimitRow {
                    operator_id: r.try_get("operator_id")?,
                    currency: r.try_get("currency")?,
                    per_refund_minor: r.try_get("per_refund_minor")?,
                    per_day_minor: r.try_get("per_day_minor")?,
                })
            })
            .collect()
    }

    /// One person's limits in one currency, if any are set.
    pub async fn user_limit(
        &self,
        operator_id: &str,
        currency: &str,
    ) -> CentralResult<Option<LimitRow>> {
        Ok(self
            .user_limits()
            .await?
            .into_iter()
            .find(|l| l.operator_id == operator_id && l.currency == currency))
    }

    /// Sets (or, with both `None`, removes) one person's limits in one currency; `None` when
    /// nothing changed.
    pub async fn set_user_limit(
        &self,
        new: &LimitRow,
        who: &SettingChange<'_>,
        now: i64,
    ) -> CentralResult<Option<String>> {
        let old = self.user_limit(&new.operator_id, &new.currency).await?;
        let (old_refund, old_day) = old
            .as_ref()
            .map_or((None, None), |o| (o.per_refund_minor, o.per_day_minor));
        if (old_refund, old_day) == (new.per_refund_minor, new.per_day_minor) {
            return Ok(None);
        }
        let detail = format!(
            "refund limits of {} in {}: per refund {} → {}, per day {} → {}",
            new.operator_id,
            new.currency,
            limit_text(old_refund),
            limit_text(new.per_refund_minor),
            limit_text(old_day),
            limit_text(new.per_day_minor)
        );
        let mut tx = self.pool.begin().await?;
        if new.per_refund_minor.is_none() && new.per_day_minor.is_none() {
            sqlx::query("DELETE FROM user_limits WHERE operator_id = $1 AND currency = $2")
                .bind(&new.operator_id)
                .bind(&new.currency)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO user_limits (operator_id, currency, per_refund_minor, \
                 per_day_minor, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (operator_id, currency) DO UPDATE SET \
                 per_refund_minor = excluded.per_refund_minor, \
                 per_day_minor = excluded.per_day_minor, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(&new.operator_id)
            .bind(&new.currency)
            .bind(new.per_refund_minor)
            .bind(new.per_day_minor)
            .bind(now)
            .bind(who.by())
            .execute(&mut *tx)
            .await?;
        }
        Store::audit_setting(&mut tx, who, &detail, now).await?;
        tx.commit().await?;
        Ok(Some(detail))
    }

    /// What `operator_id`'s refunds in `currency` created in `[from, to)` add up to, failed
    /// ones not counted.
    pub async fn refunded_by(
        &self,
        operator_id: &str,
        currency: &str,
        from: i64,
        to: i64,
    ) -> CentralResult<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM reversals \
             WHERE requested_by = $1 AND currency = $2 AND kind = 'refund' \
             AND state <> 'failed' AND created_at >= $3 AND created_at < $4",
        )
        .bind(operator_id)
        .bind(currency)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("total")?)
    }

    /// The last change of any setting: (when, by whom).
    pub async fn settings_updated(&self) -> CentralResult<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT updated_at, updated_by FROM (\
             SELECT updated_at, updated_by FROM role_permissions UNION ALL \
             SELECT updated_at, updated_by FROM user_limits UNION ALL \
             SELECT updated_at, updated_by FROM central_settings) u \
             ORDER BY updated_at DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> CentralResult<(i64, String)> {
            Ok((r.try_get("updated_at")?, r.try_get("updated_by")?))
        })
        .transpose()
    }
}
