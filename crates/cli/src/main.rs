//! `paydesk`: the engine without a window — sign in, list the queue, charge an order (as a
//! signed-in operator, PIN on stdin), recover, sync, and review the journal — for operators'
//! scripts, ops, and the system tests.
//!
//! Human-readable output by default, `--json` for scripts, and exit codes that say what happened
//! (see `exit.rs`). Deliberately absent: logic of its own — every command is a thin call into the
//! terminal (`paydesk-terminal`), the journal or the embedded stack — and secrets in arguments,
//! output or files.

/// `println!` that ignores a closed stdout (`paydesk queue | head`): the reader has what it
/// wanted, and a panic there would look like a failed command.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` with the same rule as [`out!`].
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod card;
mod central;
mod charge;
mod config;
mod customer;
mod day_close;
mod evidence;
mod exit;
mod inbox;
mod journal;
mod logging;
mod outbox;
mod output;
mod reverse;
mod settings;
mod setup;
mod time;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use paydesk_engine::{Clock as _, SystemClock};
use paydesk_terminal::{
    SecretKind, TerminalSettings, CENTRAL_URL_ENV, DATA_DIR_ENV, GATEWAY_KEY_ENV, GATEWAY_URL_ENV,
    JOURNAL_ENV, KEYRING_SERVICE_DEFAULT, KEYRING_SERVICE_ENV, TERMINAL_ENV, TERMINAL_TOKEN_ENV,
};

use crate::config::Settings;
use crate::exit::{CmdResult, SUCCESS, USAGE};

