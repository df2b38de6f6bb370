//! Rate limits (SPEC §5.7 "Rate limits"), each a keyed GCRA limiter of governor's.
//!
//! - **Failed authentications**, per client address, on by default: only refused tokens count,
//!   so a request with a valid token, or with none, is never slowed. Once an address is over its
//!   rate, its refused tokens answer 429 `RATE_LIMITED` with `Retry-After` instead of 401;
//!   nothing else changes, since a refused token never reaches the pipeline.
//! - **Declared limits** (`server { rate-limit ip|subject N }`), off by default: every request
//!   of an address (health checks aside), and every request of an authenticated caller by user
//!   id, from any address. They answer 429 before the request does any other work.
//!
//! IPv6 clients are counted per /64, the block one subscriber usually holds, so rotating
//! addresses inside it gains nothing. The address is the TCP peer's: behind a proxy every client
//! shares the proxy's budget (docs/operations.md).

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::Rate;
use crate::error::ApiError;

/// Keys remembered before the ones whose budget is full again are forgotten.
const PRUNE_PAST: usize = 10_000;
/// At most one pruning per this many milliseconds: it scans every key, and an attacker with
/// many addresses (a /48 holds 65,536 /64s) must not make every request pay for a scan.
const PRUNE_EVERY_MS: u64 = 1_000;

/// One rate per key, with the keys whose budget is full again forgotten now and then, so that
/// memory follows the keys active in the last moments rather than all keys ever seen.
pub(crate) struct RequestLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    started: std::time::Instant,
    /// Milliseconds after `started` before which no pruning runs again.
    next_prune: AtomicU64,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for RequestLimit<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLimit")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone> RequestLimit<K> {
    pub fn new(rate: Rate) -> RequestLimit<K> {
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        RequestLimit {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            started: std::time::Instant::now(),
            next_prune: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s budget; past it, the 429 to answer (`what` names whose
    /// requests were too many).
    pub fn take(&self, key: &K, what: &str) -> Result<(), ApiError> {
        self.prune();
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::rate_limited(what, seconds.max(1))
        })
    }

    /// At most once per [`PRUNE_EVERY_MS`]: the time test comes first because counting the
    /// keys locks every shard of the map, and a declared limit runs this on every request.
    fn prune(&self) {
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
            && self.limiter.len() > PRUNE_PAST
        {
            self.limiter.retain_recent();
        }
    }
}

/// Refused tokens per client address.
pub(crate) struct FailedAuthLimit(RequestLimit<IpAddr>);

impl FailedAuthLimit {
    pub fn new(rate: Rate) -> FailedAuthLimit {
        FailedAuthLimit(RequestLimit::new(rate))
    }

    /// `refused` answered a request from `peer` that carried a token the server refused: it
    /// stands while `peer` is within its rate, else the 429 replaces it.
    pub fn judge(&self, peer: IpAddr, refused: Response) -> Response {
        match self
            .0
            .take(&client(peer), "failed authentications from this address")
        {
            Ok(()) => refused,
            Err(limited) => limited.into_response(),
        }
    }
}

/// Every request of a client address (`rate-limit ip`).
pub(crate) struct AddressLimit(RequestLimit<IpAddr>);

impl AddressLimit {
    pub fn new(rate: Rate) -> AddressLimit {
        AddressLimit(RequestLimit::new(rate))
    }

    pub fn take(&self, peer: IpAddr) -> Result<(), ApiError> {
        self.0.take(&client(peer), "requests from this address")
    }
}

/// The `Retry-After` of a 429: whole seconds, at least one.
pub(crate) fn retry_after(seconds: u64) -> HeaderValue {
    HeaderValue::from(seconds.max(1))
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

    use axum::http::header;

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
