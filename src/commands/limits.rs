//! The serving limits of SPEC §5.7: the defaults, then the project's `server { … }`, then the
//! flags given to `ward serve` (docs/operations.md lists them all).

use std::num::NonZeroU32;
use std::time::Duration;

use ward_ir::ServerLimits;
use ward_runtime::{Limits, Rate, SqliteSync};

#[derive(Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// Every request's deadline; past it the answer is 504 TIMEOUT [default: 30s, or the
    /// project's `server { request-timeout … }`].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    request_timeout: Option<Duration>,
    /// How long a connection may take to send a request's head, after it opened or after the
    /// previous answer (so also how long an idle keep-alive connection stays open) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    header_timeout: Option<Duration>,
    /// A request body that sends nothing for this long fails (504 TIMEOUT) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    body_timeout: Option<Duration>,
    /// Open connections beyond which no more are accepted until one closes [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// MiB that request bodies being read may hold together; past it a body waits, within
    /// its deadline, for earlier ones to finish (a body counts its Content-Length, or 1 MiB)
    /// [default: 256].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..))]
    body_memory: Option<u32>,
    /// Refused tokens one client address may send per second before they answer 429
    /// RATE_LIMITED (0: no limit); valid tokens and requests without one are never limited
    /// [default: 20].
    #[arg(long, value_name = "N")]
    failed_auth_rate: Option<u32>,
    /// How many refused tokens an address may send at once above --failed-auth-rate
    /// [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    failed_auth_burst: Option<u32>,
    /// SQLite durability: `full` syncs the log at every commit, so an answered write survives a
    /// power cut; `normal` syncs only at checkpoints (faster writes; a power cut or OS crash can
    /// lose the last answered writes, a crash of ward cannot) [default: full].
    #[arg(long, value_name = "MODE", value_parser = sqlite_sync)]
    sqlite_sync: Option<SqliteSync>,
}

impl LimitArgs {
    /// The limits to serve with: each flag given, else the project's value, else the default.
    pub fn limits(&self, project: &ServerLimits) -> Limits {
        let defaults = Limits::default();
        let ms = |flag: Option<Duration>, kdl: Option<u64>, default: Duration| {
            flag.or(kdl.map(Duration::from_millis)).unwrap_or(default)
        };
        let kdl = project.failed_auth;
        let default_rate = defaults.failed_auth.map_or(0, |d| d.per_second.get());
        let default_burst = defaults.failed_auth.map_or(NonZeroU32::MIN, |d| d.burst);
        let rate = (self.failed_auth_rate)
            .or(kdl.map(|f| f.per_second))
            .unwrap_or(default_rate);
        let burst = (self.failed_auth_burst)
            .or(kdl.map(|f| f.burst))
            .and_then(NonZeroU32::new)
            .unwrap_or(default_burst);
        let failed_auth = NonZeroU32::new(rate).map(|per_second| Rate { per_second, burst });
        Limits {
            request_deadline: ms(
                self.request_timeout,
                project.request_timeout_ms,
                defaults.request_deadline,
            ),
            header_timeout: ms(
                self.header_timeout,
                project.header_timeout_ms,
                defaults.header_timeout,
            ),
            body_stall: ms(
                self.body_timeout,
                project.body_timeout_ms,
                defaults.body_stall,
            ),
            max_connections: self
                .max_connections
                .or(project.max_connections)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(defaults.max_connections),
            body_memory: self
                .body_memory
                .or(project.body_memory_mib)
                .and_then(|mib| usize::try_from(mib).ok())
                .map_or(defaults.body_memory, |mib| mib.saturating_mul(1 << 20)),
            failed_auth,
        }
    }

    /// SQLite's durability: the flag, else the project's `sqlite-sync`, else `full`.
    pub fn sqlite_sync(&self, project: &ServerLimits) -> SqliteSync {
        self.sqlite_sync.or(project.sqlite_sync).unwrap_or_default()
    }
}

/// The project's duration grammar (`500ms`, `30s`, `2m`; 1 ms to 60 min), so that a flag and
/// `server { … }` accept the same values.
fn duration(text: &str) -> Result<Duration, String> {
    ward_ir::time::duration_ms(text)
        .map(Duration::from_millis)
        .ok_or_else(|| ward_ir::time::DURATION_FORM.to_owned())
}

fn sqlite_sync(text: &str) -> Result<SqliteSync, String> {
    SqliteSync::from_name(text)
        .ok_or_else(|| format!("`{text}` is not a mode: use `full` or `normal`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags win over the project's `server { … }`, which wins over the defaults.
    #[test]
    fn flags_then_the_project_then_the_defaults() {
        let none = LimitArgs::default();
        assert_eq!(
            format!("{:?}", none.limits(&ServerLimits::default())),
            format!("{:?}", Limits::default())
        );
        assert_eq!(none.sqlite_sync(&ServerLimits::default()), SqliteSync::Full);

        let project = ServerLimits {
            request_timeout_ms: Some(20_000),
            header_timeout_ms: Some(65_000),
            max_connections: Some(500),
            body_memory_mib: Some(64),
            failed_auth: Some(ward_ir::FailedAuthLimit {
                per_second: 5,
                burst: 20,
            }),
            sqlite_sync: Some(SqliteSync::Normal),
            ..ServerLimits::default()
        };
        let l = none.limits(&project);
        assert_eq!(l.request_deadline, Duration::from_secs(20));
        assert_eq!(l.header_timeout, Duration::from_secs(65));
        assert_eq!(l.body_stall, Limits::default().body_stall);
        assert_eq!(l.max_connections, 500);
        assert_eq!(l.body_memory, 64 << 20);
        let rate = l.failed_auth.map(|r| (r.per_second.get(), r.burst.get()));
        assert_eq!(rate, Some((5, 20)));
        assert_eq!(none.sqlite_sync(&project), SqliteSync::Normal);

        let flags = LimitArgs {
            request_timeout: Some(Duration::from_secs(5)),
            max_connections: Some(7),
            failed_auth_rate: Some(0),
            sqlite_sync: Some(SqliteSync::Full),
            ..LimitArgs::default()
        };
        let l = flags.limits(&project);
        assert_eq!(l.request_deadline, Duration::from_secs(5));
        assert_eq!(l.header_timeout, Duration::from_secs(65));
        assert_eq!(l.max_connections, 7);
        assert!(l.failed_auth.is_none(), "0 turns the limit off");
        assert_eq!(flags.sqlite_sync(&project), SqliteSync::Full);
    }
}
