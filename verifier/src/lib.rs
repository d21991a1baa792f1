//! The verifier: decides a plan against a spec, explains every refusal with
//! a counterexample, and derives the envelope of what it accepts.
//!
//! A spec is compiled once ([`CompiledSpec::compile`]) and checks many plans
//! ([`CompiledSpec::check`]). Steps whose values are all known are decided
//! directly with the value semantics of [`warden_core::cond`]; steps with params,
//! `let` results or globs become questions, put in canonical form by egg
//! ([`canon`]) so equal questions are asked once, and decided by automata
//! when each atom is about one string, number or bool ([`automata`]),
//! otherwise by Z3 ([`symbolic`]). Temporal and count rules are decided
//! over the plan's petgraph control-flow graph ([`cfg`](mod@cfg)) without
//! enumerating paths.
//!
//! Modules, one concept each: [`compile`] (specs compiled once),
//! [`cfg`](mod@cfg) (the plan's control-flow graph and its path
//! questions), [`reference`](mod@reference) (the brute-force oracle),
//! [`canon`] (egg), [`automata`] (DFAs), [`symbolic`] (Z3), [`check`]
//! (putting them together), [`derive`](mod@derive) (the envelope of an
//! accepted plan), [`report`] (verdicts, violations,
//! witnesses), [`proof`] (the envelope each enforcement profile's layers
//! enforce, proven inside the spec), [`enforcement`] (the token's
//! `enforcement` claim), [`containment`] (a sub-plan inside a parent
//! envelope), [`issue`] (the one issuance path: plan and spec to a signed
//! token), [`analysis`] (coverage, diff, lint, probe). Concrete actions,
//! values, conditions, the envelope and the claims are `warden_core`'s: the
//! crates that enforce and check tokens share them without linking Z3.
//!
//! ```
//! use verifier::{CompiledSpec, Verdict};
//! let spec = planlang::load_spec_str(r#"spec "tmp" { allow write under "/tmp/" }"#, "t.spec").unwrap();
//! let spec = CompiledSpec::compile(&spec).unwrap();
//! let plan = planlang::load_plan_str(
//!     r#"plan { param p: path where p startswith "/tmp/"  write p }"#, "t.plan").unwrap();
//! let out = spec.check(&plan).unwrap();
//! assert_eq!(out.verdict, Verdict::Reject); // p = "/tmp/../…" escapes /tmp
//! ```
#![warn(missing_docs)]

pub mod analysis;
pub mod answer;
pub mod automata;
pub mod canon;
pub mod cfg;
pub mod check;
pub mod compile;
pub mod containment;
pub mod derive;
pub mod enforcement;
pub mod issue;
pub mod proof;
pub mod reference;
pub mod report;
pub mod symbolic;

pub use check::CheckError;
pub use compile::{CompileError, CompiledSpec, Options};
pub use report::{Outcome, Verdict};
