//! The run's results as markdown, JSON and an SVG chart of the ratios, in `bench/results/`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::load::{Measurement, Workload};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Ward,
    Baseline,
    Pocketbase,
    /// ward on the same project with `history #true` on `items`: what the change log costs writes.
    #[serde(rename = "ward-history")]
    WardHistory,
    /// A static axum handler answering a record-sized body: what the HTTP stack alone costs.
    Floor,
}

impl ServerKind {
    /// Whether this server is measured on `workload`: the floor answers reads only, and history
    /// costs nothing but writes.
    pub fn measures(self, workload: Workload) -> bool {
        match self {
            ServerKind::Floor => workload == Workload::Read,
            ServerKind::WardHistory => matches!(workload, Workload::Create | Workload::Update),
            _ => true,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct Result {
    pub server: ServerKind,
    pub backend: Backend,
    pub workload: Workload,
    #[serde(flatten)]
    pub measurement: Measurement,
    /// req/s of every run of this server × workload (`--repeat`); `measurement` is the median
    /// one.
    pub runs_requests_per_second: Vec<f64>,
}

/// Per backend and workload: ward's throughput over the others' (`null` when one was not run).
#[derive(Serialize, Debug, PartialEq)]
pub struct Ratio {
    pub backend: Backend,
    pub workload: Workload,
    pub ward_over_baseline: Option<f64>,
    pub ward_over_pocketbase: Option<f64>,
    /// Reads: ward over the HTTP floor (issue 20's goal ≥ 0.5).
    pub ward_over_floor: Option<f64>,
    /// Writes: ward with `history` on over ward without (SPEC §11's goal ≥ 0.8).
    pub history_over_ward: Option<f64>,
    pub ward_p99_ms: Option<f64>,
}

#[derive(Serialize)]
pub struct Settings {
    pub seconds: u64,
    pub connections: u32,
    pub wrk_threads: u32,
    pub rows: usize,
    pub repeat: u32,
    /// SQLite durability of ward and the baseline (`full` or `normal`).
    pub sqlite_sync: String,
}

#[derive(Serialize)]
pub struct Report {
    pub date: String,
    pub machine: String,
    pub pocketbase: Option<String>,
    pub settings: Settings,
    pub results: Vec<Result>,
    pub ratios: Vec<Ratio>,
}

/// SPEC §10's targets.
pub const TARGET_OVER_BASELINE: f64 = 0.85;
pub const TARGET_OVER_POCKETBASE: f64 = 5.0;
pub const TARGET_READ_P99_MS: f64 = 5.0;
/// Issue 20's goal for reads over the HTTP floor, and the research's for history on over off.
pub const TARGET_OVER_FLOOR: f64 = 0.5;
pub const TARGET_HISTORY_OVER_WARD: f64 = 0.8;

fn find(
    results: &[Result],
    server: ServerKind,
    backend: Backend,
    workload: Workload,
) -> Option<&Measurement> {
    results
        .iter()
        .find(|r| r.server == server && r.backend == backend && r.workload == workload)
        .map(|r| &r.measurement)
}

/// One result per server, backend and workload: the run with the median req/s (the lower middle
/// of an even count), its whole measurement kept together, with every run's req/s beside it.
pub fn medians(results: Vec<Result>) -> Vec<Result> {
    let mut out: Vec<Result> = Vec::new();
    let mut groups: Vec<Vec<Result>> = Vec::new();
    for r in results {
        let same = |g: &Vec<Result>| {
            g.first().is_some_and(|f| {
                f.server == r.server && f.backend == r.backend && f.workload == r.workload
            })
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    for mut group in groups {
        let runs: Vec<f64> = group
            .iter()
            .map(|r| r.measurement.requests_per_second)
            .collect();
        group.sort_by(|a, b| {
            a.measurement
                .requests_per_second
                .total_cmp(&b.measurement.requests_per_second)
        });
        let middle = (group.len() - 1) / 2;
        let mut median = group.swap_remove(middle);
        median.runs_requests_per_second = runs;
        out.push(median);
    }
    out
}

/// PocketBase has one backend (SQLite); ward on either backend is compared with it.
pub fn ratios(results: &[Result]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for workload in [
            Workload::Read,
            Workload::List,
            Workload::Create,
            Workload::Update,
            Workload::Mix,
        ] {
            let Some(ward) = find(results, ServerKind::Ward, backend, workload) else {
                continue;
            };
            let ratio = |top: Option<&Measurement>, bottom: Option<&Measurement>| {
                let (top, bottom) = (top?, bottom?);
                (bottom.requests_per_second > 0.0)
                    .then(|| round2(top.requests_per_second / bottom.requests_per_second))
            };
            let over = |other: Option<&Measurement>| ratio(Some(ward), other);
            out.push(Ratio {
                backend,
                workload,
                ward_over_baseline: over(find(results, ServerKind::Baseline, backend, workload)),
                ward_over_pocketbase: over(find(
                    results,
                    ServerKind::Pocketbase,
                    Backend::Sqlite,
                    workload,
                )),
                ward_over_floor: over(find(results, ServerKind::Floor, backend, workload)),
                history_over_ward: ratio(
                    find(results, ServerKind::WardHistory, backend, workload),
                    Some(ward),
                ),
                ward_p99_ms: Some(ward.p99_ms),
            });
        }
    }
    out
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn write(report: &Report, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("side-by-side.json"),
        serde_json::to_string_pretty(report)? + "\n",
    )?;
    std::fs::write(dir.join("side-by-side.md"), markdown(report))?;
    std::fs::write(dir.join("side-by-side.svg"), svg(&report.ratios))?;
    Ok(())
}

fn cell(m: Option<&Measurement>, f: impl Fn(&Measurement) -> String) -> String {
    m.map_or_else(|| "—".to_owned(), f)
}

fn ratio_cell(r: Option<f64>, target: f64) -> String {
    match r {
        Some(r) if r >= target => format!("**{r:.2}×** ✓"),
        Some(r) => format!("**{r:.2}×** ✗"),
        None => "—".to_owned(),
    }
}

pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let s = &report.settings;
    let _ = writeln!(md, "# ward side by side — {}\n", report.date);
    let _ = writeln!(
        md,
        "Machine: {}. Load: wrk, {} connections, {} threads, {} s per workload, loopback. \
         Data: {} items over two tenants. Runs per server and workload: {} (the median run is shown). \
         SQLite durability of ward and the baseline: synchronous={} (PocketBase: NORMAL). \
         PocketBase: {}.\n",
        report.machine,
        s.connections,
        s.wrk_threads,
        s.seconds,
        s.rows,
        s.repeat,
        s.sqlite_sync.to_uppercase(),
        report
            .pocketbase
            .as_deref()
            .unwrap_or("not on PATH, not run")
    );
    let _ = writeln!(
        md,
        "Targets (SPEC §10): ward/baseline ≥ {TARGET_OVER_BASELINE}, ward/PocketBase ≥ {TARGET_OVER_POCKETBASE}, \
         read p99 < {TARGET_READ_P99_MS} ms.\n"
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let ratios: Vec<&Ratio> = report
            .ratios
            .iter()
            .filter(|r| r.backend == backend)
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {}\n", backend.name());
        md.push_str(
            "| workload | ward req/s | baseline req/s | PocketBase req/s | ward/baseline | ward/PocketBase | p50 / p99 ms: ward | baseline | PocketBase | peak RSS MiB: ward | baseline | PocketBase | server CPU µs/request: ward | baseline | PocketBase | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &ratios {
            let get = |server, backend| find(&report.results, server, backend, r.workload);
            let (w, b, p) = (
                get(ServerKind::Ward, backend),
                get(ServerKind::Baseline, backend),
                get(ServerKind::Pocketbase, Backend::Sqlite),
            );
            let rps =
                |m: Option<&Measurement>| cell(m, |m| format!("{:.0}", m.requests_per_second));
            let lat =
                |m: Option<&Measurement>| cell(m, |m| format!("{:.2} / {:.2}", m.p50_ms, m.p99_ms));
            let ward_lat = cell(w, |m| {
                let verdict = match (r.workload.is_read(), m.p99_ms < TARGET_READ_P99_MS) {
                    (false, _) => "",
                    (true, true) => " ✓",
                    (true, false) => " ✗",
                };
                format!("{:.2} / {:.2}{verdict}", m.p50_ms, m.p99_ms)
            });
            let rss = |m: Option<&Measurement>| cell(m, |m| format!("{:.0}", m.peak_rss_mib));
            let cpu = |m: Option<&Measurement>| cell(m, |m| format!("{:.0}", m.cpu_us_per_request));
            let errors: u64 = [w, b, p].iter().flatten().map(|m| m.errors).sum();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.workload.name(),
                rps(w),
                rps(b),
                rps(p),
                ratio_cell(r.ward_over_baseline, TARGET_OVER_BASELINE),
                ratio_cell(r.ward_over_pocketbase, TARGET_OVER_POCKETBASE),
                ward_lat,
                lat(b),
                lat(p),
                rss(w),
                rss(b),
                rss(p),
                cpu(w),
                cpu(b),
                cpu(p),
                errors
            );
        }
        md.push('\n');
        for r in &ratios {
            if let Some(floor) = r.ward_over_floor {
                let _ = writeln!(
                    md,
                    "- {}: ward over the HTTP floor (a static axum handler answering a record-sized body, same load): {}",
                    r.workload.name(),
                    ratio_cell(Some(floor), TARGET_OVER_FLOOR)
                );
            }
            if let Some(history) = r.history_over_ward {
                let on = find(
                    &report.results,
                    ServerKind::WardHistory,
                    backend,
                    r.workload,
                );
                let _ = writeln!(
                    md,
                    "- {}: with `history #true` on items, {} req/s: {} of ward without history (goal ≥ {TARGET_HISTORY_OVER_WARD})",
                    r.workload.name(),
                    cell(on, |m| format!("{:.0}", m.requests_per_second)),
                    ratio_cell(Some(history), TARGET_HISTORY_OVER_WARD)
                );
            }
        }
        md.push('\n');
    }
    md.push_str(
        "PocketBase serves SQLite only; the Postgres table compares ward on Postgres with it too.\n\
         Chart: `side-by-side.svg`. Raw numbers: `side-by-side.json`.\n",
    );
    md
}

/// A chart panel: its title, its target line, and the ratio it plots.
type Panel = (&'static str, f64, fn(&Ratio) -> Option<f64>);

/// Two panels of grouped bars: ward/baseline (target line at 0.85) and ward/PocketBase (target
/// line at 5), one group per workload, one bar per backend.
pub fn svg(ratios: &[Ratio]) -> String {
    let workloads = [
        Workload::Read,
        Workload::List,
        Workload::Create,
        Workload::Update,
        Workload::Mix,
    ];
    let panel_w = 420.0;
    let panel_h = 260.0;
    let top = 50.0;
    let left = 50.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="24" font-size="16">ward's throughput as a ratio (higher is better)</text>
<rect x="560" y="12" width="12" height="12" fill="#4a7ebb"/><text x="578" y="23">SQLite</text>
<rect x="640" y="12" width="12" height="12" fill="#e08a3c"/><text x="658" y="23">Postgres</text>
"##,
        2.0 * panel_w + 130.0,
        top + panel_h + 60.0
    );
    let panels: [Panel; 2] = [
        ("ward / hand-written baseline", TARGET_OVER_BASELINE, |r| {
            r.ward_over_baseline
        }),
        ("ward / PocketBase", TARGET_OVER_POCKETBASE, |r| {
            r.ward_over_pocketbase
        }),
    ];
    for (p, (title, target, pick)) in panels.into_iter().enumerate() {
        let x0 = left + p as f64 * (panel_w + 30.0);
        let max = ratios
            .iter()
            .filter_map(pick)
            .fold(target * 1.25, f64::max)
            .ceil();
        let y = |v: f64| top + panel_h - v / max * panel_h;
        let _ = writeln!(out, r#"<text x="{x0}" y="{}">{title}</text>"#, top - 8.0);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
            top + panel_h,
            x0 + panel_w - 40.0,
            top + panel_h
        );
        for tick in 0..=4 {
            let v = max * f64::from(tick) / 4.0;
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{v:.1}</text><line x1="{x0}" y1="{yy}" x2="{}" y2="{yy}" stroke="#eee"/>"##,
                x0 - 4.0,
                y(v) + 4.0,
                x0 + panel_w - 40.0,
                yy = y(v)
            );
        }
        let group_w = (panel_w - 40.0) / workloads.len() as f64;
        for (g, workload) in workloads.iter().enumerate() {
            let gx = x0 + g as f64 * group_w;
            for (b, (backend, color)) in
                [(Backend::Sqlite, "#4a7ebb"), (Backend::Postgres, "#e08a3c")]
                    .into_iter()
                    .enumerate()
            {
                let value = ratios
                    .iter()
                    .find(|r| r.backend == backend && r.workload == *workload)
                    .and_then(pick);
                if let Some(v) = value {
                    let bx = gx + 10.0 + b as f64 * 26.0;
                    let _ = writeln!(
                        out,
                        r#"<rect x="{bx}" y="{}" width="24" height="{}" fill="{color}"/><text x="{}" y="{}" text-anchor="middle" font-size="10">{v:.2}</text>"#,
                        y(v),
                        top + panel_h - y(v),
                        bx + 12.0,
                        y(v) - 3.0
                    );
                }
            }
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                gx + 35.0,
                top + panel_h + 16.0,
                workload.name()
            );
        }
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{ty}" x2="{}" y2="{ty}" stroke="#c00" stroke-dasharray="5,4"/><text x="{}" y="{}" fill="#c00" text-anchor="start" font-size="10">target {target}</text>"##,
            x0 + panel_w - 40.0,
            x0 + panel_w - 36.0,
            y(target) + 3.0,
            ty = y(target)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rps: f64) -> Measurement {
        Measurement {
            requests_per_second: rps,
            p50_ms: 1.0,
            p99_ms: 3.0,
            peak_rss_mib: 20.0,
            cpu_us_per_request: 50.0,
            requests: 100,
            errors: 0,
        }
    }

