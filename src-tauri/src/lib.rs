//! Paydesk's desktop shell: starts the engine (the embedded default, or an external central) and
//! exposes it to the web UI as commands and progress events.
//!
//! Each `#[tauri::command]` is a one-line adapter over a [`desk::Desk`] method that runs without a
//! window (and is tested without one). This file deliberately holds no business logic, no SQL and
//! no wording: only the wiring that `main` and the mock-runtime tests share through
//! [`configure_with`].

pub mod customer_wait;
pub mod desk;
pub mod desk_context;
pub mod error;
pub mod launch;
pub mod manager;
pub mod manager_reversals;
pub mod manager_views;
pub mod permissions;
pub mod report_views;
pub mod reports;
pub mod training;
pub mod views;

use paydesk_core::Money;
use paydesk_engine::Progress;
use paydesk_journal::AttemptFilter;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

pub use desk::Desk;
pub use error::{UiError, UiErrorKind};
pub use launch::Launch;
pub use paydesk_terminal::JOURNAL_ENV;
pub use views::{
    AttemptView, ChargeView, JournalStatus, QueueView, Session, StatusView, SyncView, TimelineView,
};

/// The event that carries a charge's progress to the UI.
pub const CHARGE_PROGRESS_EVENT: &str = "charge-progress";

/// One progress event as the UI receives it: which order, and the engine's step.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ChargeProgress {
    pub order: String,
    pub progress: Progress,
}

/// The real app's wiring: the environment and the OS keyring.
pub fn configure<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    configure_with(builder, Launch::from_env())
}

/// Everything the app needs besides its context: the start-up hook that starts the desk and the
/// commands. `main` (through [`configure`]) and the tests build their app through this function.
pub fn configure_with<R: Runtime>(builder: tauri::Builder<R>, launch: Launch) -> tauri::Builder<R> {
    builder
        // The OS save dialog for the manager's CSV exports: the UI gets only the chosen path,
        // and the shell writes the file (`reports.rs`).
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            // Start-up runs in the background so the window shows at once; a failure is kept by
            // the desk and shown by the UI with what to do.
            // The command line's default too (one journal for both): the OS data folder + paydesk.
            use paydesk_terminal::TerminalSettings;
            let default_data_dir = TerminalSettings::default_data_dir();
            if let (None, Some(former), Some(new)) = (
                &launch.settings.data_dir,
                TerminalSettings::former_desktop_data_dir(),
                &default_data_dir,
            ) {
                error::log_detail(
                    "data directory",
                    &format!(
                        "an earlier Paydesk kept its journal in {}; this one uses {}: set {} to \
                         the earlier folder to keep using it (see the README)",
                        former.display(),
                        new.display(),
                        paydesk_terminal::DATA_DIR_ENV
                    ),
                );
            }
            let default_data_dir = default_data_dir
                .ok_or_else(|| "the OS names no per-user data folder (no home directory)".into());
            app.manage(Desk::start(launch.clone(), default_data_dir));
            exit_on_sigterm(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            sign_in,
            sign_out,
            queue,
            charge,
            attempts,
            attempt_timeline,
            refresh_card,
            receipt_given,
            status,
            recover_now,
            sync_now,
            // when the customer must act (issue 12, item 6)
            customer_waits,
            send_payment_link,
            mark_customer_contacted,
            // manager: inbox and reversals (D1)
            manager_inbox,
            order_evidence,
            resolve_order,
            retry_attempt,
            request_reversal,
            reversal_requests,
            approve_reversal,
            send_reversal,
            // manager: reports (D2)
            day_close,
            sign_off_day,
            export_day_close,
            audit,
            export_audit,
            journal_review,
            journal_receipt,
            export_journal,
            outbox,
            outbox_retry,
            outbox_archive,
            offline_allowance,
            grant_offline,
            withdraw_offline,
            settings,
            set_approval_threshold,
            set_permissions,
            set_limit,
            // training mode in the demo (issue 12, item 9)
            set_training,
            rehearse,
        ])
}

