//! ward's conformance suite: checks that a served API enforces exactly the policy its resources
//! declare. The suite lives in `tests/`; this library holds what the tests share.
//!
//! For now it holds a model-based test of the `tasks` example (row isolation, no existence oracle,
//! guards); the general reference model and generators come with the conformance issue.

#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}
