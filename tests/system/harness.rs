//! The system-test harness: real processes only. A fresh PostgreSQL database per environment, the
//! central (`paydesk-central serve`) on it, the sandbox gateway (`paydesk-sandbox`), and terminals
//! that are nothing but a data directory, a token and the `paydesk` binary run as a child.
//!
//! Every child is owned by a [`ChildGuard`] that kills it when dropped (also when a test panics),
//! every wait has a deadline, and readiness is the address a server prints, never a fixed sleep.
//! Deliberately absent: any product code linked into the test — ground truth comes from the
//! sandbox's admin ledger, the central's API and database, and the terminals' own command line.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The admin token the central is started with (set-up over HTTP: terminals, orders).
pub const ADMIN_TOKEN: &str = "system-test-admin-token-0123456789abcdef";
/// Any `sk_test_` key is accepted by a sandbox started without `--api-key`.
pub const GATEWAY_KEY: &str = "sk_test_paydesk_system";
/// The sandbox's PayPal side accepts any client pair when started without one (issue 13).
pub const PAYPAL_CLIENT_ID: &str = "paydesk-system";
pub const PAYPAL_SECRET: &str = "paydesk-system-paypal-secret";
/// The operator every terminal charges as (inserted straight into the database, see
/// [`Env::start`]), and their PIN, which `paydesk charge --pin-stdin` reads from stdin.
pub const OPERATOR: &str = "sys-operator";
pub const OPERATOR_PIN: &str = "246810";
/// The manager who allows offline charging ([`Terminal::allow_offline`]), and their PIN.
pub const MANAGER: &str = "sys-manager";
pub const MANAGER_PIN: &str = "13572468";

/// How long a server may take to print its address: a debug build on two busy cores.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `paydesk` command may take. A charge waits through at most a few seconds of
/// backoff; anything near this is a hang, and the child is killed and the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Exit codes of `paydesk`, as documented in `paydesk --help`.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const REFUSED: i32 = 2;
    pub const PENDING: i32 = 3;
    pub const CONFLICT: i32 = 4;
    pub const UNREACHABLE: i32 = 5;
}

/// The three product binaries, found next to the test executable (`target/<profile>/deps/…` →
/// `target/<profile>/`), so the target directory of this very build is used.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub paydesk: PathBuf,
    pub central: PathBuf,
    pub sandbox: PathBuf,
}

impl Binaries {
    pub fn locate() -> Binaries {
        let exe = std::env::current_exe().expect("the test executable's path");
        let deps = exe.parent().expect("the test executable's directory");
        let dir = if deps.ends_with("deps") {
            deps.parent().expect("the profile directory")
        } else {
            deps
        };
        let find = |name: &str| {
            let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            assert!(
                path.is_file(),
                "the system tests need the built binary {} — run `cargo build --bins` (with the \
                 same CARGO_TARGET_DIR) first; `cargo test --workspace` builds it too",
                path.display()
            );
            path
        };
        Binaries {
            paydesk: find("paydesk"),
            central: find("paydesk-central"),
            sandbox: find("paydesk-sandbox"),
        }
    }
}

/// A child process that is killed (and reaped) when this guard goes, whatever happened.
#[derive(Debug)]
pub struct ChildGuard {
    pub child: Child,
    pub what: String,
}

impl ChildGuard {
    pub fn new(child: Child, what: impl Into<String>) -> ChildGuard {
        ChildGuard {
            child,
            what: what.into(),
        }
    }

