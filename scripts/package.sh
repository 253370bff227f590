#!/usr/bin/env bash
# Builds the release app and a Debian package with Tauri's bundler, then checks what the package
# holds, failing loudly (scripts/check-deb.sh): the binary in usr/bin, a desktop entry (Exec, Icon,
# Categories=Finance) whose Exec and Icon name files in the package, the hicolor icons, and
# Depends naming libwebkit2gtk-4.1. Prints the .deb's path. Bundling needs no network; only
# installing missing tools (Debian packages, tauri-cli 2 once) and the first build's crates do.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$(date +%s)

ensure_debian_packages
ensure_tauri_cli
ensure_ui_built
# The same release build as scripts/run.sh (reused when it is already there).
build_desktop release
bundle_deb release

echo "  built and checked in $(( $(date +%s) - started )) s"
