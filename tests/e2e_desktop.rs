//! End to end: the built desktop app in its real webview (WebKitGTK), driven over WebDriver by
//! tauri-driver + WebKitWebDriver under a private Xvfb display, showing a journal seeded here.
//!
//! It proves the whole path a person sees: journal file → Rust command → IPC → Svelte page. It does
//! not build anything: `PAYDESK_DESKTOP_BIN` names the app binary (scripts/test-e2e.sh builds it
//! and sets the variable). Without it the test fails, unless `PAYDESK_SKIP_E2E=1` says to skip.
//! Optional: `PAYDESK_E2E_SCREENSHOT=<file.png>` saves what the webview showed;
//! `PAYDESK_E2E_HOLD_MS=<ms>` keeps the app open that long before closing it.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paydesk_core::{
    AttemptEvent, AttemptId, AttemptNumber, ChargeOutcome, ClaimToken, CreateOutcome, Currency,
    GatewayIntentId, Money, NewAttempt, OperatorId, OrderId, PaymentMethodId, RegisterOutcome,
    TerminalId, Timestamp,
};
use paydesk_journal::Journal;
use serde_json::{json, Value};

/// How long the app may take to show its table: a cold WebKitGTK start under Xvfb on a busy
/// 2-core machine takes a few seconds; ten times that is still a clear failure, not a hang.
const PAGE_READY_MS_MAX: u64 = 60_000;
/// How long tauri-driver and Xvfb may take to accept connections.
const PROCESS_READY_MS_MAX: u64 = 20_000;
/// Polling interval while waiting for the page or a process.
const POLL_MS: u64 = 250;
/// Per-request timeout towards the driver; creating the session starts the app, the slowest call.
const DRIVER_REQUEST_MS_MAX: u64 = 90_000;
/// WebDriver's key for an element reference in JSON (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What the seeded journal holds, and how the page must show it.
struct Seeded {
    order: &'static str,
    minor: i64,
    currency: &'static str,
    outcome: Option<ChargeOutcome>,
    shown_amount: &'static str,
    shown_state: &'static str,
}

fn seeds() -> Vec<Seeded> {
    vec![
        Seeded {
            order: "ord-1001",
            minor: 1234,
            currency: "EUR",
            outcome: Some(ChargeOutcome::Succeeded),
            shown_amount: "12.34 EUR",
            shown_state: "Succeeded",
        },
        Seeded {
            order: "ord-1002",
            minor: 1200,
            currency: "JPY",
            outcome: Some(ChargeOutcome::Declined {
                reason: "card_declined".into(),
            }),
            shown_amount: "1200 JPY",
            shown_state: "Declined",
        },
        // An ambiguous answer: the page must say "unknown", never "failed".
        Seeded {
            order: "ord-1003",
            minor: 500,
            currency: "KWD",
            outcome: Some(ChargeOutcome::Unknown),
            shown_amount: "0.500 KWD",
            shown_state: "Outcome unknown",
        },
    ]
}

