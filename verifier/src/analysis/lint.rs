//! `warden lint SPEC`: rules that cannot do what they say.
//!
//! Findings, each at the rule's span with its proof:
//!
//! - `unsatisfiable`: no action matches the rule (the solver proves its
//!   condition unsatisfiable for every action its pattern names);
//! - `overridden`: an `allow` that a `deny` always beats (every action it
//!   matches is denied); the covering deny is named when one rule covers it;
//! - `approve-shadowed`: the same for an `approve` rule;
//! - `subsumed`: every action the rule matches is matched by another rule of
//!   the same effect (the covering rule is named; of two equal rules the
//!   later is reported);
//! - `unused-let`: a `let` constant no rule, baseline or other constant uses;
//! - `no-such-field`: a condition on a field the action kind does not have
//!   (`port` on `read`): that comparison is always false;
//! - `always-true`, `always-false`: a comparison of a connection's `port`
//!   with a constant outside the ports (whole numbers from 0 to 65535):
//!   `port <= 70000` holds of every port, `port == 70000` of none. Such a
//!   spec loads (the comparison means what it says, and the verifier
//!   decides it so); `warden check` prints these as warnings too
//!   ([`port_ranges`], no solver);
//! - `out-of-range`: an element of `port in [...]` that no port equals.
//!
//! "Never matches" and "covered" are proved for every probe of the rule's
//! kind (see [`super::probe`]: for calls every combination of arguments,
//! each present or absent, a scalar or a list); a question the solver cannot
//! answer in time, or a probe whose model is incomplete, yields no finding
//! (lint never claims what it has not proved).
//!
//! ```
//! use verifier::analysis::lint::{lint, LintOptions};
//! let spec = planlang::load_spec_str(
//!     r#"spec "s" { allow read when port == 443 }"#, "s.spec").unwrap();
//! let found = lint(&spec, &LintOptions::default()).unwrap();
//! assert!(found.iter().any(|f| f.kind == "no-such-field"));
//! assert!(found.iter().any(|f| f.kind == "unsatisfiable"));
//! ```

use super::{Finding, Probe, Proof, probes};
use crate::answer::Answer;
use crate::compile::{CompileError, CompiledSpec, EffectRule};
use planlang::LoadedSpec;
use planlang::ast::{self, ActionKind, Effect, PatternKind, RefKind};
use std::collections::BTreeSet;
use warden_core::cond::Cond;

/// How `lint` asks the solver.
#[derive(Clone, Debug)]
pub struct LintOptions {
    /// Bound of every solver call, in milliseconds.
    pub timeout_ms: u32,
    /// How many spurious witnesses one question may produce.
    pub max_refinements: u32,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            timeout_ms: 5_000,
            max_refinements: 8,
        }
    }
}

/// What a question asked of every probe came to.
#[derive(Debug, PartialEq, Eq)]
enum Every {
    /// Unsatisfiable on every probe.
    Unsat,
    /// Satisfiable on some probe (or not proved unsatisfiable).
    Not,
}

struct Linter<'a> {
    spec: &'a CompiledSpec,
    probes: Vec<Probe>,
    opts: &'a LintOptions,
}

impl Linter<'_> {
    /// Whether `goal(probe)` is unsatisfiable on every probe `rule` fits.
    fn never(&self, rule: &EffectRule, goal: &dyn Fn(&Probe) -> Cond) -> Every {
        for p in &self.probes {
            if !rule.pattern.kind_matches(p.kind, p.call.as_deref()) {
                continue;
            }
            // The model may miss actions of this class: nothing is proved.
            if !p.gaps.is_empty() {
                return Every::Not;
            }
            let g = goal(p);
            if g == Cond::False {
                continue;
            }
            let mut s = p.session(self.opts.timeout_ms);
            for case in p.cases() {
                // Any model counts: a satisfiable over-approximation is no proof.
                match s.solve(&Cond::and(g.clone(), case), Some(&p.step), 0, &|_| true) {
                    Answer::Unsat => {}
                    _ => return Every::Not,
                }
            }
        }
        Every::Unsat
    }

    /// Whether rule `a`'s kinds are all kinds of rule `b`.
    fn kinds_within(a: &EffectRule, b: &EffectRule) -> bool {
        let (pa, pb) = (&a.pattern, &b.pattern);
        let kind_ok = match (pa.kind, pb.kind) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) => x == y,
        };
        let calls_ok = match (&pa.calls, &pb.calls) {
            (_, None) => true,
            (None, Some(_)) => pa.kind.is_some_and(|k| k != ActionKind::Call),
            (Some(xs), Some(ys)) => xs.iter().all(|x| ys.contains(x)),
        };
        kind_ok && calls_ok
    }
}

