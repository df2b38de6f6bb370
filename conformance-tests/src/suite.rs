//! The suite as `ward test` and `cargo test` run it: proptest drives the generators of
//! [`crate::strategies`] from one reported seed (the same seed replays the same cases), each case
//! runs through [`crate::engine`], and a failure is shrunk to a minimal case and reported with its
//! project, its transcript and the seed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use proptest::strategy::{Just, Strategy};
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use ward_ir::Ir;

use crate::engine::{self, Counts};
use crate::scenario::Scenario;
use crate::strategies;
use crate::target::Database;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub cases: u32,
    /// `None`: a fresh random seed, reported in [`Report::seed`].
    pub seed: Option<u64>,
    pub max_steps: usize,
    /// Where each case's fresh database lives.
    pub database: Database,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cases: 64,
            seed: None,
            max_steps: 24,
            database: Database::Sqlite,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub seed: u64,
    pub cases_run: u32,
    pub requests: u64,
    /// table → operation → requests sent (shrinking included).
    pub per_table_op: BTreeMap<String, BTreeMap<String, u64>>,
    /// invariant → exchanges it was checked on.
    pub invariants: BTreeMap<String, u64>,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub seed: u64,
    /// The minimal generated project (random projects only).
    pub project_kdl: Option<String>,
    pub transcript: String,
    pub message: String,
}

/// Checks `ir` (a user's own project: `ward test DIR`) with scenarios aimed at it. Must not be
/// called from inside an async runtime: it runs its own.
pub fn check_project(ir: &Ir, config: &Config) -> Report {
    let strategy = strategies::scenario(ir, config.max_steps)
        .prop_map({
            let ir = ir.clone();
            move |s| Case {
                project: None,
                ir: Ok(ir.clone()),
                scenario: s,
            }
        })
        .boxed();
    run(strategy, config)
}

/// Checks random projects, each emitted as KDL and compiled by the real compiler.
pub fn check_random_projects(config: &Config) -> Report {
    let max_steps = config.max_steps;
    let strategy = strategies::project()
        .prop_flat_map(move |spec| {
            let kdl = spec.kdl();
            match compile(&kdl) {
                Ok(ir) => strategies::scenario(&ir, max_steps)
                    .prop_map(move |s| Case {
                        project: Some(kdl.clone()),
                        ir: Ok(ir.clone()),
                        scenario: s,
                    })
                    .boxed(),
                Err(e) => Just(Case {
                    project: Some(kdl),
                    ir: Err(e),
                    scenario: Scenario {
                        callers: Vec::new(),
                        seeds: Vec::new(),
                        steps: Vec::new(),
                    },
                })
                .boxed(),
            }
        })
        .boxed();
    run(strategy, config)
}

/// Compiles one generated project with the real compiler.
pub fn compile(kdl: &str) -> Result<Ir, String> {
    let sources = ward_compiler::Sources::single("project.kdl", kdl);
    let compilation = ward_compiler::compile(&sources);
    let errors = compilation.error_count();
    compilation
        .ir
        .ok_or_else(|| format!("the generated project does not compile ({errors} errors)"))
}

#[derive(Debug, Clone)]
struct Case {
    project: Option<String>,
    ir: Result<Ir, String>,
    scenario: Scenario,
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed.rotate_left(u32::try_from(i * 16).unwrap_or(0)) ^ (i as u64);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

fn run(strategy: proptest::strategy::BoxedStrategy<Case>, config: &Config) -> Report {
    let seed = config.seed.unwrap_or_else(fresh_seed);
    let mut report = Report {
        seed,
        cases_run: 0,
        requests: 0,
        per_table_op: BTreeMap::new(),
        invariants: BTreeMap::new(),
        failure: None,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report.failure = Some(Failure {
                seed,
                project_kdl: None,
                transcript: String::new(),
                message: format!("cannot start an async runtime: {e}"),
            });
            return report;
        }
    };
    let proptest_config = ProptestConfig {
        cases: config.cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
    let mut runner = TestRunner::new_with_rng(proptest_config, rng);
    let counts = RefCell::new(Counts::default());
    let cases = RefCell::new(0u32);
    let result = runner.run(&strategy, |case| {
        *cases.borrow_mut() += 1;
        let ir = case
            .ir
            .as_ref()
            .map_err(|e| TestCaseError::fail(e.clone()))?;
        let mut mine = Counts::default();
        let outcome = rt.block_on(engine::run(ir, &case.scenario, &mut mine, &config.database));
        counts.borrow_mut().add(&mine);
        outcome
            .map(|_| ())
            .map_err(|f| TestCaseError::fail(f.message))
    });
    report.cases_run = cases.into_inner().min(config.cases);
    let counts = counts.into_inner();
    report.requests = counts.requests;
    report.per_table_op = counts.per_table_op;
    report.invariants = counts.invariants;
    if let Err(error) = result {
        report.failure = Some(match error {
            TestError::Abort(why) => Failure {
                seed,
                project_kdl: None,
                transcript: String::new(),
                message: format!("aborted: {why}"),
            },
            TestError::Fail(why, case) => {
                // Replay the minimal case for its transcript.
                let replay = match &case.ir {
                    Ok(ir) => {
                        let mut ignored = Counts::default();
                        rt.block_on(engine::run(
                            ir,
                            &case.scenario,
                            &mut ignored,
                            &config.database,
                        ))
                    }
                    Err(e) => Err(engine::RunFailure {
                        message: e.clone(),
                        transcript: String::new(),
                    }),
                };
                let (message, transcript) = match replay {
                    Err(f) => (f.message, f.transcript),
                    Ok(t) => (format!("{why} (the minimal case passed on replay)"), t),
                };
                Failure {
                    seed,
                    project_kdl: case.project.clone(),
                    transcript,
                    message,
                }
            }
        });
    }
    report
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "conformance failure (seed {}): {}",
            self.seed, self.message
        )?;
        if let Some(kdl) = &self.project_kdl {
            writeln!(f, "--- project.kdl ---\n{kdl}")?;
        }
        writeln!(f, "--- transcript ---\n{}", self.transcript)?;
        write!(f, "replay with seed {}", self.seed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} cases, {} requests (seed {})",
            self.cases_run, self.requests, self.seed
        )?;
        for (table, ops) in &self.per_table_op {
            let ops: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
            writeln!(f, "  {table}: {}", ops.join(", "))?;
        }
        let inv: Vec<String> = self
            .invariants
            .iter()
            .map(|(i, n)| format!("{i} {n}"))
            .collect();
        writeln!(f, "  invariants checked: {}", inv.join(", "))?;
        match &self.failure {
            Some(failure) => write!(f, "{failure}"),
            None => write!(f, "  no failures"),
        }
    }
}