    fn r(server: ServerKind, backend: Backend, workload: Workload, rps: f64) -> Result {
        Result {
            server,
            backend,
            workload,
            measurement: m(rps),
            runs_requests_per_second: vec![rps],
        }
    }

    #[test]
    fn repeated_runs_report_the_median_run_whole() {
        let runs = [300.0, 100.0, 200.0, 900.0];
        let mut results: Vec<Result> = runs
            .iter()
            .map(|&rps| {
                let mut one = r(ServerKind::Ward, Backend::Sqlite, Workload::Read, rps);
                one.measurement.p99_ms = rps / 100.0;
                one
            })
            .collect();
        results.push(r(
            ServerKind::Baseline,
            Backend::Sqlite,
            Workload::Read,
            50.0,
        ));
        let medians = medians(results);
        assert_eq!(medians.len(), 2);
        assert_eq!(medians[0].measurement.requests_per_second, 200.0);
        assert_eq!(
            medians[0].measurement.p99_ms, 2.0,
            "one run's numbers, not a mix"
        );
        assert_eq!(medians[0].runs_requests_per_second, runs);
        assert_eq!(medians[1].measurement.requests_per_second, 50.0);
    }

    #[test]
    fn ratios_divide_ward_by_the_baseline_of_its_backend_and_by_pocketbase() {
        let results = vec![
            r(ServerKind::Ward, Backend::Sqlite, Workload::Read, 9000.0),
            r(
                ServerKind::Baseline,
                Backend::Sqlite,
                Workload::Read,
                10000.0,
            ),
            r(
                ServerKind::Pocketbase,
                Backend::Sqlite,
                Workload::Read,
                3000.0,
            ),
            r(ServerKind::Ward, Backend::Postgres, Workload::Read, 4000.0),
            r(
                ServerKind::Baseline,
                Backend::Postgres,
                Workload::Read,
                5000.0,
            ),
            r(ServerKind::Ward, Backend::Sqlite, Workload::List, 100.0),
        ];
        let ratios = ratios(&results);
        assert_eq!(ratios.len(), 3);
        assert_eq!(ratios[0].ward_over_baseline, Some(0.9));
        assert_eq!(ratios[0].ward_over_pocketbase, Some(3.0));
        assert_eq!(ratios[1].workload, Workload::List);
        assert_eq!(ratios[1].ward_over_baseline, None);
        assert_eq!(ratios[2].backend, Backend::Postgres);
        assert_eq!(ratios[2].ward_over_baseline, Some(0.8));
        assert_eq!(ratios[2].ward_over_pocketbase, Some(1.33));
    }

