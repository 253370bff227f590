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
