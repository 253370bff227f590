//! End to end: the built desktop app in its real webview (WebKitGTK), driven over WebDriver by
//! tauri-driver + WebKitWebDriver under a private Xvfb display, started with no configuration — so
//! it runs the embedded default (central on SQLite + sandbox gateway, in the app's process) with its
//! terminal token in a real OS keyring (gnome-keyring's Secret Service on a private D-Bus session
//! this test starts). A person's path, click by click: sign in as the demo operator, charge an order
//! whose card succeeds and one whose card is declined, read the outcomes, open the journal.
//!
//! It does not build anything: `PAYDESK_DESKTOP_BIN` names the app binary (scripts/test-e2e.sh
//! builds it and sets the variable). Without it the test fails, unless `PAYDESK_SKIP_E2E=1` says to
//! skip. Optional: `PAYDESK_E2E_SCREENSHOT=<file.png>` saves what the webview showed after the
//! first charge (and beside it the sign-in screen refusing a wrong PIN, as `<file>.sign-in.png`,
//! and the journal view, as `<file>.journal.png`); `PAYDESK_E2E_HOLD_MS=<ms>` keeps the app open
//! that long before closing it.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{
    app_process, open_when_released, screenshot, App, Driver, APP_EXIT_MS_MAX, PAGE_READY_MS_MAX,
    POLL_MS,
};

/// The demo operator the embedded default seeds (demo data, not a secret).
const OPERATOR: &str = "demo-operator";
const OPERATOR_PIN: &str = "123456";
/// Demo orders: 129.00 EUR on `pm_card_visa` (succeeds), 19.99 EUR on `pm_card_chargeDeclined`.
const PAID_ORDER: (&str, &str) = ("demo-1001", "129.00 EUR");
const DECLINED_ORDER: (&str, &str) = ("demo-1004", "19.99 EUR");

