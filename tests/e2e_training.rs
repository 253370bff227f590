//! End to end (issue 12, item 9, "training mode in the demo"), in the built app's real webview
//! against the embedded default. The operator turns training on: its banner shows on the queue
//! (and, signed in as the manager, on the inbox). Rehearsals are armed from the banner and reach
//! the embedded sandbox in-process (no admin route needed for them; the app is started with
//! `PAYDESK_SANDBOX_ADMIN_TOKEN` only so this test can read the sandbox's ledger):
//!
//! 1. **A lost response.** The next charge is made at the gateway and its answer lost: the charge
//!    ends "outcome unknown"; "Check status" finds it paid, and the ledger shows one payment
//!    charged once. The rehearsal was for that charge only: nothing is left armed.
//! 2. **A decline.** The next charge, on a card that would succeed, is declined.
//! 3. **The central down.** The status bar goes offline; ending the rehearsal brings the central
//!    back on its own URL.
//!
//! Training off: the banner is gone and the sandbox has no fault armed.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.training-queue.png`,
//! `<file>.training-unknown.png`, `<file>.training-checked.png`, `<file>.training-declined.png`,
//! `<file>.training-central-down.png`, `<file>.training-manager.png` and `<file>.training-off.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{
    admin_token, click_on, screenshot, sign_in, sign_out, App, Driver, Sandbox, PAGE_READY_MS_MAX,
    POLL_MS,
};
use serde_json::Value;

const OPERATOR: (&str, &str) = ("demo-operator", "123456");
const MANAGER: (&str, &str) = ("demo-manager", "87654321");
/// Charged with its answer lost (45.50 EUR on a visa that succeeds).
const LOST_ORDER: &str = "demo-1002";
/// Declined by the rehearsal although its visa would succeed (73.00 EUR).
const DECLINED_ORDER: &str = "demo-1006";
const BANNER: &str = "Training — the gateway's faults are armed, no real money";

/// Arms `rehearsal` from the banner's picker and waits until the banner says so.
fn arm(driver: &Driver, s: &str, rehearsal: &str) {
    click_on(driver, s, "[data-testid='rehearsal-pick']");
    click_on(
        driver,
        s,
        &format!("[data-testid='rehearsal-pick'] option[value='{rehearsal}']"),
    );
    click_on(driver, s, "[data-testid='rehearsal-arm']");
    wait_for_attribute(
        driver,
        s,
        "[data-testid='rehearsal-armed']",
        "data-armed",
        rehearsal,
    );
}

fn wait_for_attribute(driver: &Driver, s: &str, css: &str, name: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.attribute_of(s, css, name).as_deref() != Some(expected) {
        assert!(
            Instant::now() < deadline,
            "{css} never had {name}={expected:?}: {}",
            driver.page_text(s)
        );
        sleep(Duration::from_millis(POLL_MS));
    }
}

/// Charges `order` from the queue and returns the outcome's kind once the dialog shows one.
fn charge(driver: &Driver, s: &str, order: &str) -> String {
    click_on(
        driver,
        s,
        &format!("tr[data-order-id='{order}'] [data-testid='charge-button']"),
    );
    click_on(driver, s, "[data-testid='confirm-charge']");
    driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .unwrap_or_else(|| panic!("no outcome: {}", driver.page_text(s)));
    driver
        .attribute_of(s, "[data-testid='charge-outcome']", "data-outcome")
        .unwrap_or_default()
}

fn banner_text(driver: &Driver, s: &str) -> String {
    driver
        .wait_for_text(s, "[data-testid='training-banner']", BANNER)
        .unwrap_or_else(|| panic!("no training banner: {}", driver.page_text(s)))
}

fn wait_gone(driver: &Driver, s: &str, css: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.find(s, css).is_some() {
        assert!(
            Instant::now() < deadline,
            "{css} is still shown: {}",
            driver.page_text(s)
        );
        sleep(Duration::from_millis(POLL_MS));
    }
}

