//! Syntax: KDL v2 documents → the typed AST ([`ast`]), reporting syntax and shape errors.

pub mod action;
pub mod ast;
pub mod parse;
pub mod policy;
pub mod reader;
pub mod view;
