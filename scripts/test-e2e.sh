#!/usr/bin/env bash
# Runs only the desktop end-to-end tests (tests/e2e_desktop.rs, e2e_manager.rs, e2e_reports.rs,
# e2e_outbox.rs, e2e_resolve.rs, e2e_paypal.rs, e2e_training.rs, e2e_card.rs,
# e2e_customer_action.rs, e2e_installments.rs) with everything they need: Debian packages, tauri-driver, the UI build,
# the app build, then the tests with PAYDESK_DESKTOP_BIN set.
# The full test command (scripts/test.sh) runs it too; this is the quick loop for UI work.
#
# Usage: scripts/test-e2e.sh [extra args for the test binary, e.g. --nocapture]
# Env:   PAYDESK_E2E_SCREENSHOT=/tmp/paydesk.png saves what the webview showed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_debian_packages
ensure_tauri_driver
ensure_ui_built
build_desktop

step "end-to-end test"
PAYDESK_DESKTOP_BIN="$DESKTOP_BIN" cargo test -p paydesk-system-tests --test e2e_desktop --test e2e_manager --test e2e_reports --test e2e_outbox --test e2e_resolve --test e2e_paypal --test e2e_training --test e2e_card --test e2e_customer_action --test e2e_installments -- "$@"