#[derive(Debug, Parser)]
#[command(
    name = "paydesk",
    version,
    about = "Paydesk without a window: charge post-sale orders, recover, sync, review the journal",
    after_help = "Secrets come from the OS keyring (`paydesk provision`). For automation only, \
                  PAYDESK_TERMINAL_TOKEN and PAYDESK_GATEWAY_KEY override the keyring.\n\
                  Exit codes: 0 done/succeeded, 1 other error, 2 declined/requires action/canceled \
                  (sign-in refused), 3 pending/unknown (recovery continues), 4 held by someone \
                  else/not chargeable, 5 central unreachable (or the embedded stack stopped), 6 \
                  journal broken, 64 bad input (a wrong --amount too) or missing configuration."
)]
struct Cli {
    /// Machine-readable output: one JSON document on stdout, errors included, always with
    /// `exit_code` and times in RFC 3339 (progress as JSON lines on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// Log to stderr instead of `paydesk.log` in the data directory (-vv: debug detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Data directory (journal, caches, the embedded stack) [default: ~/.local/share/paydesk].
    #[arg(long, global = true, env = DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
    /// The central server's URL, or several separated by commas (centrals on one database, the
    /// terminal failing over between them) [default: the running `paydesk stack` in the data
    /// directory].
    #[arg(long, global = true, env = CENTRAL_URL_ENV)]
    central: Option<String>,
    /// The gateway's URL [default: the running `paydesk stack`, else https://api.stripe.com].
    #[arg(long, global = true, env = GATEWAY_URL_ENV)]
    gateway: Option<String>,
    /// The journal file [default: journal.sqlite in the data directory].
    #[arg(long, global = true, env = JOURNAL_ENV)]
    journal: Option<PathBuf>,
    /// This terminal's id at the central [default: the running `paydesk stack`'s terminal].
    #[arg(long, global = true, env = TERMINAL_ENV)]
    terminal: Option<String>,
    /// The OS keyring service the secrets live under.
    #[arg(long, global = true, env = KEYRING_SERVICE_ENV, default_value = KEYRING_SERVICE_DEFAULT)]
    keyring_service: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the embedded default (central on SQLite + sandbox gateway) and run until Ctrl-C.
    Stack {
        /// Port of the central on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        central_port: u16,
        /// Port of the sandbox gateway on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        gateway_port: u16,
        /// Try offline work: the sandbox charges, but terminals are told the central is down
        /// (they answer from their caches, exit 5, and charge under an offline allowance).
        #[arg(long)]
        central_down: bool,
    },
    /// Store a secret read from stdin in the OS keyring.
    Provision {
        #[arg(value_enum)]
        secret: SecretArg,
    },
    /// Check an operator's PIN (read from stdin) at the central (offline: this terminal's
    /// verifier, for an operator who signed in online here in the last 12 hours).
    SignIn {
        #[arg(long)]
        operator: String,
    },
    /// List the orders an operator can charge — unpaid, failed, declined, needing action — with
    /// their state (offline: the cached queue, exit code 5).
    Queue,
    /// Charge an order's saved payment method.
    Charge {
        /// The order id, as the queue shows it.
        order: String,
        /// Who charges: they sign in with their PIN, read from stdin (`--pin-stdin`).
        #[arg(long)]
        operator: String,
        /// Read the operator's PIN from stdin (one line). Required: nothing is charged without
        /// a signed-in operator, and a PIN never goes in an argument.
        #[arg(long)]
        pin_stdin: bool,
        /// The amount the operator expects, e.g. "12.34 EUR": a different amount at the central
        /// stops the charge.
        #[arg(long)]
        amount: String,
        /// What this payment charges, e.g. "30.00 EUR" for a deposit (issue 12, installments);
        /// by default the order's balance due. Another amount than the balance needs the
        /// permission to charge other amounts and `--reason`.
        #[arg(long, value_name = "AMOUNT")]
        charge_amount: Option<String>,
        /// Why an amount other than the balance due is charged (audited at the central).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// The central warned that the same customer paid the same amount on another order
        /// recently (exit 4, "may be a duplicate"): charge anyway, once you checked with the
        /// customer that this is a separate payment.
        #[arg(long)]
        confirm_similar: bool,
    },
    /// Show an attempt and its history (the same as `journal show`).
    Show {
        /// The attempt's id, as `charge` and `journal list` print it.
        attempt: String,
    },
    /// Finish every unfinished attempt from its last durable state (one pass). An offline
    /// attempt that must claim its order now that the central is back needs its operator
    /// signed in: pass --operator ID --pin-stdin.
    Recover {
        /// Sign this operator in first (PIN on stdin), for the claims of their offline attempts.
        #[arg(long, requires = "pin_stdin")]
        operator: Option<String>,
        /// Read the operator's PIN from stdin (one line).
        #[arg(long, requires = "operator")]
        pin_stdin: bool,
    },
    /// Deliver queued results to the central until the outbox is empty or the central is down.
    Sync,
    /// Review the local journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Allow, withdraw or show offline charging on this terminal (a manager's decision).
    Offline {
        #[command(subcommand)]
        command: OfflineCommand,
    },
    /// The results waiting for the central; a manager retries or archives a parked one.
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
    },
    /// A manager cancels or refunds a paid order (the central picks which, from the gateway).
    Reverse {
        /// The order id.
        order: String,
        /// The manager who reverses it (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Why, in a few words (kept with the reversal).
        #[arg(long)]
        reason: String,
        /// How much to refund, e.g. "12.34 EUR" [default: all that is left].
        #[arg(long)]
        amount: Option<String>,
        /// Another manager's approval (`paydesk approve`), needed above the threshold.
        #[arg(long)]
        approval: Option<String>,
        /// The reversal key of an earlier run, to repeat that reversal instead of a new one.
        #[arg(long)]
        key: Option<String>,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Read an order's saved payment method at its gateway again, through the central (a
    /// reissued card's new expiry), and print it (PIN on stdin).
    RefreshCard {
        /// The order id.
        order: String,
        /// The operator who asks (PIN on stdin).
        #[arg(long)]
        operator: String,
        /// Read the operator's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// An operator sends a payment link for an order waiting for its customer (3-D Secure): the
    /// customer confirms with their bank on that page, and the order shows paid once the
    /// gateway says so. The link is printed once (PIN on stdin).
    SendLink {
        /// The order id.
        order: String,
        /// The operator who sends it (PIN on stdin).
        #[arg(long)]
        operator: String,
        /// Read the operator's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// An operator records that the customer of an order waiting for them was contacted (who
    /// and when are kept and audited; PIN on stdin).
    MarkContacted {
        /// The order id.
        order: String,
        /// The operator who contacted the customer (PIN on stdin).
        #[arg(long)]
        operator: String,
        /// What was said, in a few words.
        #[arg(long)]
        note: Option<String>,
        /// Read the operator's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// A manager's exception inbox: everything at the central that needs a person, and this
    /// terminal's attempts in review or of unknown outcome and parked outbox messages.
    Inbox {
        /// The manager who reads it (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// A manager decides an order from the inbox; the central applies it only when the
    /// gateway's evidence allows: mark-charged --intent pi_…, mark-not-charged (released),
    /// cancel-open-intent --intent pi_… (cancelled at the gateway, then released when nothing
    /// else can charge), or acknowledge --item ID (closes an item with no money effect).
    Resolve {
        /// The order id.
        order: String,
        /// mark-charged, mark-not-charged, cancel-open-intent or acknowledge.
        #[arg(long)]
        action: String,
        /// mark-charged: the gateway intent that charged the order; cancel-open-intent: the
        /// intent to cancel.
        #[arg(long)]
        intent: Option<String>,
        /// acknowledge: the inbox item to close (its id as `paydesk inbox --json` shows it).
        #[arg(long)]
        item: Option<String>,
        /// Why, in a few words (kept with the decision).
        #[arg(long)]
        reason: String,
        /// The manager who decides (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// A manager reads an order's evidence: the central's record beside the gateway looked up
    /// now, its open inbox items, and the decisions this evidence allows.
    Evidence {
        /// The order id.
        order: String,
        /// The manager who reads it (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// A manager reads or changes permissions and limits: which actions each role may take,
    /// each person's refund limits, the four-eyes threshold (PIN on stdin; changes audited).
    Settings {
        #[command(subcommand)]
        command: settings::SettingsCommand,
    },
    /// A second manager approves a reversal of one order for one amount; prints its id.
    Approve {
        order: String,
        #[arg(long)]
        manager: String,
        /// The amount the other manager will reverse, e.g. "150.00 EUR".
        #[arg(long)]
        amount: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// A manager's close of a UTC day: the central's totals per operator, terminal, currency
    /// and outcome, the differences with the gateway, this terminal's journal beside its rows.
    /// Exit 0 when all agree, 4 when differences are listed.
    DayClose {
        #[command(subcommand)]
        command: Option<DayCloseCommand>,
        /// The UTC day, YYYY-MM-DD [default: today].
        #[arg(long)]
        day: Option<String>,
        /// The manager who reads it (PIN on stdin).
        #[arg(long)]
        manager: Option<String>,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
        /// Also write the report as CSV to this file (`-`: stdout instead of the report).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// The central's audit log, newest first: sign-ins, wrong PINs, lockouts, refusals, claims,
    /// results, grants, reversals, sign-offs (a manager's view).
    Audit {
        /// From this time (inclusive; RFC 3339 or a UTC date).
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (exclusive); a UTC date includes that whole day.
        #[arg(long)]
        to: Option<String>,
        /// Only entries of this operator (who acted or approved).
        #[arg(long)]
        operator: Option<String>,
        /// Only entries of this kind (pin_wrong, locked, forbidden, claim_claimed, ...).
        #[arg(long)]
        kind: Option<String>,
        /// The manager who reads it (PIN on stdin).
        #[arg(long)]
        manager: String,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
        /// Write the entries as CSV to this file (`-`: stdout), cells safe from formulas.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DayCloseCommand {
    /// Sign the day off (once per day), with the PIN again.
    SignOff {
        /// The UTC day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
        #[arg(long)]
        manager: String,
        /// A note kept with the sign-off (one line).
        #[arg(long)]
        note: Option<String>,
        /// Read the manager's PIN from stdin (one line). Required.
        #[arg(long)]
        pin_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OfflineCommand {
    /// Allow charging while the central is unreachable (the manager's PIN is read from stdin).
    Allow {
        /// The manager who approves it.
        #[arg(long)]
        manager: String,
        /// No single offline charge above this, e.g. "50.00 EUR". The allowance covers this one
        /// currency: orders in another are refused offline.
        #[arg(long)]
        per_charge: String,
        /// All offline charges of this allowance together stay within this, e.g. "300.00 EUR".
        #[arg(long)]
        per_shift: String,
        /// How long the allowance lasts, in whole hours, 1 to 12.
        #[arg(long, default_value_t = 4)]
        hours: u32,
        /// Charge offline only from a cached queue at most this many minutes old: an older copy
        /// may list orders someone charged since.
        #[arg(long, default_value_t = 60)]
        cache_minutes: u32,
    },
    /// Withdraw the allowance: offline charging is blocked again.
    Block,
    /// Show the offline policy in force.
    Show,
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// List attempts, newest first.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        order: Option<String>,
        /// From this time (inclusive; RFC 3339 or a UTC date).
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (exclusive); a UTC date includes that whole day.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show an attempt and its history.
    Show { attempt: String },
    /// Export every attempt as CSV.
    Export {
        /// The file to write (`-`: stdout).
        #[arg(long)]
        csv: PathBuf,
    },
    /// Verify the hash chain and the records (exit 6 when broken).
    Verify,
    /// Per operator, day and currency [default range: today, UTC].
    Totals {
        /// From this time (inclusive; RFC 3339 or a UTC date) [default: today, or the day of
        /// --to].
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (exclusive); a UTC date includes that whole day [default: the end of
        /// today].
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SecretArg {
    /// This terminal's bearer token for the central.
    TerminalToken,
    /// The gateway's secret API key.
    GatewayKey,
    /// The PayPal app's client secret (with PAYDESK_PAYPAL_URL and PAYDESK_PAYPAL_CLIENT_ID).
    PaypalSecret,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are answers, not errors; every other parse error is bad usage
            // (clap's own code 2 would read as "declined").
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                let _ = e.print();
                return ExitCode::from(SUCCESS);
            }
            // The arguments did not parse, so `--json` is looked for by hand: a script that
            // asked for JSON gets its one document, errors included.
            if std::env::args_os().skip(1).any(|a| a == "--json") {
                let text = e.render().to_string();
                let message = text.trim().trim_start_matches("error: ");
                output::error_message(USAGE, message);
            }
            let _ = e.print();
            return ExitCode::from(USAGE);
        }
    };
    // The secrets' automation overrides are read here, never taken as flags (`ps` shows flags).
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut terminal = TerminalSettings::new(cli.keyring_service);
    terminal.data_dir = cli.data_dir;
    terminal.journal = cli.journal;
    terminal.central_url = cli.central;
    terminal.gateway_url = cli.gateway;
    terminal.terminal = cli.terminal;
    terminal.terminal_token_override = var(TERMINAL_TOKEN_ENV);
    terminal.gateway_key_override = var(GATEWAY_KEY_ENV);
    terminal.paypal_secret_override = var(paydesk_terminal::PAYPAL_SECRET_ENV);
    let settings = Settings {
        json: cli.json,
        terminal,
    };
    logging::init(cli.verbose, settings.data_dir().ok());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("paydesk: cannot start the async runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    if matches!(cli.command, Command::Stack { .. }) {
        // The stack runs until Ctrl-C; scripts wait for its URLs.
        output::print_immediately();
    }
    let result = runtime.block_on(run(&settings, cli.command));
    match result {
        Ok(code) => {
            output::finish(code);
            ExitCode::from(code)
        }
        Err(failure) => {
            if settings.json {
                output::error(&failure);
            }
            output::stop_waiting();
            eprintln!("paydesk: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(settings: &Settings, command: Command) -> CmdResult {
    match command {
        Command::Stack {
            central_port,
            gateway_port,
            central_down,
        } => setup::stack(settings, central_port, gateway_port, central_down).await,
        Command::Provision { secret } => {
            let kind = match secret {
                SecretArg::TerminalToken => SecretKind::TerminalToken,
                SecretArg::GatewayKey => SecretKind::GatewayKey,
                SecretArg::PaypalSecret => SecretKind::PaypalSecret,
            };
            setup::provision(settings, kind).await
        }
        Command::SignIn { operator } => central::sign_in(settings, &operator).await,
        Command::Queue => central::queue(settings).await,
        Command::Charge {
            order,
            operator,
            amount,
            charge_amount,
            reason,
            pin_stdin,
            confirm_similar,
        } => {
            let options = match charge::installment_options(&amount, charge_amount, reason) {
                Ok((amount, reason)) => paydesk_engine::ClaimOptions {
                    confirm_similar,
                    amount,
                    reason,
                },
                Err(failure) => return Err(failure),
            };
            charge::charge(settings, &order, &operator, &amount, pin_stdin, options).await
        }
        Command::Show { attempt } => journal::show(settings, &attempt),
        Command::Recover { operator, .. } => charge::recover(settings, operator.as_deref()).await,
        Command::Sync => charge::sync(settings).await,
        Command::Offline { command } => match command {
            OfflineCommand::Allow {
                manager,
                per_charge,
                per_shift,
                hours,
                cache_minutes,
            } => {
                central::allow_offline(
                    settings,
                    &manager,
                    &per_charge,
                    &per_shift,
                    hours,
                    cache_minutes,
                )
                .await
            }
            OfflineCommand::Block => central::block_offline(settings),
            OfflineCommand::Show => central::show_offline(settings),
        },
        Command::Outbox { command } => outbox::run(settings, command).await,
        Command::Reverse {
            order,
            manager,
            reason,
            amount,
            approval,
            key,
            pin_stdin,
        } => {
            let args = reverse::ReverseArgs {
                order: &order,
                manager: &manager,
                reason: &reason,
                amount: amount.as_deref(),
                approval: approval.as_deref(),
                key: key.as_deref(),
                pin_stdin,
            };
            reverse::reverse(settings, args).await
        }
        Command::Settings { command } => settings::run(settings, command).await,
        Command::Approve {
            order,
            manager,
            amount,
            pin_stdin,
        } => reverse::approve(settings, &order, &manager, &amount, pin_stdin).await,
        Command::Inbox { manager, pin_stdin } => inbox::inbox(settings, &manager, pin_stdin).await,
        Command::Resolve {
            order,
            action,
            intent,
            item,
            reason,
            manager,
            pin_stdin,
        } => {
            let args = inbox::ResolveArgs {
                order: &order,
                action: &action,
                intent: intent.as_deref(),
                item: item.as_deref(),
                reason: &reason,
            };
            inbox::resolve(settings, &args, &manager, pin_stdin).await
        }
        Command::Evidence {
            order,
            manager,
            pin_stdin,
        } => evidence::evidence(settings, &order, &manager, pin_stdin).await,
        Command::RefreshCard {
            order,
            operator,
            pin_stdin,
        } => card::refresh(settings, &order, &operator, pin_stdin).await,
        Command::SendLink {
            order,
            operator,
            pin_stdin,
        } => customer::send_link(settings, &order, &operator, pin_stdin).await,
        Command::MarkContacted {
            order,
            operator,
            note,
            pin_stdin,
        } => {
            customer::mark_contacted(settings, &order, &operator, note.as_deref(), pin_stdin).await
        }
        Command::DayClose {
            command:
                Some(DayCloseCommand::SignOff {
                    day,
                    manager,
                    note,
                    pin_stdin,
                }),
            ..
        } => day_close::sign_off(settings, &day, &manager, pin_stdin, note.as_deref()).await,
        Command::DayClose {
            command: None,
            day,
            manager,
            pin_stdin,
            csv,
        } => {
            day_close::report(
                settings,
                day.as_deref(),
                manager.as_deref(),
                pin_stdin,
                csv.as_deref(),
            )
            .await
        }
        Command::Audit {
            from,
            to,
            operator,
            kind,
            manager,
            pin_stdin,
            csv,
        } => {
            let args = day_close::AuditArgs {
                from: from.as_deref(),
                to: to.as_deref(),
                operator: operator.as_deref(),
                kind: kind.as_deref(),
                manager: &manager,
                pin_stdin,
                csv: csv.as_deref(),
            };
            day_close::audit(settings, args).await
        }
        Command::Journal { command } => match command {
            JournalCommand::List {
                state,
                operator,
                order,
                from,
                to,
                limit,
            } => journal::list(
                settings,
                &journal::ListArgs {
                    state,
                    operator,
                    order,
                    from,
                    to,
                    limit,
                },
            ),
            JournalCommand::Show { attempt } => journal::show(settings, &attempt),
            JournalCommand::Export { csv } => journal::export_csv(settings, &csv),
            JournalCommand::Verify => journal::verify(settings),
            JournalCommand::Totals { from, to } => {
                journal::totals(settings, from.as_deref(), to.as_deref(), SystemClock.now())
            }
        },
    }
}