    fn report(pocketbase: Option<&str>, results: Vec<Result>, ratios: Vec<Ratio>) -> Report {
        Report {
            date: "today".into(),
            machine: "test".into(),
            pocketbase: pocketbase.map(str::to_owned),
            settings: Settings {
                seconds: 1,
                connections: 32,
                wrk_threads: 2,
                rows: 10,
                repeat: 1,
                sqlite_sync: "full".into(),
            },
            results,
            ratios,
        }
    }

    #[test]
    fn the_floor_divides_reads_and_history_divides_by_ward_without_it() {
        let results = vec![
            r(ServerKind::Ward, Backend::Sqlite, Workload::Read, 6000.0),
            r(ServerKind::Floor, Backend::Sqlite, Workload::Read, 12000.0),
            r(ServerKind::Ward, Backend::Sqlite, Workload::Create, 1000.0),
            r(
                ServerKind::WardHistory,
                Backend::Sqlite,
                Workload::Create,
                850.0,
            ),
        ];
        let ratios = ratios(&results);
        assert_eq!(ratios[0].ward_over_floor, Some(0.5));
        assert_eq!(ratios[0].history_over_ward, None);
        assert_eq!(ratios[1].ward_over_floor, None);
        assert_eq!(ratios[1].history_over_ward, Some(0.85));
        assert!(ServerKind::Floor.measures(Workload::Read));
        assert!(!ServerKind::Floor.measures(Workload::Create));
        assert!(ServerKind::WardHistory.measures(Workload::Update));
        assert!(!ServerKind::WardHistory.measures(Workload::List));
        let md = markdown(&report(None, results, ratios));
        assert!(md.contains("- read: ward over the HTTP floor"), "{md}");
        assert!(md.contains("items, 850 req/s: **0.85×** ✓"), "{md}");
    }

