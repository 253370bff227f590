//! End to end (issue 12, item 2): a deposit and then the balance, in the built app's real webview
//! on the embedded default (central on SQLite + the sandbox).
//!
//! The operator opens Anna's 129.00 EUR order, changes the amount to a 30.00 EUR deposit (the
//! dialog refuses more than the balance in plain words and asks for a reason), gives the reason
//! and charges it. The order stays in the queue as partly paid with "Balance 99.00 of 129.00 EUR";
//! its dialog then defaults to the 99.00 EUR balance, which is charged without a reason, and the
//! order leaves the queue. The central's record (read from its database, as e2e_desktop does)
//! holds the whole amount paid in two installments and the reason; the sandbox's ledger holds two
//! succeeded payments adding up to the order's amount.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.deposit-refused.png`,
//! `<file>.deposit-reason.png`, `<file>.balance-queue.png` and `<file>.balance-dialog.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{
    admin_token, click_on, screenshot, sign_in, type_into, App, Driver, Sandbox, PAGE_READY_MS_MAX,
    POLL_MS,
};
use serde_json::json;

/// The demo operator the embedded default seeds (demo data, not a secret).
const OPERATOR: &str = "demo-operator";
const OPERATOR_PIN: &str = "123456";
/// Anna's espresso machine on `pm_card_visa` (succeeds): 129.00 EUR.
const ORDER: &str = "demo-1001";
const ORDER_MINOR: i64 = 12_900;
const DEPOSIT_MINOR: i64 = 3_000;
const REASON: &str = "Deposit agreed on the phone";

#[test]
fn a_deposit_then_the_balance_pays_the_order_in_two_installments() {
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

    // The dialog's amount defaults to the balance due: the whole order, nothing paid yet.
    open_charge(&driver, s, ORDER);
    assert_eq!(input_value(&driver, s, "charge-amount-input"), "129.00");
    assert!(driver
        .find(s, "[data-testid='charge-reason-input']")
        .is_none());
    assert!(driver.find(s, "[data-testid='charge-balance']").is_none());

    // More than the balance is refused in plain words, and Charge does not work.
    set_amount(&driver, s, "200");
    let problem = driver
        .wait_for_text(
            s,
            "[data-testid='charge-amount-problem']",
            "more than the balance due",
        )
        .unwrap_or_else(|| panic!("no refusal of 200: {}", driver.page_text(s)));
    assert!(problem.contains("(129.00 EUR)"), "{problem}");
    assert!(confirm_disabled(&driver, s));
    screenshot(&driver, s, Some("deposit-refused"));

    // A deposit: the reason is required before Charge works.
    set_amount(&driver, s, "30.00");
    driver
        .wait_for_element(s, "[data-testid='charge-reason-input']")
        .unwrap_or_else(|| panic!("no reason field for a deposit: {}", driver.page_text(s)));
    assert!(confirm_disabled(&driver, s), "a deposit without a reason");
    type_into(&driver, s, "[data-testid='charge-reason-input']", REASON);
    wait_enabled(&driver, s);
    let summary = driver.text_of(s, "[data-testid='charge-summary']");
    assert!(
        summary.contains("Anna Kovács") && summary.contains("will be charged 30.00 EUR"),
        "{summary}"
    );
    assert_eq!(
        driver.text_of(s, "[data-testid='confirm-charge']"),
        "Charge 30.00 EUR"
    );
    screenshot(&driver, s, Some("deposit-reason"));
    click_on(&driver, s, "[data-testid='confirm-charge']");
    let outcome = wait_for_outcome(&driver, s);
    assert!(
        outcome.starts_with("Paid") && outcome.contains("30.00 EUR was charged"),
        "{outcome}"
    );
    click_on(&driver, s, "[data-testid='close-charge']");
    wait_gone(&driver, s, "[data-testid='charge-dialog']");

    // The order stays in the queue, partly paid, with its balance (once the central counted the
    // deposit: the result reaches it through the outbox).
    let balance = wait_for_balance(&driver, s, "Balance 99.00 of 129.00 EUR");
    let row = driver.text_of(s, &format!("tr[data-order-id='{ORDER}']"));
    assert!(
        row.contains("Partly paid") && row.contains("Paid so far: 30.00 EUR"),
        "{balance} / {row}"
    );
    screenshot(&driver, s, Some("balance-queue"));

    // The balance: the default amount, no reason asked.
    open_charge(&driver, s, ORDER);
    assert_eq!(input_value(&driver, s, "charge-amount-input"), "99.00");
    let due = driver.text_of(s, "[data-testid='charge-balance']");
    assert!(
        due.contains("Balance 99.00 of 129.00 EUR") && due.contains("Paid so far: 30.00 EUR"),
        "{due}"
    );
    assert!(driver
        .find(s, "[data-testid='charge-reason-input']")
        .is_none());
    let summary = driver.text_of(s, "[data-testid='charge-summary']");
    assert!(summary.contains("will be charged 99.00 EUR"), "{summary}");
    screenshot(&driver, s, Some("balance-dialog"));
    click_on(&driver, s, "[data-testid='confirm-charge']");
    let outcome = wait_for_outcome(&driver, s);
    assert!(
        outcome.starts_with("Paid") && outcome.contains("99.00 EUR was charged"),
        "{outcome}"
    );
    click_on(&driver, s, "[data-testid='close-charge']");
    wait_gone(&driver, s, "[data-testid='charge-dialog']");
    driver.wait_for_queue_without(s, &[ORDER]);

    // The central: paid in full, by two counted payments (the deposit, then the balance), and
    // the other amount's reason recorded with the operator.
    let central = CentralRecord::read(&app.data_dir.join("central.sqlite"));
    assert_eq!(central.status, "paid");
    assert_eq!(central.paid_minor, ORDER_MINOR);
    assert_eq!(
        central.payments,
        vec![(1, DEPOSIT_MINOR), (2, ORDER_MINOR - DEPOSIT_MINOR)]
    );
    assert_eq!(
        central.other_amounts,
        vec![(DEPOSIT_MINOR, REASON.to_string(), OPERATOR.to_string())]
    );

    // The gateway: two succeeded payments, each charged once, adding up to the order's amount.
    let sandbox = Sandbox::of(&app.data_dir, &token);
    let intents = sandbox.intents_of(ORDER);
    assert_eq!(intents.len(), 2, "{intents:?}");
    for intent in &intents {
        assert_eq!(intent["status"], "succeeded", "{intent}");
        assert_eq!(intent["succeeded_count"], 1, "{intent}");
    }
    let mut amounts: Vec<i64> = intents
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, vec![DEPOSIT_MINOR, ORDER_MINOR - DEPOSIT_MINOR]);
    assert_eq!(amounts.iter().sum::<i64>(), ORDER_MINOR);
}

