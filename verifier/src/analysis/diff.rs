//! `warden diff OLD NEW`: what a spec change lets through, and what it
//! takes away.
//!
//! For every class of actions (each action kind; each tool name either spec
//! names, plus every other tool) a [`Probe`] stands for every action of the
//! class as the specs can observe it (for a call: every combination of the
//! arguments either spec names, each present or absent, a string, number,
//! bool or list, from any tool; see [`super::probe`]). The solver is first
//! asked whether the two specs give some action of the class different
//! verdicts; only when they do is it asked, for each pair of verdicts
//! (allow, approve, deny), for an action OLD gives one and NEW the other.
//! Each witness is turned into a concrete action and checked with the value
//! semantics before it is reported. Where the solver gives up
//! (`undecided`) or the model is known to miss actions (`incomplete`, see
//! [`super::probe`]), no equivalence is claimed: [`DiffReport::outcome`] is
//! then [`Outcome::Unknown`] unless some change is shown. Temporal and count rules (`never`, `require`, `at most`) are
//! compared as sets of canonical rule texts, as are baseline patterns;
//! `max ttl` is compared by value.
//!
//! ```
//! use verifier::analysis::diff::{diff, DiffOptions};
//! let old = planlang::load_spec_str(r#"spec "s" { allow write under "/repo/src/" }"#, "old.spec").unwrap();
//! let new = planlang::load_spec_str(r#"spec "s" { allow write under "/repo/" }"#, "new.spec").unwrap();
//! let d = diff(&old, &new, &DiffOptions::default()).unwrap();
//! assert_eq!(d.findings[0].kind, "widened");
//! ```

use super::{Decision, Finding, Probe, Proof, deciding_rule, probes};
use crate::answer::Answer;
use crate::compile::{CompileError, CompiledSpec};
use crate::symbolic::Session;
use planlang::LoadedSpec;
use planlang::Span;
use planlang::Spanned;
use planlang::ast::RuleKind;
use serde::Serialize;
use std::collections::BTreeMap;
use warden_core::action::ConcreteAction;
use warden_core::cond::Cond;

/// How `diff` asks the solver.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Bound of every solver call, in milliseconds.
    pub timeout_ms: u32,
    /// How many spurious witnesses one question may produce.
    pub max_refinements: u32,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            timeout_ms: 5_000,
            max_refinements: 8,
        }
    }
}

/// Why two specs cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// The old spec does not compile.
    #[error("the old spec: {0}")]
    Old(CompileError),
    /// The new spec does not compile.
    #[error("the new spec: {0}")]
    New(CompileError),
}

/// One action that the two specs decide differently, checked concretely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Witnessed {
    /// The action.
    pub action: ConcreteAction,
    /// What the old spec decides for it.
    pub old: Decision,
    /// What the new spec decides for it.
    pub new: Decision,
}

/// What changed between two specs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffReport {
    /// Every change found, and every question left unproved
    /// ([`UNPROVED_KINDS`]).
    pub findings: Vec<Finding>,
    /// The witnesses of the effect changes, in the order of `findings`.
    pub witnesses: Vec<Witnessed>,
    /// Solver calls made.
    pub queries: usize,
}

/// What a diff proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No action is decided differently and no rule changed (proved).
    Equivalent,
    /// Some change is shown (a witness, or a rule, baseline or ttl change).
    Differ,
    /// No change was found, but the analysis could not prove there is none
    /// (`undecided` or `incomplete` findings).
    Unknown,
}

/// Finding kinds that say "not proved" rather than "changed".
pub const UNPROVED_KINDS: [&str; 2] = ["undecided", "incomplete"];

impl DiffReport {
    /// Whether the specs are proved equivalent (no finding at all).
    pub fn equivalent(&self) -> bool {
        self.findings.is_empty()
    }

    /// Equivalent, differ, or unknown.
    pub fn outcome(&self) -> Outcome {
        if self
            .findings
            .iter()
            .any(|f| !UNPROVED_KINDS.contains(&f.kind.as_str()))
        {
            Outcome::Differ
        } else if self.findings.is_empty() {
            Outcome::Equivalent
        } else {
            Outcome::Unknown
        }
    }
}

/// Compares two loaded specs.
pub fn diff(
    old: &LoadedSpec,
    new: &LoadedSpec,
    opts: &DiffOptions,
) -> Result<DiffReport, DiffError> {
    let old_c = CompiledSpec::compile(old).map_err(DiffError::Old)?;
    let new_c = CompiledSpec::compile(new).map_err(DiffError::New)?;
    let mut report = diff_effects(&old_c, &new_c, &new.root.name.span, opts);
    diff_rules(old, new, &mut report.findings);
    Ok(report)
}

