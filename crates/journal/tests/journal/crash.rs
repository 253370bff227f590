//! Crash tests that really stop a process. The test binary re-runs itself as a child (the test
//! `crash::child_process`, told what to do by an environment variable); the child writes to a
//! journal and aborts at a commit point, or is killed with SIGKILL while writing in a loop. The
//! parent then reopens the journal: it verifies, every committed record is there, and nothing
//! uncommitted is. The child notes its progress in a side file, one line per returned write.

use std::fs;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paydesk_core::{AttemptEvent, AttemptState};
use paydesk_journal::{CrashPoint, Journal, JournalError};

use crate::*;

/// Names the scenario the child runs; unset in the normal test run.
const CHILD_ENV: &str = "PAYDESK_JOURNAL_CRASH_CHILD";
/// The folder of the journal and the progress file.
const DIR_ENV: &str = "PAYDESK_JOURNAL_CRASH_DIR";
/// How long the parent waits for a child before declaring the test hung.
const CHILD_WAIT_MS_MAX: u64 = 60_000;
/// Upper bound on the writing loop, so a child the parent forgot to kill still ends.
const LOOP_ATTEMPTS_MAX: u64 = 20_000;

const SIGABRT: i32 = 6;
const SIGKILL: i32 = 9;

fn journal_path(dir: &Path) -> PathBuf {
    dir.join("journal.sqlite")
}

fn progress_path(dir: &Path) -> PathBuf {
    dir.join("progress.log")
}

/// Appends one line to the progress file. Each line is one `write(2)`: it survives the
/// process being killed right after (the page cache belongs to the kernel, not the process).
fn note(dir: &Path, line: &str) {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(progress_path(dir))
        .unwrap();
    file.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn progress(dir: &Path) -> Vec<String> {
    fs::read_to_string(progress_path(dir))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn point_name(point: CrashPoint) -> &'static str {
    match point {
        CrashPoint::AfterStateWrite => "after_state_write",
        CrashPoint::BeforeCommit => "before_commit",
        CrashPoint::AfterCommit => "after_commit",
    }
}

/// The one attempt of the commit-point scenarios.
fn the_attempt() -> paydesk_core::NewAttempt {
    new_attempt("order-1", "alice", 4200, "EUR", T0, 1)
}

// ---- the child ------------------------------------------------------------------------------

/// The child's entry point; does nothing in the normal test run.
#[test]
fn child_process() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    match scenario.split_once(':') {
        Some((stage, point)) => crash_at_point(&dir, stage, point),
        None if scenario == "loop" => write_until_killed(&dir),
        None if scenario == "open" => match Journal::open(&journal_path(&dir)) {
            Ok(_) => note(&dir, "opened"),
            Err(e @ JournalError::Locked { .. }) => note(&dir, &format!("locked: {e}")),
            Err(e) => note(&dir, &format!("error: {e}")),
        },
        _ => panic!("unknown scenario {scenario}"),
    }
}

/// Runs the writes before `stage`, then aborts at `point` inside the write of `stage`.
fn crash_at_point(dir: &Path, stage: &str, point: &str) {
    let mut journal = Journal::open(&journal_path(dir)).unwrap();
    let id = the_attempt().id;
    let prefix = match stage {
        "begin" => None,
        "step" | "merged" => Some(vec![]),
        "result" => Some(to_confirm_sent("pi_1")),
        _ => panic!("unknown stage {stage}"),
    };
    if let Some(events) = &prefix {
        run(&mut journal, the_attempt(), T0, events);
    }
    note(dir, "prefix committed");

    let dir_for_hook = dir.to_path_buf();
    let point = point.to_string();
    // Inside the merged commit, the row of its last event: the two before it are written too.
    let mut skip: u32 = if stage == "merged" && point == "after_state_write" {
        2
    } else {
        0
    };
    journal.set_crash_hook(Some(Box::new(move |at| {
        if point_name(at) != point {
            return;
        }
        if skip > 0 {
            skip -= 1;
        } else {
            note(&dir_for_hook, &format!("crash:{point}"));
            std::process::abort();
        }
    })));
    let now = ts(T0 + 100);
    match stage {
        "begin" => drop(journal.begin_attempt(the_attempt(), now)),
        "step" => drop(journal.apply(&id, &created("pi_1"), now)),
        "merged" => {
            let events: Vec<_> = to_confirm_sent("pi_1")
                .into_iter()
                .map(|e| (e, now))
                .collect();
            drop(journal.apply_all(&id, &events))
        }
        _ => drop(journal.apply(&id, &succeeded(), now)),
    }
    note(
        dir,
        "the final write returned: the crash point was never reached",
    );
}

