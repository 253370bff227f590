//! Shared helpers for the system tests live in the test files for now.
