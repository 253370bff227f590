//! Offline allowances a manager granted: stored as signed, so the results inbox can check an
//! offline result against the grant it claims (window, per-charge and per-shift caps).
//!
//! Deliberately absent: signing and validating a request (`crate::allowances`) and the check of
//! offline results (the inbox owns it).

use paydesk_protocol::SignedAllowance;

use super::Store;
use crate::error::CentralResult;

impl Store {
    /// Stores a grant with its signature and the manager's session.
    pub async fn add_offline_grant(
        &self,
        signed: &SignedAllowance,
        session_id: &str,
    ) -> CentralResult<()> {
        let g = &signed.grant;
        sqlx::query(
            "INSERT INTO offline_grants (grant_id, terminal_id, approved_by, currency, \
             per_charge_minor, per_shift_minor, cache_age_ms_max, granted_at, until_at, \
             session_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&g.grant_id)
        .bind(g.terminal_id.as_str())
        .bind(g.approved_by.as_str())
        .bind(g.per_charge_max.currency().code())
        .bind(g.per_charge_max.minor())
        .bind(g.per_shift_max.minor())
        .bind(g.cache_age_ms_max)
        .bind(g.granted_at.unix_ms())
        .bind(g.until.unix_ms())
        .bind(session_id)
        .bind(&signed.signature)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// What withdrawing a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawal {
    /// The grant now ends at the time of the withdrawal.
    Ended {
        terminal_id: String,
        until_at: i64,
    },
    /// The grant had already ended (or was withdrawn before) at `until_at`.
    AlreadyEnded {
        terminal_id: String,
        until_at: i64,
    },
    NotFound,
}

impl Store {
    /// Ends the grant `grant_id` at `now`: its window closes, so the results inbox applies no
    /// offline result dated after it (the check reads `until_at`). A grant that had ended
    /// stays as it was.
    pub async fn withdraw_offline_grant(
        &self,
        grant_id: &str,
        now: i64,
    ) -> CentralResult<Withdrawal> {
        let ended = sqlx::query(
            "UPDATE offline_grants SET until_at = $1 WHERE grant_id = $2 AND until_at > $1",
        )
        .bind(now)
        .bind(grant_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        let row =
            sqlx::query("SELECT terminal_id, until_at FROM offline_grants WHERE grant_id = $1")
                .bind(grant_id)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else {
            return Ok(Withdrawal::NotFound);
        };
        use sqlx::Row as _;
        let terminal_id: String = row.try_get("terminal_id")?;
        let until_at: i64 = row.try_get("until_at")?;
        Ok(if ended > 0 {
            Withdrawal::Ended {
                terminal_id,
                until_at,
            }
        } else {
            Withdrawal::AlreadyEnded {
                terminal_id,
                until_at,
            }
        })
    }
}
