//! The desk: the shell's window-free side. It starts the engine (against the embedded default or
//! an external central), keeps who is signed in, runs recovery and the outbox relay in the
//! background, and answers the UI's commands with one call into the engine or the stack each.
//!
//! Nothing here knows about windows: the commands in `lib.rs` adapt these methods, and tests call
//! them through Tauri's mock runtime. Deliberately absent: charge-protocol decisions (the engine
//! and the core own them), SQL (the journal) and wording beyond the error mapping in `error.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paydesk_core::{AttemptId, Money, OperatorId, OrderId, TerminalId, Timestamp};
use paydesk_engine::{
    ChargeRequest, Clock, Engine, HttpCentral, Progress, RecoveryReport, RelayOutcome, SystemClock,
};
use paydesk_journal::{AttemptFilter, VerifyReport};
use paydesk_stack::Stack;
use tauri::async_runtime::JoinHandle;
use tokio::sync::watch;

use crate::error::{engine_error, log_detail, queue_error, sign_in_error, UiError, UiErrorKind};
use crate::launch::{self, Launch};
use crate::views::{
    AttemptView, ChargeView, JournalStatus, OrderView, QueueView, ReadyStatus, RecoverySummary,
    Session, StatusView, SyncView, TimelineView,
};

/// How long start-up (the embedded central and gateway, the journal, the first recovery) may
/// take before the app says it failed: a cold start on a busy 2-core machine takes a few seconds
/// (argon2 hashes two demo PINs on the first start); ten times that is a clear failure.
pub const STARTUP_MS_MAX: u64 = 60_000;
/// Recovery runs at start-up and then this often: often enough that an unknown outcome is
/// settled within a minute of the gateway answering again, rare enough to cost nothing.
pub const RECOVERY_INTERVAL_MS: u64 = 30_000;
/// How long `status` waits for the central's health answer before calling it offline; the UI
/// polls status every few seconds, so a slow answer must not hold the status bar.
pub const HEALTH_PROBE_MS_MAX: u64 = 2_000;
/// How long shutdown waits for the background loops and the embedded servers.
pub const SHUTDOWN_MS_MAX: u64 = 10_000;
/// The status bar's journal verification is reused while the journal's head is unchanged, but
/// never for longer than this: the UI polls every few seconds, and re-hashing a long journal that
/// often would hold up charges for nothing; a minute still catches a file edited behind our back.
pub const VERIFY_REUSE_MS_MAX: i64 = 60_000;
/// Relay rounds one `sync_now` runs at most (each delivers up to a full batch).
const SYNC_ROUNDS_MAX: u32 = 100;

/// The app's handle on its engine; cheap to clone (every clone shares one desk).
#[derive(Debug, Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Starting, running or failed; replaced once by the start-up task and once at shutdown.
    phase: Mutex<Phase>,
    /// The person signed in on this terminal, from `sign_in` to `sign_out` (memory only).
    session: Mutex<Option<Session>>,
    /// Held by a charge and by a recovery pass: both drive attempts, and one attempt must never
    /// be driven by two loops at once. A charge waits for a running pass; a periodic pass that
    /// finds a charge running skips its turn.
    driving: tokio::sync::Mutex<()>,
    /// The last recovery pass, for the status bar.
    last_recovery: Mutex<Option<RecoverySummary>>,
    /// The status bar's last verification: the journal head it covered, when, and the report.
    last_verify: Mutex<Option<LastVerify>>,
    /// Set once at shutdown; every background loop watches it.
    shutdown: watch::Sender<bool>,
    /// The start-up task and the background loops, awaited at shutdown.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// When start-up began (for the UI's bounded "starting" screen).
    started_at: Timestamp,
}

#[derive(Debug, Clone)]
struct LastVerify {
    head: (i64, String),
    at: Timestamp,
    report: VerifyReport,
}

