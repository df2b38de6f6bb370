//! The realtime benchmark (SPEC §12, issue goals): a release `ward serve` with a realtime table
//! under a scope + `when` policy, driven from this process.
//!
//! 1. **Idle streams**: `--idle` SSE connections open at once (each its own user); the server's
//!    resident memory before and with them.
//! 2. **Fan-out**: `--subscribers` streams spread over ten organisations, `--rate` creates per
//!    second for `--seconds` into random organisations; events delivered per second, and the
//!    time from the write's stamp (`modifiedAt`, set in the write's transaction) to the event's
//!    arrival, p50/p95/p99. On Postgres (`--database postgres://…`) the writes go to a second
//!    instance on the same database, so every event crosses instances.
//! 3. **Write cost**: creates per second, closed loop with `--writers` clients, on the realtime
//!    table and on the same table without realtime: with nobody subscribed (what turning
//!    realtime on costs a write), and with the fan-out's subscribers open and receiving every
//!    create of their organisation (the fan-out's own work, on the same two cores as this
//!    client, comes on top).
//!
//! `cargo build --release -p ward -p ward-bench --bins && target/release/realtime`

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ward_bench::server::{Server, free_port, tree_rss_kib, ward_binary};

const SECRET: &str = "ward-bench-secret-not-for-production-use";
const ORGS: usize = 10;

/// The project: `notes`, realtime, and `plain`, the same table without it.
fn project_kdl() -> String {
    let table = |name: &str, realtime: &str| {
        format!(
            r#"
table {name} {{
    column body text required=#true
    column status text default="open"
    column orgId text
    firewall {{
        scope orgId (auth)org-id
    }}
    access {{
        list member {{
            when status eq "open"
        }}
        read member
        create member
    }}
    guards {{
        createable body status
    }}
{realtime}}}
"#
        )
    };
    format!(
        "auth {{\n    roles member\n    jwt {{\n        secret (env)WARD_BENCH_JWT_SECRET\n    }}\n}}\n{}{}",
        table("notes", "    realtime #true\n"),
        table("plain", "")
    )
}

#[derive(Parser)]
struct Args {
    /// Idle streams to hold open at once.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Streams that receive the fan-out's events.
    #[arg(long, default_value_t = 1_000)]
    subscribers: usize,
    /// Creates per second during the fan-out.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Length of the fan-out and of each write-cost run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent writers in the write-cost runs.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// `postgres://…` to run on Postgres (two instances); SQLite in a temporary directory
    /// otherwise.
    #[arg(long)]
    database: Option<String>,
    /// Where to write the results as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn token(sub: &str, org: usize) -> anyhow::Result<String> {
    let claims = json!({
        "sub": sub, "roles": ["member"], "org_id": format!("org{org}"),
        "exp": chrono::Utc::now().timestamp() + 3600,
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )?)
}

/// One open stream, on a raw connection: the request written, the answer's head read.
async fn open_stream(port: u16, token: &str) -> anyhow::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "GET /api/notes/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await? == 0 {
            bail!("the stream closed before its head");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        bail!("{}", String::from_utf8_lossy(&head));
    }
    Ok(s)
}

/// Reads events off `s` until the fan-out ends, counting them and their delays (ms).
async fn follow(mut s: TcpStream, events: Arc<AtomicU64>, delays: Arc<std::sync::Mutex<Vec<i64>>>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    while let Ok(n) = s.read(&mut chunk).await {
        if n == 0 {
            return;
        }
        let arrived = chrono::Utc::now();
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            for line in text.lines() {
                // Chunked encoding puts sizes between events; only `data:` lines matter.
                let Some(data) = line.strip_prefix("data: ") else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                let Some(stamp) = v["record"]["modifiedAt"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                else {
                    continue;
                };
                events.fetch_add(1, Ordering::Relaxed);
                let delay = (arrived - stamp.with_timezone(&chrono::Utc)).num_milliseconds();
                delays
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(delay);
            }
        }
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Creates per second on `table` with `writers` clients in a closed loop for `seconds`.
async fn write_rate(base: &str, table: &str, writers: usize, seconds: u64) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, done, url) = (client.clone(), done.clone(), format!("{base}/api/{table}"));
        let token = token(&format!("writer{w}"), w % ORGS)?;
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"body": "load"}))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 201) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / seconds as f64)
}

