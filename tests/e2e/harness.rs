//! The end-to-end tests' shared harness: a private Xvfb display, a private D-Bus session with
//! gnome-keyring's Secret Service, tauri-driver + WebKitWebDriver starting the built desktop app
//! with no configuration (so it runs the embedded default), a minimal W3C WebDriver client, the
//! cleanup that stops every process on success and on failure, screenshots, signing in and out,
//! and clicking and typing into what a selector names.
//!
//! Used by `tests/e2e_desktop.rs` (the operator's path) and `tests/e2e_manager.rs` (the manager's
//! desk) through `#[path]`; each test keeps its own steps and assertions. Deliberately absent: any
//! knowledge of a particular screen beyond the sign-in form, and building the app
//! (`PAYDESK_DESKTOP_BIN` names it; scripts/test-e2e.sh builds it).
#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use paydesk_journal::Journal;
use serde_json::{json, Value};

/// How long the app may take to show a screen: a cold WebKitGTK start plus the embedded central
/// and sandbox (argon2 hashes the demo PINs on a first start) under Xvfb on a busy 2-core machine
/// takes several seconds; ten times that is still a clear failure, not a hang.
pub const PAGE_READY_MS_MAX: u64 = 60_000;
/// How long tauri-driver and Xvfb may take to accept connections.
pub const PROCESS_READY_MS_MAX: u64 = 20_000;
/// How long the app may take to exit after its window closed (it stops the relay, the recovery
/// loop and the embedded servers, and waits for them).
pub const APP_EXIT_MS_MAX: u64 = 15_000;
/// How long a screenshot waits for WebKit to paint what the DOM already shows.
pub const SCREENSHOT_SETTLE_MS: u64 = 1_000;
/// Polling interval while waiting for the page or a process.
pub const POLL_MS: u64 = 250;
/// Per-request timeout towards the driver; creating the session starts the app, the slowest call.
const DRIVER_REQUEST_MS_MAX: u64 = 90_000;
/// WebDriver's key for an element reference in JSON (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The built app running in its webview under a private display, bus and keyring, with a
/// WebDriver session on it. Dropping it stops everything (the session, the app, the driver, the
/// bus and Xvfb), then removes its temp dir.
pub struct App {
    pub driver: Driver,
    /// The WebDriver session's id.
    pub session: String,
    /// The app's data directory (journal.sqlite, stack.json, …).
    pub data_dir: PathBuf,
    /// The Xvfb display number.
    pub display: u32,
    /// The process group of the bus, the keyring, tauri-driver, WebKitWebDriver and the app.
    pub group: u32,
    /// The app's binary (`PAYDESK_DESKTOP_BIN`).
    pub binary: PathBuf,
    pub guard: Cleanup,
    // Dropped after `guard`: the processes stop before their files go.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("session", &self.session)
            .field("data_dir", &self.data_dir)
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Starts the app with no configuration, or `None` when `PAYDESK_SKIP_E2E=1` skips the test.
    pub fn start() -> Option<App> {
        App::start_with(&[])
    }

    /// The same, with these variables set for the app (and nothing else from the caller's
    /// `PAYDESK_*` environment), e.g. `PAYDESK_SANDBOX_ADMIN_TOKEN` to arm gateway faults.
    pub fn start_with(env: &[(&str, &str)]) -> Option<App> {
        let app_binary = app_binary()?;
        let tauri_driver = tauri_driver_binary();
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("paydesk");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();

        let mut guard = Cleanup::default();
        let display = start_xvfb(&mut guard);
        let (port, native_port) = (free_port(), free_port());
        // A private D-Bus session with gnome-keyring's Secret Service, unlocked with a throw-away
        // password in a throw-away HOME: the app stores its terminal token in a real keyring,
        // exactly as on an operator's desktop, without touching the user's own keyring.
        let script = format!(
            "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
             exec '{}' --port {port} --native-port {native_port}",
            tauri_driver.display()
        );
        let mut driver = Command::new("dbus-run-session");
        driver.args(["--", "sh", "-c", &script]);
        // No configuration from the caller's environment: the app must start the embedded default.
        for (name, _) in std::env::vars() {
            if name.starts_with("PAYDESK_") {
                driver.env_remove(name);
            }
        }
        let driver = driver
            // tauri-driver starts WebKitWebDriver, which starts the app: all of them inherit this
            // environment, which is how the app finds its data directory, the display and the bus.
            .env("DISPLAY", format!(":{display}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("PAYDESK_DATA_DIR", &data_dir)
            .env(
                "PAYDESK_KEYRING_SERVICE",
                format!("paydesk-e2e-{}", std::process::id()),
            )
            .env("HOME", &home)
            .envs(env.iter().copied())
            // WebKit's caches and the keyring's files go to the temp dir, not the user's home.
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group, so cleanup can stop the bus, the keyring, the driver,
            // WebKitWebDriver and the app together even if one of them does not pass a signal on.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start dbus-run-session: {e}; install it with \
                     `apt-get install -y dbus gnome-keyring`"
                )
            });
        let group = driver.id();
        guard.groups.push(driver);
        let driver = Driver::new(port);
        driver.wait_until_listening();