    /// SIGKILL, then reap. Idempotent.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished `paydesk` command left behind.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt as _;
        self.status.signal()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout of {} is not one JSON document ({e}): {self:?}",
                self.what
            )
        })
    }

    /// Asserts the exit code and returns self for chaining.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code(), Some(code), "{self:?}");
        self
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}`: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// A child whose output is collected on threads (so it can never block on a full pipe).
pub struct Running {
    pub guard: ChildGuard,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `cmd` with `input` (if any) written to its stdin, then closed.
    pub fn spawn_with_input(
        mut cmd: Command,
        what: impl Into<String>,
        input: Option<String>,
    ) -> Running {
        use std::io::Write as _;
        let what = what.into();
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        if let Some(input) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A child that exits before reading (bad usage) closes the pipe: not our failure.
            let _ = stdin.write_all(input.as_bytes());
        }
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Running {
            guard: ChildGuard::new(child, what),
            stdout,
            stderr,
        }
    }

    /// True once the child has exited (its output is then collected by [`Running::wait`]).
    pub fn exited(&mut self) -> bool {
        matches!(self.guard.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the exit, at most `timeout`; a child still running then is killed and the test
    /// fails with its output so far.
    pub fn wait(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.guard.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                self.guard.kill();
                let out = self
                    .stdout
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                let err = self
                    .stderr
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                panic!(
                    "{} did not finish within {timeout:?}\n--- stdout\n{out}\n--- stderr\n{err}",
                    self.guard.what
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = self
            .stdout
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        Run {
            status,
            stdout,
            stderr,
            what: self.guard.what.clone(),
        }
    }
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Starts a server that prints its address as the first stdout line; stderr goes to `log`.
/// Returns the guard and that line, or the log when no line came within [`READY_TIMEOUT`].
fn try_start_server(
    mut cmd: Command,
    what: &str,
    log: &Path,
) -> Result<(ChildGuard, String), String> {
    let log_file = std::fs::File::create(log).expect("create the server log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut guard = ChildGuard::new(child, what);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        // Keep reading so the server never blocks on a full pipe.
        for _ in lines {}
    });
    // A server that exits at once closes its stdout: the receiver then errors early.
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) => Ok((guard, line)),
        Err(_) => {
            guard.kill();
            Err(std::fs::read_to_string(log).unwrap_or_default())
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the database")
        .block_on(f)
}

/// The environment's PostgreSQL database, made under a unique name by `paydesk-testkit` and
/// dropped with the environment (even on panic), with blocking helpers to read it back.
#[derive(Debug)]
pub struct Database {
    /// Drops the database when the environment goes, after the central that used it.
    guard: paydesk_testkit::PgDatabase,
}

impl Database {
    pub fn create() -> Database {
        Database {
            guard: block_on(paydesk_testkit::PgDatabase::create("paydesk_sys")),
        }
    }

    /// The URL the central's process is started with (`--db`).
    pub fn url(&self) -> &str {
        self.guard.url()
    }

    /// Runs one statement (set-up the API has no route for).
    pub fn execute(&self, sql: &str) {
        use sqlx::Connection as _;
        block_on(async {
            let mut conn = sqlx::PgConnection::connect(self.url())
                .await
                .expect("connect to the test database");
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            conn.close().await.ok();
        })
    }

    /// One number from a query (`SELECT count(*) …`).
    pub fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection as _;
        block_on(async {
            let mut conn = sqlx::PgConnection::connect(self.url())
                .await
                .expect("connect to the test database");
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            conn.close().await.ok();
            n
        })
    }
}

/// An order to import: id, amount in minor units, currency, saved payment method.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub id: String,
    pub minor: i64,
    pub currency: &'static str,
    pub payment_method: &'static str,
}

impl OrderSpec {
    pub fn new(id: impl Into<String>, minor: i64, payment_method: &'static str) -> OrderSpec {
        OrderSpec {
            id: id.into(),
            minor,
            currency: "EUR",
            payment_method,
        }
    }

    /// The amount as `paydesk charge --amount` takes it.
    pub fn amount_arg(&self) -> String {
        format!(
            "{}.{:02} {}",
            self.minor / 100,
            self.minor % 100,
            self.currency
        )
    }
}

/// How the central of an environment runs. It always has the sandbox as its gateway: it marks
/// an order paid only with the gateway's evidence, and its sweeper resolves expired claims there.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    pub lease_ms: i64,
    pub sweep_interval_ms: u64,
}

impl Default for EnvOptions {
    fn default() -> EnvOptions {
        EnvOptions {
            lease_ms: 60_000,
            sweep_interval_ms: 3_600_000,
        }
    }
}

/// A PHC string of `pin` as the central stores it, but cheap (argon2id, 64 KiB, one pass): the
/// central verifies with the parameters the hash names, and the default cost would make every
/// sign-in of a debug build slow. Only for test data.
pub fn cheap_pin_hash(pin: &str) -> String {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).expect("valid argon2 parameters");
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"paydesk-system-test").expect("a valid salt");
    argon2
        .hash_password(pin.as_bytes(), &salt)
        .expect("hashing a test PIN")
        .to_string()
}

/// One central (on its own PostgreSQL database) and one sandbox gateway.
///
/// Fields drop in order: the servers are killed before their database and directory go.
pub struct Env {
    /// The running central, `None` while a test has it down.
    central: Option<ChildGuard>,
    _sandbox: ChildGuard,
    pub bins: Binaries,
    pub db: Database,
    pub options: EnvOptions,
    /// Data directories of the terminals and the servers' logs; removed with the environment.
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`; kept across a restart so the terminals' configuration stays valid.
    central_addr: String,
    pub central_url: String,
    pub gateway_url: String,
    http: reqwest::blocking::Client,
    /// How often the central was started (names its log files).
    central_starts: u32,
}

