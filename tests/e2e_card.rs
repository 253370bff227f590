//! End to end (issue 12, items 1 and 7): the order in context and the receipt in the journal, in
//! the built app's real webview on the embedded default (central on SQLite + the sandbox).
//!
//! The queue names each order's customer and saved payment method as the central read it from
//! the gateway at seeding (a Stripe card's brand, last four and expiry; a PayPal wallet's e-mail
//! and the customer's name). A card reissued at the gateway (the sandbox's admin route gives it
//! an expiry in the past) shows "expired 08/26" in the charge dialog after "Refresh card", and the
//! dialog says exactly what will be charged. After a success, Copy and Print on the receipt each
//! land in the journal as a `receipt_given` event shown in the attempt's timeline.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.card-queue.png`,
//! `<file>.card-expired.png` and `<file>.card-receipt-journal.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use harness::{admin_token, screenshot, sign_in, App, Driver, Sandbox};
use serde_json::json;

/// The demo operator the embedded default seeds (demo data, not a secret).
const OPERATOR: &str = "demo-operator";
const OPERATOR_PIN: &str = "123456";
/// Anna's espresso machine on `pm_card_visa`: paid, and its receipt given.
const ANNA: (&str, &str) = ("demo-1001", "129.00 EUR");
/// Iris's invoice on `pm_card_mastercard`, whose card the test "reissues" with a past expiry.
const IRIS: &str = "demo-2002";
/// A PayPal wallet order, named by the customer the import gave.
const WALLET: &str = "demo-4001";

#[test]
fn the_queue_and_the_dialog_show_the_card_and_the_receipt_lands_in_the_journal() {
    let token = admin_token();
    let Some(app) = App::start_with(&[("PAYDESK_SANDBOX_ADMIN_TOKEN", &token)]) else {
        return;
    };
    let driver = app.driver.clone();
    let s = app.s();
    sign_in(&driver, s, OPERATOR, OPERATOR_PIN);
    driver
        .wait_for_element(s, "[data-testid='queue-table']")
        .unwrap_or_else(|| panic!("no queue after signing in: {}", driver.page_text(s)));

    // The queue: customer and card (brand, last four, expiry, gateway) on each row.
    let anna = row_text(&driver, s, ANNA.0);
    for expected in ["Anna Kovács", "Visa •••• 4242, exp 12/30", "Stripe"] {
        assert!(anna.contains(expected), "{expected} missing: {anna}");
    }
    let wallet = row_text(&driver, s, WALLET);
    for expected in [
        "Ada Lovelace",
        "PayPal wallet ada.lovelace@example.com",
        "PayPal",
    ] {
        assert!(wallet.contains(expected), "{expected} missing: {wallet}");
    }
    assert!(
        row_text(&driver, s, IRIS).contains("Mastercard •••• 4444, exp 12/30"),
        "{}",
        row_text(&driver, s, IRIS)
    );
    screenshot(&driver, s, Some("card-queue"));

    // The card is reissued at the gateway with an expiry in the past; "Refresh card" reads it.
    let sandbox = Sandbox::of(&app.data_dir, &token);
    sandbox.admin(
        reqwest::Method::POST,
        "/admin/payment_methods/pm_card_mastercard",
        Some(json!({ "exp_month": 8, "exp_year": 2026 })),
    );
    open_charge(&driver, s, IRIS);
    let summary = driver.text_of(s, "[data-testid='charge-summary']");
    assert!(
        summary.contains("Iris Johnson")
            && summary.contains("Mastercard •••• 4444, exp 12/30, via Stripe"),
        "{summary}"
    );
    driver.click(s, &driver.find(s, "[data-testid='refresh-card']").unwrap());
    let card = driver
        .wait_for_text(s, "[data-testid='charge-card']", "expired 08/26")
        .unwrap_or_else(|| {
            panic!(
                "the refresh did not show the expiry: {}",
                driver.page_text(s)
            )
        });
    assert!(card.contains("Mastercard •••• 4444"), "{card}");
    assert_eq!(
        driver
            .attribute_of(s, "[data-testid='charge-card']", "data-expired")
            .as_deref(),
        Some("true")
    );
    let warning = driver.text_of(s, "[data-testid='card-expired']");
    assert!(warning.contains("expired 08/26"), "{warning}");
    let summary = driver.text_of(s, "[data-testid='charge-summary']");
    assert!(
        summary.contains("Mastercard •••• 4444, expired 08/26, via Stripe"),
        "{summary}"
    );
    show(&driver, s, "[data-testid='card-expired']");
    screenshot(&driver, s, Some("card-expired"));
    driver.click(
        s,
        &driver
            .find(
                s,
                "[data-testid='charge-dialog'] .actions button:not(.primary)",
            )
            .unwrap(),
    );
    wait_gone(&driver, s, "[data-testid='charge-dialog']");
    // The queue, reloaded, marks it too.
    driver.click(s, &driver.find(s, "[data-testid='queue-reload']").unwrap());
    driver
        .wait_for_text(
            s,
            &format!("tr[data-order-id='{IRIS}'] [data-testid='order-card']"),
            "expired 08/26",
        )
        .unwrap_or_else(|| {
            panic!(
                "the queue does not mark the expired card: {}",
                driver.page_text(s)
            )
        });

    // Anna's order is charged; the dialog said exactly what would be charged.
    open_charge(&driver, s, ANNA.0);
    let summary = driver.text_of(s, "[data-testid='charge-summary']");
    assert!(
        summary.contains("Anna Kovács")
            && summary.contains("Visa •••• 4242, exp 12/30, via Stripe")
            && summary.contains(ANNA.1),
        "{summary}"
    );
    driver.click(
        s,
        &driver.find(s, "[data-testid='confirm-charge']").unwrap(),
    );
    let outcome = driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .map(|e| driver.element_text(s, &e))
        .unwrap_or_else(|| panic!("no outcome: {}", driver.page_text(s)));
    assert!(outcome.starts_with("Paid"), "{outcome}");

    // Copy and Print each land in the journal. Printing opens the webview's print dialog, if
    // any; the journal event is written before it.
    driver.click(
        s,
        &driver.find(s, "[data-testid='copy-reference']").unwrap(),
    );
    driver
        .wait_for_text(
            s,
            "[data-testid='receipt-recorded']",
            "Recorded in the journal: receipt copied",
        )
        .unwrap_or_else(|| panic!("the copy was not recorded: {}", driver.page_text(s)));
    driver.click(s, &driver.find(s, "[data-testid='print-receipt']").unwrap());
    driver
        .wait_for_text(s, "[data-testid='receipt-recorded']", "receipt printed")
        .unwrap_or_else(|| panic!("the print was not recorded: {}", driver.page_text(s)));
    driver.click(s, &driver.find(s, "[data-testid='close-charge']").unwrap());
    wait_gone(&driver, s, "[data-testid='charge-dialog']");

    // The journal's timeline of the paid attempt shows both.
    driver.click(s, &driver.find(s, "[data-testid='nav-journal']").unwrap());
    driver
        .wait_for_element(s, "[data-testid='attempts-table']")
        .unwrap_or_else(|| panic!("no journal: {}", driver.page_text(s)));
    let row = driver
        .wait_for_element(s, "[data-testid='attempt-row'] td:nth-child(2)")
        .unwrap();
    driver.click(s, &row);
    let timeline = driver
        .wait_for_text(
            s,
            "[data-testid='timeline']",
            "Receipt printed for the customer",
        )
        .unwrap_or_else(|| panic!("no receipt in the timeline: {}", driver.page_text(s)));
    assert!(
        timeline.contains(&format!("Receipt copied for the customer by {OPERATOR}")),
        "{timeline}"
    );
    show(&driver, s, "[data-testid='timeline']");
    screenshot(&driver, s, Some("card-receipt-journal"));
}

