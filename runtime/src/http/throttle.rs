//! Failed authentications limited per client address (SPEC §5.7 "Rate limits"), with governor's
//! keyed GCRA limiter.
//!
//! Only refused tokens count: a request with a valid token, or with none, is never slowed. Once
//! an address is over its rate, its refused tokens answer 429 `RATE_LIMITED` with `Retry-After`
//! instead of 401; nothing else changes, since a refused token never reaches the pipeline. IPv6
//! clients are counted per /64, the block one subscriber usually holds, so rotating addresses
//! inside it gains nothing. The peer address is the TCP peer's: behind a proxy every client
//! shares the proxy's budget for *failures* (docs/operations.md).

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::ApiError;
use crate::Rate;

/// Addresses remembered before the ones whose budget is full again are forgotten.
const PRUNE_PAST: usize = 10_000;
/// At most one pruning per this many milliseconds: it scans every address, and an attacker with
/// many addresses (a /48 holds 65,536 /64s) must not make every refusal pay for a scan.
const PRUNE_EVERY_MS: u64 = 1_000;

pub(crate) struct FailedAuthLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    started: std::time::Instant,
    /// Milliseconds after `started` before which no pruning runs again.
    next_prune: AtomicU64,
}

impl FailedAuthLimit {
    pub fn new(rate: Rate) -> FailedAuthLimit {
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        FailedAuthLimit {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            started: std::time::Instant::now(),
            next_prune: AtomicU64::new(0),
        }
    }

    /// `refused` answered a request from `peer` that carried a token the server refused: it
    /// stands while `peer` is within its rate, else the 429 replaces it.
    pub fn judge(&self, peer: IpAddr, refused: Response) -> Response {
        if self.limiter.len() > PRUNE_PAST {
            let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let due = self.next_prune.load(Ordering::Relaxed);
            if now >= due
                && self
                    .next_prune
                    .compare_exchange(
                        due,
                        now + PRUNE_EVERY_MS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                self.limiter.retain_recent();
            }
        }
        match self.limiter.check_key(&client(peer)) {
            Ok(()) => refused,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut limited = ApiError::rate_limited().into_response();
                limited
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                limited
            }
        }
    }
}

/// The key an address is counted under: IPv4 addresses (mapped ones too) alone, IPv6 per /64.
fn client(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn past_the_burst_a_refusal_becomes_429_with_retry_after() {
        let limit = FailedAuthLimit::new(Rate {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        });
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let refused = || ApiError::auth_invalid("signature").into_response();
        for _ in 0..3 {
            assert_eq!(limit.judge(peer, refused()).status(), 401);
        }
        let limited = limit.judge(peer, refused());
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "1");
        // Another address has its own budget.
        assert_eq!(
            limit
                .judge("192.0.2.2".parse().unwrap(), refused())
                .status(),
            401
        );
    }
}
