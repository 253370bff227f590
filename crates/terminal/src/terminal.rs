//! [`Terminal`]: what a terminal does, once for both front ends — sign a person in and out (one
//! at a time; the session lives in memory only), charge for the signed-in person (refusing a
//! broken journal, honouring the manager's signed offline allowance with the cached queue),
//! recover, drain the outbox, read the queue, and report the journal's health — over one engine,
//! one journal and one central client.
//!
//! The command line and the desktop parse input, call these methods and render the answer.
//! Deliberately absent: wording for people and exit codes (the front ends'), charge-protocol
//! decisions (the engine's and the core's), SQL (the journal's).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use paydesk_core::retry::BACKOFF_MS_MAX;
use paydesk_core::{Attempt, AttemptId, Money, OperatorId, Pin, TerminalId, Timestamp};
use paydesk_engine::{
    CentralError, ChargeReport, ChargeRequest, ClaimOptions, Engine, EngineError, OfflineAllowance,
    OfflinePolicy, Progress, RecoveryReport, RelayOutcome,
};
use paydesk_journal::{AttemptFilter, OutboxMessage, OutboxStats, StoredEvent, VerifyReport};
use paydesk_protocol::Role;
use serde::Serialize;

use crate::allowance::{self, GrantError};
use crate::caches::{self, Queue, QueueError};
use crate::central_http::{HttpCentral, SessionToken};
use crate::open::{build_engine, central_client, create_dirs, Connection, OpenError};
use crate::session::{self, SignInError, SignedIn};

/// Relay rounds one drain runs at most: each delivers up to a full batch, so this drains far more
/// than a week of offline work; a bound so a misbehaving central cannot keep us forever.
pub const DRAIN_ROUNDS_MAX: u32 = 1_000;
/// How long the health probe waits for the central before calling it offline: the status bar
/// polls every few seconds, so a slow answer must not hold it.
pub const HEALTH_PROBE_MS_MAX: u64 = 2_000;
/// A journal verification is reused while the journal's head is unchanged, but never for longer
/// than this: a status bar polls every few seconds, and re-hashing a long journal that often
/// would hold up charges for nothing; a minute still catches a file edited behind our back.
pub const VERIFY_REUSE_MS_MAX: i64 = 60_000;

type ProgressSink<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// One terminal, open for the life of the process (the journal stays locked by it).
#[derive(Debug)]
pub struct Terminal {
    /// Drives the protocol; owns the journal.
    engine: Engine,
    /// The central's client for the front ends' own reads (queue, operators, health).
    central: HttpCentral,
    /// Where the connection came from, for the status bar and the caches.
    connection: Connection,
    /// Held by a charge and by a recovery pass: both drive attempts, and one attempt must never
    /// be driven by two loops at once. A charge waits for a running pass; a background pass that
    /// finds a charge running skips its turn.
    driving: tokio::sync::Mutex<()>,
    /// The last journal verification: the head it covered, when, and the report.
    last_verify: Mutex<Option<LastVerify>>,
    /// Who is signed in, and when they last charged (the token is in the central client).
    session: Mutex<Option<Active>>,
}

/// The signed-in person and the last time the session was used.
#[derive(Debug, Clone)]
struct Active {
    signed: SignedIn,
    last_used: Timestamp,
}

impl Active {
    /// True while neither the idle limit nor the maximum age has passed at `now`.
    fn current(&self, now: Timestamp) -> bool {
        now < self.signed.expires_at && now.millis_since(self.last_used) < self.signed.idle_ms
    }
}

#[derive(Debug, Clone)]
struct LastVerify {
    head: (i64, String),
    at: Timestamp,
    report: VerifyReport,
}

