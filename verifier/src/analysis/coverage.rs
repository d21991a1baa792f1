//! `warden test --coverage`: which rules no `test` block exercises.
//!
//! **Definition.** A rule is *exercised* when some action of some test plan
//! of the spec matches its pattern (kind, tool name and condition): for an
//! `allow`, `deny` or `approve` rule its own pattern; for `never A after B`
//! and `require A before B` either pattern; for `at most N P` the pattern
//! P. The actions are every action step of the test plans (a `let` step's
//! call included), whatever path or loop they are on. A step with unknown
//! values (a param, a `let` result, a glob) exercises a rule when the solver
//! finds values, within the params' `where` conditions, that make the rule
//! match. Every rule that decides an action of a test matches it, so a rule
//! that decides some tested action is exercised; a rule that only matches
//! (and is beaten by a deny) is exercised too, since a test shows what it
//! would do.
//!
//! ```
//! use verifier::analysis::coverage::coverage;
//! let spec = planlang::load_spec_str(r#"spec "s" {
//!   allow read under "/a/"
//!   allow write under "/b/"
//!   test "read" { plan { read "/a/x" } expect accept }
//! }"#, "s.spec").unwrap();
//! let c = coverage(&spec).unwrap();
//! assert_eq!(c.exercised, 1);
//! assert_eq!(c.uncovered.len(), 1);
//! ```

use super::{Finding, Proof};
use crate::answer::Answer;
use crate::cfg::{self, StepAction};
use crate::compile::{CompileError, CompiledSpec};
use crate::symbolic::{self, ResidualScope, Session};
use planlang::ast::ParamType;
use planlang::lower::Consts;
use planlang::{LoadedSpec, Span};
use serde::Serialize;
use std::collections::HashMap;
use warden_core::cond::Cond;
use warden_core::cond::Pattern;

/// Which rules the tests exercise.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// Rules (effect, temporal and count) in the spec and its includes.
    pub rules: usize,
    /// How many of them some test exercises.
    pub exercised: usize,
    /// One `uncovered` finding per rule no test exercises.
    pub uncovered: Vec<Finding>,
}

struct RuleRef<'a> {
    span: &'a Span,
    text: &'a str,
    patterns: Vec<&'a Pattern>,
}

/// The coverage of a loaded spec by its own `test` blocks (the root's and
/// every included file's).
pub fn coverage(loaded: &LoadedSpec) -> Result<Coverage, CompileError> {
    let spec = CompiledSpec::compile(loaded)?;
    let mut rules: Vec<RuleRef> = Vec::new();
    for r in &spec.effects {
        rules.push(RuleRef {
            span: &r.span,
            text: &r.text,
            patterns: vec![&r.pattern],
        });
    }
    for r in spec.never.iter().chain(&spec.require) {
        rules.push(RuleRef {
            span: &r.span,
            text: &r.text,
            patterns: vec![&r.first, &r.second],
        });
    }
    for r in &spec.at_most {
        rules.push(RuleRef {
            span: &r.span,
            text: &r.text,
            patterns: vec![&r.pattern],
        });
    }
    let mut hit = vec![false; rules.len()];
    for t in loaded.tests() {
        // A plan that does not lower exercises nothing (`warden test` reports it).
        let Ok(lowered) = cfg::lower(&t.plan) else {
            continue;
        };
        let types: HashMap<String, ParamType> = lowered
            .params
            .iter()
            .map(|p| (p.name.clone(), p.ty))
            .collect();
        let mut wheres = Vec::new();
        for p in &lowered.params {
            if let Some(c) = &p.condition
                && let Ok(c) = planlang::lower::cond(c, &Consts::new())
            {
                wheres.push(symbolic::residual(&c, &ResidualScope::Params(&types)));
            }
        }
        let mut session: Option<Session> = None;
        for step in &lowered.steps {
            for (i, r) in rules.iter().enumerate() {
                if hit[i] {
                    continue;
                }
                hit[i] = r
                    .patterns
                    .iter()
                    .any(|p| matches(p, step, &types, &wheres, &mut session, &spec));
            }
        }
    }
    let mut uncovered = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if !hit[i] {
            uncovered.push(Finding::new(
                r.span,
                "uncovered",
                format!("no test exercises `{}`", r.text),
                Proof::Syntax,
            ));
        }
    }
    uncovered.sort_by_key(|f| (f.at.clone(), f.line, f.col));
    Ok(Coverage {
        rules: rules.len(),
        exercised: hit.iter().filter(|h| **h).count(),
        uncovered,
    })
}

fn matches(
    p: &Pattern,
    step: &StepAction,
    types: &HashMap<String, ParamType>,
    wheres: &[Cond],
    session: &mut Option<Session>,
    spec: &CompiledSpec,
) -> bool {
    if !p.kind_matches(step.kind, step.call.as_deref()) {
        return false;
    }
    if let Some(a) = step.to_concrete() {
        return p.when.eval(&a);
    }
    let goal = symbolic::residual(&p.when, &ResidualScope::Step(step));
    match goal {
        Cond::True => return true,
        Cond::False => return false,
        _ => {}
    }
    let s =
        session.get_or_insert_with(|| Session::new(types.clone(), wheres, spec.options.timeout_ms));
    let ans = s.solve(&goal, Some(step), spec.options.max_refinements, &|w| {
        w.action(step).is_some_and(|a| p.when.eval(&a))
    });
    matches!(ans, Answer::Sat(_))
}
