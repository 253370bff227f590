//! Compiles tauri.conf.json into the baseline app (the same step as the desktop shell's build.rs).
fn main() {
    tauri_build::build()
}