/// Writes whole charges, one transaction per step, noting the chain head after each write
/// returns, until the parent kills the process.
fn write_until_killed(dir: &Path) {
    let mut journal = Journal::open(&journal_path(dir)).unwrap();
    for i in 0..LOOP_ATTEMPTS_MAX {
        let at = T0 + 10 * i as i64;
        let new = new_attempt(&format!("order-{i}"), "alice", 100, "EUR", at, i);
        let id = new.id;
        journal.begin_attempt(new, ts(at)).unwrap();
        note(dir, &journal.head().unwrap().0.to_string());
        let events: Vec<_> = to_confirm_sent(&format!("pi_{i}"))
            .into_iter()
            .chain([succeeded()])
            .collect();
        for (k, event) in events.iter().enumerate() {
            journal.apply(&id, event, ts(at + 1 + k as i64)).unwrap();
            note(dir, &journal.head().unwrap().0.to_string());
        }
    }
}

// ---- the parent -----------------------------------------------------------------------------

fn spawn(dir: &Path, scenario: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, scenario)
        .env(DIR_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(child: Child) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `stage:point` in a child and returns the folder with the journal it left behind.
fn crashed(stage: &str, point: CrashPoint) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr) = wait(spawn(dir.path(), &format!("{stage}:{}", point_name(point))));
    let lines = progress(dir.path());
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("crash:{}", point_name(point)).as_str()),
        "the child must stop at the crash point; progress {lines:?}, stderr:\n{stderr}"
    );
    assert_eq!(status.signal(), Some(SIGABRT), "{status:?}");
    dir
}

/// What the reopened journal holds: (state of the attempt, its event count, outbox depth).
fn reopened(dir: &Path) -> (Journal, Option<AttemptState>, usize, i64) {
    let journal = Journal::open(&journal_path(dir)).expect("the lock died with the child");
    let report = journal.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    let id = the_attempt().id;
    let attempt = journal.attempt(&id).unwrap();
    let events = if attempt.is_some() {
        journal.timeline(&id).unwrap().len()
    } else {
        0
    };
    assert_eq!(journal.head().unwrap().0, events as i64);
    let depth = journal.outbox_stats(ts(T0)).unwrap().depth;
    (journal, attempt.map(|a| a.state), events, depth)
}

#[test]
fn a_crash_before_the_first_commit_leaves_no_attempt() {
    for point in [CrashPoint::AfterStateWrite, CrashPoint::BeforeCommit] {
        let dir = crashed("begin", point);
        let (mut journal, state, events, _) = reopened(dir.path());
        assert_eq!((state, events), (None, 0), "{point:?}");
        assert_eq!(journal.head().unwrap(), (0, "0".repeat(64)));
        // Recovery begins the attempt again; nothing stands in the way.
        journal.begin_attempt(the_attempt(), ts(T0 + 200)).unwrap();
        assert!(journal.verify().unwrap().is_intact());
    }
}

#[test]
fn a_crash_after_the_first_commit_keeps_the_attempt() {
    let dir = crashed("begin", CrashPoint::AfterCommit);
    let (_journal, state, events, _) = reopened(dir.path());
    assert_eq!((state, events), (Some(AttemptState::Intent), 1));
}

#[test]
fn a_crash_inside_a_step_keeps_the_previous_state_whole() {
    for point in [CrashPoint::AfterStateWrite, CrashPoint::BeforeCommit] {
        let dir = crashed("step", point);
        let (mut journal, state, events, _) = reopened(dir.path());
        assert_eq!(
            (state, events),
            (Some(AttemptState::Intent), 1),
            "{point:?}"
        );
        // The same step, re-done from the durable state, goes through.
        journal
            .apply(&the_attempt().id, &created("pi_1"), ts(T0 + 200))
            .unwrap();
        assert!(journal.verify().unwrap().is_intact());
    }
}

#[test]
fn a_crash_after_a_step_commits_keeps_the_step() {
    let dir = crashed("step", CrashPoint::AfterCommit);
    let (_journal, state, events, _) = reopened(dir.path());
    assert_eq!((state, events), (Some(AttemptState::Created), 2));
}

/// Issue 14, item 2: "created", "registered" and "confirm sent" in one commit — all of them or
/// none, whichever write of the transaction the crash comes in.
#[test]
fn a_crash_inside_a_merged_commit_keeps_none_of_its_steps() {
    for point in [CrashPoint::AfterStateWrite, CrashPoint::BeforeCommit] {
        let dir = crashed("merged", point);
        let (mut journal, state, events, depth) = reopened(dir.path());
        assert_eq!(
            (state, events, depth),
            (Some(AttemptState::Intent), 1, 0),
            "{point:?}"
        );
        // Recovery re-does the steps from the durable state, in one commit again.
        let now = ts(T0 + 200);
        let steps: Vec<_> = to_confirm_sent("pi_1")
            .into_iter()
            .map(|e| (e, now))
            .collect();
        let done = journal.apply_all(&the_attempt().id, &steps).unwrap();
        assert_eq!(done.last().unwrap().0.state, AttemptState::ConfirmSent);
        assert!(journal.verify().unwrap().is_intact());
    }
}

