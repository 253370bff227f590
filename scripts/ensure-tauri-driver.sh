#!/usr/bin/env bash
# Installs tauri-driver (the WebDriver bridge the end-to-end test uses) if it is not installed.
# Pinned to 2.1.0: 3.0.0 alphas on crates.io pass the application capability differently.
set -euo pipefail
TAURI_DRIVER_VERSION=2.1.0
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "==> installing tauri-driver $TAURI_DRIVER_VERSION"
  cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked
fi
