//! Where the command line's logs go: `paydesk.log` in the data directory (0600, appended) by
//! default, so an operator's terminal shows only the command's own words; stderr with `-v`
//! (`-vv`: debug). Colours only on a terminal. `RUST_LOG` overrides the level.
//!
//! Deliberately absent: creating the data directory (a wrong `--data-dir` must be reported by
//! the command, not made), and secrets — the crates never log one.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal as _, Write};
use std::path::PathBuf;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The log file's name in the data directory.
pub const LOG_FILE: &str = "paydesk.log";

/// What is logged unless `RUST_LOG` says otherwise: warnings, and what the embedded stack does.
const FILTER_DEFAULT: &str = "warn,paydesk_stack=info";
/// `-v`: everything Paydesk's crates say at info.
const FILTER_VERBOSE: &str = "info";
/// `-vv`: debug detail.
const FILTER_DEBUG: &str = "debug,hyper=info,h2=info,sqlx=info,reqwest=info,rustls=info";

/// Sets the process's log destination once, before any command runs.
pub fn init(verbose: u8, data_dir: Option<PathBuf>) {
    let default = match verbose {
        0 => FILTER_DEFAULT,
        1 => FILTER_VERBOSE,
        _ => FILTER_DEBUG,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    if verbose > 0 {
        tracing_subscriber::fmt()
            .with_writer(io::stderr)
            .with_ansi(io::stderr().is_terminal())
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(LogFile {
                path: data_dir.map(|d| d.join(LOG_FILE)),
            })
            .with_ansi(false)
            .with_env_filter(filter)
            .init();
    }
}

/// The log file, opened for each record: the data directory may only appear during the command
/// (`paydesk stack` creates it), and a record that cannot be written is dropped rather than
/// shown to the operator.
struct LogFile {
    path: Option<PathBuf>,
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = Box<dyn Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        match self.path.as_deref().and_then(|p| open_private(p).ok()) {
            Some(file) => Box::new(file),
            None => Box::new(io::sink()),
        }
    }
}

/// Opens `path` for appending, created 0600: logs name orders, operators and errors, which are
/// nobody else's business on a shared machine.
fn open_private(path: &std::path::Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}
