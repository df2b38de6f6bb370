//! One workload against one server: wrk with `bench/load/workload.lua`, time-bounded, on
//! loopback, while the server's memory is sampled.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::seed::Dataset;
use ward_bench::server::{RssSampler, Server, tree_cpu_us};

pub const SCRIPT: &str = include_str!("../../../load/workload.lua");

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Read,
    List,
    Create,
    Update,
    Mix,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::List => "list",
            Workload::Create => "create",
            Workload::Update => "update",
            Workload::Mix => "mix",
        }
    }

    /// Whether SPEC §10's p99 target (< 5 ms at 32 connections) applies.
    pub fn is_read(self) -> bool {
        matches!(self, Workload::Read | Workload::List)
    }
}

pub struct Load {
    pub seconds: u64,
    pub connections: u32,
    pub threads: u32,
}

/// What wrk's `done` hook prints (see the script).
#[derive(Deserialize, Debug, PartialEq)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub status_errors: u64,
    pub socket_errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct Measurement {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub peak_rss_mib: f64,
    /// The server's own CPU time (its process tree; not the database's) per request answered:
    /// steadier than req/s on a shared machine, and what the policy layers cost.
    pub cpu_us_per_request: f64,
    pub requests: u64,
    /// Non-2xx answers plus socket errors: a run with any is reported, not hidden.
    pub errors: u64,
}

/// Writes the dataset as the Lua table the script `dofile`s. Every string in it is ours (ids the
/// servers generated, tokens, fixed paths), and each is escaped anyway.
pub fn write_data(dataset: &Dataset, path: &Path) -> anyhow::Result<()> {
    let mut lua = String::from("return {\n");
    let _ = writeln!(lua, "  record = {},", quote(&dataset.record));
    let _ = writeln!(lua, "  list = {},", quote(&dataset.list));
    let _ = writeln!(lua, "  create = {},", quote(&dataset.create));
    lua.push_str("  tenants = {\n");
    for t in &dataset.tenants {
        if t.read.is_empty() || t.update.is_empty() {
            bail!("tenant {} has no rows to read or update", t.org);
        }
        let _ = writeln!(lua, "    {{ authorization = {},", quote(&t.authorization));
        let _ = writeln!(lua, "      create_body = {},", quote(&t.create_body));
        let list = |ids: &[String]| ids.iter().map(|i| quote(i)).collect::<Vec<_>>().join(",");
        let _ = writeln!(lua, "      read = {{{}}},", list(&t.read));
        let _ = writeln!(lua, "      update = {{{}}} }},", list(&t.update));
    }
    lua.push_str("  },\n}\n");
    std::fs::write(path, lua)?;
    Ok(())
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn run(
    server: &Server,
    work: &Path,
    data: &Path,
    workload: Workload,
    load: &Load,
) -> anyhow::Result<Measurement> {
    let script = work.join("workload.lua");
    if !script.exists() {
        std::fs::write(&script, SCRIPT)?;
    }
    let sampler = RssSampler::start(server.pid());
    let cpu_before = tree_cpu_us(server.pid());
    let out = Command::new("wrk")
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("-s")
        .arg(&script)
        .arg(&server.url)
        .env("WARD_BENCH_DATA", data)
        .env("WARD_BENCH_WORKLOAD", workload.name())
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let cpu_us = tree_cpu_us(server.pid()).saturating_sub(cpu_before);
    let peak_kib = sampler.peak_kib();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let result = parse(&stdout)?;
    Ok(measure(&result, peak_kib, cpu_us))
}

pub fn parse(wrk_output: &str) -> anyhow::Result<WrkResult> {
    let line = wrk_output
        .lines()
        .find_map(|l| l.strip_prefix("WARD_BENCH_RESULT "))
        .with_context(|| format!("wrk printed no result line:\n{wrk_output}"))?;
    Ok(serde_json::from_str(line)?)
}

fn measure(r: &WrkResult, peak_kib: u64, cpu_us: u64) -> Measurement {
    let seconds = (r.duration_us as f64 / 1e6).max(f64::MIN_POSITIVE);
    Measurement {
        requests_per_second: r.requests as f64 / seconds,
        p50_ms: r.p50_us as f64 / 1000.0,
        p99_ms: r.p99_us as f64 / 1000.0,
        peak_rss_mib: peak_kib as f64 / 1024.0,
        cpu_us_per_request: cpu_us as f64 / r.requests.max(1) as f64,
        requests: r.requests,
        errors: r.status_errors + r.socket_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_result_line_among_wrk_output() {
        let out = "Running 1s test @ http://127.0.0.1:1\n  2 threads and 32 connections\n\
                   WARD_BENCH_RESULT {\"requests\":5000,\"duration_us\":2000000,\"status_errors\":3,\
                   \"socket_errors\":1,\"p50_us\":1500,\"p99_us\":4200,\"max_us\":9000}\n";
        let r = parse(out).expect("a result");
        let m = measure(&r, 20480, 1_000_000);
        assert_eq!(m.requests_per_second, 2500.0);
        assert_eq!(m.p99_ms, 4.2);
        assert_eq!(m.errors, 4);
        assert_eq!(m.peak_rss_mib, 20.0);
        assert_eq!(m.cpu_us_per_request, 200.0);
        assert!(parse("no result here").is_err());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
