#!/usr/bin/env bash
# Runs the desktop end-to-end test (tests/e2e_desktop.rs) with everything it needs, idempotently:
# Debian packages (only the missing ones), tauri-driver 2.1.0, the UI build, the app build, then
# the test itself with PAYDESK_DESKTOP_BIN pointing at the app. Respects CARGO_TARGET_DIR.
#
# Usage: scripts/test-e2e.sh [extra args for the test binary, e.g. --nocapture]
# Env:   PAYDESK_E2E_SCREENSHOT=/tmp/paydesk.png saves what the webview showed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# What the app needs to build (WebKitGTK 4.1, librsvg for icons) and what drives it in a test
# (WebKitWebDriver, Xvfb). The same list as the machine notes in the project brief.
apt_packages=(libwebkit2gtk-4.1-dev webkit2gtk-driver xvfb librsvg2-dev libssl-dev build-essential pkg-config)
# tauri-driver 3.x alphas pass the application capability differently; 2.1.0 is what is verified.
tauri_driver_version="2.1.0"

step() { printf '\n==> %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

step "system packages"
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
else
  echo "all present"
fi

step "tauri-driver $tauri_driver_version"
if cargo install --list | grep -q "^tauri-driver v$tauri_driver_version:"; then
  echo "present"
else
  cargo install tauri-driver --version "$tauri_driver_version" --locked
fi
export TAURI_DRIVER="${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver"

step "UI (npm ci, npm run build)"
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20.19+ and npm" >&2; exit 1; }
# npm ci only when the installed tree is older than the lock file: it wipes node_modules each time.
if [[ ! -f ui/node_modules/.package-lock.json || ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
  (cd ui && npm ci --no-audit --no-fund)
fi
(cd ui && npm run build)

step "desktop app (cargo build -p paydesk-desktop --features custom-protocol)"
started=$(date +%s)
# custom-protocol: serve the bundled ui/dist, not a dev server (a blank window otherwise).
cargo build -p paydesk-desktop --features custom-protocol
echo "app build took $(elapsed "$started")"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
export PAYDESK_DESKTOP_BIN="$target_dir/debug/paydesk-desktop"
[[ -x $PAYDESK_DESKTOP_BIN ]] || { echo "expected the app at $PAYDESK_DESKTOP_BIN" >&2; exit 1; }

step "end-to-end test"
started=$(date +%s)
cargo test -p paydesk-system-tests --test e2e_desktop -- "$@"
echo "e2e (build + run) took $(elapsed "$started")"
