//! File columns (SPEC §13): where their bytes live ([`store`]), how an upload becomes a stored
//! object and a sealed value ([`upload`], [`meta`]), and how objects writes released are
//! deleted ([`collector`]). Nothing here knows HTTP: handlers stream bodies in and bytes out.

pub mod collector;
pub mod grant;
pub mod mac;
pub mod meta;
pub mod store;
pub mod upload;
