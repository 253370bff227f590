//! The schema each migration set produces, compared: `migrations/postgres` applied to a fresh
//! PostgreSQL database and `migrations/sqlite` to a fresh SQLite file, both by `Store::open` as the
//! central applies them, then read back from each catalog and reduced to the same facts.
//!
//! Compared: tables; columns (name, nullability, a type family); primary keys, unique constraints
//! and indexes (their columns in order, and uniqueness); foreign keys. Deliberately not compared:
//! defaults, CHECK constraints and index names, which the two catalogs spell too differently to
//! normalise without a SQL parser (an automatic unique index is `terminals_token_sha256_key` on
//! one side and `sqlite_autoindex_terminals_2` on the other).

use std::collections::BTreeSet;

use paydesk_central::store::Store;
use paydesk_testkit::PgDatabase;
use sqlx::{AnyPool, Row};

/// One fact about a schema, in a form both catalogs reduce to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Table(String),
    Column {
        table: String,
        column: String,
        family: String,
        nullable: bool,
    },
    /// A primary key, a unique constraint or a unique index.
    Unique {
        table: String,
        columns: String,
        primary: bool,
    },
    Index {
        table: String,
        columns: String,
    },
    ForeignKey {
        table: String,
        columns: String,
        references: String,
    },
}

/// sqlx's own bookkeeping, the same on both sides by construction.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// PostgreSQL's `data_type`, as a family. An unmapped type names itself, so it differs from
/// anything SQLite can produce and the test says which.
fn postgres_family(data_type: &str) -> String {
    match data_type {
        "bigint" | "integer" | "smallint" => "integer",
        "text" | "character varying" | "character" => "text",
        "real" | "double precision" => "real",
        "bytea" => "blob",
        "numeric" => "numeric",
        other => return format!("postgres type {other}"),
    }
    .to_string()
}

/// SQLite's declared type, as a family: its affinity rules, in the order SQLite applies them
/// (<https://sqlite.org/datatype3.html>, section 3.1).
fn sqlite_family(declared: &str) -> String {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "integer"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "text"
    } else if t.contains("BLOB") || t.is_empty() {
        "blob"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "real"
    } else {
        "numeric"
    }
    .to_string()
}

