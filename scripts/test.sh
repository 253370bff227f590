#!/usr/bin/env bash
# The README's test command: sets up everything it needs on a fresh Debian machine, then runs every
# test — formatting and lints, the UI's unit tests, every Rust crate (the central against a real
# PostgreSQL and SQLite, the engine against the sandbox gateway and the central), the desktop shell
# on Tauri's mock runtime, and the end-to-end test of the real app in its real webview under Xvfb.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$(date +%s)

ensure_debian_packages
ensure_postgres
ensure_tauri_driver

step "UI unit tests (vitest)"
ensure_ui_packages
(cd ui && npm test --silent && npm run check --silent)
ensure_ui_built

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

build_desktop

step "Rust tests: every crate, the shell, the system tests and the end-to-end test"
PAYDESK_DESKTOP_BIN="$DESKTOP_BIN" cargo test --workspace

echo
echo "all tests passed in $(( $(date +%s) - started )) s"
