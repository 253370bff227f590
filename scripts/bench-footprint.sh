#!/usr/bin/env bash
# The footprint bench: the release Paydesk app against a minimal Tauri v2 app
# (bench/footprint-baseline, built here with the same toolchain and release profile): idle memory
# (PSS of the app and its WebKit processes after 60 s), time from start to the first interactive
# frame, and binary size, each with the ratio and its target. bench/footprint.py says exactly what
# is measured. Runs headless: its own Xvfb, a private D-Bus session, an unlocked gnome-keyring and
# a fresh HOME and data folder (so the user's own journal and keyring are never touched).
#
# Usage: scripts/bench-footprint.sh [--runs N] [--idle-seconds S] [--skip-startup]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_debian_packages
command -v python3 >/dev/null || { echo "python3 is missing: apt-get install python3" >&2; exit 1; }
ensure_tauri_driver
ensure_ui_built
build_desktop release

# The baseline is a different app and its own workspace (not a member of this one), with its own
# target dir under target/: its dependencies resolve with other features than the workspace's, so
# sharing the shell's target dir would save little and hold its lock longer.
step "building the baseline app (bench/footprint-baseline, release, target/footprint-baseline)"
BASELINE_TARGET="$CARGO_TARGET_DIR/footprint-baseline"
(cd bench/footprint-baseline && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --features custom-protocol)
BASELINE_BIN="$BASELINE_TARGET/release/footprint-baseline"

step "measuring (about $(( 2 * 60 + 30 )) s)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/data" "$scratch/cache" "$scratch/config" "$scratch/run"
chmod 700 "$scratch/run"
# Paths for the inner shell (its HOME changes; cargo is not needed in there).
export PAYDESK_BIN="$DESKTOP_BIN" BASELINE_BIN TAURI_DRIVER
env -u DBUS_SESSION_BUS_ADDRESS -u PAYDESK_CENTRAL_URL -u PAYDESK_GATEWAY_URL -u PAYDESK_TERMINAL \
  HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache" \
  XDG_CONFIG_HOME="$scratch/config" XDG_RUNTIME_DIR="$scratch/run" \
  PAYDESK_DATA_DIR="$scratch/paydesk" PAYDESK_KEYRING_SERVICE="paydesk-footprint-$$" \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- sh -c '
    printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null &&
    exec python3 bench/footprint.py --paydesk "$PAYDESK_BIN" --baseline "$BASELINE_BIN" \
      --tauri-driver "$TAURI_DRIVER" "$@"' bench "$@"
