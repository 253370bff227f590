//! The outbox relay: delivers journaled results to the central in batches, exactly as they were
//! committed, until the central has acknowledged each one.
//!
//! `relay_once` is one step (tests drive it directly); `run_relay` loops it, waking on every
//! commit that enqueued a result (no polling delay while online) and backing off with full jitter
//! while the central is down. A message the central rejects is parked for a person — never
//! deleted, never blocking the rest. Deliberately absent: any change to attempts (the relay only
//! moves messages).

use std::time::Duration;

use paydesk_core::retry::backoff_ms;
use paydesk_core::Timestamp;
use paydesk_journal::{OutboxMessage, ResultMessage, OUTBOX_BATCH_ROWS_MAX};
use serde::Serialize;

use crate::central::DeliveryStatus;
use crate::crash::{crash_point, CrashPoint};
use crate::flow::{Engine, EngineError};

/// While messages wait for their retry time, the relay looks again this often.
const RETRY_TICK_MS: u64 = 250;

/// What one relay step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelayOutcome {
    /// A batch reached the central: `delivered` acknowledged, `parked` rejected and set aside.
    Sent { delivered: usize, parked: usize },
    /// Nothing due.
    Empty,
    /// The central could not be reached; the batch waits until `next_try_at`.
    Retried {
        failures: u32,
        next_try_at: Timestamp,
        error: String,
    },
}

impl Engine {
    /// Delivers one batch of due results.
    pub async fn relay_once(&self) -> Result<RelayOutcome, EngineError> {
        let now = self.clock().now();
        let rows = self
            .config()
            .outbox_batch_rows
            .clamp(1, OUTBOX_BATCH_ROWS_MAX);
        let due: Vec<OutboxMessage> = self.with_journal(move |j| j.outbox_due(now, rows)).await?;
        if due.is_empty() {
            return Ok(RelayOutcome::Empty);
        }
        let head = self.with_journal(|j| j.head()).await?;
        let mut results = Vec::with_capacity(due.len());
        for message in &due {
            let result: ResultMessage =
                serde_json::from_value(message.payload.clone()).map_err(|e| {
                    EngineError::Internal(format!(
                        "outbox message {} is not a result: {e}",
                        message.id
                    ))
                })?;
            results.push(result);
        }
        match self.central().deliver(&results, head).await {
            Ok(statuses) => {
                crash_point(CrashPoint::MidRelay);
                if statuses.len() != due.len() {
                    return Err(EngineError::Internal(format!(
                        "the central answered {} statuses for {} results",
                        statuses.len(),
                        due.len()
                    )));
                }
                let mut delivered = Vec::new();
                let mut parked = Vec::new();
                for (message, status) in due.iter().zip(statuses) {
                    match status {
                        DeliveryStatus::Applied
                        | DeliveryStatus::Duplicate
                        | DeliveryStatus::Flagged { .. } => delivered.push(message.id),
                        DeliveryStatus::Rejected { reason } => parked.push((message.id, reason)),
                    }
                }
                let counts = (delivered.len(), parked.len());
                let now = self.clock().now();
                self.with_journal(move |j| {
                    j.outbox_delivered(&delivered, now)?;
                    for (id, reason) in &parked {
                        j.outbox_park(*id, &format!("rejected by the central: {reason}"))?;
                    }
                    Ok(())
                })
                .await?;
                Ok(RelayOutcome::Sent {
                    delivered: counts.0,
                    parked: counts.1,
                })
            }
            Err(e) => {
                let failures = due.iter().map(|m| m.failures).max().unwrap_or(0) + 1;
                let delay = backoff_ms(failures, self.jitter().next_u64());
                let next_try_at = now.plus_ms(delay as i64);
                let ids: Vec<i64> = due.iter().map(|m| m.id).collect();
                self.with_journal(move |j| j.outbox_failed(&ids, next_try_at))
                    .await?;
                Ok(RelayOutcome::Retried {
                    failures,
                    next_try_at,
                    error: e.to_string(),
                })
            }
        }
    }

    /// Relays until `shutdown` fires; finishes the batch in hand first.
    pub async fn run_relay(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait_ms = match self.relay_once().await {
                Ok(RelayOutcome::Sent { .. }) => continue,
                Ok(RelayOutcome::Empty) => None,
                Ok(RelayOutcome::Retried { next_try_at, .. }) => Some(
                    next_try_at
                        .millis_since(self.clock().now())
                        .clamp(0, RETRY_TICK_MS as i64 * 40) as u64,
                ),
                Err(e) => {
                    tracing::error!(error = %e, "outbox relay step failed");
                    Some(RETRY_TICK_MS)
                }
            };
            let waiting = self
                .with_journal({
                    let now = self.clock().now();
                    move |j| j.outbox_stats(now)
                })
                .await
                .map(|s| s.depth > 0)
                .unwrap_or(true);
            let sleep_ms = wait_ms.unwrap_or(if waiting { RETRY_TICK_MS } else { u64::MAX });
            let wake = self.outbox_wake().clone();
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms.min(86_400_000))) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
