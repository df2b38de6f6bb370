//! `ward test`: the conformance suite aimed at a project's own resources (generated callers and
//! requests checked against the reference model and the invariants), then its `tests/*.kdl` cases.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use ward_conformance::cases::{self, FileOutcome};
use ward_conformance::target::Database;
use ward_conformance::{Config, Report, check_project};

use super::{ProjectDir, exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Generated cases (each a sequence of requests from several callers) to run.
    #[arg(long, default_value_t = 64)]
    cases: u32,
    /// Replay the cases of this seed (printed by every run and with every failure).
    #[arg(long)]
    seed: Option<u64>,
    /// Requests per generated case, at most.
    #[arg(long, default_value_t = 40)]
    max_steps: usize,
    /// Database to test on: a fresh temporary SQLite file per case (the default), or a
    /// postgres:// URL, in whose database every case gets a fresh schema, dropped after it.
    #[arg(long, env = "WARD_TEST_DATABASE_URL")]
    database: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let database = Database::from_url(args.database.as_deref());
    if let (Some(url), Database::Sqlite) = (&args.database, &database) {
        anyhow::bail!(
            "`--database {url}`: ward test takes a postgres:// URL (each case gets a fresh schema there); without --database every case runs on a fresh temporary SQLite file"
        );
    }
    let dir = &args.project.dir;
    let compiled = project::compile_dir(dir)?;
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let files = cases::load_project_cases(dir).map_err(anyhow::Error::msg)?;

    let config = Config {
        cases: args.cases,
        seed: args.seed,
        max_steps: args.max_steps,
        database: database.clone(),
    };
    eprintln!(
        "ward test: {} table(s), {} generated case(s), {} declarative case(s), on {}",
        ir.tables.len(),
        config.cases,
        files.iter().map(|f| f.cases.len()).sum::<usize>(),
        database.name(),
    );
    let report = check_project(&ir, &config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime
        .block_on(cases::run_files(&ir, &files, &database))
        .map_err(anyhow::Error::msg)?;

    print!("{}", summary(dir, &report, &outcomes));
    let failed =
        report.failure.is_some() || outcomes.iter().any(|f| f.cases.iter().any(|c| !c.passed()));
    Ok(if failed {
        exit_failure()
    } else {
        ExitCode::SUCCESS
    })
}

fn summary(dir: &Path, report: &Report, outcomes: &[FileOutcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nGenerated cases (seed {}):", report.seed);
    let _ = writeln!(
        out,
        "  {} case(s), {} request(s)",
        report.cases_run, report.requests
    );
    for (table, ops) in &report.per_table_op {
        let counts: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let _ = writeln!(out, "  {table:<20} {}", counts.join(", "));
    }
    let _ = writeln!(out, "Invariants checked:");
    for (invariant, n) in &report.invariants {
        let _ = writeln!(out, "  {invariant:<24} {n}");
    }
    match &report.failure {
        None => {
            let _ = writeln!(out, "  all held");
        }
        Some(failure) => {
            let _ = writeln!(out, "\nFAILED: {}", failure.message);
            if let Some(kdl) = &failure.project_kdl {
                let _ = writeln!(out, "Project:\n{kdl}");
            }
            let _ = writeln!(out, "Transcript (shrunk):\n{}", failure.transcript);
            let _ = writeln!(
                out,
                "Replay: ward test {} --seed {}",
                dir.display(),
                failure.seed
            );
        }
    }

    let (mut passed, mut failed) = (0, 0);
    if !outcomes.is_empty() {
        let _ = writeln!(out, "\nDeclarative cases:");
    }
    for file in outcomes {
        for case in &file.cases {
            match &case.failure {
                None => {
                    passed += 1;
                    let _ = writeln!(out, "  ok    {}:{} {}", file.name, case.line, case.name);
                }
                Some(failure) => {
                    failed += 1;
                    let _ = writeln!(out, "  FAIL  {}:{} {}", file.name, case.line, case.name);
                    let _ = writeln!(out, "        {failure}");
                    for line in case.transcript.lines() {
                        let _ = writeln!(out, "        {line}");
                    }
                }
            }
        }
    }
    let generated = if report.failure.is_some() {
        "failed"
    } else {
        "passed"
    };
    let _ = writeln!(
        out,
        "\nward test: generated {generated}; declarative: {passed} passed, {failed} failed"
    );
    out
}
