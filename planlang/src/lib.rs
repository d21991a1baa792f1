//! Warden's two input languages: **plans** (what an agent intends to do) and
//! **specs** (what a security team allows). See `LANGUAGE.md`.
//!
//! This crate turns text into typed syntax trees ([`ast`]) that carry spans,
//! resolves names, reports errors like a compiler, and pretty-prints trees in
//! one canonical style. It knows nothing of what a spec *means*: that is the
//! `verifier` crate.

pub mod ast;
pub mod span;
pub mod value;

pub use span::{Ident, Span, Spanned};