/// Lints a loaded spec (the root and its includes).
pub fn lint(loaded: &LoadedSpec, opts: &LintOptions) -> Result<Vec<Finding>, CompileError> {
    let spec = CompiledSpec::compile(loaded)?;
    let linter = Linter {
        probes: probes(&[&spec]),
        spec: &spec,
        opts,
    };
    let mut out = Vec::new();
    let rules = &linter.spec.effects;
    let mut dead = vec![false; rules.len()];
    for (i, r) in rules.iter().enumerate() {
        if linter.never(r, &|p| p.matches_cond(r)) == Every::Unsat {
            dead[i] = true;
            out.push(Finding::new(
                &r.span,
                "unsatisfiable",
                format!(
                    "`{}` can never match: no action meets its condition",
                    r.text
                ),
                Proof::Unsat,
            ));
        }
    }
    let denies: Vec<usize> = (0..rules.len())
        .filter(|&i| rules[i].effect == Effect::Deny && !dead[i])
        .collect();
    for (i, r) in rules.iter().enumerate() {
        if dead[i] || r.effect == Effect::Deny {
            continue;
        }
        let kind = if r.effect == Effect::Allow {
            "overridden"
        } else {
            "approve-shadowed"
        };
        let all_denies = |p: &Probe| {
            let mut c = p.matches_cond(r);
            for &d in &denies {
                c = Cond::and(c, Cond::not(p.matches_cond(&rules[d])));
            }
            c
        };
        if linter.never(r, &all_denies) == Every::Not {
            continue;
        }
        let cover = denies.iter().copied().find(|&d| {
            linter.never(r, &|p| {
                Cond::and(p.matches_cond(r), Cond::not(p.matches_cond(&rules[d])))
            }) == Every::Unsat
        });
        let (msg, proof) = match cover {
            Some(d) => (
                format!(
                    "`{}` never takes effect: a deny matches every action it matches",
                    r.text
                ),
                Proof::Rule {
                    at: rules[d].span.to_string(),
                    rule: rules[d].text.clone(),
                },
            ),
            None => (
                format!(
                    "`{}` never takes effect: the deny rules together match every action it matches",
                    r.text
                ),
                Proof::Unsat,
            ),
        };
        out.push(Finding::new(&r.span, kind, msg, proof));
    }
    for (i, r) in rules.iter().enumerate() {
        if dead[i] {
            continue;
        }
        let cover = rules.iter().enumerate().find(|(j, s)| {
            *j != i
                && !dead[*j]
                && s.effect == r.effect
                && Linter::kinds_within(r, s)
                && linter.never(r, &|p| Cond::and(p.matches_cond(r), Cond::not(p.matches_cond(s))))
                    == Every::Unsat
                // Of two equal rules, report the later one only.
                && (*j < i
                    || !Linter::kinds_within(s, r)
                    || linter.never(s, &|p| {
                        Cond::and(p.matches_cond(s), Cond::not(p.matches_cond(r)))
                    }) == Every::Not)
        });
        if let Some((_, s)) = cover {
            out.push(Finding::new(
                &r.span,
                "subsumed",
                format!(
                    "`{}` adds nothing: another {} rule matches every action it matches",
                    r.text, r.effect
                ),
                Proof::Rule {
                    at: s.span.to_string(),
                    rule: s.text.clone(),
                },
            ));
        }
    }
    out.extend(port_ranges(loaded));
    for s in loaded.specs() {
        unused_lets(s, &mut out);
        for r in s.rules() {
            for p in patterns(r) {
                missing_fields(r, p, &mut out);
            }
        }
    }
    out.sort_by(|a, b| (&a.at, a.line, a.col, &a.kind).cmp(&(&b.at, b.line, b.col, &b.kind)));
    out.sort_by_key(|f| (f.line, f.col));
    Ok(out)
}

fn value_consts(v: &ast::ValueExpr, out: &mut BTreeSet<String>) {
    match v {
        ast::ValueExpr::Literal { .. } => {}
        ast::ValueExpr::List { items } => items.iter().for_each(|i| value_consts(&i.node, out)),
        ast::ValueExpr::Ref(r) => {
            if r.resolved == RefKind::Const {
                out.insert(r.name.node.clone());
            }
        }
    }
}

