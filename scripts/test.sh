#!/usr/bin/env bash
# The README's test command: sets up everything it needs on a fresh Debian machine, then runs every
# test — formatting and lints, the UI's unit tests, every Rust crate (the central against a real
# PostgreSQL and SQLite, the engine against the sandbox gateway and the central), the desktop shell
# on Tauri's mock runtime, the end-to-end test of the real app in its real webview under Xvfb, and
# what a Debian package of the app holds.
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
# The package check on a .deb of that debug build: the same bundler and check as
# scripts/package.sh, without its release build (which CI does not pay for).
bundle_deb debug

step "Rust tests: every crate, the shell, the system tests and the end-to-end test"
PAYDESK_DESKTOP_BIN="$DESKTOP_BIN" cargo test --workspace

step "keyring tests against a real Secret Service (gnome-keyring in a private D-Bus session)"
# A fresh HOME gives the keyring daemon an empty, unlocked store; cargo and rustup must still be
# found, so their homes are pinned first.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
HOME=$(mktemp -d) dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null &&
  PAYDESK_REQUIRE_KEYRING=1 cargo test -p paydesk-terminal --lib secrets -- --test-threads=1 &&
  PAYDESK_REQUIRE_KEYRING=1 cargo test -p paydesk-cli --test keyring -- --test-threads=1'

echo
echo "all tests passed in $(( $(date +%s) - started )) s"
