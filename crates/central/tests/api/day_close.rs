//! The day close (issue 11): a UTC day's totals per operator, currency and outcome from the
//! central's results, matched against the gateway's intents of the day (a success the central
//! does not know is listed with its order id), rate-limited per terminal; the sign-off is
//! recorded once (a second is 409, a wrong PIN is refused) and shown by the report. A report may
//! cover one shift of the day.

use std::sync::Arc;

use async_trait::async_trait;
use paydesk_central::sweeper::{GatewayIntent, IntentEvidence, IntentLookup};
use paydesk_core::{Currency, GatewayIntentId, Money, OrderId, Timestamp};
use serde_json::{json, Value};

use crate::helpers::*;

/// A gateway whose intents are a fixed list: `intent` answers from it, `intents_between` lists
/// it whole.
#[derive(Debug)]
struct ListedGateway(Vec<(&'static str, &'static str, i64)>);

fn money(minor: i64) -> Money {
    Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap()
}

#[async_trait]
impl IntentLookup for ListedGateway {
    async fn intent(&self, id: &GatewayIntentId) -> Result<IntentEvidence, String> {
        self.0
            .iter()
            .find(|(i, _, _)| *i == id.as_str())
            .map(
                |(_, order, minor)| match succeeded_for(order, *minor, "EUR") {
                    // A PayPal order's payer is its vault id; PayPal shows no customer.
                    IntentEvidence::Succeeded {
                        amount, order_id, ..
                    } if order.starts_with("o-paypal") => IntentEvidence::Succeeded {
                        amount,
                        customer: None,
                        payment_method: Some("paypal:vault_test".into()),
                        order_id,
                    },
                    evidence => evidence,
                },
            )
            .ok_or_else(|| format!("no such intent: {id}"))
    }

