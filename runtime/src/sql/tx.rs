//! Transaction control: the statements that begin, end and nest transactions. No query builder
//! makes them; they are fixed text, never built from input.

/// The savepoint statements [`crate::store::Db::control`] runs around one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Savepoint,
    Release,
    RollbackTo,
}

impl Control {
    /// Same text on both backends; a repeated name refers to the innermost savepoint.
    pub fn sql(self) -> &'static str {
        match self {
            Control::Savepoint => "SAVEPOINT ward_record",
            Control::Release => "RELEASE SAVEPOINT ward_record",
            Control::RollbackTo => {
                "ROLLBACK TO SAVEPOINT ward_record; RELEASE SAVEPOINT ward_record"
            }
        }
    }
}

/// SQLite: a transaction that takes the write lock at once (every write), or none until needed.
pub const SQLITE_BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";
pub const SQLITE_BEGIN_EXCLUSIVE: &str = "BEGIN EXCLUSIVE";
pub const SQLITE_BEGIN_DEFERRED: &str = "BEGIN DEFERRED";
pub const COMMIT: &str = "COMMIT";
/// Postgres: every ward write transaction (docs/decisions.md, "Serialization failures").
pub const PG_BEGIN_SERIALIZABLE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
/// Postgres: a logged write alone ([`crate::store::Store::write_then`]): statements that read
/// nothing but the row they write, which the first of them locks.
pub const PG_BEGIN_READ_COMMITTED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
pub const ROLLBACK: &str = "ROLLBACK";

/// SQLite's writer thread: one savepoint per write inside the group commit's transaction, so a
/// failed write undoes only itself.
pub const WRITE_SAVEPOINT: &str = "SAVEPOINT ward_write";
pub const WRITE_RELEASE: &str = "RELEASE ward_write";
pub const WRITE_ROLLBACK_TO: &str = "ROLLBACK TO ward_write";
