#!/usr/bin/env bash
# The README's test command: sets up everything it needs on a fresh Debian machine, then runs every
# test — formatting and lints, the Rust crates, the desktop shell (mock runtime), the UI's unit
# tests, and the end-to-end test of the real app in its real webview under Xvfb.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$(date +%s)

ensure_debian_packages

step "UI unit tests (vitest)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm test --silent)
ensure_ui_built

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

build_desktop
bash "$REPO_ROOT/scripts/ensure-tauri-driver.sh"

step "Rust tests: every crate, the shell, the system tests and the end-to-end test"
PAYDESK_DESKTOP_BIN="$DESKTOP_BIN" cargo test --workspace

echo
echo "all tests passed in $(( $(date +%s) - started )) s"
