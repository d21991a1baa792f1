//! Warden's two input languages: **plans** (what an agent intends to do) and
//! **specs** (what a security team allows). See `docs/language.md`.
//!
//! This crate turns text into typed syntax trees ([`ast`]) that carry spans,
//! resolves names, reports errors like a compiler, and pretty-prints trees in
//! one canonical style. It knows nothing of what a spec *means*: that is the
//! `verifier` crate.
//!
//! ```
//! let plan = planlang::load_plan_str(
//!     r#"plan "tidy" { param p: path where p under "/tmp/"  delete p }"#,
//!     "tidy.plan",
//! ).unwrap();
//! assert_eq!(plan.params[0].name.node, "p");
//! let text = planlang::fmt_plan(&plan);
//! assert_eq!(planlang::load_plan_str(&text, "tidy.plan").unwrap(), plan);
//!
//! let err = planlang::load_plan_str("plan { read nope }", "bad.plan").unwrap_err();
//! assert_eq!(err.diagnostics[0].message, "unknown name `nope`");
//! ```
//!
//! Entry points: [`parse_plan`] / [`parse_spec`] (syntax only),
//! [`load_plan`] / [`load_spec`] and their `_str` forms (parse, follow
//! `include`s, resolve names, check types; a spec loads as a
//! [`LoadedSpec`]), [`fmt_plan`] / [`fmt_spec`] (the canonical text, without
//! comments: what token hashes cover), [`fmt_plan_source`] /
//! [`fmt_spec_source`] (the same style, comments kept: what `warden fmt`
//! writes). Errors are [`Diagnostics`], which carry the source texts they
//! point into; with the `render` feature, `render::render` prints them with
//! source lines and carets, labels in several files included.
//!
//! Bad input never panics: files over [`MAX_SOURCE_BYTES`], nesting deeper
//! than [`MAX_NESTING`], unterminated strings and comments and invalid UTF-8
//! are clear errors.

#![warn(missing_docs)]

pub mod assume;
pub mod ast;
pub mod diag;
mod fmt;
mod load;
pub mod lower;
mod parse;
#[cfg(feature = "render")]
pub mod render;
mod resolve;
pub mod span;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Related, Severity, SourceMap};
pub use fmt::{
    fmt_cond, fmt_pattern, fmt_plan, fmt_plan_source, fmt_rule, fmt_spec, fmt_spec_source,
    fmt_step, fmt_value,
};
pub use load::{
    FileKind, LoadedSpec, MAX_INCLUDE_DEPTH, load_plan, load_plan_str, load_spec, load_spec_str,
    read_source,
};
pub use parse::{KEYWORDS, MAX_NESTING, MAX_SOURCE_BYTES, parse_plan, parse_spec};
pub use span::{Ident, Span, Spanned};

#[cfg(test)]
mod tests {
    /// No two files of planlang import each other (the module graph has no
    /// 2-cycle; `testkit::imports` reads it from the source).
    #[test]
    fn no_two_files_import_each_other() {
        testkit::imports::assert_none(env!("CARGO_MANIFEST_DIR"));
    }
}