/// What the embedded central recorded for [`ORDER`], read from its SQLite database.
struct CentralRecord {
    status: String,
    paid_minor: i64,
    /// (installment, amount) of each counted payment, in installment order.
    payments: Vec<(i64, i64)>,
    /// (amount, reason, operator) of each charge of an amount other than the balance due.
    other_amounts: Vec<(i64, String, String)>,
}

impl CentralRecord {
    /// Reads the record once the central counted the whole amount (the balance's result reaches
    /// it through the outbox, maybe a moment after the queue stopped listing the order).
    fn read(db: &Path) -> CentralRecord {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
            let (status, paid_minor) = loop {
                let (status, paid): (String, i64) =
                    sqlx::query_as("SELECT status, paid_minor FROM orders WHERE order_id = $1")
                        .bind(ORDER)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                if status == "paid" || Instant::now() >= deadline {
                    break (status, paid);
                }
                tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            };
            let payments = sqlx::query_as(
                "SELECT installment, amount_minor FROM order_payments WHERE order_id = $1 \
                 ORDER BY installment",
            )
            .bind(ORDER)
            .fetch_all(&pool)
            .await
            .unwrap();
            let other_amounts = sqlx::query_as(
                "SELECT amount_minor, reason, operator_id FROM charge_amount_events \
                 WHERE order_id = $1 ORDER BY event_id",
            )
            .bind(ORDER)
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            CentralRecord {
                status,
                paid_minor,
                payments,
                other_amounts,
            }
        })
    }
}

/// Opens the charge dialog of `order` from its Charge button.
fn open_charge(driver: &Driver, s: &str, order: &str) {
    click_on(
        driver,
        s,
        &format!("tr[data-order-id='{order}'] [data-testid='charge-button']"),
    );
    driver
        .wait_for_element(s, "[data-testid='confirm-charge']")
        .unwrap_or_else(|| panic!("no confirmation for {order}: {}", driver.page_text(s)));
}

/// Replaces what the amount field holds with `text`, as typed.
fn set_amount(driver: &Driver, s: &str, text: &str) {
    let field = driver
        .find(s, "[data-testid='charge-amount-input']")
        .unwrap_or_else(|| panic!("no amount field: {}", driver.page_text(s)));
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{s}/element/{field}/clear"),
            Some(json!({})),
        )
        .unwrap_or_else(|e| panic!("clearing the amount: {e}"));
    driver.send_keys(s, &field, text);
}

/// The current value of the input with `testid`.
fn input_value(driver: &Driver, s: &str, testid: &str) -> String {
    let body = json!({
        "script": format!("return document.querySelector(\"[data-testid='{testid}']\").value;"),
        "args": [],
    });
    let value = driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{s}/execute/sync"),
            Some(body),
        )
        .unwrap_or_else(|e| panic!("reading {testid}: {e}"));
    value.as_str().unwrap_or_default().to_string()
}

fn confirm_disabled(driver: &Driver, s: &str) -> bool {
    driver
        .attribute_of(s, "[data-testid='confirm-charge']", "disabled")
        .is_some()
}

/// Waits until the Charge button works.
fn wait_enabled(driver: &Driver, s: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while confirm_disabled(driver, s) {
        assert!(
            Instant::now() < deadline,
            "Charge stayed disabled: {}",
            driver.page_text(s)
        );
        sleep(Duration::from_millis(POLL_MS));
    }
}

/// Reloads the queue until [`ORDER`]'s row shows `expected` as its balance; returns it.
fn wait_for_balance(driver: &Driver, s: &str, expected: &str) -> String {
    let css = format!("tr[data-order-id='{ORDER}'] [data-testid='order-balance']");
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    loop {
        if let Some(balance) = driver.find(s, &css) {
            let text = driver.element_text(s, &balance);
            if text.contains(expected) {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no balance {expected} for {ORDER}: {}",
            driver.page_text(s)
        );
        click_on(driver, s, "[data-testid='queue-reload']");
        sleep(Duration::from_millis(POLL_MS));
    }
}

fn wait_for_outcome(driver: &Driver, s: &str) -> String {
    let outcome = driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .unwrap_or_else(|| panic!("no outcome: {}", driver.page_text(s)));
    driver.element_text(s, &outcome)
}

fn wait_gone(driver: &Driver, s: &str, css: &str) {
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.find(s, css).is_some() {
        assert!(
            Instant::now() < deadline,
            "{css} stayed: {}",
            driver.page_text(s)
        );
        sleep(Duration::from_millis(POLL_MS));
    }
}
