//! The serving limits of SPEC §5.7 as command-line flags (docs/operations.md lists them all).

use std::num::NonZeroU32;
use std::time::Duration;

use ward_runtime::{Limits, Rate, SqliteSync};

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Every request's deadline; past it the answer is 504 TIMEOUT.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    request_timeout: Duration,
    /// How long a connection may take to send a request's head, after it opened or after the
    /// previous answer (so also how long an idle keep-alive connection stays open).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    header_timeout: Duration,
    /// A request body that sends nothing for this long fails (504 TIMEOUT).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    body_timeout: Duration,
    /// Open connections beyond which no more are accepted until one closes.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// MiB that request bodies being read may hold together; past it a body waits, within
    /// its deadline, for earlier ones to finish (a body counts its Content-Length, or 1 MiB).
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    body_memory: u32,
    /// Refused tokens one client address may send per second before they answer 429
    /// RATE_LIMITED (0: no limit); valid tokens and requests without one are never limited.
    #[arg(long, value_name = "N", default_value_t = 20)]
    failed_auth_rate: u32,
    /// How many refused tokens an address may send at once above --failed-auth-rate.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    failed_auth_burst: u32,
    /// SQLite durability: `full` syncs the log at every commit, so an answered write survives a
    /// power cut; `normal` syncs only at checkpoints (faster writes; a power cut or OS crash can
    /// lose the last answered writes, a crash of ward cannot).
    #[arg(long, value_name = "MODE", default_value = "full", value_parser = sqlite_sync)]
    sqlite_sync: SqliteSync,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            request_deadline: self.request_timeout,
            header_timeout: self.header_timeout,
            body_stall: self.body_timeout,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            body_memory: usize::try_from(self.body_memory)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20),
            failed_auth: NonZeroU32::new(self.failed_auth_rate).map(|per_second| Rate {
                per_second,
                burst: NonZeroU32::new(self.failed_auth_burst).unwrap_or(NonZeroU32::MIN),
            }),
        }
    }

    pub fn sqlite_sync(&self) -> SqliteSync {
        self.sqlite_sync
    }
}

/// `30s`, `500ms`, `2m`: humantime's durations, at least a millisecond.
fn duration(text: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 30s, 500ms, 2m)"))?;
    if d < Duration::from_millis(1) {
        return Err("must be at least 1ms".into());
    }
    Ok(d)
}

fn sqlite_sync(text: &str) -> Result<SqliteSync, String> {
    match text {
        "full" => Ok(SqliteSync::Full),
        "normal" => Ok(SqliteSync::Normal),
        other => Err(format!("`{other}` is not a mode: use `full` or `normal`")),
    }
}
