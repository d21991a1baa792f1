//! The reference evaluator: decides a concrete plan (no params, no `let`
//! results, no globs, exec with its arguments) by direct interpretation over
//! **every path**, unrolling loops. It is slow on purpose and simple on
//! purpose: it is the oracle the verifier is tested against.
//!
//! ```
//! use verifier::{CompiledSpec, reference};
//! use planlang::ast::{Plan, Spec};
//! use planlang::Spanned;
//! let spec = Spec { name: Spanned::synthetic("s".into()), items: vec![], span: Default::default() };
//! let plan = Plan { name: None, agent: None, goal: None, ttl: None, params: vec![], steps: vec![], span: Default::default() };
//! let out = reference::evaluate(&CompiledSpec::from_spec(&spec).unwrap(), &plan).unwrap();
//! assert_eq!(out.verdict, verifier::report::Verdict::Accept);
//! ```

use crate::cfg::{self, Cfg, LowerError};
use crate::compile::{ActionVerdict, CompiledSpec};
use crate::report::{Reason, Verdict};
use planlang::ast;
use warden_core::action::ConcreteAction;

/// The most paths the reference evaluator walks.
pub const MAX_PATHS: usize = 100_000;
/// The longest path it walks.
pub const MAX_PATH_LEN: usize = 10_000;

/// Why the reference evaluator cannot decide a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The plan cannot be lowered.
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// The step with this index has a value that is not known.
    #[error("the plan is not concrete (step {0} has a param, a `let` result or a glob)")]
    NotConcrete(usize),
    /// More than [`MAX_PATHS`] paths, a path longer than [`MAX_PATH_LEN`]
    /// steps, or a walk of more than [`MAX_MOVES`] moves.
    #[error("the plan has too many paths for the reference evaluator")]
    TooManyPaths,
}

/// One reason the reference evaluator refuses or parks a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Why (for an approval, always [`Reason::Denied`]).
    pub reason: Reason,
    /// Index into the compiled spec's rule list of that kind (effects,
    /// never, require, at most).
    pub rule: Option<usize>,
    /// The step (index into the lowered plan's steps).
    pub step: Option<usize>,
}

/// The reference verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceOutcome {
    /// Reject when any violation is found, else approve when any approval
    /// is needed, else accept (as [`crate::report::Outcome::verdict`]).
    pub verdict: Verdict,
    /// Every refusal: the ttl, each refused step (once), then each
    /// `never`, `require` and `at most` rule that fails.
    pub violations: Vec<Finding>,
    /// The steps an `approve` rule matches, with that rule.
    pub approvals: Vec<Finding>,
}

/// Decides a concrete plan.
pub fn evaluate(spec: &CompiledSpec, plan: &ast::Plan) -> Result<ReferenceOutcome, ReferenceError> {
    let lowered = cfg::lower(plan)?;
    let mut actions: Vec<ConcreteAction> = Vec::with_capacity(lowered.steps.len());
    for (i, s) in lowered.steps.iter().enumerate() {
        actions.push(s.to_concrete().ok_or(ReferenceError::NotConcrete(i))?);
    }
    let mut out = evaluate_actions(spec, &lowered.graph, &actions)?;
    if let (Some(ttl), Some(max)) = (&plan.ttl, spec.max_ttl)
        && ttl.node.secs > max
    {
        out.violations.insert(
            0,
            Finding {
                reason: Reason::Ttl,
                rule: None,
                step: None,
            },
        );
        out.verdict = Verdict::Reject;
    }
    Ok(out)
}