#[test]
fn the_app_shows_the_journal_attempts_in_its_webview() {
    let Some(app_binary) = app_binary() else {
        return;
    };
    let tauri_driver = tauri_driver_binary();
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.sqlite");
    let events = seed_journal(&journal_path, &seeds());

    let mut guard = Cleanup::default();
    let display = start_xvfb(&mut guard);
    let (port, native_port) = (free_port(), free_port());
    let driver = Command::new(&tauri_driver)
        .args(["--port", &port.to_string()])
        .args(["--native-port", &native_port.to_string()])
        // tauri-driver starts WebKitWebDriver, which starts the app: all three inherit this
        // environment, which is how the app finds the seeded journal and the display.
        .env("DISPLAY", format!(":{display}"))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env("PAYDESK_JOURNAL", &journal_path)
        // WebKit's caches and the app's data dir go to the temp dir, not the user's home.
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group, so cleanup can stop the driver, WebKitWebDriver and the app
        // together even if one of them does not pass a signal on.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", tauri_driver.display()));
    guard.groups.push(driver);
    let driver = Driver::new(port);
    driver.wait_until_listening();

    let session = driver.new_session(&app_binary);
    guard.session = Some((driver.clone(), session.clone()));

    let table = driver
        .wait_for_element(&session, "[data-testid='attempts-table']")
        .unwrap_or_else(|| {
            let page = driver.page_text(&session);
            panic!("no attempts table after {PAGE_READY_MS_MAX} ms; the page shows:\n{page}")
        });

    // Every seeded attempt is on the page, newest first, with its amount and a readable state.
    let rows = driver.rows(&session);
    let expected = seeds();
    assert_eq!(rows.len(), expected.len(), "rows on the page: {rows:#?}");
    for (row, seeded) in rows.iter().zip(expected.iter().rev()) {
        assert!(
            row.contains(seeded.order)
                && row.contains(seeded.shown_amount)
                && row.contains(seeded.shown_state),
            "expected a row with {} / {} / {}, found: {row}",
            seeded.order,
            seeded.shown_amount,
            seeded.shown_state
        );
        assert!(row.contains("op-anna") && row.contains("till-1"), "{row}");
        assert!(!row.to_lowercase().contains("fail"), "{row}");
    }
    assert!(
        rows[1].contains("card_declined"),
        "the decline reason: {}",
        rows[1]
    );
    let table_text = driver.element_text(&session, &table);
    assert!(table_text.contains("12.34 EUR"), "{table_text}");

    let integrity = driver
        .wait_for_text(
            &session,
            "[data-testid='journal-integrity']",
            "Journal verified",
        )
        .unwrap_or_else(|| panic!("no verified journal line: {}", driver.page_text(&session)));
    assert!(
        integrity.contains(&format!("({events} events)")),
        "{integrity}"
    );

    // Taken last, once the page has settled: WebKit may not have painted a freshly found element.
    if let Some(path) = std::env::var_os("PAYDESK_E2E_SCREENSHOT") {
        driver.save_screenshot(&session, Path::new(&path));
    }

    // For a person to look at (or screenshot) the running app: `PAYDESK_E2E_HOLD_MS=30000`.
    if let Some(hold_ms) = std::env::var("PAYDESK_E2E_HOLD_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        eprintln!("holding the app open on DISPLAY=:{display} for {hold_ms} ms");
        sleep(Duration::from_millis(hold_ms));
    }

    // Ending the session closes the app; `guard` stops the processes either way.
    driver.delete_session(&session);
    guard.session = None;
}

/// The app under test, or `None` when the caller explicitly skips the end-to-end test.
fn app_binary() -> Option<PathBuf> {
    match std::env::var_os("PAYDESK_DESKTOP_BIN") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "PAYDESK_DESKTOP_BIN={} is not a file; build it with \
                 `cargo build -p paydesk-desktop --features custom-protocol`",
                path.display()
            );
            Some(path)
        }
        None if std::env::var("PAYDESK_SKIP_E2E").as_deref() == Ok("1") => {
            eprintln!("PAYDESK_SKIP_E2E=1: the desktop end-to-end test was skipped");
            None
        }
        None => panic!(
            "PAYDESK_DESKTOP_BIN is not set. Run scripts/test-e2e.sh (it installs the \
             prerequisites, builds the UI and the app, and sets it), or set PAYDESK_SKIP_E2E=1 \
             to skip this test on purpose."
        ),
    }
}

/// `TAURI_DRIVER` if set, else `tauri-driver` on the PATH, else the one `cargo install` puts in
/// ~/.cargo/bin (which is not always on the PATH of a test run).
fn tauri_driver_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("tauri-driver"))
        .find(|candidate| candidate.is_file());
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|cargo| cargo.join("bin").join("tauri-driver"));
    on_path.or(in_cargo_home.filter(|p| p.is_file())).expect(
        "tauri-driver not found; install it with \
             `cargo install tauri-driver --version 2.1.0 --locked`",
    )
}