impl Env {
    pub fn start(options: EnvOptions) -> Env {
        let bins = Binaries::locate();
        let db = Database::create();
        let dir = tempfile::tempdir().expect("a temp dir");

        let mut sandbox = Command::new(&bins.sandbox);
        clear_paydesk_env(&mut sandbox);
        // No search lag: nothing here relies on search, and a lag only slows reconciliation.
        sandbox.args(["--port", "0", "--search-lag-ms", "0"]);
        let (sandbox, line) =
            try_start_server(sandbox, "paydesk-sandbox", &dir.path().join("sandbox.log"))
                .unwrap_or_else(|log| panic!("paydesk-sandbox did not start; its log:\n{log}"));
        let gateway_url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the sandbox's first line {line:?}"))
            .to_string();

        let mut env = Env {
            bins,
            db,
            options,
            dir,
            central: None,
            central_addr: "127.0.0.1:0".into(),
            central_url: String::new(),
            _sandbox: sandbox,
            gateway_url,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
            central_starts: 0,
        };
        env.start_central();
        // The operator and the manager are inserted directly, with cheap PIN hashes: every
        // charge signs in, and the API's hash cost would slow each one down in a debug build.
        for (id, role, pin) in [
            (OPERATOR, "operator", OPERATOR_PIN),
            (MANAGER, "manager", MANAGER_PIN),
        ] {
            env.db.execute(&format!(
                "INSERT INTO operators (operator_id, role, pin_hash, updated_at) \
                 VALUES ('{id}', '{role}', '{}', 0)",
                cheap_pin_hash(pin)
            ));
        }
        env
    }

