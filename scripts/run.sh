#!/usr/bin/env bash
# The README's run command: installs what the app needs, builds the UI and the desktop shell, and
# starts Paydesk. Needs a graphical session (DISPLAY or WAYLAND_DISPLAY); on a headless machine run
# it under `xvfb-run`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_debian_packages
ensure_ui_built
build_desktop

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: run this on a desktop session, or headless as: xvfb-run bash scripts/run.sh" >&2
  exit 2
fi
step "starting Paydesk"
exec "$DESKTOP_BIN" "$@"
