//! The audit log (issue 11): wrong PINs, a lockout, a refused manager view, a claim and a refused
//! result each appear with who, when and which terminal; filters and cursor paging; the CSV
//! export never starts a cell with a formula; an operator's session is refused 403.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

fn kinds(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The first entry of `kind` in a page.
fn first<'a>(page: &'a Value, kind: &str) -> &'a Value {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry in {page}"))
}

/// Signs in wrongly, locks `olga` out, makes `otto` ask for a manager view, claims `o-1` for
/// `otto` and reports a success of another amount for it (flagged). Returns the terminal token.
async fn events(app: &TestApp) -> String {
    app.orders(&[("o-1", 1250, "EUR")]).await;
    app.operators(&["otto", "olga"]).await;
    let t = app.terminal("t-audit").await;
    let (s, _) = app.sign_in(&t, "otto", "000000").await;
    assert_eq!(s, 401);
    let mut last = 0;
    for _ in 0..5 {
        last = app.sign_in(&t, "olga", "000000").await.0;
    }
    assert_eq!(last, 429, "the fifth wrong PIN locks olga out");
    let session = app.session(&t, "otto").await;
    let (s, body) = app
        .send_as(reqwest::Method::GET, "/v1/flags", &t, &session, None)
        .await;
    assert_eq!(s, 403, "{body}");
    let (s, claim) = app.claim(&t, "o-1", "otto").await;
    assert_eq!(s, 201, "{claim}");
    let (token, attempt) = (
        claim["claim_token"].as_u64().unwrap(),
        claim["attempt_number"].as_u64().unwrap(),
    );
    let (s, body) = app
        .post(
            "/v1/orders/o-1/intent",
            &t,
            json!({"claim_token": token, "attempt_number": attempt, "intent_id": "pi_a1"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let item = result_item(
        &attempt_id(),
        "o-1",
        attempt,
        token,
        "succeeded",
        1300,
        "EUR",
        Some("pi_a1"),
    );
    let (s, resp) = app.post("/v1/results", &t, batch(1, vec![item])).await;
    assert_eq!(s, 200, "{resp}");
    assert_eq!(resp["items"][0]["status"], "flagged", "{resp}");
    t
}

both_backends! {
    async fn refusals_and_claims_are_in_the_audit_with_who_when_where(app) {
        let before = paydesk_central::clock::now().unix_ms();
        events(app).await;
        let (s, page) = app.manager_get("/v1/audit?limit=500").await;
        assert_eq!(s, 200, "{page}");
        let after = paydesk_central::clock::now().unix_ms();
        let wrong = first(&page, "pin_wrong");
        assert_eq!(wrong["outcome"], "refused");
        assert_eq!(wrong["terminal_id"], "t-audit");
        let at = wrong["at_ms"].as_i64().unwrap();
        assert!(before <= at && at <= after, "{wrong}");
        assert!(wrong["at"].as_str().unwrap().ends_with('Z'));
        let locked = first(&page, "locked");
        assert_eq!((&locked["operator_id"], &locked["outcome"]), (&json!("olga"), &json!("refused")));
        let forbidden = first(&page, "forbidden");
        assert_eq!(forbidden["operator_id"], "otto");
        assert_eq!(forbidden["terminal_id"], "t-audit");
        assert!(forbidden["detail"].as_str().unwrap().contains("/v1/flags"), "{forbidden}");
        let claim = first(&page, "claim_claimed");
        assert_eq!((&claim["operator_id"], &claim["order_id"]), (&json!("otto"), &json!("o-1")));
        assert_eq!(claim["outcome"], "done");
        let result = first(&page, "result_succeeded");
        assert_eq!(result["outcome"], "refused");
        assert_eq!((&result["amount_minor"], &result["currency"]), (&json!(1300), &json!("EUR")));
        assert!(result["detail"].as_str().unwrap().starts_with("flagged: "), "{result}");
        // The person behind the result: the operator who claimed the order under its token.
        assert_eq!(result["operator_id"], "otto", "{result}");
        let (_, mine) = app.manager_get("/v1/audit?operator=otto&kind=result_succeeded").await;
        assert_eq!(kinds(&mine), ["result_succeeded"], "{mine}");
        // Newest first.
        let times: Vec<i64> = page["entries"].as_array().unwrap().iter()
            .map(|e| e["at_ms"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        assert!(page["next_cursor"].is_null());
    }
}

both_backends! {
    async fn filters_and_cursor_paging(app) {
        events(app).await;
        let (_, olga) = app.manager_get("/v1/audit?operator=olga").await;
        let k = kinds(&olga);
        assert!(k.iter().all(|k| k == "pin_wrong" || k == "locked"), "{k:?}");
        assert_eq!(k.iter().filter(|k| *k == "pin_wrong").count(), 5);
        let (_, refused) = app.manager_get("/v1/audit?outcome=refused&terminal=t-audit").await;
        assert!(refused["entries"].as_array().unwrap().iter()
            .all(|e| e["outcome"] == "refused" && e["terminal_id"] == "t-audit"));
        let (_, claims) = app.manager_get("/v1/audit?kind=claim_claimed").await;
        assert_eq!(kinds(&claims), ["claim_claimed"]);
        let future = paydesk_central::clock::now().unix_ms() + 60_000;
        let (_, none) = app.manager_get(&format!("/v1/audit?from={future}")).await;
        assert_eq!(kinds(&none).len(), 0);
        // Pages of two walk the whole listing once, in the same order.
        let (_, all) = app.manager_get("/v1/audit?limit=500").await;
        let mut walked = Vec::new();
        let mut path = "/v1/audit?limit=2".to_string();
        loop {
            let (s, page) = app.manager_get(&path).await;
            assert_eq!(s, 200, "{page}");
            let entries = page["entries"].as_array().unwrap();
            assert!(entries.len() <= 2);
            walked.extend(entries.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/audit?limit=2&cursor={c}"),
                None => break,
            }
        }
        // The manager's own sign-in and views may add rows at the top while walking: compare
        // the entries the first listing had.
        let all = all["entries"].as_array().unwrap();
        let tail = &walked[walked.len() - all.len()..];
        assert_eq!(tail, all.as_slice());
        let (s, body) = app.manager_get("/v1/audit?cursor=nonsense").await;
        assert_eq!(s, 400, "{body}");
        let (s, body) = app.manager_get("/v1/audit?outcome=maybe").await;
        assert_eq!(s, 400, "{body}");
        let (s, body) = app.manager_get("/v1/audit?limit=0").await;
        assert_eq!(s, 400, "{body}");
    }
}

both_backends! {
    async fn csv_export_is_safe_from_formula_injection(app) {
        app.orders(&[("o-csv", 500, "EUR")]).await;
        // A stored reason a hostile party shaped like a spreadsheet formula.
        sqlx::query(
            "INSERT INTO results (attempt_id, interim, order_id, attempt_number, claim_token, \
             terminal_id, outcome, amount_minor, currency, intent_id, offline, occurred_at, \
             received_at, status, reason, suspect) VALUES ('att-csv', 0, 'o-csv', 1, 1, \
             '+t-evil', 'declined', 500, 'EUR', NULL, 0, 1, $1, 'flagged', \
             '=HYPERLINK(\"http://x\",\"y\")', 0)",
        )
        .bind(paydesk_central::clock::now().unix_ms())
        .execute(app.store.pool())
        .await
        .unwrap();
        app.managers(&[MANAGER_ID]).await;
        let token = app.terminal(MANAGER_TERMINAL).await;
        let session = app.session(&token, MANAGER_ID).await;
        for (path, accept) in [("/v1/audit?kind=result_declined", "text/csv"),
                               ("/v1/audit?kind=result_declined&format=csv", "*/*")] {
            let resp = app.client.get(app.url(path)).bearer_auth(&token)
                .header(paydesk_protocol::SESSION_HEADER, &session)
                .header("accept", accept).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
            let text = resp.text().await.unwrap();
            let mut lines = text.lines();
            assert!(lines.next().unwrap().starts_with("at,kind,outcome,"));
            let row = lines.next().expect("one row");
            assert!(row.contains(",'+t-evil,"), "{row}");
            assert!(row.ends_with(r#""flagged: =HYPERLINK(""http://x"",""y"")""#), "{row}");
            // The detail starts with the status, so test a cell that starts with '=' itself.
            assert_eq!(lines.next(), None);
        }
        // A cell that itself starts with '=' gets a leading quote.
        sqlx::query("UPDATE results SET status = '=cmd', reason = NULL WHERE attempt_id = 'att-csv'")
            .execute(app.store.pool()).await.unwrap();
        let resp = app.client.get(app.url("/v1/audit?kind=result_declined&format=csv"))
            .bearer_auth(&token).header(paydesk_protocol::SESSION_HEADER, &session)
            .send().await.unwrap();
        let text = resp.text().await.unwrap();
        assert!(text.lines().nth(1).unwrap().ends_with(",'=cmd"), "{text}");
    }
}

both_backends! {
    async fn an_operator_session_is_refused_and_nobody_is_asked_to_sign_in(app) {
        app.operators(&["otto"]).await;
        let t = app.terminal("t-op").await;
        let session = app.session(&t, "otto").await;
        let (s, body) = app.send_as(reqwest::Method::GET, "/v1/audit", &t, &session, None).await;
        assert_eq!(s, 403, "{body}");
        let (s, body) = app.get("/v1/audit", &t).await;
        assert_eq!((s, &body["error"]["code"]), (401, &json!("session_required")));
        let (s, page) = app.get("/v1/audit?kind=forbidden", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(first(&page, "forbidden")["detail"], "GET /v1/audit needs a manager");
        // A script knocking on manager routes writes at most 60 rows a minute per terminal.
        for _ in 0..70 {
            let (s, _) = app.send_as(reqwest::Method::GET, "/v1/flags", &t, &session, None).await;
            assert_eq!(s, 403);
        }
        let (_, page) = app.get("/v1/audit?kind=forbidden&limit=500", ADMIN_TOKEN).await;
        assert_eq!(page["entries"].as_array().unwrap().len(), 60);
    }
}

both_backends! {
    async fn approvals_and_resolutions_join_the_audit(app) {
        events(app).await;
        app.managers(&["mia"]).await;
        let tm = app.terminal("t-desk").await;
        let session = app.session(&tm, "mia").await;
        let (s, body) = app
            .send_as(reqwest::Method::POST, "/v1/approvals", &tm, &session,
                Some(json!({ "action": "reversal", "order_id": "o-1",
                    "amount": {"minor": 1250, "currency": "EUR"}, "pin": MANAGER_PIN })))
            .await;
        assert_eq!(s, 201, "{body}");
        // The gateway says the intent failed: marking o-1 charged is refused, and recorded.
        app.book.says("pi_a1", paydesk_central::IntentEvidence::Declined);
        let (s, body) = app
            .send_as(reqwest::Method::POST, "/v1/orders/o-1/resolutions", &tm, &session,
                Some(json!({ "action": "mark_charged", "intent_id": "pi_a1",
                    "reason": "=customer shows a receipt", "pin": MANAGER_PIN })))
            .await;
        assert_eq!(s, 409, "{body}");
        let (s, page) = app.get("/v1/audit?operator=mia", ADMIN_TOKEN).await;
        assert_eq!(s, 200, "{page}");
        let approval = first(&page, "approval_granted");
        assert_eq!((&approval["approver"], &approval["terminal_id"]), (&json!("mia"), &json!("t-desk")));
        assert_eq!((&approval["order_id"], &approval["amount_minor"]), (&json!("o-1"), &json!(1250)));
        let resolution = first(&page, "resolution_mark_charged");
        assert_eq!(resolution["outcome"], "refused");
        assert_eq!(resolution["order_id"], "o-1");
        assert!(resolution["detail"].as_str().unwrap().contains("=customer shows a receipt"));
        // Each once: the authentication audit does not repeat the approval.
        let approvals = page["entries"].as_array().unwrap().iter()
            .filter(|e| e["kind"] == "approval_granted").count();
        assert_eq!(approvals, 1);
    }
}
