# Shared set-up steps for the README's commands (sourced, not run). Every step is idempotent:
# it checks first and only installs or builds what is missing, so a second run is fast.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

# Debian packages the desktop shell, its end-to-end test and the keyring need.
DEBIAN_PACKAGES=(
  build-essential pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb xauth
  gnome-keyring dbus libdbus-1-dev
)

step() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages that are not installed yet (one `apt-get update` at most).
ensure_debian_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Installs the UI's npm packages exactly as locked and builds ui/dist (the shell embeds it).
ensure_ui_built() {
  step "building the UI (npm ci, vite build)"
  (cd "$REPO_ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
}

# Builds the desktop binary with Tauri's asset protocol, so it serves ui/dist (not a dev server).
build_desktop() {
  step "building the desktop app"
  (cd "$REPO_ROOT" && cargo build -p paydesk-desktop --features custom-protocol)
  DESKTOP_BIN="$CARGO_TARGET_DIR/debug/paydesk-desktop"
  export DESKTOP_BIN
}
