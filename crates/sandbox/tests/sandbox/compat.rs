//! Compatibility with Stripe's own example objects, and the binary's command-line contract.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Sandbox, KEY};

fn fixtures() -> Value {
    let text = include_str!("../fixtures/stripe_objects.json");
    serde_json::from_str(text).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key of `fixture` exists in `ours`; where both are non-null their JSON types agree, and
/// nested objects are compared the same way (except paths in `opaque`, which hold other objects).
fn check(fixture: &Value, ours: &Value, path: &str, opaque: &[&str], problems: &mut Vec<String>) {
    let (Value::Object(f), Value::Object(o)) = (fixture, ours) else {
        return;
    };
    for (key, fv) in f {
        let p = format!("{path}.{key}");
        let Some(ov) = o.get(key) else {
            problems.push(format!("missing {p}"));
            continue;
        };
        if fv.is_null() || ov.is_null() || opaque.contains(&p.as_str()) {
            continue;
        }
        if kind(fv) != kind(ov) {
            problems.push(format!(
                "{p}: fixture has {}, sandbox has {}",
                kind(fv),
                kind(ov)
            ));
            continue;
        }
        check(fv, ov, &p, opaque, problems);
    }
}

#[tokio::test]
async fn objects_carry_every_fixture_field() {
    let sb = Sandbox::start().await;
    let fx = fixtures();
    let mut problems = Vec::new();

    let plain = sb.create(1000, "pm_card_visa", "O-1").await;
    let paid = sb.confirm(plain["id"].as_str().unwrap(), "c1").await.body;
    let declined = sb.create(1000, "pm_card_chargeDeclined", "O-2").await;
    let declined = sb
        .confirm(declined["id"].as_str().unwrap(), "c2")
        .await
        .body["error"]["payment_intent"]
        .clone();
    let action = sb
        .create(1000, "pm_card_authenticationRequired", "O-3")
        .await;
    let action = sb.confirm(action["id"].as_str().unwrap(), "c3").await.body;
    let canceled = sb.create(1000, "pm_card_visa", "O-4").await;
    let canceled = sb
        .post(
            &format!(
                "/v1/payment_intents/{}/cancel",
                canceled["id"].as_str().unwrap()
            ),
            &[],
            None,
        )
        .await
        .body;
    for (name, pi) in [
        ("paid", &paid),
        ("declined", &declined),
        ("action", &action),
        ("canceled", &canceled),
    ] {
        assert_eq!(pi["object"], "payment_intent", "{name}");
        check(
            &fx["payment_intent"],
            pi,
            &format!("payment_intent[{name}]"),
            &[],
            &mut problems,
        );
    }
    assert!(declined["last_payment_error"].is_object());
    assert!(action["next_action"].is_object());

    let refund = sb
        .post(
            "/v1/refunds",
            &[("payment_intent", paid["id"].as_str().unwrap())],
            None,
        )
        .await
        .body;
    check(&fx["refund"], &refund, "refund", &[], &mut problems);

    let charge = sb
        .get(&format!(
            "/v1/charges/{}",
            paid["latest_charge"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(charge["object"], "charge");

    let events = sb.get("/v1/events?limit=100").await.body;
    let events = events["data"].as_array().unwrap();
    assert!(events.len() >= 8);
    for e in events {
        check(
            &fx["event"],
            e,
            "event",
            &["event.data.object"],
            &mut problems,
        );
    }
    assert!(
        problems.is_empty(),
        "fields differ from Stripe's fixtures:\n{}",
        problems.join("\n")
    );
}

#[test]
fn binary_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paydesk-sandbox"))
        .args([
            "--port",
            "0",
            "--api-key",
            KEY,
            "--fault",
            "create:http_500:1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("paydesk-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let statuses = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..2 {
            let r = client
                .post(format!("{base}/v1/payment_intents"))
                .bearer_auth(KEY)
                .form(&[("amount", "100"), ("currency", "eur")])
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    });
    assert_eq!(statuses, [500, 200], "the --fault flag is armed");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}
