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

/// Creates an empty database file readable by its owner only (unix), whatever the umask, unless
/// one exists: SQLite would create it 0644, and it creates the `-wal` and `-shm` files with the
/// permissions of the database file, so they stay private too. SQLite accepts an empty file as a
/// new database.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn open(path: &Path) -> Result<Store, StartError> {
    let fail = |e: &dyn std::fmt::Display| {
        StartError::Database(format!("cannot open {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        crate::secret::create_private_dir(dir).map_err(|e| fail(&e))?;
    }
    create_private_file(path).map_err(|e| fail(&e))?;
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

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_database_directory_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".ward");
        let path = state.join("data.db");
        let store = super::open(&path).unwrap();
        store.with_writer(|c| {
            c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
                .unwrap();
        });
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        let mut files = 0;
        for entry in std::fs::read_dir(&state).unwrap() {
            let p = entry.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            files += 1;
        }
        assert!(files >= 2, "the database and its WAL files were checked");
    }
}