/// Writes the attempts and drives each to its outcome through the journal's own API, as the
/// charge flow would; returns how many events the journal holds. The journal is closed on return
/// (only one process may hold it, and the app is about to open it).
fn seed_journal(path: &Path, seeds: &[Seeded]) -> i64 {
    let mut journal = Journal::open(path).unwrap();
    // In the recent past, so the page shows plausible times and outbox ages.
    let start = now_ms() - 10 * 60_000;
    for (i, seeded) in seeds.iter().enumerate() {
        // Seconds apart, in the order given, so "newest first" has a definite meaning.
        let at = |step: i64| Timestamp::from_unix_ms(start + i as i64 * 60_000 + step * 1_000);
        let id = AttemptId::from_uuid(uuid::Uuid::now_v7()).unwrap();
        let new = NewAttempt {
            id,
            order: OrderId::new(seeded.order).unwrap(),
            number: AttemptNumber::new(1).unwrap(),
            claim_token: ClaimToken::new(1).unwrap(),
            amount: Money::new(seeded.minor, Currency::from_code(seeded.currency).unwrap())
                .unwrap(),
            customer: None,
            payment_method: PaymentMethodId::new("pm_card_visa").unwrap(),
            operator: OperatorId::new("op-anna").unwrap(),
            terminal: TerminalId::new("till-1").unwrap(),
            offline: false,
        };
        journal.begin_attempt(new, at(0)).unwrap();
        let Some(outcome) = &seeded.outcome else {
            continue;
        };
        let intent = GatewayIntentId::new(format!("pi_e2e_{i}")).unwrap();
        let events = [
            AttemptEvent::CreateAnswered(CreateOutcome::Created { intent }),
            AttemptEvent::RegisterAnswered(RegisterOutcome::Accepted),
            AttemptEvent::ConfirmBegun,
            AttemptEvent::ConfirmAnswered(outcome.clone()),
        ];
        for (n, event) in events.iter().enumerate() {
            journal.apply(&id, event, at(n as i64 + 1)).unwrap();
        }
    }
    let report = journal.verify().unwrap();
    assert!(
        report.is_intact(),
        "the seeded journal must verify: {report:?}"
    );
    report.events
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_millis()).unwrap()
}

/// A TCP port that was free a moment ago. The small race with other programs is accepted: a
/// clash makes tauri-driver fail to start, which the test reports.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free port on 127.0.0.1")
}

/// Starts a private Xvfb and returns its display number. `-displayfd` lets Xvfb pick a free
/// display itself and print its number once it accepts clients, so there is neither a guessed
/// display nor a sleep.
fn start_xvfb(guard: &mut Cleanup) -> u32 {
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("cannot start Xvfb; install it with `apt-get install -y xvfb`");
    let stdout = xvfb.stdout.take().unwrap();
    guard.groups.push(xvfb);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_millis(PROCESS_READY_MS_MAX))
        .expect("Xvfb did not report a display");
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb printed {line:?} instead of a display number"))
}

/// Stops everything the test started, on success and on failure alike (it runs during a panic's
/// unwinding too): the WebDriver session, then each process group, politely first.
#[derive(Default)]
struct Cleanup {
    session: Option<(Driver, String)>,
    /// Leaders of process groups, in start order; stopped in reverse.
    groups: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some((driver, session)) = self.session.take() {
            driver.try_delete_session(&session);
        }
        while let Some(mut leader) = self.groups.pop() {
            stop_group(&mut leader);
        }
    }
}

/// SIGTERM to the whole group (tauri-driver then stops WebKitWebDriver), SIGKILL if it lingers.
fn stop_group(leader: &mut Child) {
    let group = format!("-{}", leader.id());
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = leader.try_wait() {
            break;
        }
        sleep(Duration::from_millis(50));
    }
    // The leader may be gone while others in its group are not: always finish with SIGKILL.
    signal("-KILL");
    let _ = leader.wait();
}

/// A minimal W3C WebDriver client: just the calls this test makes.
#[derive(Clone)]
struct Driver {
    base: String,
    http: reqwest::blocking::Client,
}

