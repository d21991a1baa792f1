//! Spec tooling for security teams: [`diff`] (what a change lets through),
//! [`lint`] (rules that cannot do what they say) and [`coverage`] (rules no
//! `test` block exercises). Every finding carries a proof: a concrete
//! witness action checked with the value semantics of [`warden_core::cond`],
//! a covering rule, or an unsatisfiable condition.
//!
//! The questions are asked of a **probe**: a fully symbolic action of one
//! kind (a `write` of any path, a `call send_money` with any arguments),
//! built as a plan step whose values are params, so the verifier's own
//! partial evaluation ([`crate::symbolic::residual`]) and Z3 encoding
//! ([`crate::symbolic::Session`]) answer them. No second encoder exists.
//!
//! ```
//! use verifier::analysis::{Decision, Probe};
//! use planlang::ast::ActionKind;
//! let spec = planlang::load_spec_str(
//!     r#"spec "s" { allow write under "/tmp/" }"#, "s.spec").unwrap();
//! let spec = verifier::CompiledSpec::compile(&spec).unwrap();
//! let probe = Probe::new(ActionKind::Write, None);
//! let goal = probe.decision_cond(&spec, Decision::Allow);
//! let mut session = probe.session(2_000);
//! let answer = session.solve(&goal, Some(&probe.step), 4, &|w| {
//!     probe.action(w).is_some_and(|a| Decision::from(spec.verdict_of(&a)) == Decision::Allow)
//! });
//! assert!(matches!(answer, verifier::answer::Answer::Sat(_)));
//! ```

pub mod coverage;
pub mod diff;
pub mod lint;
pub mod probe;

mod decision;

pub use decision::{Decision, deciding_rule};
pub use probe::{ANY_PATH, ArgModel, Probe, from_call_tools, probes};

use planlang::Span;
use serde::Serialize;
use std::fmt;

/// A finding's proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "proof", rename_all = "snake_case")]
pub enum Proof {
    /// A concrete action, checked with the value semantics.
    Witness {
        /// The action in plan syntax ([`diff::action_text`]).
        action: String,
    },
    /// The rule that covers (or overrides) the finding's rule.
    Rule {
        /// Where that rule is: `file:line:col`.
        at: String,
        /// That rule, as written.
        rule: String,
    },
    /// The solver proved no action matches.
    Unsat,
    /// Nothing to prove (a syntactic fact).
    Syntax,
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proof::Witness { action } => write!(f, "witness: {action}"),
            Proof::Rule { at, rule } => write!(f, "by `{rule}` at {at}"),
            Proof::Unsat => f.write_str("proof: the solver finds no action (unsat)"),
            Proof::Syntax => Ok(()),
        }
    }
}

/// One finding of `diff`, `lint` or `coverage`: printed as
/// `file:line:col: kind: message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `file:line:col` (the spec's name span when nothing better exists).
    pub at: String,
    /// The line of `at`.
    pub line: u32,
    /// The column of `at`.
    pub col: u32,
    /// What was found, one kebab-case word: `widened`, `uncovered`,
    /// `unsatisfiable`, `undecided`, ...
    pub kind: String,
    /// The finding for people.
    pub message: String,
    /// Why it holds.
    pub proof: Proof,
}

impl Finding {
    /// A finding at `span`.
    pub fn new(span: &Span, kind: &str, message: String, proof: Proof) -> Finding {
        Finding {
            at: span.to_string(),
            line: span.line,
            col: span.col,
            kind: kind.to_string(),
            message,
            proof,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.at, self.kind, self.message)?;
        match &self.proof {
            Proof::Syntax => Ok(()),
            p => write!(f, " ({p})"),
        }
    }
}