/// Why a charge did not run.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// The journal failed verification (I8): charging stops until a manager reconciles it.
    #[error(
        "the journal failed verification ({message}): charging stops until a manager reconciles it"
    )]
    JournalBroken { message: String },
    /// Nobody is signed in (or the session ended: idle, too old, or refused by the central).
    #[error("nobody is signed in at this terminal (or the session ended): sign in first")]
    NotSignedIn,
    /// The charge names someone other than the signed-in person.
    #[error(
        "{signed_in} is signed in at this terminal: only they can charge here now, not {requested}"
    )]
    OtherOperator {
        signed_in: OperatorId,
        requested: OperatorId,
    },
    #[error("{0}")]
    Engine(#[from] EngineError),
}

impl ChargeError {
    /// True when this error proves that nothing was charged by this request.
    pub fn nothing_charged(&self) -> bool {
        match self {
            ChargeError::JournalBroken { .. }
            | ChargeError::NotSignedIn
            | ChargeError::OtherOperator { .. } => true,
            ChargeError::Engine(e) => e.nothing_charged(),
        }
    }
}

/// Why a manager's action (on a parked result) did not run.
#[derive(Debug, thiserror::Error)]
pub enum ManagerActionError {
    #[error("{0}")]
    SignIn(#[from] SignInError),
    #[error("{0} is not a manager: only a manager may do this")]
    NotManager(OperatorId),
    #[error("{0}")]
    Engine(#[from] EngineError),
}

/// What a drain of the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Results the central acknowledged in this run.
    pub delivered: usize,
    /// Results the central rejected in this run (set aside for a person, never deleted).
    pub parked: usize,
    /// Results still waiting after the run.
    pub waiting: i64,
    /// All parked results in the journal.
    pub parked_total: i64,
    /// Why the run stopped early: the central could not be reached.
    pub unreachable: Option<String>,
}

/// How a drain treats results whose retry time (set by an earlier failed delivery) has not come.
#[derive(Clone, Copy)]
pub enum DrainWait<'a> {
    /// Only due results go; the background relay takes the rest later.
    DueOnly,
    /// Wait for them (at most the relay's longest backoff each time), telling `notice` how long
    /// and for how many results.
    ForRetries(&'a (dyn Fn(u64, i64) + Send + Sync)),
}

impl std::fmt::Debug for DrainWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DrainWait::DueOnly => "DueOnly",
            DrainWait::ForRetries(_) => "ForRetries",
        })
    }
}

/// A recovery pass that holds the right to drive attempts from the moment it was taken.
#[derive(Debug)]
pub struct RecoveryTurn<'a> {
    terminal: &'a Terminal,
    _driving: tokio::sync::MutexGuard<'a, ()>,
}

impl RecoveryTurn<'_> {
    /// Runs the pass; the right is given back when it ends.
    pub async fn run(self, progress: ProgressSink<'_>) -> RecoveryReport {
        self.terminal.load_offline_policy();
        self.terminal.engine.recover(progress).await
    }
}

/// The journal's health, for a status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalHealth {
    pub verify: VerifyReport,
    pub outbox: OutboxStats,
    /// Attempts not in a final state.
    pub unresolved: usize,
}

