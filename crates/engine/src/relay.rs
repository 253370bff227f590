//! The outbox relay: delivers journaled results to the central in batches, exactly as they were
//! committed, until the central has acknowledged each one.
//!
//! `relay_once` is one step (tests drive it directly); `run_relay` loops it, waking on every
//! commit that enqueued a result (no polling delay while online) and backing off with full jitter
//! while the central is down. A message the central rejects is parked for a person — never
//! deleted, never blocking the rest. Deliberately absent: any change to attempts (the relay only
//! moves messages).
//!
//! Also a manager's way back for a parked result (`outbox_retry`, `outbox_archive`), and the
//! journal's integrity gate for recovery and the relay (I8, finding 3): nothing is sent
//! from a journal that fails verification (`check_journal`, `check_attempt`).

use std::time::Duration;

use paydesk_core::retry::backoff_ms;
use paydesk_core::{AttemptId, OperatorId, Timestamp};
use paydesk_journal::{OutboxListing, OutboxMessage, ResultMessage, OUTBOX_BATCH_ROWS_MAX};
use serde::Serialize;

use crate::central::{CentralError, DeliveryStatus};
use crate::crash::{crash_point, CrashPoint};
use crate::flow::{Engine, EngineError};

/// Batches one relay step sends at once when more results are due than one batch holds.
pub const REQUESTS_IN_FLIGHT: usize = 2;

/// While messages wait for their retry time, the relay looks again this often.
const RETRY_TICK_MS: u64 = 250;

/// While the journal fails verification, the relay looks again this often (a manager must
/// reconcile it first; there is no hurry, and no point in logging four times a second).
const BROKEN_TICK_MS: u64 = 30_000;

/// A full verification of the journal is reused while the journal's head (last event's seq and
/// hash) is unchanged, for at most this long.
///
/// Why this bound is safe enough: walking the whole chain costs time proportional to the
/// journal's length, and recovery runs every 30 s while the relay runs after every result. What
/// a reused verification could miss is an edit made since, and each kind is caught before it is
/// acted on: an appended or rewritten head changes the head (full verification again); an
/// `attempts` row is checked against its last chained event right before recovery drives it
/// (`check_attempt`, and again by the journal at every step); an outbox payload against the
/// digest of the event that wrote it right before it is delivered (`Journal::check_outbox`); and
/// that sealing event's own hash is recomputed by both checks. Only an edit of an older event
/// that nothing acts on now waits for the bound, at most a minute.
pub const VERIFY_REUSE_MS_MAX: i64 = 60_000;

