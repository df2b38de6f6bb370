//! Opening the database: WAL, foreign keys and a busy timeout on every connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::Store;
use crate::StartError;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `sqlite://path`, `sqlite:path` or a plain path.
pub fn database_path(url: &str) -> Result<PathBuf, StartError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(StartError::Database(
            "Postgres is not supported by this build yet; use a sqlite:// URL".into(),
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(StartError::Database("empty database path".into()));
    }
    Ok(PathBuf::from(path))
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "foreign_keys", true)?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

pub fn open(path: &Path) -> Result<Store, StartError> {
    let fail = |e: &dyn std::fmt::Display| {
        StartError::Database(format!("cannot open {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let writer = Connection::open(path).map_err(|e| fail(&e))?;
    writer
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(&e))?;
    configure(&writer).map_err(|e| fail(&e))?;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    // Readers are `query_only`: a read path that tried to write would fail loudly instead.
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        configure(c)?;
        c.pragma_update(None, "query_only", true)
    });
    let readers = r2d2::Pool::builder()
        .max_size(u32::try_from(cores).unwrap_or(2).max(2))
        .build(manager)
        .map_err(|e| fail(&e))?;
    Ok(Store::new(writer, readers))
}
