//! Integration tests: every behaviour of the sandbox checked through real HTTP against `spawn`
//! on a free port, the way the connectors and system tests will use it.

mod common;

mod sandbox {
    mod authenticate;
    mod calls;
    mod compat;
    mod faults;
    mod idempotency;
    mod keys;
    mod payments;
    mod persistence;
    mod webhooks;
}