impl Terminal {
    /// Creates the data directory, opens (and locks) the journal on a blocking thread and wires
    /// the engine and the central's client.
    pub async fn open(connection: Connection) -> Result<Terminal, OpenError> {
        create_dirs(&connection.data_dir, &connection.journal)?;
        // Older versions cached every operator's PIN hash here: never again.
        session::remove_operators_cache(&connection.data_dir);
        let central = central_client(&connection.central_url, &connection.terminal_token)?;
        let for_engine = connection.clone();
        let engine_central = central.clone();
        let engine = tokio::task::spawn_blocking(move || build_engine(&for_engine, engine_central))
            .await
            .map_err(|e| OpenError::Internal(format!("the engine set-up task failed: {e}")))??;
        Ok(Terminal {
            engine,
            central,
            connection,
            driving: tokio::sync::Mutex::new(()),
            last_verify: Mutex::new(None),
            session: Mutex::new(None),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn central(&self) -> &HttpCentral {
        &self.central
    }

    pub fn terminal_id(&self) -> &TerminalId {
        &self.connection.terminal
    }

    pub fn central_url(&self) -> &str {
        &self.connection.central_url
    }

    pub fn data_dir(&self) -> &Path {
        &self.connection.data_dir
    }

    pub fn journal_path(&self) -> &Path {
        &self.connection.journal
    }

    /// The engine's clock (the system clock in the product).
    pub fn now(&self) -> Timestamp {
        self.engine.clock().now()
    }

    /// Charges `request.order` as `request.operator`, who must be the signed-in person (else
    /// nothing is written): refuses on a journal that fails verification (I8), then lets the
    /// engine charge online, or — while the central is unreachable — under the manager's signed
    /// allowance with the cached queue. A session the central ended signs the person out here.
    pub async fn charge(
        &self,
        request: &ChargeRequest,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, ChargeError> {
        self.charge_with_options(request, ClaimOptions::default(), progress)
            .await
    }

    /// [`Terminal::charge`], with what the operator confirmed for the claim (that a similar
    /// recent payment of the same customer is not a duplicate: the answer to `similar_payment`).
    pub async fn charge_with_options(
        &self,
        request: &ChargeRequest,
        options: ClaimOptions,
        progress: ProgressSink<'_>,
    ) -> Result<ChargeReport, ChargeError> {
        let signed = self.signed_in().ok_or(ChargeError::NotSignedIn)?;
        if signed.operator != request.operator {
            return Err(ChargeError::OtherOperator {
                signed_in: signed.operator,
                requested: request.operator.clone(),
            });
        }
        self.touch_session();
        let report = self.engine.with_journal(|j| j.verify()).await?;
        if let Some(link) = report.broken {
            return Err(ChargeError::JournalBroken {
                message: link.message,
            });
        }
        let _driving = self.driving.lock().await;
        self.load_offline_policy();
        let cached = caches::cached_order(self.data_dir(), &request.order);
        let charged = self
            .engine
            .charge_with_options(request, cached.as_ref(), options, progress)
            .await;
        if let Err(EngineError::Central(
            CentralError::SessionExpired | CentralError::SessionRequired,
        )) = &charged
        {
            self.end_session_locally();
        }
        Ok(charged?)
    }

    /// One recovery pass (waits for a charge in progress to finish first). An offline attempt
    /// that recovery finishes while the central is still down is checked against the manager's
    /// allowance as saved now.
    pub async fn recover(&self, progress: ProgressSink<'_>) -> RecoveryReport {
        let _driving = self.driving.lock().await;
        self.load_offline_policy();
        self.engine.recover(progress).await
    }

    /// [`Terminal::recover`], refusing a journal that fails verification with
    /// `EngineError::JournalBroken` (nothing sent) instead of listing it among the errors.
    pub async fn recover_checked(
        &self,
        progress: ProgressSink<'_>,
    ) -> Result<RecoveryReport, EngineError> {
        let _driving = self.driving.lock().await;
        self.load_offline_policy();
        self.engine.recover_checked(progress).await
    }

    /// Hands the engine the manager's offline allowance as saved now (blocked when there is
    /// none): read before every charge and every recovery pass, so a withdrawal takes effect at
    /// once.
    fn load_offline_policy(&self) {
        self.engine.set_offline_policy(self.offline_policy());
    }

    /// One recovery pass, unless a charge is running (then `None`: the next turn comes soon).
    pub async fn try_recover(&self, progress: ProgressSink<'_>) -> Option<RecoveryReport> {
        Some(self.recovery_turn()?.run(progress).await)
    }

    /// Takes the right to drive attempts now, without waiting, for a recovery pass to run later:
    /// a front end takes it before it lets anyone charge, so the first pass comes first. `None`
    /// while a charge or another pass runs.
    pub fn recovery_turn(&self) -> Option<RecoveryTurn<'_>> {
        let driving = self.driving.try_lock().ok()?;
        Some(RecoveryTurn {
            terminal: self,
            _driving: driving,
        })
    }

    /// Delivers results until the outbox is empty or the central is unreachable.
    pub async fn drain(&self, wait: DrainWait<'_>) -> Result<DrainReport, EngineError> {
        let mut report = DrainReport::default();
        for _ in 0..DRAIN_ROUNDS_MAX {
            match self.engine.relay_once().await? {
                RelayOutcome::Sent { delivered, parked } => {
                    report.delivered += delivered;
                    report.parked += parked;
                }
                RelayOutcome::Retried { error, .. } => {
                    report.unreachable = Some(error);
                    break;
                }
                RelayOutcome::Empty => {
                    let DrainWait::ForRetries(notice) = wait else {
                        break;
                    };
                    let Some((wait_ms, depth)) = self.next_retry_wait().await? else {
                        break;
                    };
                    notice(wait_ms, depth);
                    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                }
            }
        }
        let stats = self.outbox_stats().await?;
        report.waiting = stats.depth;
        report.parked_total = stats.parked;
        Ok(report)
    }

    /// Nothing is due but results wait: an earlier run failed and set their retry time. How long
    /// until the earliest (bounded by the relay's longest backoff), and how many wait.
    async fn next_retry_wait(&self) -> Result<Option<(u64, i64)>, EngineError> {
        let stats = self.outbox_stats().await?;
        if stats.depth == 0 {
            return Ok(None);
        }
        let later = Timestamp::from_unix_ms(i64::MAX);
        let next = self
            .engine
            .with_journal(move |j| j.outbox_due(later, 1))
            .await?
            .first()
            .map(|m| m.next_try_at);
        Ok(next.map(|next| {
            let wait_ms = next
                .millis_since(self.now())
                .clamp(0, BACKOFF_MS_MAX as i64) as u64;
            (wait_ms, stats.depth)
        }))
    }

    /// The outbox's depth, parked count and oldest age now.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, EngineError> {
        let now = self.now();
        self.engine.with_journal(move |j| j.outbox_stats(now)).await
    }

    /// Attempts not in a final state.
    pub async fn unresolved(&self) -> Result<Vec<Attempt>, EngineError> {
        self.engine.with_journal(|j| j.unresolved()).await
    }

    /// This terminal's own items for the manager's inbox (attempts in review or of unknown
    /// outcome, parked outbox messages), from the journal.
    pub async fn local_inbox(&self) -> Result<Vec<crate::inbox::InboxItem>, EngineError> {
        self.engine
            .with_journal(|j| crate::inbox::local_items(j))
            .await
    }

    /// Attempts of this terminal's journal, newest first.
    pub async fn attempts(&self, filter: AttemptFilter) -> Result<Vec<Attempt>, EngineError> {
        self.engine.attempts(filter).await
    }

    /// One attempt and its history, oldest event first; `None` when it is not in the journal.
    pub async fn attempt_timeline(
        &self,
        id: AttemptId,
    ) -> Result<Option<(Attempt, Vec<StoredEvent>)>, EngineError> {
        let (attempt, events) = self
            .engine
            .with_journal(move |j| Ok((j.attempt(&id)?, j.timeline(&id)?)))
            .await?;
        Ok(attempt.map(|a| (a, events)))
    }

    /// The journal's integrity, outbox and open attempts. The verification is reused while the
    /// journal's head is unchanged, for at most [`VERIFY_REUSE_MS_MAX`].
    pub async fn journal_health(&self) -> Result<JournalHealth, EngineError> {
        let now = self.now();
        let previous = self.last_verify.lock().ok().and_then(|v| v.clone());
        let (verified, outbox, unresolved) = self
            .engine
            .with_journal(move |j| {
                let head = j.head()?;
                let verified = match previous {
                    Some(last)
                        if last.head == head && now.millis_since(last.at) < VERIFY_REUSE_MS_MAX =>
                    {
                        last
                    }
                    _ => LastVerify {
                        report: j.verify()?,
                        head,
                        at: now,
                    },
                };
                Ok((verified, j.outbox_stats(now)?, j.unresolved()?.len()))
            })
            .await?;
        let verify = verified.report.clone();
        if let Ok(mut slot) = self.last_verify.lock() {
            *slot = Some(verified);
        }
        Ok(JournalHealth {
            verify,
            outbox,
            unresolved,
        })
    }

    /// True when the central answers its health check within [`HEALTH_PROBE_MS_MAX`].
    pub async fn central_online(&self) -> bool {
        tokio::time::timeout(
            Duration::from_millis(HEALTH_PROBE_MS_MAX),
            self.central.get_json::<serde_json::Value>("/health"),
        )
        .await
        .is_ok_and(|answer| answer.is_ok())
    }

    /// The unpaid orders (offline: the cached queue, marked as such).
    pub async fn queue(&self) -> Result<Queue, QueueError> {
        caches::fetch_queue(&self.central, self.data_dir(), self.now()).await
    }

    /// Signs `operator` in at the central, replacing whoever was signed in (their session is
    /// ended, best effort); while the central is unreachable, an operator who signed in online
    /// here in the last 12 hours signs in against this terminal's verifier. Online, the
    /// central's allowance key is pinned the first time.
    pub async fn sign_in(&self, operator: &OperatorId, pin: Pin) -> Result<SignedIn, SignInError> {
        let now = self.now();
        let previous = self.take_session_token();
        let signed = session::sign_in(&self.central, self.data_dir(), operator, pin, now).await;
        if let Some(previous) = previous {
            if let Err(e) = self.central.close_session(&previous).await {
                tracing::debug!(error = %e, "could not end the previous session at the central");
            }
        }
        let signed = signed?;
        if !signed.offline {
            if let Err(e) = allowance::pin_allowance_key(&self.central, self.data_dir(), now).await
            {
                tracing::warn!(error = %e, "could not pin the central's allowance key");
            }
        }
        if let Ok(mut slot) = self.session.lock() {
            *slot = Some(Active {
                signed: signed.clone(),
                last_used: now,
            });
        }
        Ok(signed)
    }

    /// Signs the person out: forgotten here at once, the session ended at the central (best
    /// effort: it expires there anyway).
    pub async fn sign_out(&self) {
        if let Some(token) = self.take_session_token() {
            if let Err(e) = self.central.close_session(&token).await {
                tracing::debug!(error = %e, "could not end the session at the central");
            }
        }
    }

    /// Who is signed in now: `None` when nobody is, or once the session's idle limit or maximum
    /// age passed by this terminal's clock (the central enforces both anyway).
    pub fn signed_in(&self) -> Option<SignedIn> {
        let now = self.now();
        let mut slot = self.session.lock().ok()?;
        match slot.as_ref() {
            Some(active) if active.current(now) => Some(active.signed.clone()),
            Some(_) => {
                *slot = None;
                self.central.set_session(None);
                None
            }
            None => None,
        }
    }

    /// Marks the session used now (the idle limit counts from here).
    fn touch_session(&self) {
        let now = self.now();
        if let Ok(mut slot) = self.session.lock() {
            if let Some(active) = slot.as_mut() {
                active.last_used = now;
            }
        }
    }

    /// Forgets the session here (the central already ended it).
    fn end_session_locally(&self) {
        if let Ok(mut slot) = self.session.lock() {
            *slot = None;
        }
        self.central.set_session(None);
    }

    /// Forgets the session here and hands back its token, to end it at the central.
    fn take_session_token(&self) -> Option<SessionToken> {
        let online = self
            .session
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .is_some_and(|active| !active.signed.offline);
        let token = self.central.session_token();
        self.central.set_session(None);
        token.filter(|_| online)
    }

    /// The signed-in MANAGER allows offline charging on this terminal for `duration_ms`, within
    /// the caps: their PIN again, the central signs the grant, the terminal verifies it against
    /// the pinned key and saves it.
    pub async fn grant_offline(
        &self,
        pin: Pin,
        per_charge_max: Money,
        per_shift_max: Money,
        duration_ms: i64,
        cache_age_ms_max: i64,
    ) -> Result<OfflineAllowance, GrantError> {
        let signed = self.signed_in().ok_or(GrantError::NotSignedIn)?;
        if signed.role != Role::Manager {
            return Err(GrantError::NotManager(signed.operator));
        }
        if signed.offline {
            return Err(GrantError::NotSignedIn);
        }
        self.touch_session();
        let granted = allowance::grant_offline(
            &self.central,
            self.data_dir(),
            self.terminal_id(),
            pin,
            per_charge_max,
            per_shift_max,
            duration_ms,
            cache_age_ms_max,
            self.now(),
        )
        .await;
        if let Err(GrantError::Central(
            CentralError::SessionExpired | CentralError::SessionRequired,
        )) = &granted
        {
            self.end_session_locally();
        }
        granted
    }

    /// The offline policy in force now: Allow only for a saved allowance whose signature
    /// verifies against the pinned key, for this terminal, within its window.
    pub fn offline_policy(&self) -> OfflinePolicy {
        allowance::offline_policy(self.data_dir(), self.terminal_id(), self.now())
    }

    /// A manager sends a parked result again: the manager signs in at the central for this one
    /// action (online only; whoever is signed in at the terminal stays signed in).
    pub async fn outbox_retry(
        &self,
        manager: &OperatorId,
        pin: Pin,
        id: i64,
    ) -> Result<OutboxMessage, ManagerActionError> {
        let manager = self.check_manager(manager, pin).await?;
        Ok(self.engine.outbox_retry(id, manager).await?)
    }

    /// A manager archives a parked result with `reason` (kept for good, no longer parked).
    pub async fn outbox_archive(
        &self,
        manager: &OperatorId,
        pin: Pin,
        id: i64,
        reason: &str,
    ) -> Result<OutboxMessage, ManagerActionError> {
        let manager = self.check_manager(manager, pin).await?;
        Ok(self
            .engine
            .outbox_archive(id, manager, reason.to_string())
            .await?)
    }

    async fn check_manager(
        &self,
        manager: &OperatorId,
        pin: Pin,
    ) -> Result<OperatorId, ManagerActionError> {
        let grant = match self.central.open_session(manager, &pin).await {
            Ok(grant) => grant,
            Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
                return Err(SignInError::UnreachableNoCache { detail }.into())
            }
            Err(e) => return Err(session::central_refusal(&self.central, e).await.into()),
        };
        let token = SessionToken::new(grant.session_token.clone());
        if let Err(e) = self.central.close_session(&token).await {
            tracing::debug!(error = %e, "could not end the manager's one-off session");
        }
        if grant.role != Role::Manager {
            return Err(ManagerActionError::NotManager(grant.operator_id));
        }
        Ok(grant.operator_id)
    }

    /// The background relay until `shutdown` turns true.
    pub async fn run_relay(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        self.engine.run_relay(shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_too_old_by_the_terminals_clock() {
        let t = Timestamp::from_unix_ms;
        let active = Active {
            signed: SignedIn {
                operator: OperatorId::new("op").unwrap(),
                role: Role::Operator,
                offline: false,
                signed_in_at: t(0),
                expires_at: t(100_000),
                idle_ms: 10_000,
                session_id: Some("ses_1".into()),
            },
            last_used: t(50_000),
        };
        assert!(active.current(t(50_000)));
        assert!(active.current(t(59_999)));
        assert!(!active.current(t(60_000)), "idle");
        let used_late = Active {
            last_used: t(95_000),
            ..active
        };
        assert!(used_late.current(t(99_999)));
        assert!(!used_late.current(t(100_000)), "past the maximum age");
    }
}
