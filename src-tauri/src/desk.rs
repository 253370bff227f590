//! The desk: the shell's window-free side. It opens the terminal (against the embedded default or
//! an external central), keeps who is signed in, runs recovery and the outbox relay in the
//! background, and answers the UI's commands with one call into the terminal each.
//!
//! Nothing here knows about windows: the commands in `lib.rs` adapt these methods, and tests call
//! them through Tauri's mock runtime. Deliberately absent: terminal logic (`paydesk-terminal`),
//! charge-protocol decisions (the engine and the core), SQL (the journal), and wording beyond
//! the error mapping in `error.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paydesk_core::{AttemptId, Money, OperatorId, OrderId, Pin, Timestamp};
use paydesk_engine::{ChargeRequest, ClaimOptions, Clock, Progress, RecoveryReport, SystemClock};
use paydesk_journal::AttemptFilter;
use paydesk_stack::Stack;
use paydesk_terminal::{DrainWait, Terminal};
use tauri::async_runtime::JoinHandle;
use tokio::sync::watch;

use crate::error::{
    charge_error, engine_error, log_detail, queue_error, sign_in_error, UiError, UiErrorKind,
};
use crate::launch::{self, Launch};
use crate::training::Training;
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
/// How long shutdown waits for the background loops and the embedded servers.
pub const SHUTDOWN_MS_MAX: u64 = 10_000;

/// The app's handle on its engine; cheap to clone (every clone shares one desk).
#[derive(Debug, Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Starting, running or failed; replaced once by the start-up task and once at shutdown.
    phase: Mutex<Phase>,
    /// The last recovery pass, for the status bar.
    last_recovery: Mutex<Option<RecoverySummary>>,
    /// Set once at shutdown; every background loop watches it.
    shutdown: watch::Sender<bool>,
    /// The start-up task and the background loops, awaited at shutdown.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// When start-up began (for the UI's bounded "starting" screen).
    started_at: Timestamp,
}

#[derive(Debug)]
enum Phase {
    Starting,
    Ready(Arc<Running>),
    Failed(UiError),
    Stopped,
}

/// An open terminal and what belongs to it, for the life of the process.
#[derive(Debug)]
pub(crate) struct Running {
    /// The engine, the journal, the central's client and the caches.
    pub(crate) terminal: Terminal,
    /// The embedded demo central and sandbox gateway (not a real one).
    embedded: bool,
    /// The embedded central and gateway; taken and stopped at shutdown.
    stack: Mutex<Option<Stack>>,
    /// Training mode (`training.rs`): off at start; offered only with the embedded stack.
    pub(crate) training: Training,
}

