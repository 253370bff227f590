//! The footprint bench's baseline: one window, one command the page calls at mount. Nothing else,
//! so what Paydesk costs beyond it is Paydesk's.

/// The page calls this once at mount and shows its answer as a button: the baseline's "first
/// interactive frame", like Paydesk's `status` call that leads to the sign-in form.
#[tauri::command]
fn ready() -> &'static str {
    "Ready"
}

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("the baseline app failed to start");
}