#[test]
fn the_app_charges_demo_orders_against_the_embedded_default() {
    let Some(mut app) = App::start() else {
        return;
    };
    let driver = app.driver.clone();
    let session = app.session.clone();
    let s = session.as_str();

    // Start-up ends on the sign-in screen; the demo hint says the embedded default is running.
    let operator_input = driver
        .wait_for_element(s, "[data-testid='operator-input']")
        .unwrap_or_else(|| {
            panic!(
                "no sign-in screen after {PAGE_READY_MS_MAX} ms; the page shows:\n{}",
                driver.page_text(s)
            )
        });
    assert!(
        driver.page_text(s).contains("Demo set-up"),
        "{}",
        driver.page_text(s)
    );

    // A wrong PIN first: refused, with a next step, and the PIN field emptied.
    driver.send_keys(s, &operator_input, OPERATOR);
    let pin_input = driver.find(s, "[data-testid='pin-input']").unwrap();
    driver.send_keys(s, &pin_input, "0000\n");
    let refused = driver
        .wait_for_text(s, "[data-testid='sign-in-error']", "wrong PIN")
        .unwrap_or_else(|| panic!("no refusal: {}", driver.page_text(s)));
    assert!(refused.contains("type your PIN again"), "{refused}");
    // The sign-in screen as the central refused the PIN (`<name>.sign-in.png`).
    screenshot(&driver, s, Some("sign-in"));
    driver.send_keys(s, &pin_input, &format!("{OPERATOR_PIN}\n"));

    // The queue, from the embedded central.
    driver
        .wait_for_element(s, "[data-testid='queue-table']")
        .unwrap_or_else(|| panic!("no queue after signing in: {}", driver.page_text(s)));
    let signed_in = driver.text_of(s, "[data-testid='signed-in-as']");
    assert!(signed_in.contains(OPERATOR), "{signed_in}");

    let paid = charge(&driver, s, PAID_ORDER);
    assert!(paid.starts_with("Paid"), "{paid}");
    assert!(paid.contains(PAID_ORDER.1), "{paid}");
    // What a person sees after a charge. WebKit paints a moment after the DOM changes, so the
    // screenshot waits for a paint first.
    screenshot(&driver, s, None);
    driver.click(s, &driver.find(s, "[data-testid='close-charge']").unwrap());

    let declined = charge(&driver, s, DECLINED_ORDER);
    assert!(
        declined.starts_with("Declined: generic_decline"),
        "{declined}"
    );
    assert!(declined.contains("No money moved"), "{declined}");
    assert!(!declined.to_lowercase().contains("fail"), "{declined}");
    driver.click(s, &driver.find(s, "[data-testid='close-charge']").unwrap());

    // Both results reach the central (the outbox relay runs in the background): the outbox
    // empties and both orders leave the unpaid queue.
    driver
        .wait_for_text(s, "[data-testid='outbox']", "Outbox empty")
        .unwrap_or_else(|| panic!("the outbox did not drain: {}", driver.page_text(s)));
    let connection = driver.text_of(s, "[data-testid='connection']");
    assert!(connection.contains("Online"), "{connection}");
    let queue_text = driver.wait_for_queue_without(s, &[PAID_ORDER.0, DECLINED_ORDER.0]);
    assert!(queue_text.contains("demo-1002"), "{queue_text}");

    // The journal lists both attempts, newest first, with amounts and readable states.
    driver.click(s, &driver.find(s, "[data-testid='nav-journal']").unwrap());
    driver
        .wait_for_element(s, "[data-testid='attempts-table']")
        .unwrap_or_else(|| panic!("no journal: {}", driver.page_text(s)));
    let rows = driver.rows(s);
    assert_eq!(rows.len(), 2, "rows on the page: {rows:#?}");
    let expected = [(DECLINED_ORDER, "Declined"), (PAID_ORDER, "Succeeded")];
    for (row, ((order, amount), state)) in rows.iter().zip(expected) {
        assert!(
            row.contains(order) && row.contains(amount) && row.contains(state),
            "expected a row with {order} / {amount} / {state}, found: {row}"
        );
        assert!(row.contains(OPERATOR) && row.contains("desk-"), "{row}");
        assert!(!row.to_lowercase().contains("fail"), "{row}");
    }
    assert!(rows[0].contains("generic_decline"), "{}", rows[0]);

    // A click on a row opens its timeline: every durable step of the charge.
    // (A cell, not the row: WebKitWebDriver does not count a table row as clickable.)
    let first_row = driver
        .find(s, "[data-testid='attempt-row'] td:nth-child(2)")
        .unwrap();
    driver.click(s, &first_row);
    let timeline = driver
        .wait_for_text(
            s,
            "[data-testid='timeline']",
            "Gateway answered the confirm",
        )
        .unwrap_or_else(|| panic!("no timeline: {}", driver.page_text(s)));
    for step in ["Attempt journaled", "Confirm sent", DECLINED_ORDER.0] {
        assert!(timeline.contains(step), "{step} missing from: {timeline}");
    }

    // The journal with the timeline open, beside the first screenshot (`<name>.journal.png`).
    screenshot(&driver, s, Some("journal"));

    let integrity = driver
        .wait_for_text(s, "[data-testid='journal-integrity']", "Journal verified")
        .unwrap_or_else(|| panic!("no verified journal line: {}", driver.page_text(s)));

    // For a person to look at (or screenshot) the running app: `PAYDESK_E2E_HOLD_MS=30000`.
    if let Some(hold_ms) = std::env::var("PAYDESK_E2E_HOLD_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        eprintln!(
            "holding the app open on DISPLAY=:{} for {hold_ms} ms",
            app.display
        );
        sleep(Duration::from_millis(hold_ms));
    }

    // Asked to quit (SIGTERM, as a session logout does), the app leaves its event loop like
    // closing the window does: it stops its background work and the embedded servers, which takes
    // `stack.json` (where a running stack is advertised) away, and exits. Neither ending the
    // WebDriver session (WebKitWebDriver kills the app outright) nor WebDriver's "close window"
    // (it does not reach the Tauri window) can show that.
    let data_dir = app.data_dir.clone();
    assert!(data_dir.join("stack.json").is_file());
    let app_pid = app_process(&app.binary, app.group)
        .unwrap_or_else(|| panic!("no {} process in group {}", app.binary.display(), app.group));
    let status = Command::new("kill")
        .args(["-TERM", &app_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {app_pid}: {status}");
    let deadline = Instant::now() + Duration::from_millis(APP_EXIT_MS_MAX);
    while data_dir.join("stack.json").exists() || Path::new(&format!("/proc/{app_pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the app did not stop its embedded stack and exit within {APP_EXIT_MS_MAX} ms"
        );
        sleep(Duration::from_millis(POLL_MS));
    }
    driver.try_delete_session(s);
    app.guard.session = None;
    // The journal on disk is the one the page showed: it verifies, with the events counted there.
    let journal = open_when_released(&data_dir.join("journal.sqlite"));
    let report = journal.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(
        integrity.contains(&format!("({} events)", report.events)),
        "{integrity} vs {} events on disk",
        report.events
    );
}

/// Charges `order` from the queue: Charge, check the amount in the confirmation, confirm, and
/// wait for the outcome; returns the outcome's text.
fn charge(driver: &Driver, s: &str, (order, amount): (&str, &str)) -> String {
    let button = driver
        .wait_for_element(
            s,
            &format!("tr[data-order-id='{order}'] [data-testid='charge-button']"),
        )
        .unwrap_or_else(|| panic!("no Charge button for {order}: {}", driver.page_text(s)));
    driver.click(s, &button);
    let confirm = driver
        .wait_for_element(s, "[data-testid='confirm-charge']")
        .unwrap_or_else(|| panic!("no confirmation for {order}: {}", driver.page_text(s)));
    let shown = driver.text_of(s, "[data-testid='charge-amount']");
    assert_eq!(shown, amount, "the confirmation shows the amount");
    driver.click(s, &confirm);
    let outcome = driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .unwrap_or_else(|| panic!("no outcome for {order}: {}", driver.page_text(s)));
    // Every step of the protocol was shown as done before the outcome.
    let steps = driver.text_of(s, "[data-testid='charge-steps']");
    assert_eq!(steps.matches('✓').count(), 6, "{steps}");
    driver.element_text(s, &outcome)
}
