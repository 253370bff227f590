//! Mechanical checks of ARCHITECTURE.md's invariants (rust-analyzer's "tidy"): which package may
//! depend on `tauri`, on SQLite and on I/O, that every source file opens with a `//!` line, and
//! that no source file outgrows one reader's attention.
//!
//! Reads `cargo metadata` and the files git tracks, nothing else. Deliberately absent: product
//! code, and anything clippy checks better (the core's and the journal's ban on reading the clock
//! is `disallowed-methods` in their `clippy.toml`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The longest `.rs` file, in lines: past this a file holds more than one concern and is split
/// along its seams (an `impl` may be spread across files). Every tracked `.rs` file is written by
/// hand; nothing generated is committed.
const RS_FILE_LINES_MAX: usize = 900;

/// Files allowed past [`RS_FILE_LINES_MAX`], each with its reason. Keep it short and honest: an
/// entry is a debt, and the test fails when a listed file no longer needs its entry.
const LONG_FILES: &[(&str, &str)] = &[];

/// The only package that may depend on `tauri` or a `tauri-*` crate: the desktop shell.
const TAURI_PACKAGE: &str = "paydesk-desktop";

/// The only packages whose own code opens SQLite: the terminal's journal and the central's store.
///
/// Checked on direct dependencies, on purpose: `paydesk-stack` (and the desktop and the command
/// line through it) links `paydesk-central` because the embedded default runs the central on
/// SQLite, and that database is opened by the central crate's code, not the stack's.
const SQLITE_PACKAGES: &[&str] = &["paydesk-journal", "paydesk-central"];

/// Crates that do I/O; the pure core must not reach any of them, even through another crate.
const IO_CRATES: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// `cargo metadata` for the workspace, with the resolved dependency graph.
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// One dependency as a workspace package declares it.
#[derive(Debug)]
struct Dependency {
    package: String,
    name: String,
    /// `normal`, `dev` or `build`.
    kind: String,
    features: Vec<String>,
}

/// Every dependency declared by a workspace package.
fn declared_dependencies(meta: &Value) -> Vec<Dependency> {
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let mut out = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        if !members.contains(package["id"].as_str().unwrap()) {
            continue;
        }
        for dep in package["dependencies"].as_array().unwrap() {
            out.push(Dependency {
                package: package["name"].as_str().unwrap().to_string(),
                name: dep["name"].as_str().unwrap().to_string(),
                kind: dep["kind"].as_str().unwrap_or("normal").to_string(),
                features: dep["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect(),
            });
        }
    }
    assert!(
        out.iter()
            .any(|d| d.package == TAURI_PACKAGE && d.name == "tauri"),
        "the metadata lists no tauri dependency of {TAURI_PACKAGE}: is this the right workspace?"
    );
    out
}

/// The names of every crate `package` reaches through normal dependencies, on any platform.
fn normal_closure(meta: &Value, package: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {package} in the metadata"));
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(dep_id) {
                todo.push(dep_id);
            }
        }
    }
    seen.into_iter().map(|id| names[id].to_string()).collect()
}

/// The `.rs` files git tracks under the product's and the tests' folders, as paths from the
/// workspace root (files deleted in the working tree are skipped).
fn tracked_rs_files() -> Vec<String> {
    let root = workspace_root();
    let output = Command::new("git")
        .args([
            "ls-files",
            "--",
            "crates/*.rs",
            "src-tauri/*.rs",
            "tests/*.rs",
        ])
        .current_dir(&root)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|path| root.join(path).is_file())
        .map(str::to_string)
        .collect();
    assert!(
        files.iter().any(|f| f == "crates/core/src/lib.rs"),
        "git lists no tracked sources: is this a checkout?"
    );
    files
}

#[test]
fn only_the_desktop_shell_depends_on_tauri() {
    let offenders: Vec<String> = declared_dependencies(&metadata())
        .into_iter()
        .filter(|d| d.package != TAURI_PACKAGE)
        .filter(|d| d.name == "tauri" || d.name.starts_with("tauri-"))
        .map(|d| format!("{} ({} dependency {})", d.package, d.kind, d.name))
        .collect();
    assert!(
        offenders.is_empty(),
        "only {TAURI_PACKAGE} may depend on tauri; also found: {offenders:#?}"
    );
}

/// Tests may open the product's files to check them (dev-dependencies); product code may not.
#[test]
fn only_the_journal_and_the_central_open_sqlite() {
    let offenders: Vec<String> = declared_dependencies(&metadata())
        .into_iter()
        .filter(|d| d.kind != "dev" && !SQLITE_PACKAGES.contains(&d.package.as_str()))
        .filter(|d| {
            matches!(d.name.as_str(), "rusqlite" | "libsqlite3-sys")
                || (d.name == "sqlx" && d.features.iter().any(|f| f.starts_with("sqlite")))
                || d.name == "sqlx-sqlite"
        })
        .map(|d| format!("{} ({} dependency {})", d.package, d.kind, d.name))
        .collect();
    assert!(
        offenders.is_empty(),
        "only {SQLITE_PACKAGES:?} may depend on SQLite; also found: {offenders:#?}"
    );
}

#[test]
fn the_core_reaches_nothing_that_does_io() {
    let closure = normal_closure(&metadata(), "paydesk-core");
    let reached: Vec<&&str> = IO_CRATES
        .iter()
        .filter(|name| closure.contains(**name))
        .collect();
    assert!(
        reached.is_empty(),
        "paydesk-core is pure, yet its dependencies reach {reached:?}"
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let root = workspace_root();
    let missing: Vec<String> = tracked_rs_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(root.join(path)).unwrap();
            !text.starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "each file opens with a `//!` line saying its purpose and what it deliberately does not \
         do; these do not: {missing:#?}"
    );
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let root = workspace_root();
    let mut long = Vec::new();
    let mut listed_but_short = Vec::new();
    for path in tracked_rs_files() {
        let lines = std::fs::read_to_string(root.join(&path))
            .unwrap()
            .lines()
            .count();
        let listed = LONG_FILES.iter().any(|(p, _)| *p == path);
        if lines > RS_FILE_LINES_MAX && !listed {
            long.push(format!("{path}: {lines} lines"));
        }
        if lines <= RS_FILE_LINES_MAX && listed {
            listed_but_short.push(path);
        }
    }
    assert!(
        long.is_empty(),
        "split these along their seams (at most {RS_FILE_LINES_MAX} lines a file): {long:#?}"
    );
    assert!(
        listed_but_short.is_empty(),
        "these fit now; take them off LONG_FILES: {listed_but_short:#?}"
    );
}
