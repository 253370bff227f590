//! End to end: the manager's desk (issue 11, items 1 to 3) in the built app's real webview, against
//! the embedded default with its seeded demo exceptions, click by click. An operator has no
//! manager's views. The demo manager signs in and lands on the inbox, whose badge counts the open
//! items; acknowledges the refund made outside Paydesk with a reason and the PIN (it leaves the
//! inbox); opens the charge the central could not verify, reads the three columns (this terminal's
//! journal, the central's record, the gateway now), and reverses it from there: the whole payment
//! is above the four-eyes threshold, so it waits; approving it himself is refused by the central;
//! the second demo manager approves it on the same desk; the first sends it and the refund goes
//! through.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves the inbox, the resolution and the reversals as
//! `<file>.inbox.png`, `<file>.resolve.png` and `<file>.reversals.png` (and the reversal sent as
//! `<file>.reversal-sent.png`).
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{
    click_on, screenshot, sign_in, sign_out, type_into, App, Driver, PAGE_READY_MS_MAX, POLL_MS,
};

/// The demo's people (demo data, not secrets).
const OPERATOR: (&str, &str) = ("demo-operator", "123456");
const MANAGER: (&str, &str) = ("demo-manager", "87654321");
const MANAGER_2: (&str, &str) = ("demo-manager-2", "24681357");
/// The seeded refund made outside Paydesk, as an inbox row.
const OUTSIDE_REFUND: &str = "tr[data-testid='inbox-row'][data-kind='outside_refund']";