fn serve(ward: &PathBuf, project: &PathBuf, database: &str, port: u16) -> Command {
    let mut c = Command::new(ward);
    c.arg("serve")
        .arg(project)
        .args([
            "--database",
            database,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("WARD_BENCH_JWT_SECRET", SECRET);
    c
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(hard.max(soft), hard)?;
    let ward = ward_binary()?;
    let work = tempfile::tempdir()?;
    let project = work.path().join("project");
    std::fs::create_dir_all(&project)?;
    std::fs::write(project.join("notes.kdl"), project_kdl())?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", work.path().join("data.db").display()));
    let backend = if args.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let port = free_port()?;
    let server = Server::start(
        serve(&ward, &project, &database, port),
        port,
        "/healthz",
        &work.path().join("ward.log"),
    )
    .await?;
    // On Postgres the writes go through a second instance: every event crosses instances.
    let writer = match args.database {
        Some(_) => {
            let port = free_port()?;
            Some(
                Server::start(
                    serve(&ward, &project, &database, port),
                    port,
                    "/healthz",
                    &work.path().join("writer.log"),
                )
                .await?,
            )
        }
        None => None,
    };
    let write_base = writer
        .as_ref()
        .map_or(server.url.clone(), |w| w.url.clone());

    // 1. Idle streams.
    let before_kib = tree_rss_kib(server.pid());
    let mut idle = Vec::with_capacity(args.idle);
    for i in 0..args.idle {
        idle.push(open_stream(port, &token(&format!("idle{i}"), i % ORGS)?).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kib = tree_rss_kib(server.pid());
    drop(idle);
    println!(
        "{backend}: {} idle streams: server RSS {:.1} MiB → {:.1} MiB ({:.1} KiB per stream)",
        args.idle,
        before_kib as f64 / 1024.0,
        idle_kib as f64 / 1024.0,
        (idle_kib.saturating_sub(before_kib)) as f64 / args.idle.max(1) as f64
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 3a. Write cost with nobody subscribed.
    let alone_with = write_rate(&write_base, "notes", args.writers, args.seconds).await?;
    let alone_without = write_rate(&write_base, "plain", args.writers, args.seconds).await?;
    println!(
        "{backend}: creates/s, nobody subscribed: with realtime {alone_with:.0}, without {alone_without:.0}: {:.0} % kept",
        100.0 * alone_with / alone_without.max(1.0)
    );

    // 2. Fan-out.
    let events = Arc::new(AtomicU64::new(0));
    let delays = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for i in 0..args.subscribers {
        let s = open_stream(port, &token(&format!("sub{i}"), i % ORGS)?).await?;
        readers.push(tokio::spawn(follow(s, events.clone(), delays.clone())));
    }
    let client = reqwest::Client::new();
    let writer_tokens: Vec<String> = (0..ORGS)
        .map(|o| token(&format!("w{o}"), o))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    let total = args.rate * args.seconds;
    let mut writes = Vec::new();
    for n in 0..total {
        tick.tick().await;
        let (client, url) = (client.clone(), format!("{write_base}/api/notes"));
        let token = writer_tokens[n as usize % ORGS].clone();
        writes.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"body": "hello"}))
                .send()
                .await
                .is_ok_and(|r| r.status() == 201)
        }));
    }
    let mut written = 0u64;
    for w in writes {
        written += u64::from(w.await?);
    }
    let expected = written * (args.subscribers / ORGS) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while events.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let received = events.load(Ordering::Relaxed);
    let mut sorted = delays
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    sorted.sort_unstable();
    let (p50, p95, p99) = (
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.95),
        percentile(&sorted, 0.99),
    );
    println!(
        "{backend}: {} subscribers, {written} writes in {:.1} s: {received} of {expected} events, {:.0} events/s; commit→delivery p50 {p50} ms, p95 {p95} ms, p99 {p99} ms",
        args.subscribers,
        elapsed,
        received as f64 / elapsed
    );

    // 3b. Write cost, the subscribers open: what they receive meanwhile is the fan-out at
    // full speed.
    let received_before = events.load(Ordering::Relaxed);
    let with = write_rate(&write_base, "notes", args.writers, args.seconds).await?;
    let burst = (events.load(Ordering::Relaxed) - received_before) as f64 / args.seconds as f64;
    let without = write_rate(&write_base, "plain", args.writers, args.seconds).await?;
    println!(
        "{backend}: creates/s, {} subscribed: with realtime {with:.0} ({burst:.0} events/s delivered meanwhile), without {without:.0}: {:.0} % kept",
        args.subscribers,
        100.0 * with / without.max(1.0)
    );
    for r in readers {
        r.abort();
    }
    if let Some(out) = &args.out {
        let result = json!({
            "backend": backend,
            "idle": {"streams": args.idle, "rss_before_kib": before_kib, "rss_with_kib": idle_kib},
            "fanout": {
                "subscribers": args.subscribers, "writes": written, "seconds": elapsed,
                "events": received, "expected": expected,
                "events_per_second": received as f64 / elapsed,
                "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            },
            "writes": {
                "writers": args.writers,
                "nobody_subscribed": {"with_realtime": alone_with, "without": alone_without},
                "subscribed": {"with_realtime": with, "without": without, "events_per_second": burst},
            },
        });
        std::fs::write(out, serde_json::to_string_pretty(&result)?)?;
    }
    drop(writer);
    drop(server);
    Ok(())
}
