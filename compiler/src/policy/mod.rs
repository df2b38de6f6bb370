//! The effective policy of an IR, as a reviewer reads it (`ward explain`), and the
//! security-relevant differences between two of them (`ward diff`).

pub mod condition;
pub mod diff;
pub mod explain;
pub mod render;

pub use diff::{Difference, diff};
pub use explain::{Cell, Explanation, FieldAccess, TablePolicy, Visibility, explain};