        let session = driver.new_session(&app_binary);
        guard.session = Some((driver.clone(), session.clone()));
        Some(App {
            driver,
            session,
            data_dir,
            display,
            group,
            binary: app_binary,
            guard,
            _dir: dir,
        })
    }

    /// The session id, as the driver's calls take it.
    pub fn s(&self) -> &str {
        &self.session
    }
}

/// Saves a screenshot when `PAYDESK_E2E_SCREENSHOT=<file.png>` is set: to that file when `suffix`
/// is `None`, else beside it as `<file>.<suffix>.png`. Waits first for WebKit to paint what the
/// DOM already shows.
pub fn screenshot(driver: &Driver, session: &str, suffix: Option<&str>) {
    let Some(path) = std::env::var_os("PAYDESK_E2E_SCREENSHOT") else {
        return;
    };
    sleep(Duration::from_millis(SCREENSHOT_SETTLE_MS));
    let path = Path::new(&path);
    match suffix {
        None => driver.save_screenshot(session, path),
        Some(suffix) => {
            driver.save_screenshot(session, &path.with_extension(format!("{suffix}.png")))
        }
    }
}

/// Signs in from the sign-in screen (waiting for it) and waits for the desk (the header names who
/// is signed in; an operator lands on the queue, a manager on the inbox).
pub fn sign_in(driver: &Driver, s: &str, operator: &str, pin: &str) {
    let operator_input = driver
        .wait_for_element(s, "[data-testid='operator-input']")
        .unwrap_or_else(|| {
            panic!(
                "no sign-in screen after {PAGE_READY_MS_MAX} ms; the page shows:\n{}",
                driver.page_text(s)
            )
        });
    driver.send_keys(s, &operator_input, operator);
    let pin_input = driver.find(s, "[data-testid='pin-input']").unwrap();
    driver.send_keys(s, &pin_input, &format!("{pin}\n"));
    driver
        .wait_for_text(s, "[data-testid='signed-in-as']", operator)
        .unwrap_or_else(|| panic!("not signed in as {operator}: {}", driver.page_text(s)));
}

/// Signs out (the header's button) and waits for the sign-in screen.
pub fn sign_out(driver: &Driver, s: &str) {
    let button = driver
        .find(s, "[data-testid='sign-out']")
        .unwrap_or_else(|| panic!("no sign-out button: {}", driver.page_text(s)));
    driver.click(s, &button);
    driver
        .wait_for_element(s, "[data-testid='operator-input']")
        .unwrap_or_else(|| {
            panic!(
                "no sign-in screen after signing out: {}",
                driver.page_text(s)
            )
        });
}

/// Clicks the element `css` names, waiting for it first. A button the page just rendered may not
/// be laid out yet ("element not interactable"): it is scrolled into view and tried again for a
/// moment.
pub fn click_on(driver: &Driver, s: &str, css: &str) {
    let deadline = Instant::now() + Duration::from_millis(PROCESS_READY_MS_MAX);
    loop {
        let element = driver
            .wait_for_element(s, css)
            .unwrap_or_else(|| panic!("no {css} on the page: {}", driver.page_text(s)));
        let scroll = json!({
            "script": "arguments[0].scrollIntoView({block: 'center'});",
            "args": [{ ELEMENT_KEY: element }],
        });
        let _ = driver.call(
            reqwest::Method::POST,
            &format!("/session/{s}/execute/sync"),
            Some(scroll),
        );
        let clicked = driver.call(
            reqwest::Method::POST,
            &format!("/session/{s}/element/{element}/click"),
            Some(json!({})),
        );
        match clicked {
            Ok(_) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("clicking {css} again: {e}");
                sleep(Duration::from_millis(POLL_MS));
            }
            Err(e) => panic!("clicking {css}: {e}: {}", driver.page_text(s)),
        }
    }
}

/// Types `text` into the element `css` names, waiting for it first.
pub fn type_into(driver: &Driver, s: &str, css: &str, text: &str) {
    let element = driver
        .wait_for_element(s, css)
        .unwrap_or_else(|| panic!("no {css} on the page: {}", driver.page_text(s)));
    driver.send_keys(s, &element, text);
}