    #[test]
    fn the_json_carries_numeric_ratio_fields_per_backend_and_workload() {
        let results = vec![
            r(ServerKind::Ward, Backend::Sqlite, Workload::Update, 900.0),
            r(
                ServerKind::Baseline,
                Backend::Sqlite,
                Workload::Update,
                1000.0,
            ),
            r(
                ServerKind::Pocketbase,
                Backend::Sqlite,
                Workload::Update,
                100.0,
            ),
        ];
        let report = Report {
            ratios: ratios(&results),
            ..report(Some("0.40.6"), results, Vec::new())
        };
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).expect("serialises"))
                .expect("parses");
        let ratio = &json["ratios"][0];
        assert_eq!(ratio["backend"], "sqlite");
        assert_eq!(ratio["workload"], "update");
        assert_eq!(ratio["ward_over_baseline"].as_f64(), Some(0.9));
        assert_eq!(ratio["ward_over_pocketbase"].as_f64(), Some(9.0));
        assert_eq!(
            json["results"][0]["requests_per_second"].as_f64(),
            Some(900.0)
        );
        let md = markdown(&report);
        assert!(
            md.contains("| update | 900 | 1000 | 100 | **0.90×** ✓ | **9.00×** ✓ |"),
            "{md}"
        );
        let chart = svg(&report.ratios);
        assert!(
            chart.starts_with("<svg") && chart.contains(">0.90<") && chart.contains(">9.00<"),
            "{chart}"
        );
    }
}
