//! The write engine: the one way a row of a declared table is written. Every write ward makes —
//! REST calls, batches, upserts, actions, triggers, soft deletes and their cascades, restores,
//! hard deletes — reaches the database through [`rows`], which also writes the change log
//! ([`journal`], SPEC §11) for the tables that keep one. The layers test holds the rest of the
//! runtime to it: no other module renders an INSERT, UPDATE or DELETE of a declared table.
//!
//! The engine knows the store and the SQL it sends, never HTTP: handlers decide what to write
//! (the policy pipeline), the engine writes it and records it.

pub mod files;
pub mod journal;
pub mod rows;

use crate::gate::Caller;
use crate::store::Db;

/// One write transaction as the engine sees it: where to write, and what every change record of
/// it says about its origin (who, when, in which request).
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    pub db: &'a dyn Db,
    pub caller: &'a Caller,
    /// The write's stamp (`createdAt`, `modifiedAt`, …), also each change record's `at`.
    pub at: &'a str,
    /// The request's id (`x-request-id`), when the write answers one.
    pub request: Option<&'a str>,
}

/// [`Writer`]'s origin, owned: for a write whose statements run away from the request's stack
/// ([`crate::store::Store::write_then`]).
#[derive(Clone)]
pub struct Origin {
    pub caller: Caller,
    pub at: String,
    pub request: Option<String>,
}

impl Origin {
    pub fn writer<'a>(&'a self, db: &'a dyn Db) -> Writer<'a> {
        Writer {
            db,
            caller: &self.caller,
            at: &self.at,
            request: self.request.as_deref(),
        }
    }
}
