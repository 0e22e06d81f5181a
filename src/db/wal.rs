//! SQLite's write transactions: one writer connection per database, and group commit.
//!
//! Every write transaction of a pool's database runs on the pool's writer connection, in
//! turn. Its page cache stays warm: SQLite empties a connection's cache whenever another
//! connection wrote since its last transaction, so writers taking turns on the pool's
//! connections read every page from the file again. The writer commits with
//! `synchronous = NORMAL` (its WAL frames written, not yet synced), gives up the turn, and
//! is answered only after an `fdatasync` of the WAL that began after its commit: one sync
//! serves every commit that finished before it began, and the next writer runs meanwhile.
//! Every other write keeps `synchronous = FULL`. A reader may see a commit during the
//! sync (~0.15 ms) before it is on disk; the request that wrote it, and any write after
//! it, is answered only once it is. A failed sync stops every write until the process
//! restarts: Linux may have dropped the pages it could not write and call them clean.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::{Database, DbConn};

/// A database's writer connection, and the syncs of its WAL under way.
pub(super) struct Wal {
    database: PathBuf,
    wal_file: PathBuf,
    /// Opened at the first write; out of it while a transaction runs, and put back only
    /// when the transaction ended (a panic drops it, and SQLite rolls back on close).
    writer: Mutex<Option<DbConn>>,
    state: Mutex<Synced>,
    synced: Condvar,
    /// The WAL file last synced: a new one needs its directory entry synced too.
    wal_inode: AtomicU64,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("database", &self.database)
            .finish()
    }
}

#[derive(Default)]
struct Synced {
    /// Commits counted so far; a commit's ticket is the count after it.
    committed: u64,
    /// Every ticket up to this one is on disk.
    durable: u64,
    syncing: bool,
    /// Why a sync failed: every write is refused from then on.
    failed: Option<String>,
}

// SQLite's list of a connection's databases, as a table: diesel keeps the query prepared.
diesel::table! {
    pragma_database_list (name) {
        name -> Text,
        file -> Text,
    }
}

/// The writers of the databases a pool is open on, by file; the pool holds each.
fn registry() -> MutexGuard<'static, HashMap<String, Weak<Wal>>> {
    static WALS: OnceLock<Mutex<HashMap<String, Weak<Wal>>>> = OnceLock::new();
    lock(WALS.get_or_init(Default::default))
}

fn main_file(conn: &mut SqliteConnection) -> QueryResult<String> {
    use pragma_database_list as list;
    list::table
        .filter(list::name.eq("main"))
        .select(list::file)
        .first(conn)
}

impl Wal {
    /// The writer for a pool opened on the connection's database (`None` for a database in
    /// memory). It lives as long as the pool that holds it.
    pub(super) fn for_pool(conn: &mut SqliteConnection) -> QueryResult<Option<Arc<Wal>>> {
        let file = main_file(conn)?;
        if file.is_empty() {
            return Ok(None);
        }
        let mut wals = registry();
        if let Some(wal) = wals.get(&file).and_then(Weak::upgrade) {
            return Ok(Some(wal));
        }
        let wal = Arc::new(Wal {
            wal_file: PathBuf::from(format!("{file}-wal")),
            database: PathBuf::from(&file),
            writer: Mutex::default(),
            state: Mutex::default(),
            synced: Condvar::new(),
            wal_inode: AtomicU64::new(0),
        });
        wals.retain(|_, wal| wal.strong_count() > 0);
        wals.insert(file, Arc::downgrade(&wal));
        Ok(Some(wal))
    }

    /// The writer of the connection's database, while a pool on it is open.
    pub(super) fn of(conn: &mut SqliteConnection) -> QueryResult<Option<Arc<Wal>>> {
        let file = main_file(conn)?;
        Ok(registry().get(&file).and_then(Weak::upgrade))
    }

