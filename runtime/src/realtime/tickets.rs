//! Tickets (SPEC §12): a browser's `EventSource` cannot send an `Authorization` header, and a
//! token in a URL ends up in logs and histories. So an authenticated caller trades its header
//! for a ticket — random, single-use, valid [`VALID_FOR`] — and opens the stream with
//! `?ticket=`. The ticket stands for the caller as the token described them, until the token's
//! own expiry.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::gate::Caller;

/// How long a ticket may wait for its use.
pub const VALID_FOR: Duration = Duration::from_secs(60);
/// Unused tickets one caller may hold; issuing another drops their oldest.
const PER_CALLER: usize = 16;
/// Unused tickets held in all; past it, issuing drops the expired ones first, then refuses.
const HELD: usize = 100_000;

struct Issued {
    caller: Caller,
    /// The token's expiry, carried to the stream.
    expires: Option<u64>,
    issued: Instant,
}

#[derive(Default)]
pub struct Tickets {
    held: Mutex<HashMap<String, Issued>>,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets").finish_non_exhaustive()
    }
}

impl Tickets {
    /// A new ticket for `caller`; `None` when too many are held.
    pub fn issue(&self, caller: &Caller, expires: Option<u64>) -> Option<String> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() >= HELD {
            held.retain(|_, t| t.issued.elapsed() < VALID_FOR);
            if held.len() >= HELD {
                return None;
            }
        }
        let mine: Vec<(String, Instant)> = held
            .iter()
            .filter(|(_, t)| t.caller.user_id.is_some() && t.caller.user_id == caller.user_id)
            .map(|(k, t)| (k.clone(), t.issued))
            .collect();
        if mine.len() >= PER_CALLER
            && let Some((oldest, _)) = mine.iter().min_by_key(|(_, at)| *at)
        {
            held.remove(oldest);
        }
        // 244 bits from a cryptographically secure generator (uuid v4).
        let ticket = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        held.insert(
            ticket.clone(),
            Issued {
                caller: caller.clone(),
                expires,
                issued: Instant::now(),
            },
        );
        Some(ticket)
    }

    /// The caller a ticket stands for and their token's expiry, once: a used, unknown or
    /// stale ticket is `None`.
    pub fn take(&self, ticket: &str) -> Option<(Caller, Option<u64>)> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let issued = held.remove(ticket)?;
        (issued.issued.elapsed() < VALID_FOR).then_some((issued.caller, issued.expires))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn caller(id: &str) -> Caller {
        Caller {
            authenticated: true,
            user_id: Some(id.to_owned()),
            ..Caller::default()
        }
    }

    #[test]
    fn a_ticket_is_used_once_and_stands_for_its_caller() {
        let tickets = Tickets::default();
        let t = tickets.issue(&caller("u1"), Some(99)).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(tickets.take(&t), Some((caller("u1"), Some(99))));
        assert_eq!(tickets.take(&t), None);
        assert_eq!(tickets.take("not-a-ticket"), None);
    }

    #[test]
    fn a_caller_holds_a_bounded_number_of_unused_tickets() {
        let tickets = Tickets::default();
        let first = tickets.issue(&caller("u1"), None).unwrap();
        for _ in 0..PER_CALLER {
            tickets.issue(&caller("u1"), None).unwrap();
        }
        let other = tickets.issue(&caller("u2"), None).unwrap();
        assert_eq!(tickets.take(&first), None, "the oldest was dropped");
        assert!(tickets.take(&other).is_some());
    }
}
