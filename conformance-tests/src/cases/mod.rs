//! Declarative test cases (`tests/*.kdl`, SPEC §9.3): users, seeds, requests and expectations,
//! written by a project's authors next to its resources and run by `ward test`.
//!
//! This module owns the case language (its types and parser); `run` executes cases against a
//! served project.

mod parse;
pub mod run;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use parse::{ParseError, parse_file};

/// One `tests/*.kdl` file.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// Shown in reports: the path relative to the project.
    pub name: String,
    pub cases: Vec<Case>,
}

/// `test "name" { … }`.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub line: usize,
    pub users: BTreeMap<String, User>,
    pub steps: Vec<Step>,
}

/// `user NAME [sub=ID] [roles="a,b"] [org=ORG] [CLAIM=VALUE…]`: a caller with a valid token.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub sub: String,
    pub roles: Vec<String>,
    /// Auth value name (as in the project's `claims`, e.g. `org-id`) → value.
    pub claims: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// `seed TABLE as=USER { COLUMN VALUE … }`: a fixture row, inserted as USER would own it
    /// (scope and audit columns stamped from USER) without going through access or guards.
    Seed {
        table: String,
        user: Option<String>,
        values: Map<String, Value>,
        line: usize,
    },
    /// `request METHOD PATH [as=USER] [token=…] { body {…} | json "…"; expect … }`.
    Request(Request),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// May hold `{TABLE.N.FIELD}` placeholders.
    pub path: String,
    pub user: Option<String>,
    pub token: TokenKind,
    pub body: Option<Body>,
    pub expects: Vec<Expect>,
    pub line: usize,
}

/// Which token a request carries: USER's valid one, or a deliberately broken one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Valid,
    Expired,
    /// Signed with another key.
    Forged,
    /// Not a JWT at all.
    Malformed,
    /// `alg: none`, unsigned.
    AlgNone,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// `body { COLUMN VALUE … }`: a JSON object (string values may hold placeholders).
    Fields(Map<String, Value>),
    /// `json "…"`: raw text sent as is, for malformed or nested bodies.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `expect status=N`
    Status(u16),
    /// `expect code=CODE`: the error envelope's code.
    Code(String),
    /// `expect count=N`: the length of the `data` array.
    Count(usize),
    /// `expect "a.b[0].c" VALUE`: the JSON value at a path (placeholders allowed in strings).
    Equals { path: String, value: Value },
    /// `expect "a.b" absent=#true`: the path does not exist.
    Absent { path: String },
}

/// Reads and parses every `tests/*.kdl` of a project, in sorted order. A project without a
/// `tests/` folder has no cases.
pub fn load_project_cases(project: &std::path::Path) -> Result<Vec<CaseFile>, String> {
    let dir = project.join("tests");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", dir.display())),
    };
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl") && p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = format!(
                "tests/{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse_file(&name, &text).map_err(|e| e.to_string())
        })
        .collect()
}

/// The outcomes of one file's cases.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub name: String,
    pub cases: Vec<run::CaseOutcome>,
}

/// Runs every case of `files` against `ir`, each on a fresh database.
pub async fn run_files(
    ir: &ward_ir::Ir,
    files: &[CaseFile],
    database: &crate::target::Database,
) -> Result<Vec<FileOutcome>, String> {
    let mut out = Vec::new();
    for file in files {
        let mut cases = Vec::new();
        for case in &file.cases {
            let target = crate::target::Target::open(ir, database).await?;
            cases.push(run::run_case(case, &target).await);
            target.close().await?;
        }
        out.push(FileOutcome {
            name: file.name.clone(),
            cases,
        });
    }
    Ok(out)
}
