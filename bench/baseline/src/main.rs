//! The benchmark's baseline (issue 8, SPEC §10): what a careful developer would write by hand for
//! the bench project's `items` table — axum, a JWT check, the tenant column and soft delete in
//! every statement, audit columns stamped — and nothing else: no role gate, no row condition, no
//! guards, no validation beyond the JSON shape, no masking. `bench/src/bin/side_by_side` serves
//! it next to `ward serve` on the same seeded database, so the ratio of the two is what ward's
//! policy layers cost.

mod http;
mod postgres;
mod sql;
mod sqlite;

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// sqlite://PATH (a database `ward serve` created and seeded) or postgres://…
    #[arg(long, required_unless_present = "floor")]
    database: Option<String>,
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The HS256 secret the tokens are signed with (the one `ward serve` was given).
    #[arg(long, env = "WARD_BENCH_JWT_SECRET")]
    secret: String,
    /// SQLite durability, as `ward serve --sqlite-sync`: `full` (every commit synced) or `normal`.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sqlite_sync: String,
    /// Serve the HTTP floor instead: `GET /api/items/{id}` answers one fixed record-sized body,
    /// with no token, no database and no policy, so that ward/floor is what everything above the
    /// HTTP stack costs a read.
    #[arg(long)]
    floor: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let app = match &args.database {
            Some(database) if !args.floor => http::router(
                open(database, &args.sqlite_sync).await?,
                args.secret.as_bytes(),
            ),
            _ => http::floor(),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "ward-baseline: serving {} on http://{}",
            args.database
                .as_deref()
                .filter(|_| !args.floor)
                .unwrap_or("the HTTP floor"),
            args.listen
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })
}

async fn open(database: &str, sqlite_sync: &str) -> anyhow::Result<http::Store> {
    Ok(if let Some(path) = database.strip_prefix("sqlite://") {
        http::Store::Sqlite(sqlite::Store::open(path.as_ref(), sqlite_sync == "full")?)
    } else {
        http::Store::Postgres(postgres::Store::open(database).await?)
    })
}