/// A full verification: the head it covered, when (the engine's clock), and the first problem.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    head: (i64, String),
    at: Timestamp,
    broken: Option<String>,
}

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
    /// Verifies the whole journal, or reuses the last verification while the head is unchanged
    /// for at most [`VERIFY_REUSE_MS_MAX`]; [`EngineError::JournalBroken`] when it fails.
    pub async fn check_journal(&self) -> Result<(), EngineError> {
        let now = self.clock().now();
        let last = self.verified.lock().ok().and_then(|v| v.clone());
        let verified = self
            .with_journal(move |j| {
                let head = j.head()?;
                if let Some(last) = last {
                    let age = now.millis_since(last.at);
                    if last.head == head && (0..VERIFY_REUSE_MS_MAX).contains(&age) {
                        return Ok(last);
                    }
                }
                let report = j.verify()?;
                Ok(Verified {
                    head,
                    at: now,
                    broken: report.broken.map(|link| link.message),
                })
            })
            .await?;
        let broken = verified.broken.clone();
        if let Ok(mut slot) = self.verified.lock() {
            *slot = Some(verified);
        }
        match broken {
            None => Ok(()),
            Some(message) => Err(EngineError::JournalBroken { message }),
        }
    }

    /// Checks one attempt's row against its last chained event before it is acted on; a
    /// mismatch also marks the whole journal broken until it verifies again.
    pub(crate) async fn check_attempt(&self, id: AttemptId) -> Result<(), EngineError> {
        let link = self.with_journal(move |j| j.check_attempt(&id)).await?;
        self.refuse_on(link.map(|l| l.message))
    }

    fn refuse_on(&self, broken: Option<String>) -> Result<(), EngineError> {
        let Some(message) = broken else {
            return Ok(());
        };
        if let Ok(mut slot) = self.verified.lock() {
            // Forget the reusable verification: the next check walks the journal again.
            *slot = None;
        }
        Err(EngineError::JournalBroken { message })
    }

    /// Delivers due results: one batch of at most `outbox_batch_rows`, or, when more are due
    /// than one batch holds, up to [`REQUESTS_IN_FLIGHT`] batches at once (the central applies
    /// one while the next travels, and each answer is written to the journal as it comes). Each
    /// batch is acknowledged, parked or set to retry on its own. Refuses
    /// ([`EngineError::JournalBroken`], nothing sent) on a journal that fails verification or a
    /// due payload that does not match the digest the chain holds for it.
    pub async fn relay_once(&self) -> Result<RelayOutcome, EngineError> {
        self.check_journal().await?;
        let now = self.clock().now();
        let rows = self
            .config()
            .outbox_batch_rows
            .clamp(1, OUTBOX_BATCH_ROWS_MAX);
        let (due, broken) = self
            .with_journal(move |j| {
                let mut due: Vec<OutboxMessage> = j.outbox_due(now, rows)?;
                if due.len() == rows && REQUESTS_IN_FLIGHT > 1 {
                    // More may be due: the next ones in the order they were written, chosen by
                    // the same rule as `outbox_due` (not parked, due by now).
                    let wanted = rows * REQUESTS_IN_FLIGHT;
                    let last = due.last().map(|m| m.id).unwrap_or(i64::MAX);
                    let more = j
                        .outbox_list(OutboxListing::Undelivered, wanted as u32)?
                        .into_iter()
                        .filter(|m| {
                            m.id > last
                                && m.delivered_at.is_none()
                                && m.parked_reason.is_none()
                                && m.next_try_at <= now
                        });
                    due.extend(more);
                    due.truncate(wanted);
                }
                let ids: Vec<i64> = due.iter().map(|m| m.id).collect();
                Ok((due, j.check_outbox(&ids)?))
            })
            .await?;
        self.refuse_on(broken.map(|l| l.message))?;
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
        let batches: Vec<(&[OutboxMessage], &[ResultMessage])> =
            due.chunks(rows).zip(results.chunks(rows)).collect();
        let mut sent = None;
        let mut retried = None;
        // The batches go out together; each answer is handled as it arrives, in order.
        let mut answers = Vec::with_capacity(batches.len());
        for (_, results) in &batches {
            let central = self.central();
            let head = head.clone();
            answers.push(async move { central.deliver(results, head).await });
        }
        let answers = join_all(answers).await;
        for ((due, _), answer) in batches.iter().zip(answers) {
            match self.settle_batch(due, answer, now).await? {
                RelayOutcome::Sent { delivered, parked } => {
                    let (d, p) = sent.unwrap_or((0, 0));
                    sent = Some((d + delivered, p + parked));
                }
                other => retried = Some(other),
            }
        }
        Ok(match (sent, retried) {
            (Some((delivered, parked)), _) => RelayOutcome::Sent { delivered, parked },
            (None, Some(retried)) => retried,
            (None, None) => RelayOutcome::Empty,
        })
    }

    /// Writes the central's answer to one delivered batch: acknowledged messages delivered,
    /// rejected ones parked; or, when it was not reached, the batch's next try.
    async fn settle_batch(
        &self,
        due: &[OutboxMessage],
        answer: Result<Vec<DeliveryStatus>, CentralError>,
        now: Timestamp,
    ) -> Result<RelayOutcome, EngineError> {
        match answer {
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
                    for ids in delivered.chunks(OUTBOX_BATCH_ROWS_MAX) {
                        j.outbox_delivered(ids, now)?;
                    }
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

    /// Outbox messages for a person: waiting and parked ones, or every one.
    pub async fn outbox_list(
        &self,
        which: OutboxListing,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, EngineError> {
        self.with_journal(move |j| j.outbox_list(which, limit))
            .await
    }

    /// A manager sends a parked result again: it waits once more, due now, and the relay is
    /// woken. The caller has checked that `manager` is one (the journal records who).
    pub async fn outbox_retry(
        &self,
        id: i64,
        manager: OperatorId,
    ) -> Result<OutboxMessage, EngineError> {
        let now = self.clock().now();
        let message = self
            .with_journal(move |j| j.outbox_retry(id, &manager, now))
            .await?;
        self.outbox_wake().notify_one();
        Ok(message)
    }

    /// A manager archives a parked result with a reason: kept for good, never sent, no longer
    /// counted as parked. The caller has checked that `manager` is one (the journal records
    /// who and why).
    pub async fn outbox_archive(
        &self,
        id: i64,
        manager: OperatorId,
        reason: String,
    ) -> Result<OutboxMessage, EngineError> {
        let now = self.clock().now();
        self.with_journal(move |j| j.outbox_archive(id, &manager, &reason, now))
            .await
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
                Err(e @ EngineError::JournalBroken { .. }) => {
                    tracing::error!(error = %e, "outbox relay stopped: the journal is broken");
                    Some(BROKEN_TICK_MS)
                }
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

/// Awaits every future of `futures` concurrently; their outputs in the same order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *output = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
