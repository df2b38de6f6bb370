//! The conformance crate's tests, one binary (each binary links the runtime and the suite;
//! linking thirteen of them was most of their build): the generators and their coverage, the
//! model against hand-written scenarios on both backends (`model_*`), the examples, and the
//! generated suite itself (`suite`). Filter by module: `cargo test -p ward-conformance --test
//! conformance model_attacks`.

#[path = "../common/mod.rs"]
mod common;

mod examples;
mod generators;
mod generators_coverage;
mod generators_live;
mod model_actions;
mod model_areas;
mod model_attacks;
mod model_independent;
mod model_restrict;
mod model_semantics;
mod suite;
mod tasks_model;
