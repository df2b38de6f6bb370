//! Realtime (SPEC §12): committed changes of `realtime` tables, streamed to each subscriber as
//! the rows they may list, masked as a list would mask them.
//!
//! Built on the change log, not on the writes themselves: a change reaches subscribers only
//! once its transaction committed (a rolled-back write was never logged), in the log's order,
//! and a subscriber that reconnects with the last id it saw is replayed exactly what it missed.
//! - [`hub`] follows the log: one reader per table with subscribers, woken by this process's
//!   commits and, on Postgres, by every instance's (`NOTIFY`), and polling besides; it hands
//!   each record to every subscriber of its table, through a bounded queue each.
//! - [`stream`] is one subscriber: replay, then the live queue, each record judged for it
//!   ([`event`]) against the IR being served now.
//! - [`tickets`]: single-use stand-ins for a token, for browsers' `EventSource`.
//!
//! Nothing here knows HTTP: the handler turns [`stream::Out`] into Server-Sent Events.

pub mod event;
pub mod hub;
pub mod stream;
pub mod tickets;
