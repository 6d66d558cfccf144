//! Storage: diesel models and queries, kept apart from HTTP. Every call is async
//! (diesel-async over a deadpool pool), so no actix worker thread ever blocks on the database.

pub mod applications;
pub mod attachments;
pub mod audit_chain;
pub mod finance;
pub mod grants;
pub mod migrate;
pub mod models;
pub mod notices;
pub mod office;
pub mod operations;
pub mod organizations;
pub mod outbox;
pub mod prepared;
pub mod review;
pub mod rounds;
pub mod schema;
pub mod sessions;
pub mod spending;
pub mod tokens;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use diesel::result::Error as DieselError;
use diesel_async::pooled_connection::deadpool::{Hook, HookError};
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;
use prepared::PrepareExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::DatabaseSettings;

pub type DbConn = Object<AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("timed out waiting for a database connection")]
    PoolTimeout,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Diesel(#[from] DieselError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<PoolError> for StorageError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Timeout(_) => StorageError::PoolTimeout,
            PoolError::Backend(e) => StorageError::Unavailable(e.to_string()),
            other => StorageError::Unavailable(other.to_string()),
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A cheap-to-clone handle on the connection pool.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    /// Turns for transactions (`transaction_conn`), at most one per pooled connection.
    writers: Arc<Semaphore>,
    turns: usize,
    wait: Duration,
}

/// A pooled connection held with a transaction's turn (`Database::transaction_conn`): both go
/// back when it is dropped.
pub struct TransactionConn {
    conn: DbConn,
    _turn: OwnedSemaphorePermit,
}

impl std::ops::Deref for TransactionConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for TransactionConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

impl Database {
    /// Builds the pool lazily: no connection is opened until the first request needs one.
    pub fn new(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let statement_timeout = settings.statement_timeout_ms;
        let connect_timeout = settings.connect_timeout();
        let verify_idle_after = Duration::from_millis(settings.verify_idle_after_ms);
        let mut config = ManagerConfig::default();
        // diesel-async's default (`Verified`) sends `SELECT 1` on every checkout: a whole round
        // trip per request, more than the primary-key read it precedes. `Fast` still discards a
        // connection whose socket is closed or whose transaction is broken; the `post_recycle`
        // hook below verifies only connections that sat idle (a firewall or a server restart
        // may have dropped them without the socket noticing yet).
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let url = url.to_string();
            async move {
                let connect = AsyncPgConnection::establish(&url);
                let mut conn = tokio::time::timeout(connect_timeout, connect)
                    .await
                    .map_err(|_| {
                        diesel::ConnectionError::BadConnection("connect timed out".into())
                    })??;
                // Server-side cap so that no statement can hold a connection for ever.
                diesel::sql_query(format!("SET statement_timeout = {statement_timeout}"))
                    .execute(&mut conn)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            settings.url(),
            config,
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_max_size)
            .wait_timeout(Some(settings.pool_timeout()))
            .create_timeout(Some(connect_timeout + Duration::from_millis(500)))
            .recycle_timeout(Some(settings.pool_timeout()))
            .runtime(deadpool::Runtime::Tokio1)
            .post_recycle(Hook::<AsyncPgConnection>::async_fn(move |conn, metrics| {
                // `last_used` is the time since the previous checkout (the hook runs before
                // the pool stamps this one).
                let idle = metrics.last_used() > verify_idle_after;
                Box::pin(async move {
                    if idle {
                        diesel::sql_query("SELECT 1")
                            .execute(conn)
                            .await
                            .map_err(|e| HookError::message(e.to_string()))?;
                    }
                    Ok(())
                })
            }))
            .build()?;
        let turns = settings
            .write_concurrency
            .min(settings.pool_max_size)
            .max(1);
        Ok(Self {
            pool,
            writers: Arc::new(Semaphore::new(turns)),
            turns,
            wait: settings.pool_timeout(),
        })
    }

    pub async fn conn(&self) -> StorageResult<DbConn> {
        Ok(self.pool.get().await?)
    }

    /// A connection for a transaction, taken once one of `database.write_concurrency` turns is
    /// free, so that plain reads keep the rest of the pool. Where the CPU, not the commit flush,
    /// bounds writes, fewer writers at once shorten their tail (docs/PERFORMANCE.md). The wait
    /// for a turn, like the wait for the connection after it, lasts at most `pool_timeout_ms`.
    pub async fn transaction_conn(&self) -> StorageResult<TransactionConn> {
        // A free turn is taken without a timer; only a wait for one is bounded. (The semaphore
        // is never closed, so a failed try means none is free.)
        let turn = match self.writers.clone().try_acquire_owned() {
            Ok(turn) => turn,
            Err(_) => tokio::time::timeout(self.wait, self.writers.clone().acquire_owned())
                .await
                .map_err(|_| StorageError::PoolTimeout)?
                .map_err(|e| StorageError::Unavailable(e.to_string()))?,
        };
        let conn = self.pool.get().await?;
        Ok(TransactionConn { conn, _turn: turn })
    }

    /// The pool's size, idle connections and waiters (for `/metrics`).
    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// Transaction turns (`transaction_conn`) taken and in all (for `/metrics`).
    pub fn turns(&self) -> (usize, usize) {
        let free = self.writers.available_permits();
        (self.turns.saturating_sub(free), self.turns)
    }

    /// Readiness: can we get a connection and run a trivial query?
    pub async fn ping(&self) -> StorageResult<()> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

/// Which rows a caller may see, decided by the auth layer and applied inside each query, so
/// that another organization's row is simply not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Organization(uuid::Uuid),
    /// A reviewer: the applications assigned to it (and not recused).
    Assigned(uuid::Uuid),
    Nothing,
}

/// Appends an audit event inside the caller's transaction.
// Borrows `conn` shared: it can be pipelined with other statements.
pub fn audit<'c, 'e>(
    mut conn: &'c AsyncPgConnection,
    event: &'e models::AuditEventInsertForm,
) -> impl std::future::Future<Output = StorageResult<()>> + Send + use<'c, 'e> {
    // Prepared: the form's four optional fields give at most sixteen texts (a few in practice).
    let q = diesel::insert_into(schema::audit_events::table)
        .values(event)
        .prepared()
        .execute(&mut conn);
    async move {
        q.await?;
        Ok(())
    }
}
