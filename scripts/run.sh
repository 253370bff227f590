#!/usr/bin/env bash
# The README's run command: installs what the app needs, builds the UI and the desktop shell (a
# release build: no devtools), and starts Paydesk against the embedded default (central on SQLite +
# sandbox gateway, seeded with demo orders). Needs a graphical session (DISPLAY or WAYLAND_DISPLAY)
# with a keyring; see README.md for a headless run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_debian_packages
ensure_ui_built
build_desktop release

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: run this in a desktop session, or headless (with a keyring) as:" >&2
  echo "  xvfb-run dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; bash scripts/run.sh'" >&2
  exit 2
fi
step "starting Paydesk"
exec "$DESKTOP_BIN" "$@"