fn cond_walk(c: &ast::CondExpr, f: &mut dyn FnMut(&ast::ValueExpr, Option<&planlang::Ident>)) {
    match c {
        ast::CondExpr::And { all: cs } | ast::CondExpr::Or { any: cs } => {
            cs.iter().for_each(|c| cond_walk(&c.node, f))
        }
        ast::CondExpr::Not { cond } => cond_walk(&cond.node, f),
        ast::CondExpr::Compare { lhs, rhs, .. } => {
            f(&lhs.node, None);
            f(&rhs.node, None);
        }
        ast::CondExpr::Has { field } => f(&ast::ValueExpr::List { items: vec![] }, Some(field)),
        ast::CondExpr::FromCall { value, .. } | ast::CondExpr::Value { value } => {
            f(&value.node, None)
        }
    }
}

fn pattern_consts(p: &ast::PatternExpr, out: &mut BTreeSet<String>) {
    if let PatternKind::Path {
        target: Some(ast::PathTargetExpr::Exact { path } | ast::PathTargetExpr::Under { path }),
        ..
    } = &p.matcher
    {
        value_consts(&path.node, out);
    }
    if let Some(c) = &p.condition {
        cond_walk(&c.node, &mut |v, _| value_consts(v, out));
    }
}

fn unused_lets(s: &ast::Spec, out: &mut Vec<Finding>) {
    let mut used = BTreeSet::new();
    for r in s.rules() {
        match &r.kind {
            ast::RuleKind::Effect { pattern, .. }
            | ast::RuleKind::AtMost { pattern, .. }
            | ast::RuleKind::ApproveEach { pattern } => pattern_consts(pattern, &mut used),
            ast::RuleKind::Never {
                action: a,
                after: b,
            }
            | ast::RuleKind::Require { first: a, then: b } => {
                pattern_consts(a, &mut used);
                pattern_consts(b, &mut used);
            }
        }
    }
    for b in s.baselines() {
        b.patterns.iter().for_each(|p| pattern_consts(p, &mut used));
    }
    for l in s.lets() {
        let mut inner = BTreeSet::new();
        value_consts(&l.value.node, &mut inner);
        inner.remove(&l.name.node);
        used.extend(inner);
    }
    for l in s.lets() {
        if !used.contains(&l.name.node) {
            out.push(Finding::new(
                &l.span,
                "unused-let",
                format!("`let {}` is never used", l.name.node),
                Proof::Syntax,
            ));
        }
    }
}

fn missing_fields(r: &ast::Rule, p: &ast::PatternExpr, out: &mut Vec<Finding>) {
    let kind = match &p.matcher {
        // Calls have one field per argument; `any` has every field.
        PatternKind::Call { .. } | PatternKind::Any => return,
        m => match m.action() {
            Some(k) => k,
            None => return,
        },
    };
    let Some(c) = &p.condition else { return };
    let mut bad: Vec<(String, planlang::Span)> = Vec::new();
    cond_walk(&c.node, &mut |v, has| {
        let name = match (v, has) {
            (_, Some(f)) => Some(f),
            (ast::ValueExpr::Ref(r), None) if r.resolved == RefKind::Field => Some(&r.name),
            _ => None,
        };
        if let Some(n) = name
            && !kind.fields().contains(&n.node.as_str())
        {
            bad.push((n.node.clone(), n.span.clone()));
        }
    });
    for (name, _) in bad {
        let have = kind.fields().join(", ");
        out.push(Finding::new(
            &r.span,
            "no-such-field",
            format!(
                "`{}`: a {kind} action has no field `{name}` (it has {have}), so that comparison is always false",
                planlang::fmt_rule(r)
            ),
            Proof::Syntax,
        ));
    }
}

/// The comparisons of a `connect` or `listen` rule's `port` with constants
/// outside the ports (whole numbers from 0 to 65535), each with its truth
/// value: `always-true` (`port <= 70000`, `port != 1.5`), `always-false`
/// (`port == 70000`, `port > 65535`, `port in [70000]`), and `out-of-range`
/// for one dead element of a list that also holds ports. Syntactic (no
/// solver), over the rules with their constants substituted, so that
/// `warden check` can print them as warnings.
///
/// ```
/// use verifier::analysis::lint::port_ranges;
/// let spec = planlang::load_spec_str(
///     r#"spec "s" { allow connect when port <= 70000 }"#, "s.spec").unwrap();
/// let found = port_ranges(&spec);
/// assert_eq!(found[0].kind, "always-true");
/// ```
pub fn port_ranges(loaded: &LoadedSpec) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in loaded.substituted_rules() {
        for p in patterns(&r) {
            // A call's `port` argument is any number the agent passes.
            if !matches!(
                p.matcher,
                PatternKind::Connect { .. } | PatternKind::Listen { .. }
            ) {
                continue;
            }
            if let Some(c) = &p.condition {
                port_compares(&c.node, &mut |kind, what| {
                    out.push(Finding::new(
                        &r.span,
                        kind,
                        format!("`{}`: {what}", planlang::fmt_rule(&r)),
                        Proof::Syntax,
                    ))
                });
            }
        }
    }
    out
}

