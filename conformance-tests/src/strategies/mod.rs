//! proptest generators of the conformance suite: random projects ([`project`]), the callers of a
//! compiled project ([`callers`]) and random request sequences against it ([`scenario`]).
//!
//! Generators draw their decisions from flat lists of `u32`s (a "choice sequence", as in
//! Hypothesis) rather than from nested dependent strategies: every later decision depends on earlier
//! ones (a column's type decides its values, a table's columns decide its rules), and a flat list
//! shrinks well. Proptest shrinks each number toward 0, and 0 always means the simplest option
//! (no column, no rule, the first caller, the plainest request), so failures shrink toward small
//! projects and boring requests; shorter lists mean fewer tables, seeds and steps.

mod actions;
mod bodies;
mod callers;
mod parts;
mod project;
mod queries;
mod requests;
mod spec;
mod values;

pub use callers::callers;
pub use project::{CUSTOM_CLAIM, project};
pub use requests::scenario;
pub use spec::{
    BatchSpec, ColumnSpec, CondSpec, FirewallSpec, GuardsSpec, MaskSpec, ProjectSpec, RuleSpec,
    ScopeSpec, TableSpec,
};

/// Reads decisions from a choice sequence; past its end every decision is 0 (the simplest).
pub(crate) struct Choices<'a> {
    raw: &'a [u32],
    pos: usize,
}

impl<'a> Choices<'a> {
    pub(crate) fn new(raw: &'a [u32]) -> Self {
        Choices { raw, pos: 0 }
    }

    pub(crate) fn next(&mut self) -> u32 {
        let v = self.raw.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let v = self.next() as usize;
        if n == 0 { 0 } else { v % n }
    }

    /// True with about `percent`% probability; a shrunk (0) choice is false.
    pub(crate) fn chance(&mut self, percent: u32) -> bool {
        99 - (self.next() % 100) < percent
    }

    /// An index into `weights`, each drawn in proportion to its weight; 0 shrinks to index 0.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return 0;
        }
        let mut v = self.next() % total;
        for (i, w) in weights.iter().enumerate() {
            if v < *w {
                return i;
            }
            v -= w;
        }
        0
    }

    pub(crate) fn pick<'b, T>(&mut self, items: &'b [T]) -> Option<&'b T> {
        let i = self.below(items.len());
        items.get(i)
    }

    /// A number in `lo..=hi`, shrinking toward `lo`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + (u64::from(self.next()) % span) as i64
    }
}
