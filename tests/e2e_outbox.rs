//! End to end: a result the central refused, in the built app's real webview against the
//! embedded demo (issue 11, items 1 and 7). The demo's till charged order demo-3008 under the
//! terminal id it had before its token was lost; this app relays that result under its present
//! id, the real central refuses it (the claim was never granted to this terminal) and the relay
//! parks it. The demo manager finds it in the inbox and on the outbox screen with the central's
//! reason; "Send again" sends it once more and the central refuses it again for the same reason,
//! so it is parked again; the manager archives it with a reason, and it leaves the outbox and the
//! inbox. The central's audit log shows the archive: who, on which terminal, and why.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.outbox-inbox.png` (the inbox with the parked
//! result open), `<file>.outbox-parked.png`, `<file>.outbox-sent-again.png`,
//! `<file>.outbox-archived.png` and `<file>.outbox-audit.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{click_on, screenshot, sign_in, type_into, App, Driver, PAGE_READY_MS_MAX, POLL_MS};

/// The demo's manager (demo data, not a secret).
const MANAGER: (&str, &str) = ("demo-manager", "87654321");
/// The order the demo's till charged under its old terminal id.
const PARKED_ORDER: &str = "demo-3008";
/// The parked result as an inbox row.
const PARKED_ROW: &str = "tr[data-testid='inbox-row'][data-kind='parked_message']";
/// The parked result on the outbox screen.
const PARKED_OUTBOX_ROW: &str = "tr[data-testid='outbox-row'][data-parked='true']";
/// Why the manager archives it.
const ARCHIVE_REASON: &str =
    "the central has this payment from the gateway; the till reported it under its old id";

#[test]
fn a_manager_sends_a_refused_result_again_then_archives_it_with_a_reason() {
    let Some(app) = App::start() else {
        return;
    };
    let driver = app.driver.clone();
    let s = app.s();

    // The inbox lists the parked result, in words, with the central's reason.
    sign_in(&driver, s, MANAGER.0, MANAGER.1);
    // The app's terminal id (written by its embedded stack, which runs by now).
    let terminal = std::fs::read_to_string(app.data_dir.join("terminal.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|t| t["terminal_id"].as_str().map(str::to_string))
        .expect("the app's terminal id in terminal.json");
    reload_until(&driver, s, "[data-testid='inbox-reload']", || {
        driver.find(s, PARKED_ROW).is_some()
    });
    assert_eq!(
        driver
            .attribute_of(s, PARKED_ROW, "data-order-id")
            .as_deref(),
        Some(PARKED_ORDER)
    );
    let row = driver.text_of(s, PARKED_ROW);
    assert!(
        row.contains("Result the central did not accept"),
        "kind in words: {row}"
    );
    assert!(
        row.contains(&format!("never granted to terminal {terminal}")),
        "the central's reason: {row}"
    );
    // Opened, it offers exactly what a parked result allows.
    click_on(&driver, s, &format!("{PARKED_ROW} td:nth-child(2)"));
    driver
        .wait_for_element(s, "[data-testid='action-archive']")
        .unwrap_or_else(|| panic!("no archive offered: {}", driver.page_text(s)));
    assert!(driver
        .find(s, "[data-testid='action-send_again']")
        .is_some());
    screenshot(&driver, s, Some("outbox-inbox"));

    // The outbox screen: nothing waits, one result was refused, with the reason.
    click_on(&driver, s, "[data-testid='nav-outbox']");
    let summary = driver
        .wait_for_text(
            s,
            "[data-testid='outbox-summary']",
            "refused by the central",
        )
        .unwrap_or_else(|| panic!("no summary: {}", driver.page_text(s)));
    assert!(summary.contains("0 results wait"), "{summary}");
    let parked = driver
        .wait_for_text(s, PARKED_OUTBOX_ROW, PARKED_ORDER)
        .unwrap_or_else(|| panic!("no parked row: {}", driver.page_text(s)));
    assert!(parked.contains("JPY"), "{parked}");
    assert!(parked.contains("Refused by the central"), "{parked}");
    assert!(
        parked.contains(&format!("never granted to terminal {terminal}")),
        "{parked}"
    );
    screenshot(&driver, s, Some("outbox-parked"));

    // "Send again" with the PIN: it waits once more, the relay sends it, and the central
    // refuses it again for the same reason: parked again, nothing else changed.
    click_on(&driver, s, "[data-testid='outbox-retry']");
    type_into(&driver, s, "[data-testid='outbox-pin']", MANAGER.1);
    click_on(
        &driver,
        s,
        "[data-testid='outbox-act'] button[type='submit']",
    );
    reload_until(&driver, s, "[data-testid='outbox-reload']", || {
        driver.find(s, "[data-testid='outbox-act']").is_none()
            && driver.find(s, PARKED_OUTBOX_ROW).is_some_and(|_| {
                driver
                    .text_of(s, PARKED_OUTBOX_ROW)
                    .contains("never granted")
            })
    });
    screenshot(&driver, s, Some("outbox-sent-again"));

    // Archived with a reason and the PIN: it leaves the outbox.
    click_on(&driver, s, "[data-testid='outbox-archive']");
    type_into(&driver, s, "[data-testid='outbox-reason']", ARCHIVE_REASON);
    type_into(&driver, s, "[data-testid='outbox-pin']", MANAGER.1);
    click_on(
        &driver,
        s,
        "[data-testid='outbox-act'] button[type='submit']",
    );
    let summary = driver
        .wait_for_text(s, "[data-testid='outbox-summary']", "Nothing waits")
        .unwrap_or_else(|| panic!("not archived: {}", driver.page_text(s)));
    assert!(!summary.contains("refused"), "{summary}");
    assert!(driver.find(s, PARKED_OUTBOX_ROW).is_none());
    screenshot(&driver, s, Some("outbox-archived"));

    // ...and the inbox.
    click_on(&driver, s, "[data-testid='nav-inbox']");
    reload_until(&driver, s, "[data-testid='inbox-reload']", || {
        driver.find(s, "[data-testid='inbox-table']").is_some()
            && driver.find(s, PARKED_ROW).is_none()
    });

    // The central's audit log: the archive, who did it, on which terminal, and why.
    click_on(&driver, s, "[data-testid='nav-audit']");
    let audit = driver
        .wait_for_text(s, "[data-testid='audit-table']", ARCHIVE_REASON)
        .unwrap_or_else(|| panic!("no archive in the audit log: {}", driver.page_text(s)));
    let line = audit
        .lines()
        .find(|l| l.contains(ARCHIVE_REASON))
        .unwrap_or_default();
    assert!(line.contains("archived a result"), "{audit}");
    assert!(line.contains(MANAGER.0), "{audit}");
    assert!(line.contains(&terminal), "{audit}");
    assert!(line.contains(PARKED_ORDER), "{audit}");
    screenshot(&driver, s, Some("outbox-audit"));
    drop(app);
}

/// Clicks `reload` until `done` holds, for at most [`PAGE_READY_MS_MAX`].
fn reload_until(driver: &Driver, s: &str, reload: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "still not there after {PAGE_READY_MS_MAX} ms: {}",
            driver.page_text(s)
        );
        if let Some(button) = driver.find(s, reload) {
            driver.click(s, &button);
        }
        sleep(Duration::from_millis(POLL_MS * 4));
    }
}
