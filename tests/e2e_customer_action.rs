//! End to end (issue 12, item 6, "when the customer must act"): the built app in its real webview
//! on the embedded default, driven over WebDriver as in `e2e_desktop.rs`. The operator charges the
//! demo order whose card needs 3-D Secure (`demo-1005`): "Needs customer action", no money moved.
//! From the same dialog they send a payment link; the queue then reads "Waiting for customer". The
//! customer (this test, over HTTP) opens the link, follows it to the sandbox's authentication page
//! and completes it. The order then leaves the queue as paid — the central heard it from the
//! gateway (its signed webhook or its sweeper), not from the desk — and the sandbox's ledger shows
//! exactly one success for the order, of the one intent the link was for. The link's page then
//! says plainly that it expired.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.customer-needs-action.png`,
//! `<file>.customer-link.png`, `<file>.customer-waiting.png` and `<file>.customer-paid.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use harness::{admin_token, screenshot, sign_in, App, Driver, Sandbox};

/// The demo operator the embedded default seeds (demo data, not a secret).
const OPERATOR: &str = "demo-operator";
const OPERATOR_PIN: &str = "123456";
/// The demo order whose card asks for 3-D Secure.
const ORDER: (&str, &str) = ("demo-1005", "250.00 EUR");

/// The `href` of the payment page's "Continue to your bank" button.
fn continue_href(page: &str) -> String {
    let start = page
        .find("id=\"continue\" href=\"")
        .unwrap_or_else(|| panic!("no continue button: {page}"))
        + 20;
    let rest = &page[start..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// Reloads the queue until its table shows `text`; returns the table's text.
fn wait_for_queue_text(driver: &Driver, s: &str, text: &str) -> String {
    for _ in 0..120 {
        if let Some(reload) = driver.find(s, "[data-testid='queue-reload']") {
            driver.click(s, &reload);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        if let Some(table) = driver.find(s, "[data-testid='queue-table']") {
            let shown = driver.element_text(s, &table);
            if shown.contains(text) {
                return shown;
            }
        }
    }
    panic!("the queue never showed {text:?}: {}", driver.page_text(s));
}

#[test]
fn an_operator_sends_a_payment_link_and_the_customer_pays_it() {
    let token = admin_token();
    let Some(app) = App::start_with(&[("PAYDESK_SANDBOX_ADMIN_TOKEN", &token)]) else {
        return;
    };
    let sandbox = Sandbox::of(&app.data_dir, &token);
    let driver = app.driver.clone();
    let session = app.session.clone();
    let s = session.as_str();
    sign_in(&driver, s, OPERATOR, OPERATOR_PIN);
    driver
        .wait_for_element(s, "[data-testid='queue-table']")
        .unwrap_or_else(|| panic!("no queue after signing in: {}", driver.page_text(s)));

    // The charge: 3-D Secure needed, nothing charged.
    let button = driver
        .wait_for_element(
            s,
            &format!(
                "tr[data-order-id='{}'] [data-testid='charge-button']",
                ORDER.0
            ),
        )
        .unwrap_or_else(|| panic!("no Charge button for {}: {}", ORDER.0, driver.page_text(s)));
    driver.click(s, &button);
    let confirm = driver
        .wait_for_element(s, "[data-testid='confirm-charge']")
        .unwrap_or_else(|| panic!("no confirmation: {}", driver.page_text(s)));
    assert_eq!(driver.text_of(s, "[data-testid='charge-amount']"), ORDER.1);
    driver.click(s, &confirm);
    let outcome = driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .unwrap_or_else(|| panic!("no outcome: {}", driver.page_text(s)));
    let outcome = driver.element_text(s, &outcome);
    assert!(outcome.contains("Needs customer action"), "{outcome}");
    assert!(outcome.contains("No money moved"), "{outcome}");
    driver
        .wait_for_element(s, "[data-testid='send-link']")
        .unwrap_or_else(|| panic!("no Send payment link: {}", driver.page_text(s)));
    screenshot(&driver, s, Some("customer-needs-action"));

    // The result reaches the central first (the order then waits for its customer there).
    driver
        .wait_for_text(s, "[data-testid='outbox']", "Outbox empty")
        .unwrap_or_else(|| panic!("the outbox did not drain: {}", driver.page_text(s)));
    driver.click(s, &driver.find(s, "[data-testid='send-link']").unwrap());
    driver
        .wait_for_element(s, "[data-testid='payment-link-url']")
        .unwrap_or_else(|| panic!("no link shown: {}", driver.page_text(s)));
    let url = driver
        .attribute_of(s, "[data-testid='payment-link-url']", "value")
        .expect("the link's text");
    assert!(url.contains("/pay/pl_"), "{url}");
    assert!(driver.find(s, "[data-testid='copy-link']").is_some());
    assert_eq!(
        driver
            .attribute_of(s, "[data-testid='open-link']", "href")
            .as_deref(),
        Some(url.as_str())
    );
    screenshot(&driver, s, Some("customer-link"));
    driver.click(s, &driver.find(s, "[data-testid='close-charge']").unwrap());

    // The queue says the order waits for its customer, and that the link was sent.
    let queue = wait_for_queue_text(&driver, s, "Waiting for customer");
    assert!(queue.contains("link sent"), "{queue}");
    // The waiting order is listed after the unpaid ones: bring its row into view for the picture.
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{s}/execute/sync"),
            Some(serde_json::json!({
                "script": format!(
                    "document.querySelector(\"tr[data-order-id='{}']\").scrollIntoView();",
                    ORDER.0
                ),
                "args": []
            })),
        )
        .unwrap();
    screenshot(&driver, s, Some("customer-waiting"));

    // The customer: the link's page, the bank's page, "Complete authentication".
    let http = reqwest::blocking::Client::new();
    let page = http.get(&url).send().unwrap().text().unwrap();
    assert!(page.contains(ORDER.1), "{page}");
    let bank = continue_href(&page);
    assert!(bank.starts_with(&sandbox.url), "{bank}");
    assert_eq!(http.get(&bank).send().unwrap().status(), 200);
    let bank_token = bank.split_once("token=").unwrap().1.to_string();
    let done = http
        .post(bank.split_once('?').unwrap().0)
        .form(&[("token", bank_token.as_str()), ("outcome", "complete")])
        .send()
        .unwrap();
    assert_eq!(done.status(), 200);

    // The order leaves the queue as paid once the central hears it from the gateway.
    driver.wait_for_queue_without(s, &[ORDER.0]);
    screenshot(&driver, s, Some("customer-paid"));
    let intents = sandbox.intents_of(ORDER.0);
    assert_eq!(intents.len(), 1, "one payment for the order: {intents:?}");
    assert_eq!(intents[0]["status"], "succeeded", "{intents:?}");
    assert_eq!(intents[0]["succeeded_count"], 1, "{intents:?}");
    let expired = http.get(&url).send().unwrap();
    assert_eq!(expired.status(), 410);
    assert!(expired.text().unwrap().contains("The order is paid"));
}
