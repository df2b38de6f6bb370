//! The interface between the generators (`strategies/`) and the engine: a scenario is a set of
//! callers and a sequence of symbolic requests against one compiled project.
//!
//! Requests are symbolic where the server decides values: an id is "the 2nd row created in
//! `rooms`", resolved by the engine at run time against the rows actually created so far. The
//! model and the server then see the same concrete request ([`crate::request::ApiRequest`]).

use serde_json::Value;

use crate::cases::{TokenKind, User};

/// Who sends a request.
#[derive(Debug, Clone, PartialEq)]
pub enum CallerSpec {
    /// No `Authorization` header.
    Anonymous,
    /// A valid token for this user.
    User(User),
    /// A broken token carrying this user's claims (expired, forged, `alg: none`, malformed).
    Broken(User, TokenKind),
}

/// An id in a request, resolved by the engine when the step runs.
#[derive(Debug, Clone, PartialEq)]
pub enum IdRef {
    /// The `n`-th row (modulo the count, from 0) that any successful request or seed created in
    /// `table`, whoever owns it and whether or not it was deleted since; resolves to `Fresh` when
    /// the table has no rows yet.
    Created { table: String, n: usize },
    /// An id of the table's id type that no row has ever had.
    Fresh,
    /// Exactly this text (client-chosen ids of `id text` tables, malformed ids).
    Literal(String),
}

/// A JSON value in a body or query, possibly an id resolved at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSpec {
    Json(Value),
    /// Resolves to the id as JSON (a string, or a number for `id integer` tables).
    Id(IdRef),
    /// A file column's value in a seed: the fixture [`crate::scenario::FIXTURES`]`[i]`, stored
    /// through the server's upload path first.
    Upload(usize),
}

/// Files seeds upload: a name, the bytes, and the type the server must recognise in them.
pub const FIXTURES: [(&str, &[u8], &str); 3] = [
    (
        "dot.png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde",
        "image/png",
    ),
    (
        "form.pdf",
        b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
        "application/pdf",
    ),
    ("notes.txt", b"plain words, nothing more\n", "text/plain"),
];

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON object; keys in this order.
    Object(Vec<(String, ValueSpec)>),
    /// `{"records": [...], "options": {"atomic": b, "ifMatch": {…}}}` (`atomic` omitted when
    /// `None`, `ifMatch` when empty).
    Records {
        records: Vec<Vec<(String, ValueSpec)>>,
        atomic: Option<bool>,
        if_match: Vec<BatchPrecondition>,
    },
    /// `{"ids": [...], "options": {"atomic": b, "ifMatch": {…}}}`.
    Ids {
        ids: Vec<IdRef>,
        atomic: Option<bool>,
        if_match: Vec<BatchPrecondition>,
    },
    /// Sent as is (invalid JSON, wrong shapes, oversized bodies).
    Raw(String),
}

/// What a request addresses under `/api/TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `/api/T`
    Collection,
    /// `/api/T/{id}`
    Row(IdRef),
    /// `/api/T/{id}/restore`
    Restore(IdRef),
    /// `/api/T/{id}/history`
    History(IdRef),
    /// `/api/T/batch`
    Batch,
    /// `/api/T/views/V`
    View(String),
    /// `/api/T/{id}/A`
    Action(IdRef, String),
    /// `/api/actions/A` (the step's table is `actions`)
    Standalone(String),
}

/// A precondition header on a single-record write (SPEC §5.7). The model needs no versions:
/// a stale tag is one no record ever has, so every case is decided by whether the caller sees
/// the row and may write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `If-Match: *`: the record must exist for the caller.
    IfMatchAny,
    /// `If-Match` with a tag that is no version: always 412 where the write would otherwise go
    /// ahead, never anything else.
    IfMatchStale,
    /// `If-None-Match: *`: the record must not exist for the caller.
    IfNoneMatchAny,
}

/// One entry of a batch's `options.ifMatch` (SPEC §5.7): a version expected of the id the
/// `record`-th record (or id) of the batch carries, or with `None` of an id the batch does not
/// carry (400 `INVALID_JSON`). `tag` is [`Precondition::IfMatchAny`] or
/// [`Precondition::IfMatchStale`]: a batch has no `If-None-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPrecondition {
    pub record: Option<usize>,
    pub tag: Precondition,
}

impl Precondition {
    /// The header as sent.
    pub fn header(self) -> (&'static str, &'static str) {
        match self {
            Precondition::IfMatchAny => ("if-match", "*"),
            Precondition::IfMatchStale => ("if-match", "\"stale\""),
            Precondition::IfNoneMatchAny => ("if-none-match", "*"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index into [`Scenario::callers`].
    pub caller: usize,
    /// `GET`, `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    pub table: String,
    pub route: Route,
    /// Query parameters in order, values possibly ids.
    pub query: Vec<(String, ValueSpec)>,
    pub body: Option<Body>,
    /// A precondition header (PATCH, PUT, DELETE of one record).
    pub precondition: Option<Precondition>,
}

/// Fixture rows inserted before the steps, as their owner would own them (like `seed` in
/// `tests/*.kdl`).
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub table: String,
    /// Index into [`Scenario::callers`]; must be a `CallerSpec::User`.
    pub owner: usize,
    pub values: Vec<(String, ValueSpec)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub callers: Vec<CallerSpec>,
    pub seeds: Vec<Seed>,
    pub steps: Vec<Step>,
}
