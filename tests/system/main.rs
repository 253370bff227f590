//! System tests across real processes: the central (`paydesk-central serve`) on a fresh
//! PostgreSQL database, the sandbox gateway (`paydesk-sandbox`), and `paydesk` as the terminals,
//! each started as a child and checked against ground truth after every fault (invariants I1–I7).
//!
//! Needs the built binaries beside this test (`cargo build --bins`, or `cargo test --workspace`)
//! and PostgreSQL at `PAYDESK_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! without either every test fails with a message saying so. Deliberately absent: product code
//! linked into the tests — they see the product only through its processes and wire formats.

mod central_down;
mod crash_matrix;
mod faults;
mod harness;
mod installments;
mod integrity;
mod invariants;
mod multi_central;
mod offline;
mod offline_chaos;
mod offline_crash;
mod race;
mod stored_errors;
mod takeover;