    /// Runs `f` in a write transaction on the writer connection, and returns once its
    /// commit is durable.
    pub(super) fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let mut writer = lock(&self.writer);
        if let Some(failed) = &lock(&self.state).failed {
            return Err(unknown(failed.clone()).into());
        }
        let mut conn = match writer.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let (result, ended) = super::immediate(&mut conn, f);
        if ended.is_ok() {
            *writer = Some(conn);
        }
        if result.is_ok() {
            let ticket = self.committed();
            drop(writer);
            // Synced even when the commit reported an error: it may have written frames.
            self.durable(ticket)?;
        }
        ended?;
        result
    }

    fn open(&self) -> QueryResult<DbConn> {
        let mut conn = Database::Sqlite(self.database.clone())
            .connect()
            .map_err(|e| unknown(format!("cannot open the writer connection: {e}")))?;
        conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192")?;
        Ok(conn)
    }

    /// Counts a commit that has just finished; the ticket it returns is for `durable`.
    fn committed(&self) -> u64 {
        let mut state = lock(&self.state);
        state.committed += 1;
        state.committed
    }

    /// Returns once a sync that began after the ticket's commit has finished: it waits for
    /// one under way, or runs the next one itself for everyone waiting.
    fn durable(&self, ticket: u64) -> QueryResult<()> {
        let mut state = lock(&self.state);
        while state.durable < ticket {
            if let Some(failed) = &state.failed {
                return Err(unknown(failed.clone()));
            }
            if state.syncing {
                state = self.synced.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.syncing = true;
            let through = state.committed;
            drop(state);
            let result = self.sync();
            state = lock(&self.state);
            state.syncing = false;
            self.synced.notify_all();
            if let Err(e) = result {
                tracing::error!(wal = %self.wal_file.display(), error = %e, "cannot sync the database's WAL: writes stop until restart");
                state.failed = Some(format!("cannot sync the WAL: {e}"));
                continue;
            }
            state.durable = state.durable.max(through);
        }
        Ok(())
    }

    /// Opened for every sync: SQLite deletes the WAL when its last connection closes (after
    /// a checkpoint that syncs the database file, so nothing is left to sync) and makes a
    /// new one later, and a file kept open would then be the old one.
    fn sync(&self) -> std::io::Result<()> {
        let wal = match std::fs::File::open(&self.wal_file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            opened => opened?,
        };
        wal.sync_data()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let inode = wal.metadata()?.ino();
            if self.wal_inode.swap(inode, Ordering::Relaxed) != inode {
                let directory = self.wal_file.parent().filter(|d| !d.as_os_str().is_empty());
                std::fs::File::open(directory.unwrap_or(std::path::Path::new(".")))?.sync_all()?;
            }
        }
        Ok(())
    }
}

fn unknown(message: String) -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::Unknown,
        Box::new(message),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, write_tx};

    #[test]
    fn a_write_that_panics_is_rolled_back_and_the_next_one_writes() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Database::Sqlite(dir.path().join("p.db")).open(2).unwrap();
        let mut db = Db::pooled(&pool);
        let conn = db.conn().unwrap();
        conn.batch_execute("CREATE TABLE t (n INTEGER)").unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: QueryResult<()> = write_tx(conn, |c| {
                c.batch_execute("INSERT INTO t VALUES (1)")?;
                panic!("a bug mid-transaction");
            });
        }));
        assert!(panicked.is_err());
        write_tx(conn, |c| c.batch_execute("INSERT INTO t VALUES (2)")).unwrap();
        let DbConn::Sqlite(conn) = conn else {
            unreachable!()
        };
        let kept: Vec<i32> = diesel::dsl::sql::<diesel::sql_types::Integer>("SELECT n FROM t")
            .load(conn)
            .unwrap();
        assert_eq!(kept, [2]);
    }

    #[test]
    fn concurrent_writers_share_syncs_and_every_commit_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Database::Sqlite(dir.path().join("g.db")).open(8).unwrap();
        Db::pooled(&pool)
            .conn()
            .unwrap()
            .batch_execute("CREATE TABLE t (n INTEGER)")
            .unwrap();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let mut db = Db::pooled(&pool);
                    for _ in 0..50 {
                        write_tx(db.conn().unwrap(), |c| {
                            c.batch_execute("INSERT INTO t VALUES (1)")
                        })
                        .unwrap();
                    }
                });
            }
        });
        let mut db = Db::pooled(&pool);
        let DbConn::Sqlite(conn) = db.conn().unwrap() else {
            unreachable!()
        };
        let rows: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM t")
            .get_result(conn)
            .unwrap();
        assert_eq!(rows, 400);
        let wal = Wal::of(conn).unwrap().unwrap();
        let state = lock(&wal.state);
        assert_eq!((state.committed, state.durable), (400, 400));
    }
}
