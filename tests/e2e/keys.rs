//! The keyboard, as the end-to-end tests press it: WebDriver's key actions on whatever has the
//! focus, and where the focus is.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{Driver, PAGE_READY_MS_MAX, POLL_MS};

/// WebDriver's codes for the keys the desk uses.
pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";
pub const ESCAPE: &str = "\u{E00C}";
pub const BACKSPACE: &str = "\u{E003}";
pub const ARROW_DOWN: &str = "\u{E015}";
pub const END: &str = "\u{E010}";

/// Presses keys on whatever has the focus (WebDriver's key actions, as a keyboard would): each
/// entry is text typed character by character or one of the key codes above.
pub fn press(driver: &Driver, s: &str, keys: &[&str]) {
    let mut actions = Vec::new();
    for key in keys {
        for ch in key.chars() {
            let value = ch.to_string();
            actions.push(json!({ "type": "keyDown", "value": value }));
            actions.push(json!({ "type": "keyUp", "value": value }));
        }
    }
    let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{s}/actions"),
            Some(body),
        )
        .unwrap_or_else(|e| panic!("pressing {keys:?}: {e}"));
    // Svelte updates the DOM in a microtask; WebKit paints after.
    sleep(Duration::from_millis(POLL_MS));
}

/// The `data-testid` of the focused element, if it has one.
pub fn active_testid(driver: &Driver, s: &str) -> Option<String> {
    let body = json!({
        "script": "return document.activeElement && document.activeElement.getAttribute('data-testid');",
        "args": [],
    });
    let value: Value = driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{s}/execute/sync"),
            Some(body),
        )
        .unwrap_or_else(|e| panic!("reading the focus: {e}"));
    value.as_str().map(str::to_string)
}

/// Tabs (at most a dozen times) until the element with `testid` has the focus.
pub fn focus_by_tab(driver: &Driver, s: &str, testid: &str) {
    for _ in 0..12 {
        if active_testid(driver, s).as_deref() == Some(testid) {
            return;
        }
        press(driver, s, &[TAB]);
    }
    panic!("Tab never reached {testid}: {}", driver.page_text(s));
}

/// Waits until the element with `testid` has the focus.
pub fn wait_for_focus(driver: &Driver, s: &str, testid: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while active_testid(driver, s).as_deref() != Some(testid) {
        assert!(
            Instant::now() < deadline,
            "{testid} never got the focus (it is on {:?})",
            active_testid(driver, s)
        );
        sleep(Duration::from_millis(POLL_MS));
    }
}