/// Builds and runs the real app; stops the engine's background work and the embedded servers
/// when the app exits, and waits for them. Panics only if the window system itself cannot start,
/// which leaves nothing to show an error in.
pub fn run() {
    let app = configure(tauri::Builder::default())
        .build(tauri::generate_context!())
        .expect("the Tauri runtime failed to start");
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(desk) = handle.try_state::<Desk>() {
                let desk = desk.inner().clone();
                tauri::async_runtime::block_on(desk.shutdown());
            }
        }
    });
}

/// SIGTERM (a session logout, `kill`, a test driver closing the app) exits through the event loop
/// like closing the window does, so the engine's shutdown runs instead of being cut off.
fn exit_on_sigterm<R: Runtime>(app: AppHandle<R>) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                if term.recv().await.is_some() {
                    app.exit(0);
                }
            }
            Err(e) => error::log_detail("cannot watch for SIGTERM", &e.to_string()),
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}

// The commands are async so that they run on the async runtime's threads, not the main (UI)
// thread; the desk sends journal, argon2 and keyring work to blocking threads.

#[tauri::command]
async fn sign_in(desk: State<'_, Desk>, operator: String, pin: String) -> Result<Session, UiError> {
    desk.sign_in(&operator, pin).await
}

#[tauri::command]
async fn sign_out(desk: State<'_, Desk>) -> Result<(), UiError> {
    desk.sign_out().await;
    Ok(())
}

#[tauri::command]
async fn queue(desk: State<'_, Desk>) -> Result<QueueView, UiError> {
    desk.queue().await
}

/// Charges an order; every step reaches the UI as a [`CHARGE_PROGRESS_EVENT`] while it runs.
/// `confirm_similar` (optional, default false): the operator chose "Charge anyway" after the
/// central's similar-payment warning. `charge_amount` (optional, default the balance due):
/// what this payment charges, a deposit or part of the balance (issue 12, installments);
/// another amount than the balance needs `reason`, which the central audits.
#[tauri::command]
async fn charge<R: Runtime>(
    app: AppHandle<R>,
    desk: State<'_, Desk>,
    order_id: String,
    expected_amount: Money,
    confirm_similar: Option<bool>,
    charge_amount: Option<Money>,
    reason: Option<String>,
) -> Result<ChargeView, UiError> {
    let order = order_id.clone();
    let emit = move |progress: Progress| {
        let event = ChargeProgress {
            order: order.clone(),
            progress,
        };
        if let Err(e) = app.emit(CHARGE_PROGRESS_EVENT, event) {
            error::log_detail("emitting charge progress", &e.to_string());
        }
    };
    desk.charge(
        &order_id,
        expected_amount,
        confirm_similar.unwrap_or(false),
        charge_amount,
        reason,
        &emit,
    )
    .await
}

#[tauri::command]
async fn attempts(
    desk: State<'_, Desk>,
    filter: Option<AttemptFilter>,
) -> Result<Vec<AttemptView>, UiError> {
    desk.attempts(filter.unwrap_or_default()).await
}

#[tauri::command]
async fn attempt_timeline(desk: State<'_, Desk>, id: String) -> Result<TimelineView, UiError> {
    desk.attempt_timeline(&id).await
}

/// Reads the order's saved payment method at its gateway again (issue 12, item 1).
#[tauri::command]
async fn refresh_card(
    desk: State<'_, Desk>,
    order_id: String,
) -> Result<views::OrderView, UiError> {
    desk.refresh_card(&order_id).await
}

/// Records that a succeeded attempt's receipt was copied or printed (issue 12, item 7).
#[tauri::command]
async fn receipt_given(
    desk: State<'_, Desk>,
    attempt_id: String,
    how: String,
) -> Result<paydesk_journal::StoredEvent, UiError> {
    desk.receipt_given(&attempt_id, &how).await
}

#[tauri::command]
async fn status(desk: State<'_, Desk>) -> Result<StatusView, UiError> {
    desk.status().await
}

#[tauri::command]
async fn recover_now(desk: State<'_, Desk>) -> Result<paydesk_engine::RecoveryReport, UiError> {
    desk.recover_now().await
}

