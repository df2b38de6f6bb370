//! The effective policy of an IR, as a reviewer reads it (`ward explain`), and the
//! security-relevant differences between two of them (`ward diff`), and the declarations behind
//! a refusal (the console's "why denied").

pub mod condition;
pub mod diff;
pub mod explain;
pub mod render;
pub mod why;

pub use diff::{Difference, diff};
pub use explain::{Cell, Explanation, FieldAccess, TablePolicy, Visibility, explain};
pub use why::{Cited, Why, why};
