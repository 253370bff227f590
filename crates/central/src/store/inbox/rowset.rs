//! A batch's rows as one bound value: a JSON array of objects that a statement reads as a table
//! (`json_to_recordset` on PostgreSQL, `json_each` on SQLite). A set-based statement then has the
//! same text and one bind whatever the batch's size, so each connection prepares it once, and the
//! planner sees a small set it joins by index instead of a `VALUES` list of thousands of binds.
//!
//! Deliberately absent: what the rows mean. The callers (`writes.rs`, the inbox's reads) name the
//! columns and write the statements around the set.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::error::{CentralError, CentralResult};

/// The SQL type of a column of a row set. JSON carries text, integers and null.
#[derive(Debug, Clone, Copy)]
pub(in crate::store) enum Kind {
    Text,
    Int,
}

/// Whether `conn` talks to PostgreSQL (otherwise SQLite, the only other backend).
pub(in crate::store) fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// The FROM item `<set> AS v` that reads the JSON array bound at `param` (such as `$2`) as rows
/// with `columns`, each then named `v.<column>` by the statement around it.
pub(in crate::store) fn json_rows(postgres: bool, param: &str, columns: &[(&str, Kind)]) -> String {
    if postgres {
        let typed: Vec<String> = columns
            .iter()
            .map(|(name, kind)| {
                format!(
                    "{name} {}",
                    match kind {
                        Kind::Text => "TEXT",
                        Kind::Int => "BIGINT",
                    }
                )
            })
            .collect();
        format!(
            "json_to_recordset(CAST({param} AS JSON)) AS v({})",
            typed.join(", ")
        )
    } else {
        let picked: Vec<String> = columns
            .iter()
            .map(|(name, _)| format!("json_extract(value, '$.{name}') AS {name}"))
            .collect();
        format!(
            "(SELECT {} FROM json_each({param})) AS v",
            picked.join(", ")
        )
    }
}

/// `rows` as the JSON text bound for [`json_rows`].
pub(in crate::store) fn to_json<T: Serialize>(rows: &[T]) -> CentralResult<String> {
    serde_json::to_string(rows)
        .map_err(|e| CentralError::Corrupt(format!("a batch's rows did not serialize: {e}")))
}

/// One-column rows `{"id": …}`, the shape the inbox's look-ups by id read.
#[derive(Debug, Serialize)]
pub(in crate::store) struct Id<'a> {
    pub(in crate::store) id: &'a str,
}

/// The FROM item of one-column rows of ids ([`Id`]) bound at `param`, as `v.id`.
pub(in crate::store) fn id_rows(postgres: bool, param: &str) -> String {
    json_rows(postgres, param, &[("id", Kind::Text)])
}