impl App {
    /// Closes the app as a person would (SIGTERM to the app process; neither deleting the WebDriver
    /// session, which kills the app outright, nor WebDriver's "close window" shows this), waits
    /// until it has stopped its embedded stack (`stack.json` gone) and exited, then ends the
    /// WebDriver session. The data directory stays for the test to read.
    pub fn close_as_a_person(&mut self) {
        let pid = app_process(&self.binary, self.group).unwrap_or_else(|| {
            panic!(
                "no {} process in group {}",
                self.binary.display(),
                self.group
            )
        });
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {pid}: {status}");
        let deadline = Instant::now() + Duration::from_millis(APP_EXIT_MS_MAX);
        while self.data_dir.join("stack.json").exists()
            || Path::new(&format!("/proc/{pid}")).exists()
        {
            assert!(
                Instant::now() < deadline,
                "the app did not stop its embedded stack and exit within {APP_EXIT_MS_MAX} ms"
            );
            sleep(Duration::from_millis(POLL_MS));
        }
        self.driver.try_delete_session(&self.session);
        self.guard.session = None;
    }
}

/// The pid of the running `binary` among the processes of group `group` (this test's own
/// processes: WebKitWebDriver started the app there), read from /proc.
pub fn app_process(binary: &Path, group: u32) -> Option<u32> {
    let binary = binary.canonicalize().ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The fields after the command name (which may hold spaces) start after its ')':
            // state, ppid, pgrp.
            let pgrp: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(2)?
                .parse()
                .ok()?;
            (exe == binary && pgrp == group).then_some(pid)
        })
}

/// Opens the journal once the app has let go of it (its lock goes with the process).
pub fn open_when_released(path: &Path) -> Journal {
    let deadline = Instant::now() + Duration::from_millis(APP_EXIT_MS_MAX);
    loop {
        match Journal::open(path) {
            Ok(journal) => return journal,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the app to release the journal: {e}");
                sleep(Duration::from_millis(POLL_MS));
            }
            Err(e) => panic!("the journal is still held after the app closed: {e}"),
        }
    }
}