/// The text of the queue row of `order`.
fn row_text(driver: &Driver, s: &str, order: &str) -> String {
    let row = driver
        .wait_for_element(s, &format!("tr[data-order-id='{order}']"))
        .unwrap_or_else(|| panic!("no row for {order}: {}", driver.page_text(s)));
    driver.element_text(s, &row)
}

/// Opens the charge dialog of `order` from its Charge button.
fn open_charge(driver: &Driver, s: &str, order: &str) {
    let button = driver
        .wait_for_element(
            s,
            &format!("tr[data-order-id='{order}'] [data-testid='charge-button']"),
        )
        .unwrap_or_else(|| panic!("no Charge button for {order}: {}", driver.page_text(s)));
    driver.click(s, &button);
    driver
        .wait_for_element(s, "[data-testid='confirm-charge']")
        .unwrap_or_else(|| panic!("no confirmation for {order}: {}", driver.page_text(s)));
}

/// Scrolls the first match of `css` into view and gives the webview a moment to paint it, so a
/// screenshot shows what the assertions just read.
fn show(driver: &Driver, s: &str, css: &str) {
    let selector = serde_json::to_string(css).unwrap();
    let script = json!({
        "script": format!("document.querySelector({selector}).scrollIntoView({{block: 'end'}}); return true;"),
        "args": [],
    });
    let _ = driver.call(
        reqwest::Method::POST,
        &format!("/session/{s}/execute/sync"),
        Some(script),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
}

/// Waits until nothing matches `css`.
fn wait_gone(driver: &Driver, s: &str, css: &str) {
    for _ in 0..100 {
        if driver.find(s, css).is_none() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{css} is still shown: {}", driver.page_text(s));
}
