//! End to end (issue 11, "resolve an unknown outcome caused by a sandbox fault"), in the built
//! app's real webview against the embedded default. The app starts with
//! `PAYDESK_SANDBOX_ADMIN_TOKEN`, so its sandbox's `/admin` routes answer that token (and refuse a
//! request without it); the test turns the gateway's webhooks off (lost notifications: the
//! central learns nothing by itself) and arms faults on the terminal's path to the gateway only
//! (its restricted key: `@restricted`), so the central still reads the gateway for the evidence.
//!
//! 1. **Mark charged by intent X.** The operator charges `demo-1001`; the confirm executes but its
//!    answer is lost, and every lookup of the terminal fails: the charge ends "outcome unknown".
//!    The manager opens the inbox item, reads the evidence (this terminal: unknown; the gateway:
//!    succeeded), is not offered "not charged" or "retry", and marks the order paid by the intent
//!    the gateway shows, with a reason and the PIN.
//! 2. **Retry the same attempt.** The operator charges `demo-1006`; the confirm is lost before it
//!    executes. The evidence shows the payment open at the gateway and offers "retry". A retry
//!    while the terminal's lookups still fail says so and changes nothing; once the terminal's path
//!    to the gateway is back, the retry confirms the same intent and the order is paid.
//!
//! Both end with the sandbox's ledger: exactly one payment for the order, charged once.
//!
//! Needs `PAYDESK_DESKTOP_BIN` (scripts/test-e2e.sh builds the app); `PAYDESK_SKIP_E2E=1` skips.
//! `PAYDESK_E2E_SCREENSHOT=<file.png>` saves `<file>.resolve-unknown.png`,
//! `<file>.resolve-marked.png`, `<file>.resolve-retry.png` and `<file>.resolve-retried.png`.
#![cfg(target_os = "linux")]

#[path = "e2e/harness.rs"]
mod harness;

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use harness::{
    admin_token, click_on, screenshot, sign_in, sign_out, type_into, App, Driver, Sandbox,
    PAGE_READY_MS_MAX, POLL_MS,
};

const OPERATOR: (&str, &str) = ("demo-operator", "123456");
const MANAGER: (&str, &str) = ("demo-manager", "87654321");
/// Charged with its answer lost after the gateway executed it.
const LOST_ANSWER_ORDER: &str = "demo-1001";
/// Charged with its confirm lost before the gateway executed it.
const LOST_CONFIRM_ORDER: &str = "demo-1006";
/// How many lookups of the terminal fail: more than any test run makes (recovery asks every 30 s).
const TERMINAL_LOOKUPS_FAILING: u32 = 1_000;

/// The operator charges `order` from the queue; the charge ends without a known outcome.
fn charge_with_unknown_outcome(driver: &Driver, s: &str, order: &str) {
    click_on(
        driver,
        s,
        &format!("tr[data-order-id='{order}'] [data-testid='charge-button']"),
    );
    click_on(driver, s, "[data-testid='confirm-charge']");
    let outcome = driver
        .wait_for_element(s, "[data-testid='charge-outcome']")
        .unwrap_or_else(|| panic!("no outcome: {}", driver.page_text(s)));
    let kind = driver.attribute_of(s, "[data-testid='charge-outcome']", "data-outcome");
    let text = driver.element_text(s, &outcome);
    assert_eq!(kind.as_deref(), Some("pending"), "{text}");
    click_on(driver, s, "[data-testid='close-charge']");
}

/// Reloads the inbox until a row `css` names is there.
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

/// Chooses `action` in the open resolution, gives a reason and the PIN, decides, and returns the
/// answer once it contains `expected`.
fn decide(driver: &Driver, s: &str, action: &str, reason: &str, expected: &str) -> String {
    click_on(driver, s, &format!("[data-testid='action-{action}']"));
    type_into(driver, s, "[data-testid='decision-reason']", reason);
    type_into(driver, s, "[data-testid='decision-pin']", MANAGER.1);
    click_on(driver, s, "[data-testid='decide']");
    driver
        .wait_for_text(s, "[data-testid='decision-answer']", expected)
        .unwrap_or_else(|| panic!("no {expected:?} answer: {}", driver.page_text(s)))
}

