//! Test and benchmark support, never a dependency of a product crate: a fresh PostgreSQL database
//! under a unique name for one test, one system-test environment or one benchmark run, dropped
//! afterwards (by the guard, even when a test panics, or explicitly by a benchmark).
//!
//! Deliberately absent: schemas (the central's `Store` migrates its own database) and any
//! fallback when PostgreSQL is unreachable. The tests that need it fail; they never skip.

use std::fmt;

use sqlx::{Connection, PgConnection};

/// The server the development machines and CI run, with trust authentication. The database in
/// the URL only serves to connect: every user works in a database of its own.
pub const PG_ADMIN_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The URL tests use to create and drop their databases: `PAYDESK_TEST_PG`, or
/// [`PG_ADMIN_URL_DEFAULT`].
pub fn pg_admin_url() -> String {
    std::env::var("PAYDESK_TEST_PG").unwrap_or_else(|_| PG_ADMIN_URL_DEFAULT.to_string())
}

/// Why a database could not be made or dropped.
#[derive(Debug)]
pub enum PgError {
    /// Nothing answers at the admin URL, or it refused us.
    Unreachable {
        admin_url: String,
        source: sqlx::Error,
    },
    /// `CREATE DATABASE` or `DROP DATABASE` failed.
    Statement { sql: String, source: sqlx::Error },
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Unreachable { admin_url, source } => write!(
                f,
                "PostgreSQL is not reachable at {admin_url}: {source}. Start it \
                 (pg_ctlcluster <version> main start) or set PAYDESK_TEST_PG"
            ),
            PgError::Statement { sql, source } => write!(f, "{sql}: {source}"),
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgError::Unreachable { source, .. } | PgError::Statement { source, .. } => Some(source),
        }
    }
}

/// A PostgreSQL database made for one user and dropped with it.
#[derive(Debug)]
pub struct PgDatabase {
    /// The URL it was created through, kept to drop it again.
    admin_url: String,
    /// `<prefix>_<random>`: unique, so tests running in parallel never share a database.
    name: String,
    /// This database on the same server: for a store in this process or a child's `--db`.
    url: String,
    /// Set once [`PgDatabase::drop_now`] has dropped it; `Drop` then has nothing left to do.
    dropped: bool,
}

impl PgDatabase {
    /// Creates `<prefix>_<random>` through [`pg_admin_url`], or panics saying how to start
    /// PostgreSQL: for tests, where an unreachable server is a failure.
    pub async fn create(prefix: &str) -> PgDatabase {
        PgDatabase::try_create(&pg_admin_url(), prefix)
            .await
            .unwrap_or_else(|e| panic!("a fresh PostgreSQL database is required here: {e}"))
    }

    /// Creates `<prefix>_<random>` through `admin_url` and reports failure: for benchmarks,
    /// which take the URL from their command line.
    pub async fn try_create(admin_url: &str, prefix: &str) -> Result<PgDatabase, PgError> {
        // The name goes into SQL unquoted, so the prefix is a plain lower-case identifier.
        assert!(
            !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "database prefix {prefix:?} is not a plain lower-case identifier"
        );
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(admin_url).await?;
        execute(&mut admin, &format!("CREATE DATABASE {name}")).await?;
        admin.close().await.ok();
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(admin_url);
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            url: format!("{base}/{name}"),
            name,
            dropped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now and says whether that worked (a benchmark's tidy end). `FORCE`
    /// ends connections a pool still holds.
    pub async fn drop_now(mut self) -> Result<(), PgError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a test's runtime, or while a panic unwinds through one; blocking
        // on that runtime is not allowed, so the statement runs on a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                // Best effort: a database left behind is harmless, a panic in drop is not.
                let _ = runtime.block_on(drop_database(&admin_url, &name));
            }
        })
        .join();
    }
}

async fn connect(admin_url: &str) -> Result<PgConnection, PgError> {
    PgConnection::connect(admin_url)
        .await
        .map_err(|source| PgError::Unreachable {
            admin_url: admin_url.to_string(),
            source,
        })
}

async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), PgError> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map_err(|source| PgError::Statement {
            sql: sql.to_string(),
            source,
        })?;
    Ok(())
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), PgError> {
    let mut admin = connect(admin_url).await?;
    execute(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    admin.close().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard creates a database that exists while it lives and is gone after it drops.
    #[tokio::test]
    async fn a_database_lives_as_long_as_its_guard() {
        let db = PgDatabase::create("paydesk_testkit").await;
        let name = db.name().to_string();
        assert!(name.starts_with("paydesk_testkit_"));
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query("CREATE TABLE t (x BIGINT)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        drop(db);
        let mut admin = PgConnection::connect(&pg_admin_url()).await.unwrap();
        let left: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, None, "{name} is dropped with its guard");
    }
}