impl Driver {
    fn new(port: u16) -> Driver {
        Driver {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_millis(DRIVER_REQUEST_MS_MAX))
                .build()
                .unwrap(),
        }
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_millis(PROCESS_READY_MS_MAX);
        let url = format!("{}/status", self.base);
        while Instant::now() < deadline {
            if self.http.get(&url).send().is_ok() {
                return;
            }
            sleep(Duration::from_millis(POLL_MS));
        }
        panic!("tauri-driver did not listen on {} in time", self.base);
    }

    /// Sends one command; `Err` carries WebDriver's error name (e.g. "no such element").
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("WebDriver request {url} failed: {e}"));
        let answer: Value = response
            .json()
            .unwrap_or_else(|e| panic!("WebDriver answered {url} with something not JSON: {e}"));
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        match value.get("error").and_then(Value::as_str) {
            Some(error) => Err(format!("{error}: {}", value["message"])),
            None => Ok(value),
        }
    }

    fn new_session(&self, app: &Path) -> String {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "wry",
                    "tauri:options": { "application": app }
                }
            }
        });
        let value = self
            .call(reqwest::Method::POST, "/session", Some(capabilities))
            .unwrap_or_else(|e| panic!("cannot start the app {}: {e}", app.display()));
        value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_string()
    }

    fn delete_session(&self, session: &str) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/session/{session}"),
            None,
        )
        .unwrap_or_else(|e| panic!("cannot end the WebDriver session: {e}"));
    }

    fn try_delete_session(&self, session: &str) {
        let _ = self
            .http
            .delete(format!("{}/session/{session}", self.base))
            .timeout(Duration::from_secs(10))
            .send();
    }

    fn find(&self, session: &str, css: &str) -> Option<String> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self.call(
            reqwest::Method::POST,
            &format!("/session/{session}/element"),
            Some(body),
        );
        match found {
            Ok(element) => element[ELEMENT_KEY].as_str().map(str::to_string),
            Err(e) if e.starts_with("no such element") => None,
            Err(e) => panic!("finding {css}: {e}"),
        }
    }

    /// Polls for an element until it exists or [`PAGE_READY_MS_MAX`] passes.
    fn wait_for_element(&self, session: &str, css: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
        loop {
            if let Some(element) = self.find(session, css) {
                return Some(element);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(Duration::from_millis(POLL_MS));
        }
    }

    /// Polls until the element's text contains `expected`; returns the text.
    fn wait_for_text(&self, session: &str, css: &str, expected: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
        loop {
            if let Some(element) = self.find(session, css) {
                let text = self.element_text(session, &element);
                if text.contains(expected) {
                    return Some(text);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(Duration::from_millis(POLL_MS));
        }
    }

    fn element_text(&self, session: &str, element: &str) -> String {
        let path = format!("/session/{session}/element/{element}/text");
        let text = self
            .call(reqwest::Method::GET, &path, None)
            .unwrap_or_else(|e| panic!("reading an element's text: {e}"));
        text.as_str().unwrap_or_default().to_string()
    }

    /// The text of each attempt row, top to bottom.
    fn rows(&self, session: &str) -> Vec<String> {
        let script =
            "return Array.from(document.querySelectorAll(\"[data-testid='attempt-row']\"))\
                      .map((row) => row.innerText);";
        let rows = self
            .call(
                reqwest::Method::POST,
                &format!("/session/{session}/execute/sync"),
                Some(json!({ "script": script, "args": [] })),
            )
            .unwrap_or_else(|e| panic!("reading the rows: {e}"));
        rows.as_array()
            .unwrap_or_else(|| panic!("rows are not a list: {rows}"))
            .iter()
            .map(|row| row.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The whole page's text, for failure messages.
    fn page_text(&self, session: &str) -> String {
        match self.find(session, "body") {
            Some(body) => self.element_text(session, &body),
            None => "(no body element)".into(),
        }
    }

    fn save_screenshot(&self, session: &str, path: &Path) {
        let png = self
            .call(
                reqwest::Method::GET,
                &format!("/session/{session}/screenshot"),
                None,
            )
            .unwrap_or_else(|e| panic!("taking a screenshot: {e}"));
        let bytes = decode_base64(png.as_str().unwrap_or_default());
        std::fs::write(path, bytes)
            .unwrap_or_else(|e| panic!("writing the screenshot {}: {e}", path.display()));
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots; small enough to not need a crate.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let bits = data
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | value(c) << (18 - 6 * i));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len()]);
    }
    out
}