#[tauri::command]
async fn sync_now(desk: State<'_, Desk>) -> Result<SyncView, UiError> {
    desk.sync_now().await
}

// manager: reports (D2) — the day close, the audit log, the journal review, the outbox and the
// offline allowance; each a one-line adapter over `reports.rs`.

#[tauri::command]
async fn day_close(
    desk: State<'_, Desk>,
    day: String,
    shift: Option<String>,
) -> Result<paydesk_terminal::day_close::DayClose, UiError> {
    desk.day_close(&day, shift.as_deref()).await
}

#[tauri::command]
async fn sign_off_day(
    desk: State<'_, Desk>,
    day: String,
    pin: String,
    note: Option<String>,
) -> Result<paydesk_terminal::day_close::DaySignOff, UiError> {
    desk.sign_off_day(&day, &pin, note).await
}

#[tauri::command]
async fn export_day_close(
    desk: State<'_, Desk>,
    close: paydesk_terminal::day_close::DayClose,
    path: String,
) -> Result<report_views::ExportView, UiError> {
    desk.export_day_close(close, &path).await
}

#[tauri::command]
async fn audit(
    desk: State<'_, Desk>,
    query: Option<report_views::AuditQuery>,
) -> Result<report_views::AuditPage, UiError> {
    desk.audit(query.unwrap_or_default()).await
}

#[tauri::command]
async fn export_audit(
    desk: State<'_, Desk>,
    query: Option<report_views::AuditQuery>,
    path: String,
) -> Result<report_views::ExportView, UiError> {
    desk.export_audit(query.unwrap_or_default(), &path).await
}

#[tauri::command]
async fn journal_review(
    desk: State<'_, Desk>,
    search: Option<paydesk_terminal::export::JournalSearch>,
) -> Result<report_views::JournalReviewView, UiError> {
    desk.journal_review(search.unwrap_or_default()).await
}

#[tauri::command]
async fn journal_receipt(desk: State<'_, Desk>) -> Result<report_views::ReceiptView, UiError> {
    desk.journal_receipt().await
}

#[tauri::command]
async fn export_journal(
    desk: State<'_, Desk>,
    search: Option<paydesk_terminal::export::JournalSearch>,
    path: String,
) -> Result<report_views::ExportView, UiError> {
    desk.export_journal(search.unwrap_or_default(), &path).await
}

#[tauri::command]
async fn outbox(desk: State<'_, Desk>) -> Result<report_views::OutboxView, UiError> {
    desk.outbox().await
}

#[tauri::command]
async fn outbox_retry(
    desk: State<'_, Desk>,
    id: i64,
    pin: String,
) -> Result<report_views::OutboxView, UiError> {
    desk.outbox_retry(id, &pin).await
}

#[tauri::command]
async fn outbox_archive(
    desk: State<'_, Desk>,
    id: i64,
    pin: String,
    reason: String,
) -> Result<report_views::OutboxView, UiError> {
    desk.outbox_archive(id, &pin, &reason).await
}

#[tauri::command]
async fn offline_allowance(desk: State<'_, Desk>) -> Result<report_views::OfflineView, UiError> {
    desk.offline().await
}

#[tauri::command]
async fn grant_offline(
    desk: State<'_, Desk>,
    request: report_views::GrantOfflineRequest,
) -> Result<report_views::OfflineView, UiError> {
    desk.grant_offline(request).await
}

#[tauri::command]
async fn withdraw_offline(
    desk: State<'_, Desk>,
    pin: String,
) -> Result<report_views::OfflineView, UiError> {
    desk.withdraw_offline(&pin).await
}

// manager: inbox and reversals (D1) — the exception inbox, an order's evidence and a decision on
// it, reversals with a second manager's approval; each a one-line adapter over `manager.rs` and
// `manager_reversals.rs`.

#[tauri::command]
async fn customer_waits(
    desk: State<'_, Desk>,
) -> Result<paydesk_protocol::customer::CustomerWaitList, UiError> {
    desk.customer_waits().await
}

