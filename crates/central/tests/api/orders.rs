//! Orders: import (JSON and CSV, idempotent), the unpaid queue with paging and search, one order.

use serde_json::json;

use crate::both_backends;

both_backends! {
    async fn import_is_idempotent_on_the_external_id(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 900, "JPY")]).await;
        // Same content again: unchanged. Other content: reported, not overwritten.
        let body = json!({"orders": [
            {"order_id": "o-1", "amount": {"minor": 1250, "currency": "EUR"},
             "customer_id": "cus_test", "payment_method_id": "pm_card_visa", "description": "order o-1"},
            {"order_id": "o-2", "amount": {"minor": 901, "currency": "JPY"},
             "customer_id": "cus_test", "payment_method_id": "pm_card_visa", "description": "order o-2"},
            {"order_id": "o-3", "amount": {"minor": 5, "currency": "USD"},
             "customer_id": "cus_test", "payment_method_id": "pm_card_visa"}
        ]});
        let (status, resp) = app.post("/v1/orders/import", ADMIN_TOKEN, body).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp, json!({"created": 1, "unchanged": 1, "conflicting": ["o-2"]}));
        let order = app.order("o-2").await;
        assert_eq!(order["order"]["amount"], json!({"minor": 900, "currency": "JPY"}));
    }
}

both_backends! {
    async fn csv_import_works_and_a_bad_row_imports_nothing(app) {
        let csv = "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
                   c-1,1000,EUR,cus_1,pm_card_visa,First\n\
                   c-2,2000,USD,cus_2,pm_card_chargeDeclined,Second\n";
        let resp = app.client.post(app.url("/v1/orders/import"))
            .bearer_auth(ADMIN_TOKEN).header("content-type", "text/csv")
            .body(csv).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let bad = "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
                   c-3,1000,EUR,cus_1,pm_card_visa,ok\n\
                   c-4,1000,XYZ,cus_1,pm_card_visa,bad currency\n";
        let resp = app.client.post(app.url("/v1/orders/import"))
            .bearer_auth(ADMIN_TOKEN).header("content-type", "text/csv")
            .body(bad).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("line 3"), "{body}");
        let (status, _) = app.get("/v1/orders/c-3", ADMIN_TOKEN).await;
        assert_eq!(status, 404, "nothing of the bad file was imported");
    }
}

both_backends! {
    async fn unpaid_queue_pages_and_searches(app) {
        let ids: Vec<String> = (0..25).map(|i| format!("q-{i:02}")).collect();
        let orders: Vec<(&str, i64, &str)> = ids.iter().map(|id| (id.as_str(), 100, "EUR")).collect();
        app.orders(&orders).await;
        let token = app.terminal("t1").await;
        let (status, page) = app.get("/v1/orders?limit=10", &token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["orders"].as_array().unwrap().len(), 10);
        assert_eq!(page["next_after"], "q-09");
        let (_, page) = app.get("/v1/orders?limit=10&after=q-19", &token).await;
        assert_eq!(page["orders"].as_array().unwrap().len(), 5);
        assert_eq!(page["next_after"], serde_json::Value::Null);
        let (_, page) = app.get("/v1/orders?q=Q-1", &token).await;
        assert_eq!(page["orders"].as_array().unwrap().len(), 10, "case-insensitive search");
        let (_, page) = app.get("/v1/orders?q=%25", &token).await;
        assert_eq!(page["orders"].as_array().unwrap().len(), 0, "% is matched literally");
        let (status, _) = app.get("/v1/orders?status=paid", &token).await;
        assert_eq!(status, 200);
        let (status, body) = app.get("/v1/orders?status=bogus", &token).await;
        assert_eq!(status, 400, "{body}");
    }
}

both_backends! {
    async fn operators_are_listed_without_pin_hashes(app) {
        let token = app.terminal("t1").await;
        let (status, body) = app.post("/v1/admin/operators", ADMIN_TOKEN,
            json!({"operator_id": "mgr", "role": "manager", "pin": "43219876"})).await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = app.post("/v1/admin/operators", ADMIN_TOKEN,
            json!({"operator_id": "x", "role": "manager", "pin": "12"})).await;
        assert_eq!(status, 400, "{body}");
        // PINs too short for the role: a clear 400 naming the minimum, nothing saved.
        for (role, pin, min) in [("operator", "12345", "6"), ("manager", "1234567", "8")] {
            let (status, body) = app.post("/v1/admin/operators", ADMIN_TOKEN,
                json!({"operator_id": "x", "role": role, "pin": pin})).await;
            assert_eq!(status, 400, "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("at least {min} digits")), "{message}");
        }
        // The PIN was really hashed with argon2 and signs the manager in.
        let (status, body) = app.sign_in(&token, "mgr", "43219876").await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["role"], "manager");
        let (status, body) = app.post("/v1/admin/operators", &token,
            json!({"operator_id": "x", "role": "manager", "pin": "1234"})).await;
        assert_eq!(status, 401, "a terminal is not an admin: {body}");
        let (status, body) = app.get("/v1/operators", &token).await;
        assert_eq!(status, 200);
        let ops = body["operators"].as_array().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["role"], "manager");
        assert!(ops[0].get("pin_hash").is_none(), "no terminal ever receives a PIN hash: {body}");
        assert!(!body.to_string().contains("argon2"));
        assert!(!body.to_string().contains("43219876"));
    }
}