fn faults(sandbox: &Sandbox) -> Vec<Value> {
    let answer = sandbox.admin(reqwest::Method::GET, "/admin/faults", None);
    answer["faults"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_operator_rehearses_a_lost_response_a_decline_and_the_central_down_in_training() {
    let token = admin_token();
    let Some(app) = App::start_with(&[("PAYDESK_SANDBOX_ADMIN_TOKEN", &token)]) else {
        return;
    };
    let driver = app.driver.clone();
    let s = app.s();
    sign_in(&driver, s, OPERATOR.0, OPERATOR.1);
    let sandbox = Sandbox::of(&app.data_dir, &token);
    driver
        .wait_for_element(s, "[data-testid='queue-table']")
        .unwrap_or_else(|| panic!("no queue: {}", driver.page_text(s)));
    assert!(driver.find(s, "[data-testid='training-banner']").is_none());

    // Training on: the banner on the queue, and the status bar says it too.
    click_on(&driver, s, "[data-testid='training-toggle']");
    banner_text(&driver, s);
    assert_eq!(
        driver
            .attribute_of(s, "[data-testid='training-toggle']", "aria-pressed")
            .as_deref(),
        Some("true")
    );
    driver
        .wait_for_text(s, "[data-testid='training-status']", "no real money")
        .unwrap_or_else(|| panic!("the status bar does not say so: {}", driver.page_text(s)));
    screenshot(&driver, s, Some("training-queue"));

    // 1. A lost response: charged, the answer lost, the outcome unknown.
    arm(&driver, s, "lost_response");
    assert!(
        faults(&sandbox).is_empty(),
        "armed only as the charge starts"
    );
    let outcome = charge(&driver, s, LOST_ORDER);
    assert_eq!(outcome, "pending", "{}", driver.page_text(s));
    screenshot(&driver, s, Some("training-unknown"));
    assert!(
        faults(&sandbox).is_empty(),
        "for that charge only: {:?}",
        faults(&sandbox)
    );
    let intents = sandbox.intents_of(LOST_ORDER);
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(
        intents[0]["status"], "succeeded",
        "the customer was charged"
    );
    click_on(&driver, s, "[data-testid='close-charge']");
    wait_gone(&driver, s, "[data-testid='charge-dialog']");
    // "Check status" finds the payment: paid, with one charge at the gateway.
    let row = format!("tr[data-testid='unknown-row'][data-order-id='{LOST_ORDER}']");
    driver
        .wait_for_text(s, &row, "Outcome unknown")
        .unwrap_or_else(|| panic!("the queue does not say unknown: {}", driver.page_text(s)));
    click_on(&driver, s, &format!("{row} [data-testid='check-status']"));
    let found = driver
        .wait_for_text(s, "[data-testid='check-settled']", "succeeded")
        .unwrap_or_else(|| panic!("the check found nothing: {}", driver.page_text(s)));
    assert!(found.contains(LOST_ORDER), "{found}");
    screenshot(&driver, s, Some("training-checked"));
    sandbox.charged_once(LOST_ORDER);
    assert_eq!(
        driver
            .attribute_of(s, "[data-testid='rehearsal-armed']", "data-armed")
            .as_deref(),
        Some(""),
        "nothing is left armed"
    );

    // 2. A decline, on a card that would succeed.
    arm(&driver, s, "decline");
    let outcome = charge(&driver, s, DECLINED_ORDER);
    assert_eq!(outcome, "declined", "{}", driver.page_text(s));
    banner_text(&driver, s);
    screenshot(&driver, s, Some("training-declined"));
    click_on(&driver, s, "[data-testid='close-charge']");
    wait_gone(&driver, s, "[data-testid='charge-dialog']");
    let declined = sandbox.intents_of(DECLINED_ORDER);
    assert_eq!(declined.len(), 1, "{declined:?}");
    assert_eq!(declined[0]["succeeded_count"], 0, "{declined:?}");

    // 3. The central down: offline at once, back when the rehearsal ends.
    arm(&driver, s, "central_down");
    driver
        .wait_for_text(s, "[data-testid='connection']", "Offline")
        .unwrap_or_else(|| panic!("not offline: {}", driver.page_text(s)));
    screenshot(&driver, s, Some("training-central-down"));
    click_on(&driver, s, "[data-testid='rehearsal-end']");
    driver
        .wait_for_text(s, "[data-testid='connection']", "Online")
        .unwrap_or_else(|| panic!("the central did not come back: {}", driver.page_text(s)));
    sign_out(&driver, s);
    // Signed out, the banner is still there: training is on for this desk.
    banner_text(&driver, s);

    // The manager's screens show it too.
    sign_in(&driver, s, MANAGER.0, MANAGER.1);
    driver
        .wait_for_element(s, "[data-testid='nav-inbox']")
        .unwrap_or_else(|| panic!("no manager's views: {}", driver.page_text(s)));
    banner_text(&driver, s);
    screenshot(&driver, s, Some("training-manager"));

    // Training off: the banner is gone, nothing is armed, the central runs.
    click_on(&driver, s, "[data-testid='training-toggle']");
    wait_gone(&driver, s, "[data-testid='training-banner']");
    assert!(driver.find(s, "[data-testid='training-status']").is_none());
    assert!(faults(&sandbox).is_empty());
    driver
        .wait_for_text(s, "[data-testid='connection']", "Online")
        .unwrap_or_else(|| panic!("not online: {}", driver.page_text(s)));
    screenshot(&driver, s, Some("training-off"));
    sandbox.charged_once(LOST_ORDER);
    drop(app);
}