#[tauri::command]
async fn send_payment_link(
    desk: State<'_, Desk>,
    order_id: String,
) -> Result<paydesk_protocol::customer::PaymentLink, UiError> {
    desk.send_payment_link(&order_id).await
}

#[tauri::command]
async fn mark_customer_contacted(
    desk: State<'_, Desk>,
    order_id: String,
    note: String,
) -> Result<paydesk_protocol::customer::ContactRecord, UiError> {
    desk.mark_customer_contacted(&order_id, &note).await
}

#[tauri::command]
async fn manager_inbox(desk: State<'_, Desk>) -> Result<manager_views::InboxView, UiError> {
    desk.manager_inbox().await
}

#[tauri::command]
async fn order_evidence(
    desk: State<'_, Desk>,
    order_id: String,
) -> Result<manager_views::EvidenceView, UiError> {
    desk.order_evidence(&order_id).await
}

#[tauri::command]
async fn resolve_order(
    desk: State<'_, Desk>,
    order_id: String,
    decision: manager::Decision,
) -> Result<manager_views::DecisionView, UiError> {
    desk.resolve_order(&order_id, decision).await
}

#[tauri::command]
async fn retry_attempt(
    desk: State<'_, Desk>,
    attempt_id: String,
    reason: String,
    pin: String,
) -> Result<manager_views::DecisionView, UiError> {
    desk.retry_attempt(&attempt_id, &reason, &pin).await
}

#[tauri::command]
async fn request_reversal(
    desk: State<'_, Desk>,
    order_id: String,
    amount: Option<Money>,
    reason: String,
    pin: String,
) -> Result<manager_views::ReversalView, UiError> {
    desk.request_reversal(&order_id, amount, &reason, &pin)
        .await
}

#[tauri::command]
async fn reversal_requests(
    desk: State<'_, Desk>,
) -> Result<Vec<manager_views::ReversalRequestView>, UiError> {
    desk.reversal_requests().await
}

#[tauri::command]
async fn approve_reversal(
    desk: State<'_, Desk>,
    reversal_key: String,
    pin: String,
) -> Result<manager_views::ReversalView, UiError> {
    desk.approve_reversal(&reversal_key, &pin).await
}

#[tauri::command]
async fn send_reversal(
    desk: State<'_, Desk>,
    reversal_key: String,
    pin: String,
) -> Result<manager_views::ReversalView, UiError> {
    desk.send_reversal(&reversal_key, &pin).await
}

#[tauri::command]
async fn settings(desk: State<'_, Desk>) -> Result<permissions::SettingsView, UiError> {
    desk.settings().await
}

#[tauri::command]
async fn set_approval_threshold(
    desk: State<'_, Desk>,
    amount: String,
    currency: String,
    pin: String,
) -> Result<permissions::SettingsView, UiError> {
    desk.set_approval_threshold(&amount, &currency, &pin).await
}

#[tauri::command]
async fn set_permissions(
    desk: State<'_, Desk>,
    role: paydesk_protocol::Role,
    actions: Vec<paydesk_protocol::settings::Action>,
    pin: String,
) -> Result<permissions::SettingsView, UiError> {
    desk.set_permissions(role, actions, &pin).await
}

#[tauri::command]
async fn set_limit(
    desk: State<'_, Desk>,
    operator: String,
    currency: String,
    per_refund: String,
    per_day: String,
    pin: String,
) -> Result<permissions::SettingsView, UiError> {
    desk.set_limit(&operator, &currency, &per_refund, &per_day, &pin)
        .await
}

// training mode in the demo (issue 12, item 9): one-line adapters over `training.rs`; the state
// itself reaches the UI in every `status`.

#[tauri::command]
async fn set_training(desk: State<'_, Desk>, on: bool) -> Result<training::TrainingView, UiError> {
    desk.set_training(on).await
}

#[tauri::command]
async fn rehearse(
    desk: State<'_, Desk>,
    rehearsal: Option<training::Rehearsal>,
) -> Result<training::TrainingView, UiError> {
    desk.rehearse(rehearsal).await
}
