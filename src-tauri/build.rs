//! Build script of the desktop shell: compiles tauri.conf.json, the capabilities and the app's
//! command permissions into the binary.
//!
//! The capabilities live under src-tauri/ while the package root is the repository root, so
//! tauri-build has to be told where to find them. Declaring the app's commands in an app manifest
//! makes tauri-build generate one `allow-<command>` permission per command; the capability then
//! grants exactly those, instead of every command to every window.

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "sign_in",
            "sign_out",
            "queue",
            "charge",
            "attempts",
            "attempt_timeline",
            // the order in context and the receipt (issue 12, items 1 and 7)
            "refresh_card",
            "receipt_given",
            "status",
            "recover_now",
            "sync_now",
            // when the customer must act (issue 12, item 6)
            "customer_waits",
            "send_payment_link",
            "mark_customer_contacted",
            // manager: inbox and reversals (D1)
            "manager_inbox",
            "order_evidence",
            "resolve_order",
            "retry_attempt",
            "request_reversal",
            "reversal_requests",
            "approve_reversal",
            "send_reversal",
            // manager: reports (D2)
            "day_close",
            "sign_off_day",
            "export_day_close",
            "audit",
            "export_audit",
            "journal_review",
            "journal_receipt",
            "export_journal",
            "outbox",
            "outbox_retry",
            "outbox_archive",
            "offline_allowance",
            "grant_offline",
            "withdraw_offline",
            "settings",
            "set_approval_threshold",
            "set_permissions",
            "set_limit",
            // training mode in the demo (issue 12, item 9)
            "set_training",
            "rehearse",
        ]));
    if let Err(error) = tauri_build::try_build(attributes) {
        // `{:#}` keeps the whole cause chain, which is where tauri-build says what it disliked.
        panic!("tauri-build failed: {error:#}");
    }
}