#[derive(Debug)]
enum Phase {
    Starting,
    Ready(Arc<Running>),
    Failed(UiError),
    Stopped,
}

/// A started engine and what belongs to it, for the life of the process.
#[derive(Debug)]
struct Running {
    engine: Engine,
    /// The central's client for the queue, sign-in and the health probe.
    central: HttpCentral,
    central_url: String,
    terminal: TerminalId,
    /// Caches (queue, operators) live here.
    data_dir: PathBuf,
    journal: PathBuf,
    embedded: bool,
    /// The embedded central and gateway; taken and stopped at shutdown.
    stack: Mutex<Option<Stack>>,
}

impl Desk {
    /// A desk that is starting: the start-up task (spawned on Tauri's async runtime) fills it in.
    /// `default_data_dir` is used when the launch names none.
    pub fn start(launch: Launch, default_data_dir: Result<PathBuf, String>) -> Desk {
        let (shutdown, _) = watch::channel(false);
        let desk = Desk {
            inner: Arc::new(Inner {
                phase: Mutex::new(Phase::Starting),
                session: Mutex::new(None),
                driving: tokio::sync::Mutex::new(()),
                last_recovery: Mutex::new(None),
                last_verify: Mutex::new(None),
                shutdown,
                tasks: Mutex::new(Vec::new()),
                started_at: SystemClock.now(),
            }),
        };
        let data_dir = match launch.data_dir.clone().map(Ok).unwrap_or(default_data_dir) {
            Ok(dir) => dir,
            Err(detail) => {
                log_detail("no app data directory", &detail);
                desk.set_phase(Phase::Failed(UiError::new(
                    UiErrorKind::StartupFailed,
                    "Paydesk could not find a folder for its data on this computer.",
                    format!(
                        "Set {} to a writable folder and restart Paydesk.",
                        launch::DATA_DIR_ENV
                    ),
                )));
                return desk;
            }
        };
        let task = {
            let desk = desk.clone();
            tauri::async_runtime::spawn(async move { desk.run_startup(launch, data_dir).await })
        };
        desk.push_task(task);
        desk
    }

    async fn run_startup(&self, launch: Launch, data_dir: PathBuf) {
        let embedded = matches!(launch.target, launch::Target::Embedded);
        let started = tokio::time::timeout(
            Duration::from_millis(STARTUP_MS_MAX),
            launch::start(launch, data_dir),
        )
        .await;
        let started =
            match started {
                Ok(Ok(started)) => started,
                Ok(Err(error)) => return self.set_phase(Phase::Failed(error)),
                Err(_) => return self.set_phase(Phase::Failed(UiError::new(
                    UiErrorKind::StartupFailed,
                    format!(
                        "Paydesk could not start within {} s.",
                        STARTUP_MS_MAX / 1000
                    ),
                    "Restart Paydesk. If it happens again, report it to support with the time it \
                     happened.",
                ))),
            };
        let running = Arc::new(Running {
            engine: started.engine,
            central: started.central,
            central_url: started.central_url,
            terminal: started.terminal,
            data_dir: started.data_dir,
            journal: started.journal,
            embedded,
            stack: Mutex::new(started.stack),
        });
        if *self.inner.shutdown.borrow() {
            // The window closed while we were starting: stop what just started.
            stop_running(&running).await;
            return self.set_phase(Phase::Stopped);
        }
        // Recovery once before anyone can charge: the guard is taken before the desk is ready.
        {
            let _driving = self.inner.driving.lock().await;
            self.set_phase(Phase::Ready(running.clone()));
            self.recover_pass(&running).await;
        }
        let relay = {
            let engine = running.engine.clone();
            let shutdown = self.inner.shutdown.subscribe();
            tauri::async_runtime::spawn(async move { engine.run_relay(shutdown).await })
        };
        let recovery = {
            let desk = self.clone();
            let running = running.clone();
            tauri::async_runtime::spawn(async move { desk.recovery_loop(running).await })
        };
        self.push_task(relay);
        self.push_task(recovery);
    }

