//! Entry point of the Paydesk desktop app; everything it does is in the library (`configure`),
//! so the mock-runtime tests exercise the same wiring.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    paydesk_desktop::run();
}
