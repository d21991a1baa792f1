//! The outcome of a check: the verdict, every reason for a refusal with its
//! counterexample, the approvals a human must give, and the envelope.
//!
//! Serializes to the `--json` object of `warden check`:
//! `{"verdict": "accept"|"reject"|"approve", "violations": [...],
//! "approvals": [...], "envelope": {...} | null}`.
//!
//! ```
//! use verifier::report::{Outcome, Verdict};
//! let o = Outcome::accepted(None);
//! assert_eq!(o.verdict, Verdict::Accept);
//! assert!(serde_json::to_string(&o).unwrap().contains(r#""verdict":"accept""#));
//! ```

use planlang::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use warden_core::envelope::Envelope;

/// What the verifier decided about a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every step is allowed on every path: a token may be issued.
    Accept,
    /// Some step or path is refused (or could not be proven safe).
    Reject,
    /// Accepted once a human approves.
    Approve,
}

impl Verdict {
    /// `accept`, `reject` or `approve`, as in `--json` and `expect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject => "reject",
            Verdict::Approve => "approve",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an action or a path is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A `deny` rule matches the action.
    Denied,
    /// No `allow` or `approve` rule matches (default deny).
    NothingAllows,
    /// A `never A after B` rule fails on some path.
    Never,
    /// A `require A before B` rule fails on some path.
    Require,
    /// An `at most N` rule fails on some path.
    AtMost,
    /// The plan asks for a longer token than the spec's `max ttl`.
    Ttl,
    /// The solver ran out of time: refused, since nothing was proven.
    Timeout,
    /// The solver could not decide (or every witness it found was spurious).
    CouldNotProve,
}

impl Reason {
    /// A short phrase for people ("no rule allows it").
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Denied => "denied by a rule",
            Reason::NothingAllows => "no rule allows it",
            Reason::Never => "a `never` rule fails",
            Reason::Require => "a `require` rule fails",
            Reason::AtMost => "an `at most` rule fails",
            Reason::Ttl => "the requested ttl is longer than the spec's max ttl",
            Reason::Timeout => "the solver timed out (refused: nothing was proven)",
            Reason::CouldNotProve => "could not prove the step safe",
        }
    }
}

/// One step of a path through the plan: the step, and for `either` the
/// branch taken, for `repeat` the iteration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    /// The step, or the `either` or `repeat` around it.
    pub span: Span,
    /// The step as written (`call send_money(...)`), or the branch choice
    /// (`either: branch 2`).
    pub note: String,
}

/// One reason for a refusal, with its counterexample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// What kind of refusal it is.
    pub reason: Reason,
    /// The headline for people.
    pub message: String,
    /// The spec rule (absent for "nothing allows", timeouts).
    pub rule: Option<Span>,
    /// The rule as written.
    pub rule_text: Option<String>,
    /// The plan step.
    pub step: Option<Span>,
    /// The step's action with the witness substituted
    /// (`write "/etc/passwd"`).
    pub action: Option<String>,
    /// The path through the plan that leads to the violation.
    pub path: Vec<PathStep>,
    /// Concrete values of params and `let` results (name -> value, in the
    /// languages' spelling).
    pub witness: BTreeMap<String, String>,
}

/// A step that a human must approve, and the rule that asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The `approve` rule that matches.
    pub rule: Span,
    /// That rule as written.
    pub rule_text: Option<String>,
    /// The plan step.
    pub step: Span,
    /// The step's action (with the witness substituted, for a step with
    /// symbols).
    pub action: String,
    /// Values of params and `let` results under which the rule matches
    /// (empty for a step whose values are all known).
    pub witness: BTreeMap<String, String>,
}

/// The result of [`CompiledSpec::check`](crate::CompiledSpec::check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Reject when any violation is found, else approve when any approval
    /// is needed, else accept.
    pub verdict: Verdict,
    /// Every reason for refusal found, each with its counterexample.
    pub violations: Vec<Counterexample>,
    /// The steps a human must approve.
    pub approvals: Vec<Approval>,
    /// Present when the verdict is accept or approve.
    pub envelope: Option<Envelope>,
    /// What the check cost (for `--json` and the benches).
    #[serde(default)]
    pub stats: Stats,
}

/// Counters of one check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Steps decided without the solver.
    pub concrete_steps: usize,
    /// Steps with params, `let` results or globs.
    pub symbolic_steps: usize,
    /// Solver queries asked.
    pub solver_queries: usize,
    /// Questions answered from the cache of canonical questions.
    pub cache_hits: usize,
    /// Questions decided by automata, without the solver.
    #[serde(default)]
    pub automata_answers: usize,
}

impl Outcome {
    /// An accept with no violation, no approval and empty statistics.
    pub fn accepted(envelope: Option<Envelope>) -> Outcome {
        Outcome {
            verdict: Verdict::Accept,
            violations: Vec::new(),
            approvals: Vec::new(),
            envelope,
            stats: Stats::default(),
        }
    }
}