#[test]
fn a_manager_resolves_the_inbox_and_refunds_with_a_second_managers_approval() {
    let Some(app) = App::start() else {
        return;
    };
    let driver = app.driver.clone();
    let s = app.s();

    // An operator has no manager's views.
    sign_in(&driver, s, OPERATOR.0, OPERATOR.1);
    assert!(driver.find(s, "[data-testid='nav-inbox']").is_none());
    sign_out(&driver, s);

    // The manager lands on the inbox; the badge counts what waits. The seeded exceptions: a
    // refund made outside Paydesk, and a charge the central could not verify (charged on
    // another card by a terminal that never reported), in review.
    sign_in(&driver, s, MANAGER.0, MANAGER.1);
    wait_for_inbox_row(&driver, s, OUTSIDE_REFUND);
    let outside = driver
        .attribute_of(s, OUTSIDE_REFUND, "data-order-id")
        .unwrap();
    let unverified = format!("tr[data-kind='needs_review']:not([data-order-id='{outside}'])");
    wait_for_inbox_row(&driver, s, &unverified);
    let unverified_order = driver
        .attribute_of(s, &unverified, "data-order-id")
        .unwrap();
    let badge = driver
        .wait_for_element(s, "[data-testid='inbox-badge']")
        .unwrap_or_else(|| panic!("no inbox badge: {}", driver.page_text(s)));
    let count: u32 = driver.element_text(s, &badge).trim().parse().unwrap();
    assert!(count >= 3, "badge {count}");
    let table = driver.text_of(s, "[data-testid='inbox-table']");
    assert!(table.contains("Refund made outside Paydesk"), "{table}");
    assert!(!table.contains("outside_refund"), "kinds in words: {table}");
    screenshot(&driver, s, Some("inbox"));

    // The refund made outside Paydesk: looked at, acknowledged with a reason and the PIN; it
    // leaves the inbox.
    let outside_item = driver
        .attribute_of(s, OUTSIDE_REFUND, "data-item-id")
        .unwrap();
    click_on(&driver, s, &format!("{OUTSIDE_REFUND} td:nth-child(2)"));
    click_on(
        &driver,
        s,
        &format!("[data-testid='action-acknowledge'][data-item-id='{outside_item}']"),
    );
    type_into(
        &driver,
        s,
        "[data-testid='decision-reason']",
        "refunded by the owner at the counter",
    );
    type_into(&driver, s, "[data-testid='decision-pin']", MANAGER.1);
    click_on(&driver, s, "[data-testid='decide']");
    driver
        .wait_for_text(s, "[data-testid='decision-answer']", "acknowledged")
        .unwrap_or_else(|| panic!("not acknowledged: {}", driver.page_text(s)));
    wait_until_gone(&driver, s, OUTSIDE_REFUND);

    // The unverified charge: three columns side by side, then only what they allow.
    click_on(&driver, s, &format!("{unverified} td:nth-child(2)"));
    let journal = driver
        .wait_for_text(s, "[data-testid='evidence-journal']", "never charged")
        .unwrap_or_else(|| panic!("no journal column: {}", driver.page_text(s)));
    assert!(journal.contains("This terminal's journal"), "{journal}");
    let central = driver.text_of(s, "[data-testid='evidence-central']");
    assert!(central.contains("in review"), "{central}");
    let gateway = driver
        .wait_for_text(s, "[data-testid='evidence-gateway']", "succeeded")
        .unwrap_or_else(|| panic!("no gateway column: {}", driver.page_text(s)));
    assert!(gateway.contains("the customer was charged"), "{gateway}");
    driver
        .wait_for_element(s, "[data-testid='action-reverse']")
        .unwrap_or_else(|| panic!("no reversal offered: {}", driver.page_text(s)));
    assert!(
        driver
            .find(s, "[data-testid='action-mark_not_charged']")
            .is_none(),
        "the gateway shows a success: not charged must not be offered: {}",
        driver.text_of(s, "[data-testid='decision']")
    );
    screenshot(&driver, s, Some("resolve"));

    // "Reverse…" opens the reversal with the order filled in. The whole payment is above the
    // four-eyes threshold, so it waits for a second manager.
    click_on(&driver, s, "[data-testid='action-reverse']");
    click_on(&driver, s, "[data-testid='decide']");
    driver
        .wait_for_element(s, "[data-testid='reverse-form']")
        .unwrap_or_else(|| panic!("no reversal form: {}", driver.page_text(s)));
    type_into(
        &driver,
        s,
        "[data-testid='reverse-reason']",
        "charged on a card the customer did not choose",
    );
    type_into(&driver, s, "[data-testid='reverse-pin']", MANAGER.1);
    click_on(&driver, s, "[data-testid='reverse-submit']");
    driver
        .wait_for_text(s, "[data-testid='reverse-answer']", "second manager")
        .unwrap_or_else(|| panic!("no waiting answer: {}", driver.page_text(s)));
    let request = driver
        .wait_for_text(s, "[data-testid='reversal-request']", &unverified_order)
        .unwrap();
    assert!(
        request.contains("Waiting for a second manager's approval"),
        "{request}"
    );

    // Approving one's own request: the central refuses, and says so.
    approve_or_send(&driver, s, "approve", MANAGER.1);
    let refused = driver
        .wait_for_text(s, "[data-testid='request-answer']", "The central refused")
        .unwrap_or_else(|| panic!("no refusal: {}", driver.page_text(s)));
    assert!(!refused.contains("HTTP"), "{refused}");
    screenshot(&driver, s, Some("reversals"));

    // The second manager approves on the same desk.
    sign_out(&driver, s);
    sign_in(&driver, s, MANAGER_2.0, MANAGER_2.1);
    click_on(&driver, s, "[data-testid='nav-reversals']");
    approve_or_send(&driver, s, "approve", MANAGER_2.1);
    driver
        .wait_for_text(s, "[data-testid='request-answer']", "Approved")
        .unwrap_or_else(|| panic!("no approval: {}", driver.page_text(s)));

    // The requester sends it: the refund goes through, approved by the second manager.
    sign_out(&driver, s);
    sign_in(&driver, s, MANAGER.0, MANAGER.1);
    click_on(&driver, s, "[data-testid='nav-reversals']");
    approve_or_send(&driver, s, "send", MANAGER.1);
    let sent = driver
        .wait_for_text(s, "[data-testid='request-answer']", "A refund of")
        .unwrap_or_else(|| panic!("not sent: {}", driver.page_text(s)));
    assert!(sent.contains("went through"), "{sent}");
    assert!(sent.contains("Approved by demo-manager-2"), "{sent}");
    screenshot(&driver, s, Some("reversal-sent"));
    drop(app);
}

/// Reloads the inbox until the row `css` names is gone.
fn wait_until_gone(driver: &Driver, s: &str, css: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.find(s, css).is_some() {
        assert!(
            Instant::now() < deadline,
            "{css} stayed in the inbox: {}",
            driver.page_text(s)
        );
        if let Some(reload) = driver.find(s, "[data-testid='inbox-reload']") {
            driver.click(s, &reload);
        }
        sleep(Duration::from_millis(POLL_MS * 4));
    }
}

/// Reloads the inbox until a row `css` names is there (the central's sweeper puts the seeded
/// unverified charge in review within seconds of start-up).
fn wait_for_inbox_row(driver: &Driver, s: &str, css: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.find(s, css).is_none() {
        assert!(
            Instant::now() < deadline,
            "no inbox row {css}: {}",
            driver.page_text(s)
        );
        if let Some(reload) = driver.find(s, "[data-testid='inbox-reload']") {
            driver.click(s, &reload);
        }
        sleep(Duration::from_millis(POLL_MS * 4));
    }
}

/// Opens the PIN field of the (only) request's `approve` or `send` button and confirms.
fn approve_or_send(driver: &Driver, s: &str, button: &str, pin: &str) {
    click_on(driver, s, &format!("[data-testid='{button}']"));
    type_into(driver, s, "[data-testid='request-pin']", pin);
    click_on(driver, s, "[data-testid='request-confirm']");
}
