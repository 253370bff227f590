//! The `paydesk-central` command line (being written: serve, init-db, add-terminal, ...).

fn main() {}
