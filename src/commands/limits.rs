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
    /// Requests one client address may send per second, whatever they carry, before they answer
    /// 429 RATE_LIMITED (0: no limit; health checks are never counted) [default: none, or the
    /// project's `server { rate-limit ip N }`].
    #[arg(long, value_name = "N")]
    rate_limit_ip: Option<u32>,
    /// How many requests an address may send at once above --rate-limit-ip [default: the rate].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_ip_burst: Option<u32>,
    /// Requests one authenticated user (by user id, from any address) may send per second before
    /// they answer 429 RATE_LIMITED (0: no limit) [default: none, or the project's
    /// `server { rate-limit subject N }`].
    #[arg(long, value_name = "N")]
    rate_limit_subject: Option<u32>,
    /// How many requests a user may send at once above --rate-limit-subject [default: the rate].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_subject_burst: Option<u32>,
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
            failed_auth: rate(
                (self.failed_auth_rate, self.failed_auth_burst),
                project.failed_auth,
                defaults.failed_auth,
            ),
            per_ip: rate(
                (self.rate_limit_ip, self.rate_limit_ip_burst),
                project.rate_limit_ip,
                defaults.per_ip,
            ),
            per_subject: rate(
                (self.rate_limit_subject, self.rate_limit_subject_burst),
                project.rate_limit_subject,
                defaults.per_subject,
            ),
        }
    }

    /// SQLite's durability: the flag, else the project's `sqlite-sync`, else `full`.
    pub fn sqlite_sync(&self, project: &ServerLimits) -> SqliteSync {
        self.sqlite_sync.or(project.sqlite_sync).unwrap_or_default()
    }
}

/// A rate limit from its flags `(rate, burst)`, the project's value and the default, each part
/// taken from the first that gives it; a rate of 0 turns the limit off. An unset burst is the
/// default's, else one second's worth.
fn rate(
    (flag_rate, flag_burst): (Option<u32>, Option<u32>),
    project: Option<ward_ir::RateLimit>,
    default: Option<Rate>,
) -> Option<Rate> {
    let per_second = flag_rate
        .or(project.map(|p| p.per_second))
        .or(default.map(|d| d.per_second.get()))
        .and_then(NonZeroU32::new)?;
    let burst = flag_burst
        .or(project.map(|p| p.burst))
        .and_then(NonZeroU32::new)
        .or(default.map(|d| d.burst))
        .unwrap_or(per_second);
    Some(Rate { per_second, burst })
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
            failed_auth: Some(ward_ir::RateLimit {
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
        assert!(
            l.per_ip.is_none() && l.per_subject.is_none(),
            "off by default"
        );

        let declared = ServerLimits {
            rate_limit_ip: Some(ward_ir::RateLimit {
                per_second: 100,
                burst: 300,
            }),
            rate_limit_subject: Some(ward_ir::RateLimit {
                per_second: 10,
                burst: 10,
            }),
            ..ServerLimits::default()
        };
        let pair = |r: Option<Rate>| r.map(|r| (r.per_second.get(), r.burst.get()));
        let l = none.limits(&declared);
        assert_eq!(pair(l.per_ip), Some((100, 300)));
        assert_eq!(pair(l.per_subject), Some((10, 10)));
        let overrides = LimitArgs {
            rate_limit_ip: Some(50),
            rate_limit_subject: Some(0),
            ..LimitArgs::default()
        };
        let l = overrides.limits(&declared);
        assert_eq!(pair(l.per_ip), Some((50, 300)), "the project's burst stays");
        assert!(l.per_subject.is_none(), "0 turns a declared limit off");
        let only_flag = LimitArgs {
            rate_limit_ip: Some(7),
            ..LimitArgs::default()
        };
        let l = only_flag.limits(&ServerLimits::default());
        assert_eq!(
            pair(l.per_ip),
            Some((7, 7)),
            "the burst is one second's worth"
        );
    }
}
