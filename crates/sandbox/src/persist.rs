//! The sandbox's state on disk, so that a restart forgets nothing a client was told.
//!
//! With a state directory the whole account (intents, charges, refunds, events), the idempotency
//! keys with their stored answers and usage, and the clock offset live in one JSON file,
//! `sandbox-state.json`, loaded at start. The server writes it after every change a client could
//! observe and before that request is answered: a fresh file (mode 0600) under a new name,
//! fsynced, renamed over the old one, then the directory fsynced. A crash before the write loses
//! only a request nobody got an answer to, which is what a real gateway that never received it
//! would look like; keys still in flight are not saved, so a retry runs afresh.
//!
//! Every change rewrites the whole file: the demo's state is small, and correctness comes first.
//! Faults, search lag and webhook settings are configuration, given at each start, not state.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::idempotency::IdempotencyStore;
use crate::server::{Shared, World};
use crate::store::Store;

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "sandbox-state.json";
/// The state file's format; a file of another version is refused, never guessed at.
pub const STATE_VERSION: u32 = 1;

/// What is saved: everything in [`crate::server::World`] that is not configuration.
#[derive(Debug, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub store: Store,
    pub idempotency: IdempotencyStore,
    pub clock_offset_ms: i64,
}

/// The same, borrowed from the running world for writing.
#[derive(Debug, Serialize)]
pub struct SnapshotRef<'a> {
    pub version: u32,
    pub store: &'a Store,
    pub idempotency: &'a IdempotencyStore,
    pub clock_offset_ms: i64,
}

/// The state file of one sandbox, and the order of its writes.
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
    path: PathBuf,
    written: Mutex<Written>,
}

#[derive(Debug, Default)]
struct Written {
    /// The sequence number of the newest snapshot written; an older one is never written over it.
    seq: u64,
    /// Set at shutdown: an operation still running then (its client long gone) writes nothing,
    /// as if the process had stopped, and cannot overwrite a newer sandbox's file.
    closed: bool,
}

impl StateFile {
    /// Creates the directory if it is missing (0700) and reads the state file, if there is one.
    pub fn open(dir: &Path) -> Result<(StateFile, Option<Snapshot>), String> {
        create_private_dir(dir)
            .map_err(|e| format!("cannot create the state directory {}: {e}", dir.display()))?;
        let path = dir.join(STATE_FILE);
        let snapshot = match fs::read(&path) {
            Ok(bytes) => {
                let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "the state file {} is not valid sandbox state ({e}); move it away to \
                         start with an empty sandbox",
                        path.display()
                    )
                })?;
                if snapshot.version != STATE_VERSION {
                    return Err(format!(
                        "the state file {} has version {}, this sandbox reads version \
                         {STATE_VERSION}; move it away to start with an empty sandbox",
                        path.display(),
                        snapshot.version
                    ));
                }
                Some(snapshot)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(format!(
                    "cannot read the state file {}: {e}",
                    path.display()
                ))
            }
        };
        let file = StateFile {
            dir: dir.to_path_buf(),
            path,
            written: Mutex::new(Written::default()),
        };
        Ok((file, snapshot))
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether snapshot number `seq` (or a newer one) is already on disk.
    pub fn holds(&self, seq: u64) -> bool {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).seq >= seq
    }

    /// Stops all writes; a write in progress finishes first.
    pub fn close(&self) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
    }

    /// Writes snapshot number `seq` (serialized as `bytes`) unless a newer one is already on
    /// disk, which then holds this one's changes too.
    pub fn write(&self, seq: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if written.closed {
            return Err(std::io::Error::other("the sandbox has stopped"));
        }
        if written.seq >= seq {
            return Ok(());
        }
        let tmp = self.dir.join(format!(
            ".{STATE_FILE}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let result = write_new_private(&tmp, bytes)
            .and_then(|()| fs::rename(&tmp, &self.path))
            .and_then(|()| File::open(&self.dir)?.sync_all());
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        written.seq = seq;
        Ok(())
    }
}

fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl Shared {
    /// Counts a change to the saved state. Call it with the world locked, after the change.
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// Writes the state file if the state changed since it was last written. Call it before
    /// answering anyone about a change: an answer a client saw is then never forgotten. Without
    /// a state directory this does nothing.
    pub async fn save(&self) -> Result<(), String> {
        let Some(state) = self.state.clone() else {
            return Ok(());
        };
        let (seq, bytes) = {
            let w = self.lock();
            let seq = self.changes.load(Ordering::SeqCst);
            if state.holds(seq) {
                return Ok(());
            }
            let snapshot = SnapshotRef {
                version: STATE_VERSION,
                store: &w.store,
                idempotency: &w.idempotency,
                clock_offset_ms: w.clock_offset_ms,
            };
            let bytes = serde_json::to_vec(&snapshot)
                .map_err(|e| format!("cannot serialize the sandbox state: {e}"))?;
            (seq, bytes)
        };
        let path = state.path().display().to_string();
        tokio::task::spawn_blocking(move || state.write(seq, &bytes))
            .await
            .map_err(|e| format!("the state writer failed: {e}"))?
            .map_err(|e| {
                let message = format!("cannot write the sandbox state to {path}: {e}");
                tracing::error!("{message}");
                message
            })
    }
}

impl World {
    /// Takes over a saved state: the account, the keys (none in flight) and the clock offset.
    pub fn restore(&mut self, snapshot: Snapshot) {
        let webhooks_enabled = self.store.webhooks_enabled;
        let public_url = std::mem::take(&mut self.store.public_url);
        self.store = snapshot.store;
        self.store.webhooks_enabled = webhooks_enabled;
        self.store.public_url = public_url;
        self.idempotency = snapshot.idempotency;
        self.idempotency.forget_in_flight();
        self.clock_offset_ms = snapshot.clock_offset_ms;
    }
}