    async fn intents_between(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<GatewayIntent>, String> {
        Ok(self
            .0
            .iter()
            .map(|(i, order, minor)| GatewayIntent {
                intent_id: GatewayIntentId::new(*i).unwrap(),
                order_id: Some(OrderId::new(*order).unwrap()),
                amount: money(*minor),
                succeeded: true,
            })
            .collect())
    }
}

async fn spawn(db: Db) -> TestApp {
    // pi_ghost: a success at the gateway for an order the central never heard of.
    spawn_listed(
        db,
        vec![("pi_paid", "o-paid", 1250), ("pi_ghost", "o-ghost", 999)],
    )
    .await
}

async fn spawn_listed(db: Db, intents: Vec<(&'static str, &'static str, i64)>) -> TestApp {
    let gateway = ListedGateway(intents);
    let options = TestOptions {
        gateway: Some(Arc::new(gateway)),
        ..Default::default()
    };
    TestApp::spawn(db, options).await
}

/// Claims `order` for otto at `t`, registers `intent` and reports `outcome` for `minor`.
async fn charge(app: &TestApp, t: &str, order: &str, intent: &str, outcome: &str, minor: i64) {
    let (s, claim) = app.claim(t, order, "otto").await;
    assert_eq!(s, 201, "{claim}");
    let (token, attempt) = (
        claim["claim_token"].as_u64().unwrap(),
        claim["attempt_number"].as_u64().unwrap(),
    );
    let (s, body) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            t,
            json!({"claim_token": token, "attempt_number": attempt, "intent_id": intent}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let item = result_item(
        &attempt_id(),
        order,
        attempt,
        token,
        outcome,
        minor,
        "EUR",
        Some(intent),
    );
    let (s, resp) = app.post("/v1/results", t, batch(1, vec![item])).await;
    assert_eq!(s, 200, "{resp}");
    assert_eq!(resp["items"][0]["status"], "applied", "{resp}");
}

fn today() -> String {
    let now = paydesk_central::clock::now().unix_ms();
    paydesk_central::http_auth::rfc3339(now)[..10].to_string()
}

fn total<'a>(report: &'a Value, outcome: &str) -> &'a Value {
    report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["outcome"] == outcome)
        .unwrap_or_else(|| panic!("no {outcome} total in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_by_operator_currency_outcome_and_gateway_differences() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn(db).await;
        app.orders(&[("o-paid", 1250, "EUR"), ("o-declined", 800, "EUR")])
            .await;
        app.operators(&["otto"]).await;
        let t = app.terminal("t-day").await;
        charge(app, &t, "o-paid", "pi_paid", "succeeded", 1250).await;
        charge(app, &t, "o-declined", "pi_declined", "declined", 800).await;
        assert_eq!(app.order("o-paid").await["order"]["status"], "paid");
        let day = today();
        let (s, report) = app.manager_get(&format!("/v1/day-close?day={day}")).await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(report["timezone"], "UTC");
        assert_eq!(report["from"], format!("{day}T00:00:00Z"));
        assert_eq!(report["totals"].as_array().unwrap().len(), 2, "{report}");
        let paid = total(&report, "succeeded");
        assert_eq!(
            (&paid["operator_id"], &paid["currency"]),
            (&json!("otto"), &json!("EUR"))
        );
        assert_eq!(paid["terminal_id"], "t-day");
        assert_eq!(
            (&paid["count"], &paid["sum_minor"]),
            (&json!(1), &json!(1250))
        );
        let declined = total(&report, "declined");
        assert_eq!(
            (&declined["count"], &declined["sum_minor"]),
            (&json!(1), &json!(800))
        );
        assert_eq!(report["gateway_checked"], true);
        let differences = report["differences"].as_array().unwrap();
        assert_eq!(differences.len(), 1, "{report}");
        assert_eq!(differences[0]["kind"], "gateway_success_not_paid");
        assert_eq!(differences[0]["order_id"], "o-ghost");
        assert_eq!(differences[0]["intent_id"], "pi_ghost");
        assert!(report["sign_off"].is_null());
        // One report per terminal per interval, like reconciliation.
        let (s, body) = app.manager_get(&format!("/v1/day-close?day={day}")).await;
        assert_eq!(s, 429, "{body}");
        // The admin is not limited; one operator's view, another day, a bad day.
        let (s, mine) = app
            .get(
                &format!("/v1/day-close?day={day}&operator=otto"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(s, 200, "{mine}");
        assert_eq!(mine["totals"], report["totals"]);
        assert_eq!(mine["totals_digest"], report["totals_digest"]);
        let (_, nobody) = app
            .get(
                &format!("/v1/day-close?day={day}&operator=olga"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(nobody["totals"], json!([]));
        // One shift of the day: the one that holds now has the results, another has none.
        let now_ms = paydesk_central::clock::now().unix_ms();
        let hour = now_ms.rem_euclid(86_400_000) / 3_600_000;
        let (holding, other) = if hour == 0 {
            ("00:00-01:00".to_string(), "01:00-24:00".to_string())
        } else {
            (
                format!("{hour:02}:00-{:02}:00", hour + 1),
                format!("00:00-{hour:02}:00"),
            )
        };
        // (Not within a minute of an hour: the charges above would fall in another shift.)
        if (60_000..3_540_000).contains(&now_ms.rem_euclid(3_600_000)) {
            let (s, shift) = app
                .get(
                    &format!("/v1/day-close?day={day}&shift={holding}"),
                    ADMIN_TOKEN,
                )
                .await;
            assert_eq!(s, 200, "{shift}");
            assert_eq!(shift["totals"], report["totals"], "{shift}");
            assert_eq!(shift["shift"], json!(holding));
            assert_eq!(
                shift["from"],
                format!("{day}T{}:00Z", &holding[..5]),
                "{shift}"
            );
            let (s, before) = app
                .get(
                    &format!("/v1/day-close?day={day}&shift={other}"),
                    ADMIN_TOKEN,
                )
                .await;
            assert_eq!(s, 200, "{before}");
            assert_eq!(before["totals"], json!([]), "{before}");
        }
        for bad in [
            "14:00-06:00",
            "06:00",
            "6:00-14:00",
            "06:00-24:01",
            "06:60-07:00",
        ] {
            let (s, body) = app
                .get(&format!("/v1/day-close?day={day}&shift={bad}"), ADMIN_TOKEN)
                .await;
            assert_eq!(s, 400, "{bad}: {body}");
        }
        let (_, old) = app.get("/v1/day-close?day=2001-02-03", ADMIN_TOKEN).await;
        assert_eq!(old["totals"], json!([]));
        for bad in ["2026-02-30", "yesterday", "2026-1-01"] {
            let (s, body) = app
                .get(&format!("/v1/day-close?day={bad}"), ADMIN_TOKEN)
                .await;
            assert_eq!(s, 400, "{bad}: {body}");
        }
        // An operator's session is refused.
        let session = app.session(&t, "otto").await;
        let path = format!("/v1/day-close?day={day}");
        let (s, body) = app
            .send_as(reqwest::Method::GET, &path, &t, &session, None)
            .await;
        assert_eq!(s, 403, "{body}");
    }
}

/// Imports `order` as a PayPal order (a vaulted PayPal wallet).
async fn paypal_order(app: &TestApp, order: &str, minor: i64) {
    let (s, body) = app
        .post(
            "/v1/orders/import",
            ADMIN_TOKEN,
            json!({ "orders": [{"order_id": order, "amount": {"minor": minor, "currency": "EUR"},
                "customer_id": "", "payment_method_id": "paypal:vault_test",
                "gateway": "paypal", "description": format!("order {order}")}] }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// Issue 13, item 4: a Stripe and a PayPal order paid the same day give one gateway row each
/// (and a PayPal decline its own row); a difference names the gateway of an order the central
/// holds, and none for an order it does not. The per-operator totals and their digest are
/// unchanged by the gateway, so a day signed off before keeps its digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_and_differences_are_given_per_gateway() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn_listed(
            db,
            vec![
                ("pi_stripe", "o-stripe", 1250),
                ("pi_paypal", "o-paypal", 2000),
                // A success at the gateway for a PayPal order the central has not seen paid.
                ("pi_open", "o-paypal-open", 700),
                ("pi_ghost", "o-ghost", 999),
            ],
        )
        .await;
        app.orders(&[("o-stripe", 1250, "EUR")]).await;
        paypal_order(app, "o-paypal", 2000).await;
        paypal_order(app, "o-paypal-declined", 300).await;
        paypal_order(app, "o-paypal-open", 700).await;
        assert_eq!(app.order("o-paypal").await["order"]["gateway"], "paypal");
        app.operators(&["otto"]).await;
        let t = app.terminal("t-gw").await;
        charge(app, &t, "o-stripe", "pi_stripe", "succeeded", 1250).await;
        charge(app, &t, "o-paypal", "pi_paypal", "succeeded", 2000).await;
        charge(
            app,
            &t,
            "o-paypal-declined",
            "pi_pp_declined",
            "declined",
            300,
        )
        .await;
        let day = today();
        let (s, report) = app
            .get(&format!("/v1/day-close?day={day}"), ADMIN_TOKEN)
            .await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(
            report["gateway_totals"],
            json!([
                {"gateway": "paypal", "currency": "EUR", "outcome": "declined",
                 "count": 1, "sum_minor": 300},
                {"gateway": "paypal", "currency": "EUR", "outcome": "succeeded",
                 "count": 1, "sum_minor": 2000},
                {"gateway": "stripe", "currency": "EUR", "outcome": "succeeded",
                 "count": 1, "sum_minor": 1250},
            ]),
            "{report}"
        );
        // The per-operator rows stay as they were: both successes in one row.
        let paid = total(&report, "succeeded");
        assert_eq!(
            (&paid["count"], &paid["sum_minor"]),
            (&json!(2), &json!(3250))
        );
        assert!(paid.get("gateway").is_none(), "{paid}");
        let differences = report["differences"].as_array().unwrap();
        assert_eq!(differences.len(), 2, "{report}");
        let of = |order: &str| {
            differences
                .iter()
                .find(|d| d["order_id"] == order)
                .unwrap_or_else(|| panic!("no difference for {order}: {report}"))
        };
        assert_eq!(of("o-paypal-open")["gateway"], "paypal");
        assert_eq!(of("o-paypal-open")["kind"], "gateway_success_not_paid");
        assert!(of("o-ghost")["gateway"].is_null(), "{report}");
        // One operator's view counts the same gateways.
        let (_, mine) = app
            .get(
                &format!("/v1/day-close?day={day}&operator=otto"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(mine["gateway_totals"], report["gateway_totals"]);
        let (_, nobody) = app
            .get(
                &format!("/v1/day-close?day={day}&operator=olga"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(nobody["gateway_totals"], json!([]));
    }
}

/// Issue 13, item 4: the inbox names the gateway of each item's order. A success the gateway
/// shows for another amount is flagged, for a Stripe and for a PayPal order alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_items_name_their_orders_gateway() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn_listed(
            db,
            vec![("pi_s", "o-stripe", 400), ("pi_p", "o-paypal", 400)],
        )
        .await;
        app.orders(&[("o-stripe", 500, "EUR")]).await;
        paypal_order(app, "o-paypal", 500).await;
        app.operators(&["otto"]).await;
        let t = app.terminal("t-inbox").await;
        for (order, intent) in [("o-stripe", "pi_s"), ("o-paypal", "pi_p")] {
            let (s, claim) = app.claim(&t, order, "otto").await;
            assert_eq!(s, 201, "{claim}");
            let (token, attempt) = (
                claim["claim_token"].as_u64().unwrap(),
                claim["attempt_number"].as_u64().unwrap(),
            );
            let (s, body) = app
                .post(
                    &format!("/v1/orders/{order}/intent"),
                    &t,
                    json!({"claim_token": token, "attempt_number": attempt, "intent_id": intent}),
                )
                .await;
            assert_eq!(s, 200, "{body}");
            let item = result_item(
                &attempt_id(),
                order,
                attempt,
                token,
                "succeeded",
                500,
                "EUR",
                Some(intent),
            );
            let (s, resp) = app.post("/v1/results", &t, batch(1, vec![item])).await;
            assert_eq!(s, 200, "{resp}");
            assert_eq!(resp["items"][0]["status"], "flagged", "{resp}");
        }
        let (s, inbox) = app.get("/v1/exceptions", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{inbox}");
        let gateway_of = |order: &str| {
            let items: Vec<&Value> = inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["order_id"] == order)
                .collect();
            assert!(!items.is_empty(), "no item for {order}: {inbox}");
            assert!(items.iter().all(|i| i["gateway"] == items[0]["gateway"]));
            items[0]["gateway"].clone()
        };
        assert_eq!(gateway_of("o-stripe"), "stripe");
        assert_eq!(gateway_of("o-paypal"), "paypal");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_is_signed_off_once_with_the_pin_again() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn(db).await;
        app.orders(&[("o-paid", 1250, "EUR")]).await;
        app.operators(&["otto"]).await;
        app.managers(&["mia"]).await;
        let t = app.terminal("t-close").await;
        charge(app, &t, "o-paid", "pi_paid", "succeeded", 1250).await;
        let day = today();
        let session = app.session(&t, "mia").await;
        let path = format!("/v1/day-close/{day}/sign-off");
        let post = |body: Value| {
            let (path, t, session) = (path.clone(), t.clone(), session.clone());
            async move {
                app.send_as(reqwest::Method::POST, &path, &t, &session, Some(body))
                    .await
            }
        };
        let (s, body) = post(json!({ "pin": "00000000" })).await;
        assert_eq!(s, 401, "{body}");
        let (_, report) = app
            .get(&format!("/v1/day-close?day={day}"), ADMIN_TOKEN)
            .await;
        assert!(
            report["sign_off"].is_null(),
            "a wrong PIN writes nothing: {report}"
        );
        let (s, signed) = post(json!({ "pin": MANAGER_PIN, "note": "till counted" })).await;
        assert_eq!(s, 201, "{signed}");
        assert_eq!(signed["signed_by"], "mia");
        assert_eq!(signed["terminal_id"], "t-close");
        assert_eq!(signed["totals_digest"], report["totals_digest"]);
        let (s, again) = post(json!({ "pin": MANAGER_PIN })).await;
        assert_eq!(s, 409, "{again}");
        assert!(
            again["error"]["message"]
                .as_str()
                .unwrap()
                .contains("by mia"),
            "{again}"
        );
        let (_, report) = app
            .get(&format!("/v1/day-close?day={day}"), ADMIN_TOKEN)
            .await;
        assert_eq!(report["sign_off"], signed);
        assert_eq!(report["sign_off"]["note"], "till counted");
        let (_, audit) = app.get("/v1/audit?kind=day_signed_off", ADMIN_TOKEN).await;
        assert_eq!(audit["entries"][0]["operator_id"], "mia");
        assert_eq!(audit["entries"][0]["terminal_id"], "t-close");
        // An operator may not sign off; a day not begun cannot be.
        let op = app.session(&t, "otto").await;
        let (s, body) = app
            .send_as(
                reqwest::Method::POST,
                &path,
                &t,
                &op,
                Some(json!({ "pin": OPERATOR_PIN })),
            )
            .await;
        assert_eq!(s, 403, "{body}");
        let (s, body) = post_day(app, &t, &session, "2999-01-01").await;
        assert_eq!(s, 400, "{body}");
    }
}

async fn post_day(app: &TestApp, t: &str, session: &str, day: &str) -> (u16, Value) {
    let path = format!("/v1/day-close/{day}/sign-off");
    app.send_as(
        reqwest::Method::POST,
        &path,
        t,
        session,
        Some(json!({ "pin": MANAGER_PIN })),
    )
    .await
}

/// A charge the central has no record of that was refunded outside Paydesk (the demo's
/// demo-2008: charged and refunded in the gateway's dashboard) is listed as such, with the
/// refund, not only as charged; a charge nobody refunded stays `gateway_success_not_paid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_charge_refunded_outside_paydesk_is_named_so_in_the_day_close() {
    for db in [Db::Sqlite, Db::Postgres] {
        let app = &spawn_listed(
            db,
            vec![("pi_out", "o-out", 4900), ("pi_kept", "o-kept", 700)],
        )
        .await;
        app.orders(&[("o-out", 4900, "EUR"), ("o-kept", 700, "EUR")])
            .await;
        // What the gateway's signed `charge.refund.updated` webhook stores (webhooks.rs).
        sqlx::query(
            "INSERT INTO refunds (refund_id, kind, order_id, intent_id, charge_id, amount_minor, \
             status, event_id, received_at) VALUES ('re_out', 'refund', 'o-out', 'pi_out', \
             'ch_out', 4900, 'succeeded', 'evt_out', 1)",
        )
        .execute(app.store.pool())
        .await
        .unwrap();
        let (s, report) = app
            .manager_get(&format!("/v1/day-close?day={}", today()))
            .await;
        assert_eq!(s, 200, "{report}");
        let differences = report["differences"].as_array().unwrap();
        let of = |order: &str| {
            differences
                .iter()
                .find(|d| d["order_id"] == order)
                .unwrap_or_else(|| panic!("no {order} in {report}"))
        };
        let out = of("o-out");
        assert_eq!(out["kind"], "gateway_success_refunded_outside", "{out}");
        let detail = out["detail"].as_str().unwrap();
        assert!(
            detail.contains("49.00 EUR of it was refunded outside Paydesk (re_out)"),
            "{detail}"
        );
        assert_eq!(of("o-kept")["kind"], "gateway_success_not_paid");
    }
}
