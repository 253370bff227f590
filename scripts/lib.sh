# Shared set-up steps for the README's commands (sourced, not run). Every step is idempotent:
# it checks first and only installs or builds what is missing, so a second run is fast.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

# Debian packages the desktop shell, its end-to-end test and the keyring need.
DEBIAN_PACKAGES=(
  build-essential pkg-config libssl-dev postgresql-client
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

# Installs the UI's npm packages exactly as locked — only when the installed tree is older than
# the lock file, since `npm ci` wipes node_modules each time.
ensure_ui_packages() {
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20.19+ and npm" >&2; exit 1; }
  local ui="$REPO_ROOT/ui"
  if [[ ! -f $ui/node_modules/.package-lock.json || $ui/package-lock.json -nt $ui/node_modules/.package-lock.json ]]; then
    step "installing the UI's npm packages (npm ci)"
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Builds ui/dist, which the shell embeds (it must exist before the shell compiles).
ensure_ui_built() {
  ensure_ui_packages
  step "building the UI (vite build)"
  (cd "$REPO_ROOT/ui" && npm run build --silent)
}

# tauri-driver drives the app in its webview for the end-to-end test. Pinned to 2.1.0: the 3.0
# alphas on crates.io pass the application capability differently.
TAURI_DRIVER_VERSION=2.1.0
ensure_tauri_driver() {
  if ! cargo install --list | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
    step "installing tauri-driver $TAURI_DRIVER_VERSION"
    cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked
  fi
  export TAURI_DRIVER="${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver"
}

# Tauri's CLI bundles the app into a .deb (scripts/package.sh). Any 2.x: the bundle config is
# Tauri 2's; installed once, then reused (CI machines keep ~/.cargo/bin).
ensure_tauri_cli() {
  if ! cargo install --list | grep -q '^tauri-cli v2\.'; then
    step "installing tauri-cli 2 (cargo tauri)"
    cargo install tauri-cli --version "^2" --locked
  fi
}

# Bundles the desktop binary that build_desktop built ($1: release or debug) into a .deb with
# Tauri's bundler, then checks what it holds (scripts/check-deb.sh). Sets DEB to the package:
# target/release/bundle/deb/Paydesk_<version>_<arch>.deb for release, a scratch folder for debug.
#
# `cargo tauri bundle` packs the binary as it is: it runs no cargo build and no beforeBuildCommand,
# so it reuses build_desktop's build and needs no network (`cargo tauri build` would rebuild the
# shell: its --config reaches tauri-build as TAURI_CONFIG, which the build script watches). It
# does rewrite the binary it packs in place (it patches it for the updater, then puts the original
# bytes back), which fails with "Text file busy" while that binary runs — e.g. an end-to-end test
# or scripts/run.sh's app — so it packs a copy, in a target dir of its own.
bundle_deb() {
  local profile=${1:-debug}
  ensure_tauri_cli
  step "bundling the $profile build into a .deb (cargo tauri bundle --bundles deb) and checking it"
  local stage="$CARGO_TARGET_DIR/deb-stage"
  local flags=(--ci --bundles deb --features custom-protocol)
  [ "$profile" = release ] || flags+=(--debug)
  rm -rf "$stage"
  mkdir -p "$stage/$profile"
  cp "$CARGO_TARGET_DIR/$profile/paydesk-desktop" "$stage/$profile/"
  (cd "$REPO_ROOT" && CARGO_TARGET_DIR="$stage" CARGO_NET_OFFLINE=true cargo tauri bundle "${flags[@]}")
  local debs=("$stage/$profile/bundle/deb"/*.deb)
  [ -f "${debs[0]}" ] || { echo "no .deb in $stage/$profile/bundle/deb after bundling" >&2; exit 1; }
  [ ${#debs[@]} -eq 1 ] || { echo "more than one .deb after bundling: ${debs[*]}" >&2; exit 1; }
  DEB=${debs[0]}
  if [ "$profile" = release ]; then
    local dir="$CARGO_TARGET_DIR/release/bundle/deb"
    mkdir -p "$dir" && rm -f "$dir"/*.deb && mv "$DEB" "$dir/" && DEB="$dir/$(basename "$DEB")"
  fi
  rm -f "$stage/$profile/paydesk-desktop"
  export DEB
  bash "$REPO_ROOT/scripts/check-deb.sh" "$DEB"
}

# The central's tests need PostgreSQL on 127.0.0.1:5432 (these machines run it; start it if down).
ensure_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    step "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
}

# Builds the desktop binary with Tauri's asset protocol, so it serves ui/dist (not a dev server).
# The tests drive a debug build (it compiles with the tests' artifacts); `release` builds what an
# operator runs: a release build has no devtools, so no JavaScript console can reach the commands.
build_desktop() {
  local profile=${1:-debug}
  step "building the desktop app ($profile)"
  if [ "$profile" = release ]; then
    (cd "$REPO_ROOT" && cargo build --release -p paydesk-desktop --features custom-protocol)
  else
    (cd "$REPO_ROOT" && cargo build -p paydesk-desktop --features custom-protocol)
  fi
  DESKTOP_BIN="$CARGO_TARGET_DIR/$profile/paydesk-desktop"
  export DESKTOP_BIN
}