/// The patterns of a rule (two for `never` and `require`).
fn patterns(r: &ast::Rule) -> Vec<&ast::PatternExpr> {
    match &r.kind {
        ast::RuleKind::Effect { pattern, .. }
        | ast::RuleKind::AtMost { pattern, .. }
        | ast::RuleKind::ApproveEach { pattern } => vec![pattern],
        ast::RuleKind::Never { action, after } => vec![action, after],
        ast::RuleKind::Require { first, then } => vec![first, then],
    }
}

/// A number that is a port.
fn is_port(n: &rust_decimal::Decimal) -> bool {
    n.fract().is_zero() && *n >= 0.into() && *n <= 65_535.into()
}

fn number(v: &ast::ValueExpr) -> Option<rust_decimal::Decimal> {
    match v {
        ast::ValueExpr::Literal {
            literal: planlang::value::Literal::Number(n),
        } => Some(*n),
        _ => None,
    }
}

fn is_port_field(v: &ast::ValueExpr) -> bool {
    matches!(v, ast::ValueExpr::Ref(r) if r.resolved == RefKind::Field
        && r.name.node == "port" && r.fields.is_empty() && r.index.is_none())
}

/// Calls `found(kind, message)` for each comparison of `port` with a
/// constant outside the ports in `c`.
fn port_compares(c: &ast::CondExpr, found: &mut dyn FnMut(&'static str, String)) {
    use planlang::ast::CmpOp;
    match c {
        ast::CondExpr::And { all: cs } | ast::CondExpr::Or { any: cs } => {
            cs.iter().for_each(|c| port_compares(&c.node, found))
        }
        ast::CondExpr::Not { cond } => port_compares(&cond.node, found),
        ast::CondExpr::Compare { op, lhs, rhs } => {
            // `port OP n`, or `n OP port` read as `port OP' n`.
            let (op, v) = if is_port_field(&lhs.node) {
                (op.node, &rhs.node)
            } else if is_port_field(&rhs.node) {
                let flipped = match op.node {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    CmpOp::Eq | CmpOp::Ne => op.node,
                    _ => return,
                };
                (flipped, &lhs.node)
            } else {
                return;
            };
            let range = "a port is a whole number from 0 to 65535";
            if op == CmpOp::In {
                let ast::ValueExpr::List { items } = v else {
                    return;
                };
                let nums: Vec<_> = items.iter().filter_map(|i| number(&i.node)).collect();
                let dead: Vec<String> = nums
                    .iter()
                    .filter(|n| !is_port(n))
                    .map(|n| format!("`{n}`"))
                    .collect();
                if dead.is_empty() {
                    return;
                }
                if dead.len() == items.len() {
                    found(
                        "always-false",
                        format!("`port in` a list of no port is always false ({range})"),
                    );
                } else {
                    found(
                        "out-of-range",
                        format!(
                            "{} in `port in [...]` can never match ({range})",
                            dead.join(", ")
                        ),
                    );
                }
                return;
            }
            let Some(n) = number(v) else { return };
            if is_port(&n) {
                return;
            }
            let (lo, hi) = (
                rust_decimal::Decimal::ZERO,
                rust_decimal::Decimal::from(65_535),
            );
            let truth = match op {
                CmpOp::Eq => Some(false),
                CmpOp::Ne => Some(true),
                CmpOp::Lt if n > hi => Some(true),
                CmpOp::Lt if n <= lo => Some(false),
                CmpOp::Le if n >= hi => Some(true),
                CmpOp::Le if n < lo => Some(false),
                CmpOp::Gt if n >= hi => Some(false),
                CmpOp::Gt if n < lo => Some(true),
                CmpOp::Ge if n > hi => Some(false),
                CmpOp::Ge if n <= lo => Some(true),
                // A fraction between two ports: true of some, false of others.
                _ => None,
            };
            if let Some(t) = truth {
                found(
                    if t { "always-true" } else { "always-false" },
                    format!("`port {op} {n}` is always {t} ({range})"),
                );
            }
        }
        _ => {}
    }
}