impl Desk {
    /// A desk that is starting: the start-up task (spawned on Tauri's async runtime) fills it in.
    /// `default_data_dir` is used when the launch names none.
    pub fn start(launch: Launch, default_data_dir: Result<PathBuf, String>) -> Desk {
        let (shutdown, _) = watch::channel(false);
        let desk = Desk {
            inner: Arc::new(Inner {
                phase: Mutex::new(Phase::Starting),
                last_recovery: Mutex::new(None),
                shutdown,
                tasks: Mutex::new(Vec::new()),
                started_at: SystemClock.now(),
            }),
        };
        let data_dir = match launch
            .settings
            .data_dir
            .clone()
            .map(Ok)
            .unwrap_or(default_data_dir)
        {
            Ok(dir) => dir,
            Err(detail) => {
                log_detail("no app data directory", &detail);
                desk.set_phase(Phase::Failed(UiError::new(
                    UiErrorKind::StartupFailed,
                    "Paydesk could not find a folder for its data on this computer.",
                    format!(
                        "Set {} to a writable folder and restart Paydesk.",
                        paydesk_terminal::DATA_DIR_ENV
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
        let embedded = launch.is_embedded();
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
            terminal: started.terminal,
            embedded,
            training: Training::new(started.stack.as_ref().map(Stack::training)),
            stack: Mutex::new(started.stack),
        });
        if *self.inner.shutdown.borrow() {
            // The window closed while we were starting: stop what just started.
            stop_running(&running).await;
            return self.set_phase(Phase::Stopped);
        }
        // Recovery once before anyone can charge: its turn is taken before the desk is ready,
        // and a charge waits for it.
        {
            let turn = running.terminal.recovery_turn();
            self.set_phase(Phase::Ready(running.clone()));
            if let Some(turn) = turn {
                let report = turn.run(&|_| {}).await;
                self.note_recovery(running.terminal.now(), report);
            }
        }
        let relay = {
            let running = running.clone();
            let shutdown = self.inner.shutdown.subscribe();
            tauri::async_runtime::spawn(async move { running.terminal.run_relay(shutdown).await })
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
            if let Some(report) = running.terminal.try_recover(&|_| {}).await {
                self.note_recovery(running.terminal.now(), report);
            }
        }
    }

    /// Logs a recovery pass's errors and keeps its summary (as of `at`) for the status bar.
    fn note_recovery(&self, at: Timestamp, report: RecoveryReport) -> RecoveryReport {
        for error in &report.errors {
            log_detail("recovery", error);
        }
        if let Ok(mut last) = self.inner.last_recovery.lock() {
            *last = Some(RecoverySummary {
                at,
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

    /// Who is signed in, as the terminal keeps it: nobody once the session went idle or past its
    /// maximum age (the terminal's clock; the central enforces both too).
    fn session(&self) -> Option<Session> {
        let running = self.running().ok()?;
        running.terminal.signed_in().map(Session::from)
    }

    /// The running engine and the signed-in person; an error when either is missing. The
    /// manager's modules (`manager.rs`, `reports.rs`) start every command here.
    pub(crate) fn signed_in(&self) -> Result<(Arc<Running>, Session), UiError> {
        let running = self.running()?;
        let session = running
            .terminal
            .signed_in()
            .map(Session::from)
            .ok_or_else(UiError::not_signed_in)?;
        Ok((running, session))
    }

    /// Signs in at the central, which checks the PIN (with a lockout) and opens a session for
    /// this terminal; while the central is unreachable, an operator who signed in online here
    /// recently signs in against this terminal's own verifier. Operators and managers both sign
    /// in here; a manager only online.
    pub async fn sign_in(&self, operator: &str, pin: String) -> Result<Session, UiError> {
        let running = self.running()?;
        let operator = OperatorId::new(operator.trim()).map_err(|_| {
            UiError::bad_input(
                "That is not an operator id.",
                "Type the operator id you were given (letters, digits and '-').",
            )
        })?;
        let pin = Pin::parse(&pin).map_err(|e| {
            UiError::bad_input(
                format!("That is not a PIN: {e}."),
                "Type your PIN again (digits only).",
            )
        })?;
        let signed = running
            .terminal
            .sign_in(&operator, pin)
            .await
            .map_err(|e| sign_in_error(&e))?;
        Ok(Session::from(signed))
    }

    /// Signs out here at once and ends the session at the central (best effort).
    pub async fn sign_out(&self) {
        if let Ok(running) = self.running() {
            running.terminal.sign_out().await;
        }
    }

    /// The unpaid orders (offline: the cached queue, marked as such).
    pub async fn queue(&self) -> Result<QueueView, UiError> {
        let (running, _) = self.signed_in()?;
        let queue = running
            .terminal
            .queue()
            .await
            .map_err(|e| queue_error(&e))?;
        Ok(QueueView {
            orders: queue.orders.into_iter().map(OrderView::from).collect(),
            offline: queue.offline,
            cached_at: queue.cached_at,
        })
    }

    /// Charges `order` as the signed-in operator, if the central still has `expected_amount`.
    /// The terminal refuses on a journal that fails verification (I8) and, while the central is
    /// unreachable, follows the manager's saved allowance. Progress goes to `progress`.
    /// `confirm_similar`: the operator confirmed that a similar recent payment of the same
    /// customer (the central's `similar_payment` refusal) is not a duplicate. `amount`: what this
    /// payment charges (issue 12, installments; `None`: the balance due); another amount than
    /// the balance needs the `charge_other_amount` permission and `reason` at the central.
    pub async fn charge(
        &self,
        order: &str,
        expected_amount: Money,
        confirm_similar: bool,
        amount: Option<Money>,
        reason: Option<String>,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ChargeView, UiError> {
        let (running, session) = self.signed_in()?;
        let order = OrderId::new(order).map_err(|_| {
            UiError::bad_input("That is not an order id.", "Pick the order from the queue.")
        })?;
        let request = ChargeRequest {
            order,
            operator: session.operator,
            expected_amount,
        };
        let terminal = &running.terminal;
        // A rehearsal armed in training applies to this charge only.
        let rehearsed = running.training.before_charge();
        let charged = terminal
            .charge_with_options(
                &request,
                ClaimOptions {
                    confirm_similar,
                    amount,
                    reason: reason.filter(|r| !r.trim().is_empty()),
                },
                progress,
            )
            .await;
        running.training.after_charge(rehearsed);
        let report = charged.map_err(|e| charge_error(terminal.journal_path(), &e))?;
        Ok(ChargeView {
            attempt: report.attempt.into(),
            pending: report.pending,
        })
    }

    /// Attempts of this terminal's journal, newest first.
    pub async fn attempts(&self, filter: AttemptFilter) -> Result<Vec<AttemptView>, UiError> {
        let (running, _) = self.signed_in()?;
        let terminal = &running.terminal;
        let attempts = terminal
            .attempts(filter)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
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
        let terminal = &running.terminal;
        let (attempt, events) = terminal
            .attempt_timeline(id)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?
            .ok_or_else(|| {
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
        let terminal = &running.terminal;
        let health = terminal
            .journal_health()
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        let report = &health.verify;
        Ok(StatusView::Ready(Box::new(ReadyStatus {
            online: terminal.central_online().await,
            embedded: running.embedded,
            central_url: terminal.central_url().to_string(),
            terminal: terminal.terminal_id().clone(),
            session: self.session(),
            journal: JournalStatus {
                path: terminal.journal_path().display().to_string(),
                verified: report.is_intact(),
                broken_at_seq: report.broken.as_ref().and_then(|b| b.seq),
                broken_kind: report.broken.as_ref().map(|b| b.kind),
                events_checked: report.events,
                outbox_depth: health.outbox.depth,
                outbox_parked: health.outbox.parked,
                outbox_oldest_age_ms: health.outbox.oldest_age_ms,
            },
            unresolved: health.unresolved,
            last_recovery: self.inner.last_recovery.lock().ok().and_then(|l| l.clone()),
            training: running.training.view(),
        })))
    }

    /// One recovery pass now (waits for a charge in progress to finish first).
    pub async fn recover_now(&self) -> Result<RecoveryReport, UiError> {
        let (running, _) = self.signed_in()?;
        let report = running.terminal.recover(&|_| {}).await;
        Ok(self.note_recovery(running.terminal.now(), report))
    }

    /// Delivers the due results to the central now, until the outbox is empty or the central is
    /// unreachable. Results waiting for their retry time stay for the background relay.
    pub async fn sync_now(&self) -> Result<SyncView, UiError> {
        let (running, _) = self.signed_in()?;
        let terminal = &running.terminal;
        let report = terminal
            .drain(DrainWait::DueOnly)
            .await
            .map_err(|e| engine_error(terminal.journal_path(), &e))?;
        if let Some(why) = &report.unreachable {
            log_detail("sync", why);
        }
        Ok(SyncView {
            delivered: report.delivered,
            parked: report.parked,
            waiting: report.waiting,
            unreachable: report.unreachable.is_some(),
        })
    }
}

/// Stops the embedded servers of a running desk (the loops were stopped by the caller).
async fn stop_running(running: &Running) {
    let stack = running.stack.lock().ok().and_then(|mut s| s.take());
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
}