#[test]
fn a_manager_resolves_unknown_outcomes_caused_by_gateway_faults() {
    let token = admin_token();
    let Some(app) = App::start_with(&[("PAYDESK_SANDBOX_ADMIN_TOKEN", &token)]) else {
        return;
    };
    let driver = app.driver.clone();
    let s = app.s();
    sign_in(&driver, s, OPERATOR.0, OPERATOR.1);
    let sandbox = Sandbox::of(&app.data_dir, &token);

    // The admin routes answer only the token.
    let refused = reqwest::blocking::Client::new()
        .get(format!("{}/admin/faults", sandbox.url))
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401, "admin without the token");

    // The gateway's notifications are lost: only the terminal, or a person, can tell the central.
    sandbox.lose_webhooks();
    // 1. The confirm runs at the gateway, its answer is lost, and the terminal cannot look it up.
    let terminal_lookups_fail =
        format!("retrieve@restricted:drop_before_execute:{TERMINAL_LOOKUPS_FAILING}");
    sandbox.arm(&[
        "confirm@restricted:drop_after_execute:1".to_string(),
        terminal_lookups_fail.clone(),
    ]);
    charge_with_unknown_outcome(&driver, s, LOST_ANSWER_ORDER);
    // 2. The confirm is lost before the gateway runs it.
    sandbox.arm(&["confirm@restricted:drop_before_execute:1".to_string()]);
    charge_with_unknown_outcome(&driver, s, LOST_CONFIRM_ORDER);
    sign_out(&driver, s);

    sign_in(&driver, s, MANAGER.0, MANAGER.1);
    let row = |order: &str| {
        format!("tr[data-testid='inbox-row'][data-kind='attempt_unknown'][data-order-id='{order}']")
    };
    wait_for_inbox_row(&driver, s, &row(LOST_ANSWER_ORDER));
    wait_for_inbox_row(&driver, s, &row(LOST_CONFIRM_ORDER));
    let table = driver.text_of(s, "[data-testid='inbox-table']");
    assert!(
        table.contains("Payment outcome not known (this terminal)"),
        "{table}"
    );

    // The lost answer: the evidence side by side, and only what it allows.
    click_on(
        &driver,
        s,
        &format!("{} td:nth-child(2)", row(LOST_ANSWER_ORDER)),
    );
    let journal = driver
        .wait_for_text(s, "[data-testid='evidence-journal']", "Outcome unknown")
        .unwrap_or_else(|| panic!("no journal column: {}", driver.page_text(s)));
    assert!(journal.contains("129.00 EUR"), "{journal}");
    let gateway = driver
        .wait_for_text(
            s,
            "[data-testid='evidence-gateway']",
            "the customer was charged",
        )
        .unwrap_or_else(|| panic!("no gateway column: {}", driver.page_text(s)));
    let intent = sandbox.charged_once(LOST_ANSWER_ORDER);
    assert!(gateway.contains(&intent), "{gateway}");
    driver
        .wait_for_element(s, "[data-testid='action-mark_charged']")
        .unwrap_or_else(|| panic!("no mark charged: {}", driver.page_text(s)));
    let decision = driver.text_of(s, "[data-testid='decision']");
    assert!(
        decision.contains(&intent),
        "marks paid by the intent: {decision}"
    );
    for not_offered in ["mark_not_charged", "retry"] {
        assert!(
            driver
                .find(s, &format!("[data-testid='action-{not_offered}']"))
                .is_none(),
            "the gateway shows a success: {not_offered} must not be offered: {decision}"
        );
    }
    screenshot(&driver, s, Some("resolve-unknown"));
    let answer = decide(
        &driver,
        s,
        "mark_charged",
        "the gateway shows the payment succeeded; its answer was lost",
        "is marked paid",
    );
    assert!(answer.contains(&intent), "{answer}");
    let central = driver
        .wait_for_text(s, "[data-testid='evidence-central']", "paid by")
        .unwrap_or_else(|| panic!("the central does not show it paid: {}", driver.page_text(s)));
    assert!(central.contains(&intent), "{central}");
    assert!(central.contains("demo-manager decided"), "{central}");
    screenshot(&driver, s, Some("resolve-marked"));
    assert_eq!(sandbox.charged_once(LOST_ANSWER_ORDER), intent);
    assert_eq!(
        central_order(&app.data_dir, LOST_ANSWER_ORDER),
        ("paid".to_string(), Some(intent.clone()))
    );

    // The lost confirm: open at the gateway, nothing charged; "retry" is offered.
    click_on(&driver, s, "[data-testid='resolve'] .section-head button");
    click_on(
        &driver,
        s,
        &format!("{} td:nth-child(2)", row(LOST_CONFIRM_ORDER)),
    );
    driver
        .wait_for_text(s, "#resolve-title", LOST_CONFIRM_ORDER)
        .unwrap_or_else(|| panic!("not opened: {}", driver.page_text(s)));
    driver
        .wait_for_text(s, "[data-testid='evidence-journal']", "Outcome unknown")
        .unwrap_or_else(|| panic!("no journal column: {}", driver.page_text(s)));
    driver
        .wait_for_text(
            s,
            "[data-testid='evidence-gateway']",
            "open: not charged, could still be charged",
        )
        .unwrap_or_else(|| panic!("no open payment: {}", driver.page_text(s)));
    driver
        .wait_for_element(s, "[data-testid='action-retry']")
        .unwrap_or_else(|| panic!("no retry offered: {}", driver.page_text(s)));
    assert!(
        driver
            .find(s, "[data-testid='action-mark_charged']")
            .is_none(),
        "nothing succeeded: mark charged must not be offered: {}",
        driver.text_of(s, "[data-testid='decision']")
    );
    let before = sandbox.intents_of(LOST_CONFIRM_ORDER);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["status"], "requires_confirmation", "{before:?}");
    screenshot(&driver, s, Some("resolve-retry"));

    // A retry while the terminal still cannot reach the gateway: said so, nothing changes.
    let answer = decide(
        &driver,
        s,
        "retry",
        "the confirm was lost before the gateway ran it",
        "still gives no answer",
    );
    assert!(!answer.contains("paid"), "{answer}");
    assert_eq!(
        sandbox.intents_of(LOST_CONFIRM_ORDER)[0]["status"],
        "requires_confirmation"
    );

    // The terminal's path to the gateway is back: the retry confirms the same intent, once.
    sandbox.clear();
    let answer = decide(
        &driver,
        s,
        "retry",
        "the gateway answers again",
        "Retried: the gateway says the payment succeeded",
    );
    assert!(answer.contains("The order is paid"), "{answer}");
    let retried = sandbox.charged_once(LOST_CONFIRM_ORDER);
    assert_eq!(
        retried,
        before[0]["id"].as_str().unwrap(),
        "the same intent"
    );
    let journal = driver
        .wait_for_text(s, "[data-testid='evidence-journal']", "Succeeded")
        .unwrap_or_else(|| panic!("the journal does not show it: {}", driver.page_text(s)));
    assert!(journal.contains("Attempt 1 · Succeeded"), "{journal}");
    assert!(
        journal.contains("Gateway answered the confirm → Succeeded"),
        "the timeline shows the retried confirm: {journal}"
    );
    let settled = driver
        .wait_for_text(s, "[data-testid='resolve-settled']", "Succeeded")
        .unwrap_or_else(|| panic!("not shown settled: {}", driver.page_text(s)));
    assert!(settled.contains("leaves the inbox"), "{settled}");
    // The result reaches the central (the outbox sends it at once): paid by that intent.
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    loop {
        let (status, paid_by) = central_order(&app.data_dir, LOST_CONFIRM_ORDER);
        if status == "paid" {
            assert_eq!(paid_by.as_deref(), Some(retried.as_str()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the central never recorded {LOST_CONFIRM_ORDER} paid: {status}"
        );
        sleep(Duration::from_millis(POLL_MS * 4));
    }
    screenshot(&driver, s, Some("resolve-retried"));
    // Nothing left for the manager on either order: both items left the inbox.
    driver.click(s, &driver.find(s, "[data-testid='inbox-reload']").unwrap());
    let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
    while driver.find(s, &row(LOST_CONFIRM_ORDER)).is_some()
        || driver.find(s, &row(LOST_ANSWER_ORDER)).is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the items stayed in the inbox: {}",
            driver.page_text(s)
        );
        sleep(Duration::from_millis(POLL_MS * 4));
        if let Some(reload) = driver.find(s, "[data-testid='inbox-reload']") {
            driver.click(s, &reload);
        }
    }
    assert_eq!(sandbox.charged_once(LOST_ANSWER_ORDER), intent);
    assert_eq!(sandbox.charged_once(LOST_CONFIRM_ORDER), retried);
    drop(app);
}

/// The embedded central's record of `order` (status, paid by), read from its SQLite file.
fn central_order(data_dir: &Path, order: &str) -> (String, Option<String>) {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!(
            "sqlite://{}?mode=ro",
            data_dir.join("central.sqlite").display()
        );
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let row: (String, Option<String>) =
            sqlx::query_as("SELECT status, paid_intent_id FROM orders WHERE order_id = ?")
                .bind(order)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let _ = conn.close().await;
        row
    })
}
