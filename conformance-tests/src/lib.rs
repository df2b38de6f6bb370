//! ward's conformance suite: checks that a served API enforces exactly the policy its resources
//! declare.
//!
//! - [`target`]: a project served on a fresh database, called in-process, with tokens for any caller;
//! - [`cases`]: the declarative test cases of a project's `tests/*.kdl` (SPEC §9.3).
//!
//! The suite's own property tests live in `tests/`.

#![forbid(unsafe_code)]

pub mod cases;
pub mod engine;
pub mod files;
pub mod invariants;
pub mod model;
pub mod request;
pub mod scenario;
pub mod strategies;
pub mod suite;
pub mod target;
pub mod transcript;

use std::path::PathBuf;

pub use suite::{Config, Failure, Report, check_project, check_random_projects};

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}
