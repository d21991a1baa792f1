//! The verifier: decides a plan against a spec, explains every refusal with
//! a counterexample, and derives the envelope of what it accepts.
//!
//! A spec is compiled once ([`CompiledSpec::compile`]) and checks many plans
//! ([`CompiledSpec::check`]). Steps whose values are all known are decided
//! directly with the value semantics of [`concrete`]; steps with params,
//! `let` results or globs go to Z3 ([`symbolic`]) after egg has put their
//! conditions in canonical form ([`canon`]), so equal questions are asked
//! once. Temporal and count rules are decided over the plan's control-flow
//! graph ([`cfg`]) without enumerating paths.
//!
//! Modules, one concept each: [`action`] (concrete actions), [`concrete`]
//! (operator semantics), [`envelope`] (least privilege of an accepted plan).
//!
//! ```
//! use verifier::action::ConcreteAction;
//! use verifier::concrete::under;
//! let a = ConcreteAction::write("/tmp/../etc/passwd").unwrap();
//! assert!(!under(a.path().unwrap(), "/tmp/"));
//! ```

pub mod action;
pub mod canon;
pub mod cfg;
pub mod check;
pub mod compile;
pub mod concrete;
pub mod containment;
pub mod envelope;
pub mod reference;
pub mod report;
pub mod symbolic;

pub use check::CheckError;
pub use compile::{CompileError, CompiledSpec, Options};
pub use report::{Outcome, Verdict};