/// The message kind of a verdict change.
pub fn change_kind(old: Decision, new: Decision) -> &'static str {
    match (old, new) {
        (_, Decision::Approve) => "approval-added",
        (Decision::Approve, _) => "approval-removed",
        (Decision::Deny, _) => "widened",
        _ => "narrowed",
    }
}

/// A concrete action in plan syntax (`exec "/usr/bin/git" ["push"]`); a
/// value originating from a tool is noted after it.
pub fn action_text(a: &ConcreteAction) -> String {
    let mut s = a.to_string();
    let origins: Vec<String> = a
        .fields
        .iter()
        .filter_map(|(k, f)| match f.origin.as_deref() {
            Some(o) if !o.is_empty() => Some(format!("{k} from call {o}")),
            _ => None,
        })
        .collect();
    if !origins.is_empty() {
        s.push_str(&format!(" [{}]", origins.join(", ")));
    }
    s
}

/// The effect-rule part of a diff on compiled specs (`at` names the new
/// spec when no rule decides a change).
pub fn diff_effects(
    old: &CompiledSpec,
    new: &CompiledSpec,
    at: &Span,
    opts: &DiffOptions,
) -> DiffReport {
    let mut report = DiffReport::default();
    for probe in probes(&[old, new]) {
        for g in &probe.gaps {
            report.findings.push(Finding::new(
                at,
                "incomplete",
                format!(
                    "{}: {g}; the specs may differ on such actions",
                    probe.class()
                ),
                Proof::Syntax,
            ));
        }
        // The same rules (whatever their order) decide every action alike.
        let rules = |s: &'_ CompiledSpec| -> Vec<(planlang::ast::Effect, Cond)> {
            probe
                .rules(s)
                .map(|(_, r)| (r.effect, r.pattern.when.clone()))
                .collect()
        };
        let (ro, rn) = (rules(old), rules(new));
        if ro.iter().all(|r| rn.contains(r)) && rn.iter().all(|r| ro.contains(r)) {
            continue;
        }
        let conds = |s: &CompiledSpec| -> BTreeMap<Decision, Cond> {
            Decision::ALL
                .iter()
                .map(|d| (*d, probe.decision_cond(s, *d)))
                .collect()
        };
        let (od, nd) = (conds(old), conds(new));
        let mut pairs = Vec::new();
        for o in Decision::ALL {
            for n in Decision::ALL {
                if o != n {
                    let c = Cond::and(od[&o].clone(), nd[&n].clone());
                    if c != Cond::False {
                        pairs.push((o, n, c));
                    }
                }
            }
        }
        // An action both specs decide alike unless it matches a rule only
        // one of them has: the solver looks there only.
        let focus = ro
            .iter()
            .filter(|r| !rn.contains(r))
            .chain(rn.iter().filter(|r| !ro.contains(r)))
            .fold(Cond::False, |acc, (_, w)| Cond::or(acc, probe.cond(w)));
        let mut session = probe.session(opts.timeout_ms);
        let cases = probe.cases();
        let decide = |a: &ConcreteAction| {
            (
                Decision::from(old.verdict_of(a)),
                Decision::from(new.verdict_of(a)),
            )
        };
        let mut gave_up = None;
        // One change at a time: a witness, then the question again without
        // the pair of verdicts it showed, until nothing is left.
        let mut alone = false;
        while !pairs.is_empty() && gave_up.is_none() {
            let todo: Vec<&(Decision, Decision, Cond)> = if alone {
                pairs.iter().take(1).collect()
            } else {
                pairs.iter().collect()
            };
            let keys: Vec<(Decision, Decision)> = todo.iter().map(|(o, n, _)| (*o, *n)).collect();
            let goal = Cond::and(
                focus.clone(),
                todo.iter()
                    .fold(Cond::False, |acc, (_, _, c)| Cond::or(acc, c.clone())),
            );
            match ask(&mut session, &probe, &cases, &goal, opts, &|a| {
                keys.contains(&decide(a))
            }) {
                Answer::Sat(w) => {
                    let Some(a) = probe.action(&w) else { break };
                    let (o, n) = decide(&a);
                    pairs.retain(|(x, y, _)| (*x, *y) != (o, n));
                    push_change(&mut report, old, new, at, a, o, n);
                }
                Answer::Unsat => {
                    pairs.retain(|(x, y, _)| !keys.contains(&(*x, *y)));
                }
                // Together too hard: ask the pairs one by one.
                other if !alone => {
                    alone = true;
                    if keys.len() == 1 {
                        gave_up = Some(other);
                    }
                }
                other => gave_up = Some(other),
            }
        }
        if let Some(a) = gave_up {
            report.findings.push(undecided(&probe, at, &a));
        }
        report.queries += session.queries;
    }
    report
}

