//! Embedded migrations, applied through diesel's sync harness on a blocking thread
//! (the harness is synchronous; `AsyncConnectionWrapper` lets it use the async driver).

use anyhow::Context;
use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies pending migrations; returns the names of those applied.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_string();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
                .context("connecting to run migrations")?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
        Ok(applied.iter().map(|m| m.to_string()).collect())
    })
    .await?
}

/// Splits `postgres://.../name?x` into the server URL (on the `postgres` database) and `name`.
pub fn split_database_url(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (server, name) = base
        .rsplit_once('/')
        .filter(|(server, name)| {
            server.contains("://") && !server.ends_with('/') && !name.is_empty()
        })
        .context("DATABASE_URL must name a database, e.g. postgres://user@host:5432/gongyi")?;
    let mut maintenance = format!("{server}/postgres");
    if let Some(q) = query {
        maintenance.push('?');
        maintenance.push_str(q);
    }
    Ok((maintenance, name.to_string()))
}

/// Creates the database named in the URL when it does not exist yet.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<bool> {
    let (maintenance, name) = split_database_url(database_url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance)
        .await
        .with_context(|| "connecting to the server's `postgres` database".to_string())?;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(format!("CREATE DATABASE {quoted}"))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Another process created it at the same moment: fine.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) if e.to_string().contains("already exists") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::split_database_url;

    #[test]
    fn splits_server_and_name() {
        let (m, n) = split_database_url("postgres://u@h:5432/gongyi").unwrap();
        assert_eq!(m, "postgres://u@h:5432/postgres");
        assert_eq!(n, "gongyi");
        let (m, n) = split_database_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(m, "postgres://u@h/postgres?sslmode=disable");
        assert_eq!(n, "db");
        assert!(split_database_url("postgres://u@h:5432").is_err());
    }
}
