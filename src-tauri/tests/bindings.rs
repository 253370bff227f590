//! The UI's TypeScript types are generated from the Rust types that cross to it (ts-rs), checked
//! in under `ui/src/lib/bindings/`, and this test fails when those files are stale. It also
//! serializes real values of the key types and checks the JSON against the generated declarations,
//! so a hand-written `Serialize` or a serde attribute that ts-rs misreads cannot drift quietly.
//!
//! Regenerate the files with `PAYDESK_BLESS=1 cargo test -p paydesk-desktop --test bindings`.
//!
//! Deliberately absent: the command names and their argument lists. Those stay one-liners in
//! `ui/src/lib/api.ts`, typed by these generated types (see ARCHITECTURE.md, `ui/`).

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use paydesk_core::{
    Attempt, AttemptId, AttemptNumber, AttemptState, ClaimToken, Currency, CustomerId,
    GatewayIntentId, Money, NewAttempt, OperatorId, OrderId, PaymentMethodId, TerminalId,
    Timestamp,
};
use paydesk_desktop::training::{Rehearsal, TrainingView};
use paydesk_desktop::views::{
    AttemptView, ChargeView, JournalStatus, OrderView, QueueView, ReadyStatus, RecoverySummary,
    Session, StatusView, SyncView, TimelineView,
};
use paydesk_desktop::{ChargeProgress, UiError, UiErrorKind};
use paydesk_engine::{OfflineRefusal, Progress, RecoveryReport};
use paydesk_journal::{AttemptFilter, BreakKind, StoredEvent};
use paydesk_protocol::{ClaimHolder, Order, OrderStatus, Role};
use serde::Serialize;
use serde_json::{json, Value};
use ts_rs::{TypeVisitor, TS};

/// Set to 1 to rewrite the checked-in bindings instead of comparing with them.
const BLESS_ENV: &str = "PAYDESK_BLESS";
const BLESS_COMMAND: &str = "PAYDESK_BLESS=1 cargo test -p paydesk-desktop --test bindings";

/// The generated index, re-exporting every type so the UI imports from one place.
const INDEX_FILE: &str = "index.ts";

fn bindings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings")
}

/// Every generated file by name, for the types the shell's commands take and return, the progress
/// event and the error, with everything they refer to.
fn generated_files() -> BTreeMap<String, String> {
    let mut collect = Collect::default();
    // Command replies (sign_out returns nothing).
    collect.visit::<Session>(); // sign_in
    collect.visit::<QueueView>(); // queue
    collect.visit::<ChargeView>(); // charge
    collect.visit::<AttemptView>(); // attempts (a list of them)
    collect.visit::<TimelineView>(); // attempt_timeline
    collect.visit::<StatusView>(); // status (with training's view)

    // training mode in the demo: set_training and rehearse answer its view; rehearse takes one.
    collect.visit::<paydesk_desktop::training::TrainingView>();
    collect.visit::<paydesk_desktop::training::Rehearsal>();

    collect.visit::<RecoveryReport>(); // recover_now
    collect.visit::<SyncView>(); // sync_now

    // When the customer must act (issue 12, item 6).
    collect.visit::<paydesk_protocol::customer::CustomerWaitList>(); // customer_waits
    collect.visit::<paydesk_protocol::customer::PaymentLink>(); // send_payment_link
    collect.visit::<paydesk_protocol::customer::ContactRecord>(); // mark_customer_contacted

    // Command arguments besides plain strings: charge's `expected_amount` is a `Money` (through
    // AttemptView), attempts' `filter` an `AttemptFilter`.
    collect.visit::<AttemptFilter>();

    // manager: reports (D2) — the day close (with its sign-off), the audit log, the journal
    // review and the exports, the outbox and the offline allowance; and their arguments.
    collect.visit::<paydesk_terminal::day_close::DayClose>();
    collect.visit::<paydesk_terminal::day_close::DaySignOff>();
    collect.visit::<paydesk_terminal::export::JournalSearch>();
    collect.visit::<paydesk_desktop::report_views::AuditQuery>();
    collect.visit::<paydesk_desktop::report_views::AuditPage>();
    collect.visit::<paydesk_desktop::report_views::JournalReviewView>();
    collect.visit::<paydesk_desktop::report_views::ExportView>();
    collect.visit::<paydesk_desktop::report_views::OutboxView>();
    collect.visit::<paydesk_desktop::report_views::OfflineView>();
    collect.visit::<paydesk_desktop::report_views::GrantOfflineRequest>();
    collect.visit::<paydesk_desktop::report_views::ReceiptView>();
    collect.visit::<paydesk_desktop::permissions::SettingsView>();

    // manager: inbox and reversals (D1) — the inbox, an order's evidence, a decision's answer,
    // the reversal requests and a reversal's answer.
    collect.visit::<paydesk_desktop::manager_views::InboxView>();
    collect.visit::<paydesk_desktop::manager_views::EvidenceView>();
    collect.visit::<paydesk_desktop::manager_views::DecisionView>();
    collect.visit::<paydesk_desktop::manager_views::ReversalRequestView>();
    collect.visit::<paydesk_desktop::manager_views::ReversalView>();

    // The `charge-progress` event and the one error shape.
    collect.visit::<ChargeProgress>();
    collect.visit::<UiError>();

    let mut files = collect.files;
    let index: String = files
        .keys()
        .map(|file| {
            let name = file.trim_end_matches(".ts");
            format!("export type {{ {name} }} from \"./{name}\";\n")
        })
        .collect();
    files.insert(
        INDEX_FILE.to_string(),
        format!(
            "// Generated by src-tauri/tests/bindings.rs. Do not edit this file manually.\n{index}"
        ),
    );
    files
}