async fn postgres_schema(pool: &AnyPool) -> BTreeSet<Fact> {
    let mut facts = BTreeSet::new();
    let tables = sqlx::query(
        "SELECT table_name::text AS table_name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await
    .unwrap();
    for t in &tables {
        facts.insert(Fact::Table(t.get("table_name")));
    }
    let columns = sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         data_type::text AS data_type, is_nullable::text AS is_nullable \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await
    .unwrap();
    for c in &columns {
        facts.insert(Fact::Column {
            table: c.get("table_name"),
            column: c.get("column_name"),
            family: postgres_family(&c.get::<String, _>("data_type")),
            nullable: c.get::<String, _>("is_nullable") == "YES",
        });
    }
    // Every index with its key columns in order; constraints (primary key, UNIQUE) own one each.
    let indexes = sqlx::query(
        "SELECT t.relname::text AS table_name, ix.indisunique AS is_unique, \
         ix.indisprimary AS is_primary, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND t.relname <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await
    .unwrap();
    for i in &indexes {
        let table: String = i.get("table_name");
        let columns: String = i.get("columns");
        facts.insert(if i.get::<bool, _>("is_unique") {
            Fact::Unique {
                table,
                columns,
                primary: i.get("is_primary"),
            }
        } else {
            Fact::Index { table, columns }
        });
    }
    let keys = sqlx::query(
        "SELECT cl.relname::text AS table_name, rf.relname::text AS ref_table, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS ref_columns \
         FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_class rf ON rf.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for k in &keys {
        facts.insert(Fact::ForeignKey {
            table: k.get("table_name"),
            columns: k.get("columns"),
            references: format!(
                "{}({})",
                k.get::<String, _>("ref_table"),
                k.get::<String, _>("ref_columns")
            ),
        });
    }
    facts
}

async fn sqlite_schema(pool: &AnyPool) -> BTreeSet<Fact> {
    let mut facts = BTreeSet::new();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("name"))
    .collect();
    for table in &tables {
        facts.insert(Fact::Table(table.clone()));
        let columns = sqlx::query(
            "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1) ORDER BY pk",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut primary = Vec::new();
        for c in &columns {
            let pk: i64 = c.get("pk");
            let name: String = c.get("name");
            if pk > 0 {
                primary.push(name.clone());
            }
            facts.insert(Fact::Column {
                table: table.clone(),
                column: name,
                family: sqlite_family(&c.get::<String, _>("type")),
                // SQLite lets a non-INTEGER primary key hold NULL (a historical quirk), but the
                // central never writes one, so a key column counts as NOT NULL as in PostgreSQL.
                nullable: c.get::<i64, _>("not_null") == 0 && pk == 0,
            });
        }
        // The primary key from the columns (an INTEGER PRIMARY KEY has no index of its own).
        if !primary.is_empty() {
            facts.insert(Fact::Unique {
                table: table.clone(),
                columns: primary.join(","),
                primary: true,
            });
        }
        let indexes =
            sqlx::query("SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list($1)")
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
        for i in &indexes {
            if i.get::<String, _>("origin") == "pk" {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(i.get::<String, _>("name"))
                    .fetch_all(pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get("name"))
                    .collect();
            let columns = columns.join(",");
            facts.insert(if i.get::<i64, _>("is_unique") != 0 {
                Fact::Unique {
                    table: table.clone(),
                    columns,
                    primary: false,
                }
            } else {
                Fact::Index {
                    table: table.clone(),
                    columns,
                }
            });
        }
        let keys = sqlx::query(
            "SELECT id, \"table\" AS ref_table, \"from\" AS from_column, \"to\" AS to_column \
             FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut by_id: std::collections::BTreeMap<i64, (String, Vec<String>, Vec<String>)> =
            std::collections::BTreeMap::new();
        for k in &keys {
            let entry = by_id
                .entry(k.get("id"))
                .or_insert_with(|| (k.get("ref_table"), Vec::new(), Vec::new()));
            entry.1.push(k.get("from_column"));
            entry.2.push(k.get("to_column"));
        }
        for (ref_table, from, to) in by_id.into_values() {
            facts.insert(Fact::ForeignKey {
                table: table.clone(),
                columns: from.join(","),
                references: format!("{ref_table}({})", to.join(",")),
            });
        }
    }
    facts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_sets_produce_the_same_schema() {
    let pg = PgDatabase::create("paydesk_t").await;
    let postgres = Store::open(pg.url()).await.expect("migrate PostgreSQL");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Store::open(&dir.path().join("central.db").display().to_string())
        .await
        .expect("migrate SQLite");
    let on_postgres = postgres_schema(postgres.pool()).await;
    let on_sqlite = sqlite_schema(sqlite.pool()).await;
    postgres.close().await;
    sqlite.close().await;

    // The catalogs were really read: a column of the second migration, an explicit index, a
    // composite primary key and a foreign key, on both sides.
    let expected = [
        Fact::Column {
            table: "orders".into(),
            column: "ended_at".into(),
            family: "integer".into(),
            nullable: false,
        },
        Fact::Index {
            table: "orders".into(),
            columns: "status,order_id".into(),
        },
        Fact::Unique {
            table: "journal_heads".into(),
            columns: "terminal_id,seq".into(),
            primary: true,
        },
        Fact::ForeignKey {
            table: "intents".into(),
            columns: "order_id".into(),
            references: "orders(order_id)".into(),
        },
    ];
    for fact in &expected {
        assert!(on_postgres.contains(fact), "PostgreSQL lacks {fact:?}");
        assert!(on_sqlite.contains(fact), "SQLite lacks {fact:?}");
    }
    let only_postgres: Vec<&Fact> = on_postgres.difference(&on_sqlite).collect();
    let only_sqlite: Vec<&Fact> = on_sqlite.difference(&on_postgres).collect();
    assert!(
        only_postgres.is_empty() && only_sqlite.is_empty(),
        "migrations/postgres and migrations/sqlite produce different schemas\n\
         only on PostgreSQL: {only_postgres:#?}\nonly on SQLite: {only_sqlite:#?}"
    );
}
