//! An empty library: the system tests' helpers live beside them (`tests/system/harness.rs`), and a
//! fresh PostgreSQL database comes from `paydesk-testkit`, which the central's tests and the
//! benchmarks share.