#[test]
fn a_crash_after_a_merged_commit_keeps_all_of_its_steps_as_separate_events() {
    let dir = crashed("merged", CrashPoint::AfterCommit);
    let (journal, state, events, _) = reopened(dir.path());
    assert_eq!((state, events), (Some(AttemptState::ConfirmSent), 4));
    let kinds: Vec<String> = journal
        .timeline(&the_attempt().id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "begun",
            "create_answered",
            "register_answered",
            "confirm_begun"
        ]
    );
}

#[test]
fn a_refused_event_in_a_merged_commit_writes_none_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&journal_path(dir.path())).unwrap();
    let id = run(&mut journal, the_attempt(), T0, &[]);
    let now = ts(T0 + 100);
    // "confirm begun" right after "created" skips the registration: the core refuses it.
    let refused = journal.apply_all(
        &id,
        &[(created("pi_1"), now), (AttemptEvent::ConfirmBegun, now)],
    );
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        journal.attempt(&id).unwrap().unwrap().state,
        AttemptState::Intent
    );
    assert_eq!(journal.timeline(&id).unwrap().len(), 1);
    assert!(
        journal.apply_all(&id, &[]).is_err(),
        "an empty list is refused"
    );
    assert!(journal.verify().unwrap().is_intact());
}

#[test]
fn a_crash_inside_the_result_step_writes_neither_the_state_nor_the_message() {
    for point in [CrashPoint::AfterStateWrite, CrashPoint::BeforeCommit] {
        let dir = crashed("result", point);
        let (journal, state, events, depth) = reopened(dir.path());
        assert_eq!(
            (state, events, depth),
            (Some(AttemptState::ConfirmSent), 4, 0),
            "{point:?}"
        );
        assert!(journal.outbox_due(ts(T0 + 1_000), 10).unwrap().is_empty());
    }
}

#[test]
fn a_crash_after_the_result_commits_keeps_the_state_and_the_message() {
    let dir = crashed("result", CrashPoint::AfterCommit);
    let (journal, state, events, depth) = reopened(dir.path());
    assert_eq!(
        (state, events, depth),
        (Some(AttemptState::Succeeded), 5, 1)
    );
    let message = &journal.outbox_due(ts(T0 + 1_000), 10).unwrap()[0];
    assert_eq!(message.attempt_id, the_attempt().id);
    assert_eq!(message.payload["state"], "succeeded");
}

#[test]
fn a_writer_killed_mid_stream_loses_nothing_committed_and_keeps_nothing_uncommitted() {
    for noted_before_kill in [1, 40, 300] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn(dir.path(), "loop");
        // A deadline for the child process in real time: the journal's clippy.toml forbids clock
        // reads in the journal, and this test only bounds how long it waits.
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        while progress(dir.path()).len() < noted_before_kill {
            assert!(
                started.elapsed() < Duration::from_millis(CHILD_WAIT_MS_MAX),
                "the child never wrote {noted_before_kill} records"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child ended by itself: {status:?}\n{}", wait(child).1);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        let (status, _) = wait(child);
        assert_eq!(status.signal(), Some(SIGKILL), "{status:?}");

        let noted: Vec<i64> = progress(dir.path())
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        let last_noted = *noted.last().unwrap();
        assert!(
            noted.windows(2).all(|w| w[1] == w[0] + 1),
            "one note per committed write"
        );

        let journal = Journal::open(&journal_path(dir.path())).unwrap();
        let report = journal.verify().unwrap();
        assert!(report.is_intact(), "{report:?}");
        let (head, _) = journal.head().unwrap();
        // Every write the child saw return is there; at most the one it was in the middle of
        // (committed, not yet noted) is there besides.
        assert!(
            head == last_noted || head == last_noted + 1,
            "head {head}, last noted {last_noted} (killed after {noted_before_kill} notes)"
        );
        assert_eq!(report.events, head);
    }
}

#[test]
fn another_process_cannot_open_a_journal_that_is_open_here() {
    let f = fixture();
    let (status, stderr) = wait(spawn(f.dir.path(), "open"));
    assert!(status.success(), "{stderr}");
    let lines = progress(f.dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("locked: "), "{lines:?}");
    assert!(
        lines[0].contains(&f.path.display().to_string()),
        "{lines:?}"
    );
    assert!(
        lines[0].contains(&format!("process {}", std::process::id())),
        "{lines:?}"
    );

    drop(f.journal);
    let (status, stderr) = wait(spawn(f.dir.path(), "open"));
    assert!(status.success(), "{stderr}");
    assert_eq!(
        progress(f.dir.path()).last().map(String::as_str),
        Some("opened")
    );
}
