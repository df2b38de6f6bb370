//! The runtime's integration tests, one binary: every module below serves its projects through
//! `ward_runtime::serve_until` on a loopback port (`common::start`), on SQLite and, with
//! `WARD_TEST_POSTGRES_URL` set, on Postgres. One binary rather than one per file: each binary
//! links the whole runtime, and linking thirty of them was most of CI's test build.
//! `tests/limits.rs` (it lowers the process's open-files limit) and `tests/mutation_switch.rs`
//! (it switches planted bugs for the whole process) keep binaries of their own.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

#[path = "../batch_support/mod.rs"]
mod batch_support;

mod access;
mod access_unknown;
mod action_steps;
mod actions;
mod auth;
mod auth_keys;
mod batch;
mod batch_rows;
mod browsers;
mod change_log;
mod conformance_regressions;
mod crud;
mod delete_modes;
mod files;
mod firewall;
mod guards;
mod history;
mod internal;
mod labels_expand;
mod list;
mod masking;
mod masking_scan;
mod migrate;
mod openapi;
mod postgres_instances;
mod realtime;
mod reload;
mod restore;
mod triggers;
mod upsert;
mod views;
mod write_read_rule;