/// Walks a type and its dependencies and renders each as ts-rs would export it.
#[derive(Default)]
struct Collect {
    seen: HashSet<TypeId>,
    files: BTreeMap<String, String>,
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        let Some(path) = T::output_path() else {
            return; // a primitive or a wrapper: nothing to declare
        };
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let file = path.to_str().expect("ts-rs paths are UTF-8").to_string();
        // ts-rs leaves a space at the end of lines before doc comments; the checked-in files do
        // not carry it (editors and `git diff --check` would strip or flag it).
        let text: String = T::export_to_string()
            .expect("ts-rs renders the type")
            .lines()
            .map(|line| format!("{}\n", line.trim_end()))
            .collect();
        let clash = self.files.insert(file.clone(), text);
        assert!(
            clash.is_none(),
            "two Rust types are both exported as {file}: rename one with #[ts(rename = \"...\")]"
        );
        T::visit_dependencies(self);
    }
}

/// The checked-in `.ts` files, by name.
fn files_on_disk(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|entry| entry.expect("readable bindings directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "ts"))
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).expect("readable binding");
            (name, text)
        })
        .collect()
}

#[test]
fn checked_in_bindings_are_fresh() {
    let dir = bindings_dir();
    let generated = generated_files();
    if std::env::var(BLESS_ENV).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        for name in files_on_disk(&dir).keys() {
            if !generated.contains_key(name) {
                std::fs::remove_file(dir.join(name)).unwrap();
            }
        }
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }

    let on_disk = files_on_disk(&dir);
    let names: BTreeSet<&String> = generated.keys().chain(on_disk.keys()).collect();
    let mut stale = Vec::new();
    for name in names {
        match (generated.get(name), on_disk.get(name)) {
            (Some(_), None) => stale.push(format!("{name} is missing")),
            (None, Some(_)) => stale.push(format!("{name} is no longer generated")),
            (Some(new), Some(old)) if new != old => {
                stale.push(format!("{name} differs; it should read:\n{new}"))
            }
            _ => {}
        }
    }
    assert!(
        stale.is_empty(),
        "the UI's generated types in {} are stale (a Rust type that crosses to the UI changed). \
         Regenerate them with `{BLESS_COMMAND}`, then fix the UI where `npm run check` complains.\n\n{}",
        dir.display(),
        stale.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The JSON the shell really sends, checked against the generated declarations. A small reader for
// the subset of TypeScript that ts-rs writes (object literals, unions, intersections, string
// literals, `Array<T>`, named types and primitives) is enough to check every key and value.

/// A TypeScript type as ts-rs writes it.
#[derive(Debug, Clone)]
enum Ty {
    /// `string`, `number`, `boolean`, `null`, `unknown`.
    Primitive(String),
    /// A string literal: `"ready"`.
    Literal(String),
    /// Another generated type, by name.
    Named(String),
    Array(Box<Ty>),
    Object(Vec<Field>),
    Union(Vec<Ty>),
    Intersection(Vec<Ty>),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    optional: bool,
    ty: Ty,
}

/// Every generated declaration by type name, read back from the generated files.
fn declarations() -> BTreeMap<String, Ty> {
    generated_files()
        .into_iter()
        .filter(|(file, _)| file != INDEX_FILE)
        .map(|(file, text)| {
            let name = file.trim_end_matches(".ts").to_string();
            let ty = parse_declaration(&name, &text);
            (name, ty)
        })
        .collect()
}

/// Reads `export type Name = …;` out of one generated file (imports and comments skipped).
fn parse_declaration(name: &str, text: &str) -> Ty {
    let mut tokens = tokenize(text);
    let head = format!("export type {name} =");
    let start = tokens
        .windows(4)
        .position(|w| w[0] == "export" && w[1] == "type" && w[2] == name && w[3] == "=")
        .unwrap_or_else(|| panic!("{name}.ts has no `{head}`"));
    tokens.drain(..start + 4);
    let mut parser = Parser { tokens, at: 0 };
    let ty = parser.union();
    parser.expect(";");
    ty
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut literal = String::from('"');
                for c in chars.by_ref() {
                    literal.push(c);
                    if c == '"' {
                        break;
                    }
                }
                tokens.push(literal);
            }
            c if c.is_whitespace() => {}
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if !(next.is_alphanumeric() || next == '_') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(word);
            }
            c => tokens.push(c.to_string()),
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &str {
        self.tokens.get(self.at).map_or("", String::as_str)
    }

    fn next(&mut self) -> String {
        let token = self.peek().to_string();
        self.at += 1;
        token
    }

    fn expect(&mut self, token: &str) {
        let found = self.next();
        assert_eq!(found, token, "unexpected token in a generated declaration");
    }

    fn union(&mut self) -> Ty {
        let mut parts = vec![self.intersection()];
        while self.peek() == "|" {
            self.next();
            parts.push(self.intersection());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Ty::Union(parts)
        }
    }

    fn intersection(&mut self) -> Ty {
        let mut parts = vec![self.primary()];
        while self.peek() == "&" {
            self.next();
            parts.push(self.primary());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Ty::Intersection(parts)
        }
    }

    fn primary(&mut self) -> Ty {
        let token = self.next();
        match token.as_str() {
            "{" => {
                let mut fields = Vec::new();
                while self.peek() != "}" {
                    let name = self.next().trim_matches('"').to_string();
                    let optional = self.peek() == "?";
                    if optional {
                        self.next();
                    }
                    self.expect(":");
                    let ty = self.union();
                    fields.push(Field { name, optional, ty });
                    if self.peek() == "," {
                        self.next();
                    }
                }
                self.expect("}");
                Ty::Object(fields)
            }
            "Array" => {
                self.expect("<");
                let item = self.union();
                self.expect(">");
                Ty::Array(Box::new(item))
            }
            "string" | "number" | "boolean" | "null" | "unknown" => Ty::Primitive(token),
            literal if literal.starts_with('"') => Ty::Literal(literal.trim_matches('"').into()),
            name => Ty::Named(name.to_string()),
        }
    }
}