/// The app under test, or `None` when the caller explicitly skips the end-to-end test.
pub fn app_binary() -> Option<PathBuf> {
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
pub fn tauri_driver_binary() -> PathBuf {
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

/// A TCP port that was free a moment ago. The small race with other programs is accepted: a
/// clash makes tauri-driver fail to start, which the test reports.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free port on 127.0.0.1")
}

/// Starts a private Xvfb and returns its display number. `-displayfd` lets Xvfb pick a free
/// display itself and print its number once it accepts clients, so there is neither a guessed
/// display nor a sleep.
pub fn start_xvfb(guard: &mut Cleanup) -> u32 {
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
pub struct Cleanup {
    pub session: Option<(Driver, String)>,
    /// Leaders of process groups, in start order; stopped in reverse.
    pub groups: Vec<Child>,
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
pub fn stop_group(leader: &mut Child) {
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
pub struct Driver {
    base: String,
    http: reqwest::blocking::Client,
}

impl Driver {
    pub fn new(port: u16) -> Driver {
        Driver {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_millis(DRIVER_REQUEST_MS_MAX))
                .build()
                .unwrap(),
        }
    }

    pub fn wait_until_listening(&self) {
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
    pub fn call(
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

    pub fn new_session(&self, app: &Path) -> String {
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

    pub fn try_delete_session(&self, session: &str) {
        let _ = self
            .http
            .delete(format!("{}/session/{session}", self.base))
            .timeout(Duration::from_secs(10))
            .send();
    }

    pub fn find(&self, session: &str, css: &str) -> Option<String> {
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
    pub fn wait_for_element(&self, session: &str, css: &str) -> Option<String> {
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
    pub fn wait_for_text(&self, session: &str, css: &str, expected: &str) -> Option<String> {
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

    pub fn element_text(&self, session: &str, element: &str) -> String {
        let path = format!("/session/{session}/element/{element}/text");
        let text = self
            .call(reqwest::Method::GET, &path, None)
            .unwrap_or_else(|e| panic!("reading an element's text: {e}"));
        text.as_str().unwrap_or_default().to_string()
    }

    pub fn click(&self, session: &str, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{session}/element/{element}/click"),
            Some(json!({})),
        )
        .unwrap_or_else(|e| panic!("clicking an element: {e}"));
    }

    /// Types `text` into an element; a trailing "\n" presses Enter (submits the form).
    pub fn send_keys(&self, session: &str, element: &str, text: &str) {
        let text = text.replace('\n', "\u{E007}");
        self.call(
            reqwest::Method::POST,
            &format!("/session/{session}/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .unwrap_or_else(|e| panic!("typing into an element: {e}"));
    }

    /// An attribute of the element `css` names (which must exist); `None` when it has none.
    pub fn attribute_of(&self, session: &str, css: &str, name: &str) -> Option<String> {
        let element = self
            .find(session, css)
            .unwrap_or_else(|| panic!("no {css} on the page: {}", self.page_text(session)));
        let path = format!("/session/{session}/element/{element}/attribute/{name}");
        let value = self
            .call(reqwest::Method::GET, &path, None)
            .unwrap_or_else(|e| panic!("reading {name} of {css}: {e}"));
        value.as_str().map(str::to_string)
    }

    /// The text of the element `css` names (which must exist).
    pub fn text_of(&self, session: &str, css: &str) -> String {
        let element = self
            .find(session, css)
            .unwrap_or_else(|| panic!("no {css} on the page: {}", self.page_text(session)));
        self.element_text(session, &element)
    }

    /// Reloads the queue until none of `orders` is in it any more; returns the queue's text.
    pub fn wait_for_queue_without(&self, session: &str, orders: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
        loop {
            if let Some(reload) = self.find(session, "[data-testid='queue-reload']") {
                self.click(session, &reload);
            }
            sleep(Duration::from_millis(POLL_MS));
            let text = match self.find(session, "[data-testid='queue-table']") {
                Some(table) => self.element_text(session, &table),
                None => String::new(),
            };
            if !text.is_empty() && !orders.iter().any(|o| text.contains(o)) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{orders:?} stayed in the queue: {text}"
            );
        }
    }

    /// The text of each attempt row, top to bottom.
    pub fn rows(&self, session: &str) -> Vec<String> {
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
    pub fn page_text(&self, session: &str) -> String {
        match self.find(session, "body") {
            Some(body) => self.element_text(session, &body),
            None => "(no body element)".into(),
        }
    }

    pub fn save_screenshot(&self, session: &str, path: &Path) {
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
pub fn decode_base64(text: &str) -> Vec<u8> {
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

/// The embedded sandbox's admin routes (faults, webhooks, the ledger), with the token the app was
/// started with (`PAYDESK_SANDBOX_ADMIN_TOKEN`); the address is the app's `stack.json`.
pub struct Sandbox {
    /// `http://127.0.0.1:PORT` of the sandbox, without a trailing slash.
    pub url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Sandbox {
    /// The sandbox the app started, from its `stack.json`.
    pub fn of(data_dir: &Path, token: &str) -> Sandbox {
        let deadline = Instant::now() + Duration::from_millis(PAGE_READY_MS_MAX);
        let stack = loop {
            match std::fs::read_to_string(data_dir.join("stack.json")) {
                Ok(text) => break text,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no stack.json: {e}");
                    sleep(Duration::from_millis(POLL_MS));
                }
            }
        };
        let stack: Value = serde_json::from_str(&stack).unwrap();
        Sandbox {
            url: stack["gateway_url"]
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .to_string(),
            token: token.to_string(),
            http: reqwest::blocking::Client::new(),
        }
    }

    pub fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status();
        let answer: Value = response.json().unwrap();
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// Arms the sandbox's faults (`ENDPOINT[@KEY_KIND]:FAULT:COUNT`, see the sandbox's README).
    pub fn arm<S: AsRef<str>>(&self, specs: &[S]) {
        let specs: Vec<&str> = specs.iter().map(AsRef::as_ref).collect();
        let answer = self.admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({ "specs": specs })),
        );
        eprintln!("faults armed: {answer}");
    }

    /// Turns the gateway's webhooks to the central off: every notification is lost.
    pub fn lose_webhooks(&self) {
        let before = self.admin(reqwest::Method::GET, "/admin/webhooks", None);
        assert!(
            before["url"].is_string(),
            "the demo sends webhooks: {before}"
        );
        let after = self.admin(
            reqwest::Method::POST,
            "/admin/webhooks",
            Some(json!({ "url": null })),
        );
        assert!(after["url"].is_null(), "{after}");
    }

    pub fn clear(&self) {
        self.admin(reqwest::Method::DELETE, "/admin/faults", None);
    }

    /// The gateway's payments for `order`, from the sandbox's ledger.
    pub fn intents_of(&self, order: &str) -> Vec<Value> {
        let ledger = self.admin(reqwest::Method::GET, "/admin/ledger", None);
        ledger["intents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["metadata"]["order_id"] == order)
            .cloned()
            .collect()
    }

    /// Exactly one payment for `order`, succeeded once; returns its id.
    pub fn charged_once(&self, order: &str) -> String {
        let intents = self.intents_of(order);
        assert_eq!(intents.len(), 1, "one payment for {order}: {intents:?}");
        let intent = &intents[0];
        assert_eq!(intent["status"], "succeeded", "{intent}");
        assert_eq!(intent["succeeded_count"], 1, "charged once: {intent}");
        assert_eq!(intent["charges"], 1, "one charge: {intent}");
        intent["id"].as_str().unwrap().to_string()
    }
}

/// A fresh token for this run's sandbox admin routes (long enough for the app to accept it).
pub fn admin_token() -> String {
    format!(
        "e2e-{}-{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