    /// Starts the central (again) over the same database, on the same port after a restart.
    pub fn start_central(&mut self) {
        assert!(self.central.is_none(), "the central is already running");
        self.central_starts += 1;
        let log = self
            .dir
            .path()
            .join(format!("central-{}.log", self.central_starts));
        let mut last_log = String::new();
        // The port may in principle be taken between the stop and the restart: a few tries.
        for _ in 0..5 {
            let mut cmd = Command::new(&self.bins.central);
            clear_paydesk_env(&mut cmd);
            cmd.env("PAYDESK_ADMIN_TOKEN", ADMIN_TOKEN)
                .args([
                    "--db",
                    self.db.url(),
                    "serve",
                    "--listen",
                    &self.central_addr,
                ])
                .args(["--lease-ms", &self.options.lease_ms.to_string()])
                .args([
                    "--sweep-interval-ms",
                    &self.options.sweep_interval_ms.to_string(),
                ])
                .env("PAYDESK_GATEWAY_KEY", GATEWAY_KEY)
                .args(["--gateway-url", &self.gateway_url])
                // The sandbox speaks PayPal too: PayPal orders are looked up there (issue 13).
                .args(["--paypal-url", &self.gateway_url])
                .env("PAYDESK_PAYPAL_CLIENT_ID", PAYPAL_CLIENT_ID)
                .env("PAYDESK_PAYPAL_SECRET", PAYPAL_SECRET)
                // The key that signs offline allowances: kept across restarts (terminals pin it),
                // in the environment's directory rather than the working directory.
                .arg("--allowance-key-file")
                .arg(self.dir.path().join("allowance.key"));
            match try_start_server(cmd, "paydesk-central", &log) {
                Ok((guard, addr)) => {
                    self.central_addr = addr.trim().to_string();
                    self.central_url = format!("http://{}", self.central_addr);
                    self.central = Some(guard);
                    return;
                }
                Err(log) => {
                    last_log = log;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!(
            "paydesk-central did not start on {}; its log:\n{last_log}",
            self.central_addr
        );
    }

    /// Kills the central (SIGKILL: no graceful anything) and waits until its port is closed.
    pub fn kill_central(&mut self) {
        let mut central = self.central.take().expect("the central is running");
        central.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&self.central_addr).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the central's port stays open after the kill"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Registers a terminal at the central and gives it a data directory of its own.
    pub fn terminal(&self, id: &str) -> Terminal {
        let (status, body) = self.central_request(
            reqwest::Method::POST,
            "/v1/admin/terminals",
            ADMIN_TOKEN,
            Some(json!({ "terminal_id": id })),
        );
        assert_eq!(status, 201, "registering terminal {id}: {body}");
        let data_dir = self.dir.path().join(format!("terminal-{id}"));
        std::fs::create_dir_all(&data_dir).expect("the terminal's data dir");
        Terminal {
            id: id.to_string(),
            token: body["token"].as_str().expect("a token").to_string(),
            data_dir,
            central_url: self.central_url.clone(),
            gateway_url: self.gateway_url.clone(),
            paydesk: self.bins.paydesk.clone(),
        }
    }

    pub fn add_orders(&self, orders: &[OrderSpec]) {
        let orders: Vec<Value> = orders
            .iter()
            .map(|o| {
                // A PayPal source (`card:…`, `paypal:…`) is a PayPal order, with no customer.
                let paypal = o.payment_method.starts_with("card:")
                    || o.payment_method.starts_with("paypal:");
                json!({"order_id": o.id, "amount": {"minor": o.minor, "currency": o.currency},
                       "customer_id": if paypal { "" } else { "cus_system" },
                       "payment_method_id": o.payment_method,
                       "gateway": if paypal { "paypal" } else { "stripe" },
                       "description": format!("system test order {}", o.id)})
            })
            .collect();
        let (status, body) = self.central_request(
            reqwest::Method::POST,
            "/v1/orders/import",
            ADMIN_TOKEN,
            Some(json!({ "orders": orders })),
        );
        assert_eq!(status, 200, "importing orders: {body}");
        assert!(
            body["conflicting"].as_array().is_none_or(|c| c.is_empty()),
            "{body}"
        );
    }

    /// `GET /v1/orders/{id}`: the order, its results and its registered intents.
    pub fn order(&self, id: &str) -> Value {
        let (status, body) = self.central_request(
            reqwest::Method::GET,
            &format!("/v1/orders/{id}"),
            ADMIN_TOKEN,
            None,
        );
        assert_eq!(status, 200, "GET order {id}: {body}");
        body
    }

    /// Sends a request to the central with a bearer token: (status, JSON body or Null).
    pub fn central_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.central_url))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("central request {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The sandbox's ground truth: intents (status, metadata, succeeded_count) and key usage.
    pub fn ledger(&self) -> Value {
        self.http
            .get(format!("{}/admin/ledger", self.gateway_url))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .expect("GET /admin/ledger")
    }

    /// Arms sandbox faults (`ENDPOINT:KIND[:COUNT]`).
    pub fn faults(&self, specs: &[&str]) {
        let resp = self
            .http
            .post(format!("{}/admin/faults", self.gateway_url))
            .json(&json!({ "specs": specs }))
            .send()
            .expect("POST /admin/faults");
        assert!(resp.status().is_success(), "{specs:?}: {:?}", resp.text());
    }

    /// Moves the sandbox's clock forward (idempotency keys are pruned 24 h after first use).
    pub fn advance_gateway_clock_ms(&self, ms: i64) {
        let resp = self
            .http
            .post(format!("{}/admin/clock", self.gateway_url))
            .json(&json!({ "advance_ms": ms }))
            .send()
            .expect("POST /admin/clock");
        assert!(resp.status().is_success(), "{:?}", resp.text());
    }
}

/// No setting of the developer's environment leaks into a child.
pub fn clear_paydesk_env(cmd: &mut Command) {
    for (name, _) in std::env::vars() {
        if name.starts_with("PAYDESK_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
}

/// A terminal: a data directory (its journal), its token, and the `paydesk` binary configured
/// through the environment only (secrets through the documented automation overrides).
#[derive(Debug, Clone)]
pub struct Terminal {
    pub id: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub central_url: String,
    pub gateway_url: String,
    paydesk: PathBuf,
}

impl Terminal {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.paydesk);
        clear_paydesk_env(&mut cmd);
        cmd.env("PAYDESK_DATA_DIR", &self.data_dir)
            .env("PAYDESK_CENTRAL_URL", &self.central_url)
            .env("PAYDESK_GATEWAY_URL", &self.gateway_url)
            .env("PAYDESK_TERMINAL", &self.id)
            .env("PAYDESK_TERMINAL_TOKEN", &self.token)
            .env("PAYDESK_GATEWAY_KEY", GATEWAY_KEY)
            .env("PAYDESK_PAYPAL_URL", &self.gateway_url)
            .env("PAYDESK_PAYPAL_CLIENT_ID", PAYPAL_CLIENT_ID)
            .env("PAYDESK_PAYPAL_SECRET", PAYPAL_SECRET)
            // A keyring service nobody uses, in case a Secret Service is running.
            .env("PAYDESK_KEYRING_SERVICE", "paydesk-system-test-unused")
            .args(args);
        cmd
    }

    /// Runs `paydesk ARGS`; a `charge … --pin-stdin` gets the operator's PIN on stdin.
    pub fn spawn(&self, args: &[&str], crash_at: Option<&str>) -> Running {
        let input = args
            .contains(&"--pin-stdin")
            .then(|| format!("{OPERATOR_PIN}\n"));
        self.spawn_with_input(args, crash_at, input)
    }

    pub fn spawn_with_input(
        &self,
        args: &[&str],
        crash_at: Option<&str>,
        input: Option<String>,
    ) -> Running {
        let mut cmd = self.command(args);
        if let Some(point) = crash_at {
            cmd.env("PAYDESK_CRASH_AT", point);
        }
        let what = format!(
            "paydesk {}{} (terminal {})",
            args.join(" "),
            crash_at
                .map(|p| format!(" [PAYDESK_CRASH_AT={p}]"))
                .unwrap_or_default(),
            self.id
        );
        Running::spawn_with_input(cmd, what, input)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.spawn(args, None).wait(COMMAND_TIMEOUT)
    }

    pub fn run_crashing(&self, args: &[&str], crash_at: &str) -> Run {
        self.spawn(args, Some(crash_at)).wait(COMMAND_TIMEOUT)
    }

    pub fn charge_args(order: &OrderSpec) -> Vec<String> {
        vec![
            "--json".into(),
            "charge".into(),
            order.id.clone(),
            "--operator".into(),
            OPERATOR.into(),
            "--amount".into(),
            order.amount_arg(),
            "--pin-stdin".into(),
        ]
    }

    pub fn charge(&self, order: &OrderSpec) -> Run {
        let args = Terminal::charge_args(order);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// Gets this terminal ready to charge offline: caches the queue, signs [`OPERATOR`] in online
    /// once (offline sign-in is only for operators who did, here, recently), then `paydesk
    /// offline allow` as [`MANAGER`] (PIN on stdin): the manager signs in at the central, which
    /// signs the allowance for this terminal (one hour). Asserts each step.
    pub fn allow_offline(&self, per_charge: &str, per_shift: &str, cache_minutes: u32) {
        self.run(&["--json", "queue"]).expect_code(exit::SUCCESS);
        self.sign_in().expect_code(exit::SUCCESS);
        self.allow_offline_as(MANAGER, MANAGER_PIN, per_charge, per_shift, cache_minutes)
            .expect_code(exit::SUCCESS);
    }

    /// `paydesk offline allow --manager MANAGER` with `pin` on stdin, whatever the outcome.
    pub fn allow_offline_as(
        &self,
        manager: &str,
        pin: &str,
        per_charge: &str,
        per_shift: &str,
        cache_minutes: u32,
    ) -> Run {
        let minutes = cache_minutes.to_string();
        let args = [
            "offline",
            "allow",
            "--manager",
            manager,
            "--per-charge",
            per_charge,
            "--per-shift",
            per_shift,
            "--hours",
            "1",
            "--cache-minutes",
            &minutes,
        ];
        self.spawn_with_input(&args, None, Some(format!("{pin}\n")))
            .wait(COMMAND_TIMEOUT)
    }

    /// `paydesk sign-in --operator OPERATOR`, PIN on stdin.
    pub fn sign_in(&self) -> Run {
        self.spawn_with_input(
            &["--json", "sign-in", "--operator", OPERATOR],
            None,
            Some(format!("{OPERATOR_PIN}\n")),
        )
        .wait(COMMAND_TIMEOUT)
    }

    /// `paydesk recover` with [`OPERATOR`] signed in (an unfinished offline attempt claims its
    /// order in its operator's session once the central is back).
    pub fn recover(&self) -> Run {
        self.run(&["--json", "recover", "--operator", OPERATOR, "--pin-stdin"])
    }

    pub fn sync(&self) -> Run {
        self.run(&["--json", "sync"])
    }

    /// Every attempt in this terminal's journal (`paydesk journal list --json`), or none if the
    /// terminal never opened its journal.
    pub fn attempts(&self) -> Vec<Value> {
        if !self.data_dir.join("journal.sqlite").exists() {
            return Vec::new();
        }
        let run = self.run(&["--json", "journal", "list", "--limit", "10000"]);
        assert_eq!(run.code(), Some(exit::SUCCESS), "{run:?}");
        run.json()["attempts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `paydesk journal show --json`: the attempt and its timeline.
    pub fn show(&self, attempt_id: &str) -> Value {
        let run = self.run(&["--json", "journal", "show", attempt_id]);
        assert_eq!(run.code(), Some(exit::SUCCESS), "{run:?}");
        run.json()
    }
}