/// Asks `goal` in each case of the probe: the first witness whose concrete
/// action passes `valid`, `Unsat` when every case is unsatisfiable, else
/// why some case went unanswered.
fn ask(
    session: &mut Session,
    probe: &Probe,
    cases: &[Cond],
    goal: &Cond,
    opts: &DiffOptions,
    valid: &dyn Fn(&ConcreteAction) -> bool,
) -> Answer {
    let mut out = Answer::Unsat;
    for case in cases {
        let g = Cond::and(goal.clone(), case.clone());
        match session.solve(&g, Some(&probe.step), opts.max_refinements, &|w| {
            probe.action(w).is_some_and(|a| valid(&a))
        }) {
            Answer::Unsat => {}
            Answer::Sat(w) => return Answer::Sat(w),
            other => out = other,
        }
    }
    out
}

fn undecided(probe: &Probe, at: &Span, a: &Answer) -> Finding {
    let why = match a {
        Answer::Timeout => "the solver ran out of time".to_string(),
        Answer::Unknown(w) => format!("the solver gave up ({w})"),
        _ => "no answer".to_string(),
    };
    Finding::new(
        at,
        "undecided",
        format!(
            "{}: could not decide whether the specs agree: {why}",
            probe.class()
        ),
        Proof::Syntax,
    )
}

fn push_change(
    report: &mut DiffReport,
    old: &CompiledSpec,
    new: &CompiledSpec,
    at: &Span,
    a: ConcreteAction,
    o: Decision,
    n: Decision,
) {
    let describe = |s: &CompiledSpec, d: Decision, which: &str| -> (String, Option<Span>) {
        match deciding_rule(s.verdict_of(&a)).and_then(|i| s.effects.get(i)) {
            Some(r) => (
                format!("{which} says {d} (`{}` at {})", r.text, r.span),
                Some(r.span.clone()),
            ),
            None => (format!("{which} says {d} (nothing allows it)"), None),
        }
    };
    let (ot, os) = describe(old, o, "old");
    let (nt, ns) = describe(new, n, "new");
    let span = ns.or(os).unwrap_or_else(|| at.clone());
    let text = action_text(&a);
    report.findings.push(Finding::new(
        &span,
        change_kind(o, n),
        format!("{text}: {nt}; {ot}"),
        Proof::Witness {
            action: text.clone(),
        },
    ));
    report.witnesses.push(Witnessed {
        action: a,
        old: o,
        new: n,
    });
}

/// Canonical texts of the temporal and count rules, with their spans.
fn order_rules(l: &LoadedSpec) -> BTreeMap<String, Span> {
    let mut out = BTreeMap::new();
    for r in l.substituted_rules() {
        if !matches!(r.kind, RuleKind::Effect { .. }) {
            out.entry(planlang::fmt_rule(&r)).or_insert(r.span.clone());
        }
    }
    out
}

fn baselines(l: &LoadedSpec) -> BTreeMap<String, Span> {
    let mut out = BTreeMap::new();
    for b in l.baselines() {
        for p in &b.patterns {
            out.entry(planlang::fmt_pattern(p))
                .or_insert(p.span.clone());
        }
    }
    out
}

/// Temporal, count, baseline and `max ttl` changes.
pub fn diff_rules(old: &LoadedSpec, new: &LoadedSpec, out: &mut Vec<Finding>) {
    let sets =
        |f: fn(&LoadedSpec) -> BTreeMap<String, Span>, what: &str, out: &mut Vec<Finding>| {
            let (o, n) = (f(old), f(new));
            for (text, span) in &n {
                if !o.contains_key(text) {
                    out.push(Finding::new(
                        span,
                        &format!("{what}-added"),
                        format!("`{text}` is new"),
                        Proof::Syntax,
                    ));
                }
            }
            for (text, span) in &o {
                if !n.contains_key(text) {
                    out.push(Finding::new(
                        span,
                        &format!("{what}-removed"),
                        format!("`{text}` is gone"),
                        Proof::Syntax,
                    ));
                }
            }
        };
    sets(order_rules, "rule", out);
    sets(baselines, "baseline", out);
    let ttl = |l: &LoadedSpec| l.max_ttl().map(|t: &Spanned<_>| (t.node, t.span.clone()));
    match (ttl(old), ttl(new)) {
        (Some((a, _)), Some((b, s))) if a != b => out.push(Finding::new(
            &s,
            "max-ttl",
            format!("`max ttl` changed from {a} to {b}"),
            Proof::Syntax,
        )),
        (None, Some((b, s))) => out.push(Finding::new(
            &s,
            "max-ttl",
            format!("`max ttl {b}` is new (old had no cap)"),
            Proof::Syntax,
        )),
        (Some((a, s)), None) => out.push(Finding::new(
            &s,
            "max-ttl",
            format!("`max ttl {a}` is gone (new has no cap)"),
            Proof::Syntax,
        )),
        _ => {}
    }
}