    /// Recovery every [`RECOVERY_INTERVAL_MS`] until shutdown; skips a turn while a charge runs.
    async fn recovery_loop(&self, running: Arc<Running>) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            // A receiver subscribed after the signal would never see it change: look first.
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(RECOVERY_INTERVAL_MS)) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Ok(_driving) = self.inner.driving.try_lock() {
                self.recover_pass(&running).await;
            }
        }
    }

    /// One recovery pass; the caller holds `driving`.
    async fn recover_pass(&self, running: &Running) -> RecoveryReport {
        let report = running.engine.recover(&|_| {}).await;
        for error in &report.errors {
            log_detail("recovery", error);
        }
        if let Ok(mut last) = self.inner.last_recovery.lock() {
            *last = Some(RecoverySummary {
                at: SystemClock.now(),
                report: report.clone(),
            });
        }
        report
    }

    /// Stops the background loops and the embedded servers, and waits for them (bounded). The
    /// journal needs no flushing: every step was committed before it was acted on.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let stop = async {
            // The start-up task may add the loops while we wait for it: drain until none is left.
            loop {
                let tasks: Vec<_> = self
                    .inner
                    .tasks
                    .lock()
                    .map(|mut t| t.drain(..).collect())
                    .unwrap_or_default();
                if tasks.is_empty() {
                    break;
                }
                for task in tasks {
                    let _ = task.await;
                }
            }
            let phase = self
                .inner
                .phase
                .lock()
                .map(|mut p| std::mem::replace(&mut *p, Phase::Stopped));
            if let Ok(Phase::Ready(running)) = phase {
                stop_running(&running).await;
            }
        };
        if tokio::time::timeout(Duration::from_millis(SHUTDOWN_MS_MAX), stop)
            .await
            .is_err()
        {
            log_detail("shutdown", "the background work did not stop in time");
        }
    }

    fn set_phase(&self, phase: Phase) {
        if let Phase::Failed(error) = &phase {
            log_detail("start-up failed", &error.to_string());
        }
        if let Ok(mut slot) = self.inner.phase.lock() {
            // Shutdown has the last word.
            if !matches!(*slot, Phase::Stopped) {
                *slot = phase;
            }
        }
    }

    fn push_task(&self, task: JoinHandle<()>) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(task);
        }
    }

    /// The running engine, or why there is none.
    fn running(&self) -> Result<Arc<Running>, UiError> {
        let phase = self
            .inner
            .phase
            .lock()
            .map_err(|_| UiError::internal("desk phase lock poisoned"))?;
        match &*phase {
            Phase::Starting => Err(UiError::starting()),
            Phase::Ready(running) => Ok(running.clone()),
            Phase::Failed(error) => Err(error.clone()),
            Phase::Stopped => Err(UiError::new(
                UiErrorKind::StartupFailed,
                "Paydesk is shutting down.",
                "Start Paydesk again.",
            )),
        }
    }

    fn session(&self) -> Option<Session> {
        self.inner.session.lock().ok().and_then(|s| s.clone())
    }

    /// The running engine and the signed-in person; an error when either is missing.
    fn signed_in(&self) -> Result<(Arc<Running>, Session), UiError> {
        let running = self.running()?;
        let session = self.session().ok_or_else(UiError::not_signed_in)?;
        Ok((running, session))
    }

    /// Checks the PIN against the central (offline: the cached operator list) and keeps the
    /// session. Operators and managers both sign in here.
    pub async fn sign_in(&self, operator: &str, pin: String) -> Result<Session, UiError> {
        let running = self.running()?;
        let operator = OperatorId::new(operator.trim()).map_err(|_| {
            UiError::bad_input(
                "That is not an operator id.",
                "Type the operator id you were given (letters, digits and '-').",
            )
        })?;
        let signed = paydesk_stack::check_pin(
            &running.central,
            &running.data_dir,
            &operator,
            pin,
            SystemClock.now(),
        )
        .await
        .map_err(|e| sign_in_error(&e))?;
        let session = Session {
            operator: signed.operator,
            role: signed.role,
            offline: signed.offline,
            signed_in_at: SystemClock.now(),
        };
        if let Ok(mut slot) = self.inner.session.lock() {
            *slot = Some(session.clone());
        }
        Ok(session)
    }

    pub fn sign_out(&self) {
        if let Ok(mut slot) = self.inner.session.lock() {
            *slot = None;
        }
    }

    /// The unpaid orders (offline: the cached queue, marked as such).
    pub async fn queue(&self) -> Result<QueueView, UiError> {
        let (running, _) = self.signed_in()?;
        let queue =
            paydesk_stack::fetch_queue(&running.central, &running.data_dir, SystemClock.now())
                .await
                .map_err(|e| queue_error(&e))?;
        Ok(QueueView {
            orders: queue
                .orders
                .into_iter()
                .map(|order| OrderView {
                    amount_exponent: order.amount.currency().exponent(),
                    order,
                })
                .collect(),
            offline: queue.offline,
            cached_at: queue.cached_at,
        })
    }

    /// Charges `order` as the signed-in operator, if the central still has `expected_amount`.
    /// Refuses on a journal that fails verification (I8). Progress goes to `progress`.
    pub async fn charge(
        &self,
        order: &str,
        expected_amount: Money,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ChargeView, UiError> {
        let (running, session) = self.signed_in()?;
        let order = OrderId::new(order).map_err(|_| {
            UiError::bad_input("That is not an order id.", "Pick the order from the queue.")
        })?;
        let journal = running.journal.clone();
        let report = running
            .engine
            .with_journal(|j| j.verify())
            .await
            .map_err(|e| engine_error(&journal, &e))?;
        if !report.is_intact() {
            return Err(UiError::new(
                UiErrorKind::JournalDamaged,
                "This terminal's journal failed its integrity check, so charging has stopped.",
                "Call your manager: the journal must be reconciled before anyone charges here.",
            ));
        }
        let _driving = self.inner.driving.lock().await;
        let request = ChargeRequest {
            order,
            operator: session.operator,
            expected_amount,
        };
        // While the central is unreachable, a manager's saved allowance (if any; blocked by
        // default) and the cached queue let the engine decide whether this charge may go ahead
        // offline — the same files and rules as the command line.
        running
            .engine
            .set_offline_policy(paydesk_stack::offline_policy(
                &running.data_dir,
                SystemClock.now(),
            ));
        let cached = paydesk_stack::cached_order(&running.data_dir, &request.order);
        let report = running
            .engine
            .charge_with_cache(&request, cached.as_ref(), progress)
            .await
            .map_err(|e| engine_error(&journal, &e))?;
        Ok(ChargeView {
            attempt: report.attempt.into(),
            pending: report.pending,
        })
    }

    /// Attempts of this terminal's journal, newest first.
    pub async fn attempts(&self, filter: AttemptFilter) -> Result<Vec<AttemptView>, UiError> {
        let (running, _) = self.signed_in()?;
        let attempts = running
            .engine
            .attempts(filter)
            .await
            .map_err(|e| engine_error(&running.journal, &e))?;
        Ok(attempts.into_iter().map(AttemptView::from).collect())
    }

    /// One attempt and its history.
    pub async fn attempt_timeline(&self, id: &str) -> Result<TimelineView, UiError> {
        let (running, _) = self.signed_in()?;
        let id = AttemptId::parse(id).map_err(|_| {
            UiError::bad_input(
                "That is not an attempt id.",
                "Pick the attempt from the journal.",
            )
        })?;
        let (attempt, events) = running
            .engine
            .with_journal(move |j| Ok((j.attempt(&id)?, j.timeline(&id)?)))
            .await
            .map_err(|e| engine_error(&running.journal, &e))?;
        let attempt = attempt.ok_or_else(|| {
            UiError::bad_input("This attempt is not in the journal.", "Reload the journal.")
        })?;
        Ok(TimelineView {
            attempt: attempt.into(),
            events,
        })
    }

    /// Online or not, the outbox, the journal's integrity, the terminal and who is signed in.
    pub async fn status(&self) -> Result<StatusView, UiError> {
        let running = match self.running() {
            Ok(running) => running,
            Err(e) if e.kind == UiErrorKind::Starting => {
                return Ok(StatusView::Starting {
                    elapsed_ms: SystemClock.now().millis_since(self.inner.started_at),
                    startup_ms_max: STARTUP_MS_MAX,
                })
            }
            Err(e) => return Err(e),
        };
        let now = SystemClock.now();
        let previous = self.inner.last_verify.lock().ok().and_then(|v| v.clone());
        let (verified, outbox, unresolved) = running
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
                Ok((verified, j.outbox_stats(now)?, j.unresolved()?))
            })
            .await
            .map_err(|e| engine_error(&running.journal, &e))?;
        let report = verified.report.clone();
        if let Ok(mut slot) = self.inner.last_verify.lock() {
            *slot = Some(verified);
        }
        let online = tokio::time::timeout(
            Duration::from_millis(HEALTH_PROBE_MS_MAX),
            running.central.get_json::<serde_json::Value>("/health"),
        )
        .await
        .is_ok_and(|answer| answer.is_ok());
        Ok(StatusView::Ready(Box::new(ReadyStatus {
            online,
            embedded: running.embedded,
            central_url: running.central_url.clone(),
            terminal: running.terminal.clone(),
            session: self.session(),
            journal: JournalStatus {
                path: running.journal.display().to_string(),
                verified: report.is_intact(),
                broken_at_seq: report.broken.as_ref().and_then(|b| b.seq),
                broken_kind: report.broken.as_ref().map(|b| b.kind),
                events_checked: report.events,
                outbox_depth: outbox.depth,
                outbox_parked: outbox.parked,
                outbox_oldest_age_ms: outbox.oldest_age_ms,
            },
            unresolved: unresolved.len(),
            last_recovery: self.inner.last_recovery.lock().ok().and_then(|l| l.clone()),
        })))
    }

    /// One recovery pass now (waits for a charge in progress to finish first).
    pub async fn recover_now(&self) -> Result<RecoveryReport, UiError> {
        let (running, _) = self.signed_in()?;
        let _driving = self.inner.driving.lock().await;
        Ok(self.recover_pass(&running).await)
    }

    /// Delivers the due results to the central now, until the outbox is empty or the central is
    /// unreachable. Results waiting for their retry time stay for the background relay.
    pub async fn sync_now(&self) -> Result<SyncView, UiError> {
        let (running, _) = self.signed_in()?;
        let engine = &running.engine;
        let journal = &running.journal;
        let mut view = SyncView::default();
        for _ in 0..SYNC_ROUNDS_MAX {
            match engine
                .relay_once()
                .await
                .map_err(|e| engine_error(journal, &e))?
            {
                RelayOutcome::Sent { delivered, parked } => {
                    view.delivered += delivered;
                    view.parked += parked;
                }
                RelayOutcome::Retried { error, .. } => {
                    log_detail("sync", &error);
                    view.unreachable = true;
                    break;
                }
                RelayOutcome::Empty => break,
            }
        }
        let now = SystemClock.now();
        view.waiting = engine
            .with_journal(move |j| j.outbox_stats(now))
            .await
            .map_err(|e| engine_error(journal, &e))?
            .depth;
        Ok(view)
    }
}

/// Stops the embedded servers of a running desk (the loops were stopped by the caller).
async fn stop_running(running: &Running) {
    let stack = running.stack.lock().ok().and_then(|mut s| s.take());
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
}
