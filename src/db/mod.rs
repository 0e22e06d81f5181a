//! The database: one connection type over SQLite and PostgreSQL, its pool, migrations,
//! the write transaction, and the queries per table. Nothing above this module names an
//! engine, a row or a column; the queries run inside the caller's transaction.

pub mod approvals;
pub mod audit;
pub mod certificates;
pub mod challenges;
pub mod companies;
pub mod invariants;
pub mod lockout;
mod models;
pub mod operators;
pub mod outbox;
mod prepared;
pub mod procedures;
pub mod schema;
pub mod sessions;
pub mod soft_tokens;
pub mod transfers;
pub mod users;
mod wal;
pub mod webhooks;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub(crate) use prepared::prepared_update;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever engine the URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// A pooled connection and when it was opened or last probed.
pub struct Pooled {
    conn: DbConn,
    /// `None`: to be probed at its next checkout.
    alive_at: Option<Instant>,
}

/// A connection opened or probed this recently is lent without a `SELECT 1` first: under
/// load a probe per checkout costs as much as a query. One whose use case failed is
/// probed at its next checkout (`Db::suspect`).
const ALIVE_BYPASS: Duration = Duration::from_millis(500);

/// The engine, chosen by the URL's explicit scheme — never by trial, so a typo is an error
/// and not a new empty SQLite file.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://<path> or postgres://user:password@host/db (postgresql:// also works)"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("cannot create the database file: {0}")]
    File(String),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::PoolError),
}

/// A PostgreSQL URL carries its password: `Debug` shows it redacted.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