/// Checks `value` against `ty`: every required key present, no key the type does not declare,
/// every value of the declared type. Returns where it first disagrees.
fn check(value: &Value, ty: &Ty, decls: &BTreeMap<String, Ty>, at: &str) -> Result<(), String> {
    match ty {
        Ty::Primitive(p) => {
            let ok = match p.as_str() {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                _ => true, // unknown
            };
            ok.then_some(())
                .ok_or_else(|| format!("{at}: {value} is not a {p}"))
        }
        Ty::Literal(l) => (value.as_str() == Some(l))
            .then_some(())
            .ok_or_else(|| format!("{at}: {value} is not \"{l}\"")),
        Ty::Named(name) => {
            let decl = decls
                .get(name)
                .ok_or_else(|| format!("{at}: no generated type {name}"))?;
            check(value, decl, decls, at)
        }
        Ty::Array(item) => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{at}: {value} is not an array"))?;
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| check(v, item, decls, &format!("{at}[{i}]")))
        }
        Ty::Union(alternatives) => {
            let errors: Vec<String> = alternatives
                .iter()
                .filter_map(|alt| check(value, alt, decls, at).err())
                .collect();
            if errors.len() < alternatives.len() {
                Ok(())
            } else {
                Err(format!(
                    "{at}: matches no alternative ({})",
                    errors.join("; ")
                ))
            }
        }
        Ty::Object(_) | Ty::Intersection(_) => {
            let fields = object_fields(ty, decls)
                .ok_or_else(|| format!("{at}: an intersection of non-objects"))?;
            let object = value
                .as_object()
                .ok_or_else(|| format!("{at}: {value} is not an object"))?;
            for field in &fields {
                match object.get(&field.name) {
                    Some(v) => check(v, &field.ty, decls, &format!("{at}.{}", field.name))?,
                    None if field.optional => {}
                    None => return Err(format!("{at}: the JSON has no `{}`", field.name)),
                }
            }
            for key in object.keys() {
                if !fields.iter().any(|f| &f.name == key) {
                    return Err(format!(
                        "{at}: the JSON has `{key}`, which the type does not"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// The fields of an object type, with an intersection's parts merged; `None` if not an object.
fn object_fields(ty: &Ty, decls: &BTreeMap<String, Ty>) -> Option<Vec<Field>> {
    match ty {
        Ty::Object(fields) => Some(fields.clone()),
        Ty::Named(name) => object_fields(decls.get(name)?, decls),
        Ty::Intersection(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(object_fields(part, decls)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// Serializes `value` as the shell does and checks it against the generated type `T`.
fn assert_matches<T: TS + Serialize>(value: &T, decls: &BTreeMap<String, Ty>) -> Value {
    let json = serde_json::to_value(value).unwrap();
    let name = T::name();
    let ty = decls
        .get(&name)
        .unwrap_or_else(|| panic!("{name} is not among the generated types"));
    if let Err(e) = check(&json, ty, decls, &name) {
        panic!("the JSON of a {name} does not match its generated TypeScript: {e}\nJSON: {json}");
    }
    json
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::from_code("EUR").unwrap()).unwrap()
}

/// An attempt as the journal holds it after a declined confirm: every optional field set but one.
fn declined_attempt() -> Attempt {
    let (mut attempt, _) = Attempt::begin(
        NewAttempt {
            id: AttemptId::parse("019a9f2e-3c4d-7abc-8def-0123456789ab").unwrap(),
            order: OrderId::new("demo-1001").unwrap(),
            number: AttemptNumber::new(2).unwrap(),
            installment: paydesk_core::InstallmentNumber::FIRST,
            claim_token: ClaimToken::new(7).unwrap(),
            amount: eur(12_900),
            customer: Some(CustomerId::new("cus_demo_anna").unwrap()),
            payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
            operator: OperatorId::new("anna").unwrap(),
            terminal: TerminalId::new("desk-1").unwrap(),
            offline: false,
        },
        at(1_795_336_758_123),
    );
    attempt.state = AttemptState::Declined;
    attempt.intent_id = Some(GatewayIntentId::new("pi_123").unwrap());
    attempt.confirm_sent_at = Some(at(1_795_336_759_000));
    attempt.reason = Some("card_declined".into());
    attempt
}

fn order(status: OrderStatus, claim: Option<ClaimHolder>) -> Order {
    Order {
        order_id: OrderId::new("demo-1004").unwrap(),
        amount: eur(1_999),
        customer_id: "cus_demo_dora".into(),
        payment_method_id: "pm_card_visa".into(),
        description: "Replacement filter set".into(),
        status,
        claim,
        paid_intent_id: None,
        refunded_minor: 0,
        disputed: false,
        created_at: at(1_795_336_758_123),
        updated_at: at(1_795_336_758_123),
        attempt_seq: 0,
        gateway: paydesk_protocol::GatewayName::Stripe,
        paid_minor: 0,
        customer_name: "Dóra Nagy".into(),
        // The card as the central read it at the gateway: its JSON checked against its type.
        saved_method: Some(paydesk_protocol::payment_method::SavedMethod {
            kind: paydesk_protocol::payment_method::SavedMethodKind::Card,
            brand: Some("visa".into()),
            last4: Some("0002".into()),
            exp_month: Some(12),
            exp_year: Some(2030),
            email: None,
            holder_name: None,
            kind_name: None,
            read_at: at(1_795_336_758_123),
            refresh_error: None,
            checked_at: at(1_795_336_758_123),
        }),
    }
}

#[test]
fn attempt_json_matches_its_typescript() {
    let decls = declarations();
    let view = AttemptView::from(declined_attempt());
    let json = assert_matches(&view, &decls);
    // Flattened: the attempt's fields sit beside the exponent, and money is minor units + code.
    assert_eq!(json["amount"], json!({"minor": 12_900, "currency": "EUR"}));
    assert_eq!(json["amount_exponent"], 2);
    assert_eq!(json["state"], "declined");
    assert_eq!(json["claim_token"], 7);
    assert_eq!(json["created_at"], 1_795_336_758_123_i64);

    let fresh = AttemptView::from(Attempt::begin(fresh_new_attempt(), at(1)).0);
    assert_eq!(assert_matches(&fresh, &decls)["intent_id"], Value::Null);

    let timeline = TimelineView {
        attempt: view.clone(),
        events: vec![StoredEvent {
            seq: 1,
            attempt_id: view.attempt.id,
            at: at(1_795_336_758_123),
            kind: "begun".into(),
            from_state: None,
            to_state: AttemptState::Intent,
            detail: json!({"effects": [{"effect": "persist"}]}),
            hash: "ab".repeat(32),
        }],
    };
    assert_matches(&timeline, &decls);
    assert_matches(
        &ChargeView {
            attempt: view,
            pending: Some("the gateway's answer is not known yet".into()),
        },
        &decls,
    );
}

fn fresh_new_attempt() -> NewAttempt {
    NewAttempt {
        id: AttemptId::parse("019a9f2e-3c4d-7abc-8def-0000000000ff").unwrap(),
        order: OrderId::new("demo-1002").unwrap(),
        number: AttemptNumber::new(1).unwrap(),
        installment: paydesk_core::InstallmentNumber::FIRST,
        claim_token: ClaimToken::new(1).unwrap(),
        amount: Money::new(1_200, Currency::from_code("JPY").unwrap()).unwrap(),
        customer: None,
        payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
        operator: OperatorId::new("anna").unwrap(),
        terminal: TerminalId::new("desk-1").unwrap(),
        offline: true,
    }
}

#[test]
fn status_json_matches_its_typescript() {
    let decls = declarations();
    let starting = StatusView::Starting {
        elapsed_ms: 4_200,
        startup_ms_max: 60_000,
    };
    assert_eq!(assert_matches(&starting, &decls)["phase"], "starting");

    let ready = StatusView::Ready(Box::new(ReadyStatus {
        online: false,
        embedded: true,
        central_url: "http://127.0.0.1:4010".into(),
        terminal: TerminalId::new("desk-1").unwrap(),
        session: Some(Session {
            operator: OperatorId::new("mia").unwrap(),
            role: Role::Manager,
            offline: true,
            signed_in_at: at(1_795_336_758_123),
            expires_at: at(1_795_379_958_123),
            idle_ms: 900_000,
        }),
        journal: JournalStatus {
            path: "/tmp/journal.sqlite".into(),
            verified: false,
            broken_at_seq: Some(7),
            broken_kind: Some(BreakKind::HashMismatch),
            events_checked: 12,
            outbox_depth: 3,
            outbox_parked: 1,
            outbox_oldest_age_ms: Some(300_000),
        },
        unresolved: 2,
        last_recovery: Some(RecoverySummary {
            at: at(1_795_336_758_123),
            report: RecoveryReport {
                examined: 2,
                finished: 1,
                needs_review: 0,
                still_open: 1,
                errors: vec!["central unreachable".into()],
            },
        }),
        training: TrainingView {
            available: true,
            on: true,
            armed: Some(Rehearsal::CentralDown),
            central_down: true,
        },
    }));
    let json = assert_matches(&ready, &decls);
    // Internally tagged and boxed: `phase` sits beside the ready status's own fields.
    assert_eq!(json["phase"], "ready");
    assert_eq!(json["session"]["role"], "manager");
    assert_eq!(json["journal"]["broken_kind"], "hash_mismatch");
    // Flattened: the recovery report's counts sit beside `at`.
    assert_eq!(json["last_recovery"]["still_open"], 1);
    assert_eq!(json["training"]["armed"], "central_down");

    let quiet = StatusView::Ready(Box::new(ReadyStatus {
        online: true,
        embedded: false,
        central_url: "https://central.example".into(),
        terminal: TerminalId::new("desk-1").unwrap(),
        session: None,
        journal: JournalStatus {
            path: "/tmp/journal.sqlite".into(),
            verified: true,
            broken_at_seq: None,
            broken_kind: None,
            events_checked: 0,
            outbox_depth: 0,
            outbox_parked: 0,
            outbox_oldest_age_ms: None,
        },
        unresolved: 0,
        last_recovery: None,
        training: TrainingView {
            available: false,
            on: false,
            armed: None,
            central_down: false,
        },
    }));
    assert_matches(&quiet, &decls);
    assert_matches(&SyncView::default(), &decls);
}

#[test]
fn progress_json_matches_its_typescript() {
    let decls = declarations();
    let attempt_id = AttemptId::parse("019a9f2e-3c4d-7abc-8def-0123456789ab").unwrap();
    let order = OrderId::new("demo-1001").unwrap();
    let every_kind = [
        Progress::Claimed {
            order: order.clone(),
            attempt_number: 1,
        },
        Progress::Offline {
            order: order.clone(),
            approved_by: OperatorId::new("mia").unwrap(),
        },
        Progress::Step {
            attempt_id,
            event: "confirm_begun".into(),
            state: AttemptState::ConfirmSent,
        },
        Progress::Waiting {
            attempt_id,
            what: "confirm_answered".into(),
            delay_ms: 1_000,
        },
    ];
    let kinds: Vec<Value> = every_kind
        .into_iter()
        .map(|progress| {
            let event = ChargeProgress {
                order: order.to_string(),
                progress,
            };
            assert_matches(&event, &decls)["progress"]["kind"].clone()
        })
        .collect();
    assert_eq!(kinds, ["claimed", "offline", "step", "waiting"]);
}

#[test]
fn error_json_matches_its_typescript() {
    let decls = declarations();
    let plain = UiError::new(UiErrorKind::JournalLocked, "In use.", "Close it.");
    let json = assert_matches(&plain, &decls);
    assert_eq!(json["kind"], "journal_locked");
    // Left out, not null, when nobody holds the order: the TypeScript field is optional.
    assert!(json.get("held_by").is_none());

    let mut held = UiError::new(UiErrorKind::HeldBy, "Held.", "Pick another order.");
    held.held_by = Some(paydesk_desktop::error::HeldBy {
        operator: OperatorId::new("anna").unwrap(),
        terminal: TerminalId::new("desk-2").unwrap(),
        since: at(1_795_336_758_123),
    });
    let json = assert_matches(&held, &decls);
    assert_eq!(json["held_by"]["terminal"], "desk-2");

    let mut refused = UiError::new(UiErrorKind::OfflineBlocked, "Refused.", "Wait.");
    refused.offline_refusal = Some(Box::new(OfflineRefusal::ShiftCap {
        amount: eur(9_000),
        so_far: eur(45_000),
        per_shift_max: eur(50_000),
    }));
    let json = assert_matches(&refused, &decls);
    // Internally tagged by `rule`, beside the rule's own amounts.
    assert_eq!(json["offline_refusal"]["rule"], "shift_cap");
    assert_eq!(json["offline_refusal"]["so_far"]["minor"], 45_000);
    refused.offline_refusal = Some(Box::new(OfflineRefusal::NotAllowed));
    assert_matches(&refused, &decls);
}

#[test]
fn queue_json_matches_its_typescript() {
    let decls = declarations();
    let holder = ClaimHolder {
        operator_id: OperatorId::new("anna").unwrap(),
        terminal_id: TerminalId::new("desk-2").unwrap(),
        since: at(1_795_336_758_123),
        lease_until: at(1_795_336_858_123),
    };
    let queue = QueueView {
        orders: vec![
            OrderView::from(order(OrderStatus::Unpaid, None)),
            OrderView::from(order(OrderStatus::Paid, Some(holder))),
        ],
        offline: true,
        cached_at: Some(at(1_795_336_758_123)),
    };
    let json = assert_matches(&queue, &decls);
    assert_eq!(json["orders"][0]["chargeable"], true);
    assert_eq!(json["orders"][1]["chargeable"], false);
    assert_eq!(json["orders"][1]["status"], "paid");
}

/// The other direction: what the UI sends, built as the generated types allow, is accepted.
#[test]
fn arguments_typed_by_the_bindings_deserialize() {
    // `listAttempts()` sends `{}`; the fields are optional in TypeScript.
    let all: AttemptFilter = serde_json::from_value(json!({})).unwrap();
    assert_eq!(all, AttemptFilter::default());
    let some: AttemptFilter =
        serde_json::from_value(json!({"state": "needs_review", "limit": 50})).unwrap();
    assert_eq!(some.state, Some(AttemptState::NeedsReview));
    // `charge` sends back the order's `amount` as the queue gave it.
    let amount: Money = serde_json::from_value(json!({"minor": 1_999, "currency": "EUR"})).unwrap();
    assert_eq!(amount, eur(1_999));
}