/// Decides the actions of a lowered plan's steps (`actions[i]` is step
/// `i`, every value given: a plan instantiated with values for its params
/// and its `let` results, their origins kept) over every path of `graph`.
/// The ttl is not looked at.
pub fn evaluate_actions(
    spec: &CompiledSpec,
    graph: &Cfg,
    actions: &[ConcreteAction],
) -> Result<ReferenceOutcome, ReferenceError> {
    let paths = enumerate(graph)?;
    let mut violations = Vec::new();
    let mut approvals = Vec::new();
    let mut seen = vec![false; actions.len()];
    for p in &paths {
        for &i in p {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            match spec.verdict_of(&actions[i]) {
                ActionVerdict::Deny(rule) => violations.push(Finding {
                    reason: if rule.is_some() {
                        Reason::Denied
                    } else {
                        Reason::NothingAllows
                    },
                    rule,
                    step: Some(i),
                }),
                ActionVerdict::Approve(rule) => approvals.push(Finding {
                    reason: Reason::Denied,
                    rule: Some(rule),
                    step: Some(i),
                }),
                ActionVerdict::Allow(_) => {}
            }
        }
    }
    for (r, rule) in spec.never.iter().enumerate() {
        let hit = paths.iter().find_map(|p| {
            let mut seen_b = false;
            for &i in p {
                if seen_b && rule.first.matches(&actions[i]) {
                    return Some(i);
                }
                seen_b |= rule.second.matches(&actions[i]);
            }
            None
        });
        if let Some(i) = hit {
            violations.push(Finding {
                reason: Reason::Never,
                rule: Some(r),
                step: Some(i),
            });
        }
    }
    for (r, rule) in spec.require.iter().enumerate() {
        let hit = paths.iter().find_map(|p| {
            let mut seen_a = false;
            for &i in p {
                if !seen_a && rule.second.matches(&actions[i]) {
                    return Some(i);
                }
                seen_a |= rule.first.matches(&actions[i]);
            }
            None
        });
        if let Some(i) = hit {
            violations.push(Finding {
                reason: Reason::Require,
                rule: Some(r),
                step: Some(i),
            });
        }
    }
    for (r, rule) in spec.at_most.iter().enumerate() {
        let over = paths.iter().any(|p| {
            p.iter()
                .filter(|&&i| rule.pattern.matches(&actions[i]))
                .count() as u64
                > rule.limit
        });
        if over {
            violations.push(Finding {
                reason: Reason::AtMost,
                rule: Some(r),
                step: None,
            });
        }
    }
    let verdict = if !violations.is_empty() {
        Verdict::Reject
    } else if !approvals.is_empty() {
        Verdict::Approve
    } else {
        Verdict::Accept
    };
    Ok(ReferenceOutcome {
        verdict,
        violations,
        approvals,
    })
}

/// The most moves the walk over the graph makes before it gives up.
pub const MAX_MOVES: usize = 10_000_000;

/// Every path through the graph, as the sequence of steps it performs: a
/// walk of the graph edge by edge, loops unrolled through their back edges.
pub fn enumerate(graph: &Cfg) -> Result<Vec<Vec<usize>>, ReferenceError> {
    // Counted first, in one pass: a plan of nested `repeat at most` loops
    // has millions of paths in a few lines, and walking them until the
    // bound gave up took seconds (a 33-byte fuzz input took 3 s).
    if graph.path_count() > MAX_PATHS as u64 {
        return Err(ReferenceError::TooManyPaths);
    }
    let mut out = Vec::new();
    let mut too_many = false;
    graph
        .walk_paths(MAX_PATH_LEN, MAX_MOVES, &mut |p| {
            out.push(p.to_vec());
            too_many = out.len() > MAX_PATHS;
            !too_many
        })
        .map_err(|_| ReferenceError::TooManyPaths)?;
    if too_many {
        return Err(ReferenceError::TooManyPaths);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 33-byte fuzz input (`verify_plans`) made this plan: nested
    /// `repeat at most` loops, 266,305 paths in 20 lines. The walk of every
    /// path ran into its bounds after seconds; the count refuses it first.
    #[test]
    fn too_many_paths_are_refused_before_the_walk() {
        let inner = |n: usize| format!("repeat at most 3 {{ {} }}", r#"read "/a" "#.repeat(n));
        let src = format!(
            "plan {{ repeat at most 3 {{ {} {} {} read \"/a\" }} read \"/a\" }}",
            inner(4),
            inner(2),
            inner(4)
        );
        let plan = planlang::load_plan_str(&src, "t.plan").unwrap();
        let lowered = cfg::lower(&plan).unwrap();
        assert_eq!(lowered.graph.path_count(), 266_305);
        assert_eq!(enumerate(&lowered.graph), Err(ReferenceError::TooManyPaths));
        // Below the bound the walk still runs: 1 + 4 + 16 + 64 paths.
        let src = r#"plan { repeat at most 3 { either { read "/a" } or { read "/b" } either { read "/c" } or { read "/d" } } }"#;
        let lowered = cfg::lower(&planlang::load_plan_str(src, "t.plan").unwrap()).unwrap();
        assert_eq!(enumerate(&lowered.graph).unwrap().len(), 85);
    }
}