impl Database {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(with_connect_timeout(url)));
        }
        Err(DbError::UnsupportedUrl(redact_url(url)))
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Connects once with the concrete type, so a wrong host or password fails with the
    /// database's own message (a pool would only say it timed out).
    pub fn connect(&self) -> Result<DbConn, DbError> {
        match self {
            Database::Postgres(url) => Ok(DbConn::Postgres(diesel::PgConnection::establish(url)?)),
            Database::Sqlite(path) => {
                // A missing directory is a configuration mistake, not something to create.
                private_file(path)?;
                let url = path.to_string_lossy();
                let mut conn = diesel::SqliteConnection::establish(&url)?;
                // FULL: a confirmation answered 200 survives a power cut. SQLite creates
                // its WAL with the database file's (private) permissions. A small page
                // cache: SQLite empties it whenever another connection wrote, which under
                // load is before nearly every use (the pool's writer keeps a larger one).
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
                     PRAGMA cache_size = -512;",
                )?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    /// Connects, runs pending migrations and builds the pool.
    pub fn open(&self, pool_size: u32) -> Result<DbPool, DbError> {
        let mut conn = self.connect()?;
        run_migrations(&mut conn)?;
        let writer = match &mut conn {
            DbConn::Sqlite(conn) => wal::Wal::for_pool(conn)?,
            DbConn::Postgres(_) => None,
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(5))
            .build(ConnectionManager {
                database: self.clone(),
                _writer: writer,
            })?;
        Ok(pool)
    }
}

/// Runs the embedded migrations of the connection's dialect.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, DbError> {
    let applied = match conn {
        DbConn::Postgres(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Creates the database file readable by this user only (it holds password hashes and
/// sealed seeds), before SQLite creates it with the process's umask.
fn private_file(path: &std::path::Path) -> Result<(), DbError> {
    #[cfg(unix)]
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| DbError::File(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// libpq waits for the OS's TCP timeout by default; a bank's start-up should fail fast.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout=5")
}

/// Hides a password in a URL we print back.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The r2d2 manager: opens the concrete connection the configured engine needs.
#[derive(Debug)]
pub struct ConnectionManager {
    database: Database,
    /// The SQLite database's writer connection, open as long as the pool is.
    _writer: Option<std::sync::Arc<wal::Wal>>,
}

impl ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = DbError;

    fn connect(&self) -> Result<Pooled, DbError> {
        let conn = self.database.connect()?;
        Ok(Pooled {
            conn,
            alive_at: Some(Instant::now()),
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), DbError> {
        if pooled
            .alive_at
            .is_some_and(|at| at.elapsed() < ALIVE_BYPASS)
        {
            return Ok(());
        }
        pooled.conn.batch_execute("SELECT 1")?;
        pooled.alive_at = Some(Instant::now());
        Ok(())
    }

    /// A connection left inside a transaction (a panic mid-way) must not serve again.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(&mut pooled.conn)
    }
}

/// Lends one connection at a time to a use case, which gives it back before slow work
/// that needs none: a pooled connection is never held while argon2 runs.
pub struct Db<'a>(Lender<'a>);

// One per use case, on its thread's stack: boxing would allocate at every checkout.
#[allow(clippy::large_enum_variant)]
enum Lender<'a> {
    Pool(&'a DbPool, Option<PooledConn>),
    One(&'a mut DbConn),
}

impl<'a> Db<'a> {
    pub fn pooled(pool: &'a DbPool) -> Db<'a> {
        Db(Lender::Pool(pool, None))
    }

    /// One connection for the whole use case (the command line, tests).
    pub fn single(conn: &'a mut DbConn) -> Db<'a> {
        Db(Lender::One(conn))
    }

    /// The connection, checked out of the pool if none is held.
    pub fn conn(&mut self) -> Result<&mut DbConn, DbError> {
        match &mut self.0 {
            Lender::One(conn) => Ok(conn),
            Lender::Pool(pool, held) => match held {
                Some(pooled) => Ok(&mut pooled.conn),
                None => Ok(&mut held.insert(pool.get()?).conn),
            },
        }
    }

    /// The use case failed in a way that may be the connection's: it is probed before it
    /// is lent again, whatever its alive-bypass window says.
    pub fn suspect(&mut self) {
        if let Lender::Pool(_, Some(pooled)) = &mut self.0 {
            pooled.alive_at = None;
        }
    }

    /// Gives the connection back to the pool until it is asked for again.
    pub fn release(&mut self) {
        if let Lender::Pool(_, held) = &mut self.0 {
            *held = None;
        }
    }
}

/// The database answers, within `limit` either way: a readiness probe must not wait for
/// the pool's own checkout timeout.
pub fn ping(pool: &DbPool, limit: Duration) -> Result<(), DbError> {
    let mut pooled = pool.get_timeout(limit)?;
    let answered = pooled.conn.batch_execute("SELECT 1");
    if answered.is_err() {
        pooled.alive_at = None;
    }
    Ok(answered?)
}

/// An insert that a unique index may refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    Done,
    Duplicate,
}

/// Tells a unique-index refusal (two creates racing, or a taken name) from a failure.
fn inserted(result: QueryResult<usize>) -> QueryResult<Insert> {
    match result {
        Ok(_) => Ok(Insert::Done),
        Err(e) if is_unique_violation(&e) => Ok(Insert::Duplicate),
        Err(e) => Err(e),
    }
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A row that does not make a valid entity is damaged data: a failure, never a guess.
fn entity<R, E>(row: R) -> QueryResult<E>
where
    E: TryFrom<R, Error = Box<dyn std::error::Error + Send + Sync>>,
{
    E::try_from(row).map_err(diesel::result::Error::DeserializationError)
}

fn entities<R, E>(rows: Vec<R>) -> QueryResult<Vec<E>>
where
    E: TryFrom<R, Error = Box<dyn std::error::Error + Send + Sync>>,
{
    rows.into_iter().map(entity).collect()
}

/// `column` holds one of two values. Written as `OR`: diesel's `eq_any` is an `IN` list,
/// which it marks unsafe to keep prepared, so SQLite parsed the statement again at every
/// execution.
pub(crate) fn one_of<C>(
    column: C,
    [a, b]: [&'static str; 2],
) -> diesel::dsl::Or<diesel::dsl::Eq<C, &'static str>, diesel::dsl::Eq<C, &'static str>>
where
    C: diesel::Column<SqlType = diesel::sql_types::Text> + Copy,
{
    column.eq(a).or(column.eq(b))
}

/// Runs `f` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred
/// transaction that reads before it writes fails at once with SQLITE_BUSY when another
/// writer got in between, whereas an immediate one waits its turn. The writers of a pool's
/// database take turns on one writer connection (`wal`): SQLite's own wait (`busy_timeout`,
/// for other processes) sleeps 1, 2, 5, 10… ms between tries, which under load made the
/// tail ten times the median. On PostgreSQL conditional updates serialise the racers row
/// by row.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    if let Some(wal) = wal::Wal::of(inner)? {
        return wal.write(f);
    }
    // No pool is open on this database (a tool's single connection): the caller's
    // connection, synced at its own commit.
    static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = SQLITE_WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let (result, ended) = immediate(conn, f);
    ended?;
    result
}

/// Refuses a write whose undoing is left to the caller's transaction, outside one.
fn in_transaction(conn: &mut DbConn) -> QueryResult<()> {
    let depth = match conn {
        DbConn::Postgres(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
    };
    match depth {
        Some(_) => Ok(()),
        None => Err(diesel::result::Error::QueryBuilderError(
            "this write must run inside a transaction".into(),
        )),
    }
}

/// `f` between `BEGIN IMMEDIATE` and `COMMIT` (or `ROLLBACK` when it fails), and how the
/// transaction ended.
fn immediate<T, E, F>(conn: &mut DbConn, f: F) -> (Result<T, E>, QueryResult<()>)
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(inner) = conn else {
        return (conn.transaction(f), Ok(()));
    };
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE") {
        return (Err(e.into()), Ok(()));
    }
    let result = f(conn);
    let DbConn::Sqlite(inner) = conn else {
        unreachable!("the connection was SQLite a moment ago")
    };
    let ended = match &result {
        Ok(_) => AnsiTransactionManager::commit_transaction(inner),
        Err(_) => AnsiTransactionManager::rollback_transaction(inner),
    };
    (result, ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_known_scheme_is_refused_and_its_password_hidden() {
        let err = Database::parse("mysql://bank:hunter2@db/webfb").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sqlite://") && text.contains("postgres://"));
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn a_bare_path_is_not_taken_for_sqlite() {
        assert!(Database::parse("data/webfb.db").is_err());
        assert!(Database::parse("postgress://h/db").is_err());
    }

    #[test]
    fn a_postgres_password_never_prints() {
        let db = Database::parse("postgres://webfb:hunter2@db/webfb").unwrap();
        assert!(!format!("{db:?}").contains("hunter2"));
    }

    /// A pool's write transactions run on its writer connection, which commits with
    /// `synchronous = NORMAL` and syncs the WAL itself; the pool's own connections must
    /// still sync every commit of theirs.
    #[test]
    fn write_transactions_commit_or_roll_back_and_leave_the_pool_syncing_every_commit() {
        #[derive(QueryableByName)]
        struct Synchronous {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        fn synchronous(conn: &mut DbConn) -> i32 {
            let DbConn::Sqlite(conn) = conn else {
                unreachable!()
            };
            let row: Synchronous = diesel::sql_query("PRAGMA synchronous")
                .get_result(conn)
                .unwrap();
            row.synchronous
        }
        fn rows(conn: &mut DbConn) -> i64 {
            let DbConn::Sqlite(conn) = conn else {
                unreachable!()
            };
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM t")
                .get_result(conn)
                .unwrap()
        }
        const FULL: i32 = 2;
        let dir = tempfile::tempdir().unwrap();
        let database = Database::Sqlite(dir.path().join("w.db"));
        let pool = database.open(2).unwrap();
        let mut db = Db::pooled(&pool);
        let conn = db.conn().unwrap();
        conn.batch_execute("CREATE TABLE t (n INTEGER)").unwrap();

        write_tx(conn, |c| c.batch_execute("INSERT INTO t VALUES (1)")).unwrap();
        let refused: Result<(), diesel::result::Error> = write_tx(conn, |c| {
            c.batch_execute("INSERT INTO t VALUES (2)")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(refused.is_err());
        assert_eq!(rows(conn), 1, "the commit, and only it, is there");
        assert_eq!(synchronous(conn), FULL);
        drop(db);
        drop(pool);

        // With no pool open, a tool's single connection writes on its own.
        let mut single = database.connect().unwrap();
        write_tx(&mut single, |c| c.batch_execute("INSERT INTO t VALUES (3)")).unwrap();
        assert_eq!(rows(&mut database.connect().unwrap()), 2);
        assert_eq!(synchronous(&mut single), FULL);
    }

    /// The personal-contracts migration rebuilds `users` on SQLite: a database from before
    /// keeps its people, what points at them, and its foreign key checks.
    #[test]
    fn the_sqlite_users_rebuild_keeps_every_row_and_reference() {
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Violation {
            #[diesel(sql_type = Text)]
            #[allow(dead_code)]
            table: String,
        }
        #[derive(QueryableByName)]
        struct Flag {
            #[diesel(sql_type = BigInt)]
            foreign_keys: i64,
        }
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("old.db"));
        let DbConn::Sqlite(mut conn) = db.connect().unwrap() else {
            unreachable!()
        };
        while !conn.pending_migrations(SQLITE_MIGRATIONS).unwrap()[0]
            .name()
            .to_string()
            .starts_with("2026-11-25-000001")
        {
            conn.run_next_migration(SQLITE_MIGRATIONS).unwrap();
        }
        conn.batch_execute(
            "INSERT INTO companies (id, name, transfer_limit, otp_mode, otp_status, created_at, updated_at)
                 VALUES ('c1', 'Acme', 100, 'per_user', 'active', '2026-11-01 00:00:00', '2026-11-01 00:00:00');
             INSERT INTO users (id, company_id, login_id, name, role, can_transfer, password_hash,
                                transfer_password_hash, approval_password_hash, created_at, updated_at, login_locks)
                 VALUES ('u1', 'c1', 'acme.admin', 'Admin', 'admin', TRUE, 'h', 't', 'a',
                         '2026-11-01 00:00:00', '2026-11-01 00:00:00', 2);
             INSERT INTO soft_tokens (id, token_id, company_id, source, algorithm, digits, period, key_id,
                                      sealed_secret, issued_at, holder_id, registered_at)
                 VALUES ('t1', 'WFBS00000001', 'c1', 'issued', 'SHA1', 6, 30, 'k1', x'00',
                         '2026-11-01 00:00:00', 'u1', '2026-11-01 00:00:00');
             INSERT INTO otp_step_uses (id, soft_token_id, step, used_by, purpose, used_at)
                 VALUES ('s1', 't1', 1, 'u1', 'registration', '2026-11-01 00:00:00');",
        )
        .unwrap();
        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

        let violations: Vec<Violation> = diesel::sql_query("PRAGMA foreign_key_check")
            .load(&mut conn)
            .unwrap();
        assert_eq!(violations.len(), 0);
        let flag: Flag = diesel::sql_query("PRAGMA foreign_keys")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(flag.foreign_keys, 1, "foreign keys are on again");
        let mut conn = DbConn::Sqlite(conn);
        let admin = users::find(&mut conn, "u1").unwrap().unwrap();
        assert_eq!(
            (admin.login_id.as_str(), admin.role),
            ("acme.admin", crate::domain::Role::Admin)
        );
        assert_eq!(
            soft_tokens::held_by(&mut conn, "u1").unwrap().unwrap().id,
            "t1"
        );
        assert_eq!(
            companies::get(&mut conn, "c1").unwrap().kind,
            crate::domain::ContractKind::Corporate
        );
        // The rebuilt table still refuses a second administrator and an orphan.
        let second = conn.batch_execute(
            "INSERT INTO users (id, company_id, login_id, name, role, can_transfer, password_hash,
                                transfer_password_hash, created_at, updated_at)
                 VALUES ('u2', 'c1', 'acme.other', 'Other', 'admin', TRUE, 'h', 't',
                         '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        );
        assert!(second.is_err());
        let orphan = conn.batch_execute(
            "INSERT INTO users (id, company_id, login_id, name, role, can_transfer, password_hash,
                                transfer_password_hash, created_at, updated_at)
                 VALUES ('u3', 'nowhere', 'ghost', 'Ghost', 'customer', TRUE, 'h', 't',
                         '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        );
        assert!(orphan.is_err());
    }

    #[test]
    fn postgres_urls_get_a_connect_timeout() {
        let Database::Postgres(url) = Database::parse("postgresql://u:p@h/db").unwrap() else {
            panic!("expected postgres");
        };
        assert_eq!(url, "postgresql://u:p@h/db?connect_timeout=5");
    }
}
