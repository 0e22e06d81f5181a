//! Group commit for SQLite's write transactions. A write transaction commits with
//! `synchronous = NORMAL` (its WAL frames written, not yet synced), gives up the writer's
//! turn, and is answered only after an `fdatasync` of the WAL that began after its commit.
//! One sync serves every commit that finished before it began, and the next writer runs
//! while it is under way. Every other write keeps `synchronous = FULL`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use diesel::prelude::*;

/// The WAL of one database file, and the syncs of it under way.
pub(super) struct Wal {
    path: PathBuf,
    state: Mutex<Synced>,
    synced: Condvar,
}

#[derive(Default)]
struct Synced {
    /// Commits counted so far; a commit's ticket is the count after it.
    committed: u64,
    /// Every ticket up to this one is on disk.
    durable: u64,
    syncing: bool,
}

// SQLite's list of a connection's databases, as a table: diesel keeps the query prepared.
diesel::table! {
    pragma_database_list (name) {
        name -> Text,
        file -> Text,
    }
}

impl Wal {
    /// The WAL of the connection's database; `None` for a database in memory, which
    /// nothing makes durable.
    pub(super) fn of(conn: &mut SqliteConnection) -> QueryResult<Option<Arc<Wal>>> {
        use pragma_database_list as list;
        let main: String = list::table
            .filter(list::name.eq("main"))
            .select(list::file)
            .first(conn)?;
        if main.is_empty() {
            return Ok(None);
        }
        static WALS: OnceLock<Mutex<HashMap<String, Arc<Wal>>>> = OnceLock::new();
        let mut wals = lock(WALS.get_or_init(Default::default));
        let wal = wals.entry(main).or_insert_with_key(|file| {
            Arc::new(Wal {
                path: PathBuf::from(format!("{file}-wal")),
                state: Mutex::default(),
                synced: Condvar::new(),
            })
        });
        Ok(Some(Arc::clone(wal)))
    }

    /// Counts a commit that has just finished; the ticket it returns is for `durable`.
    pub(super) fn committed(&self) -> u64 {
        let mut state = lock(&self.state);
        state.committed += 1;
        state.committed
    }

    /// Returns once a sync that began after the ticket's commit has finished: it waits for
    /// one under way, or runs the next one itself for everyone waiting.
    pub(super) fn durable(&self, ticket: u64) -> QueryResult<()> {
        let mut state = lock(&self.state);
        while state.durable < ticket {
            if state.syncing {
                state = self.synced.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.syncing = true;
            let through = state.committed;
            drop(state);
            let result = sync_data(&self.path);
            state = lock(&self.state);
            state.syncing = false;
            self.synced.notify_all();
            result?;
            state.durable = state.durable.max(through);
        }
        Ok(())
    }
}

/// Opened for every sync: SQLite deletes the WAL when its last connection closes (after a
/// checkpoint that syncs the database file, so nothing is left to sync) and makes a new one
/// later, and a file kept open would then be the old one.
fn sync_data(path: &Path) -> QueryResult<()> {
    let synced = match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        opened => opened.and_then(|wal| wal.sync_data()),
    };
    synced.map_err(|e| {
        tracing::error!(wal = %path.display(), error = %e, "cannot sync the database's WAL");
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(format!("cannot sync the WAL: {e}")),
        )
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
