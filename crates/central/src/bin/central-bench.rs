//! Benchmark of claims and results ingest (being written).

fn main() {}
