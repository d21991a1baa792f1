//! Checking a plan against a compiled spec: per-step verdicts (concrete
//! steps directly, symbolic steps with Z3), temporal and count rules over
//! the control-flow graph, the ttl, and the envelope of what is accepted.

use crate::answer::{Answer, Witness};
use crate::canon;
use crate::cfg::{self, LowerError, Lowered, Path, PathElem, StepAction};
use crate::compile::{ActionVerdict, CompiledSpec, Options};
use crate::report::{Approval, Counterexample, Outcome, PathStep, Reason, Stats, Verdict};
use crate::symbolic::{self, ResidualScope, Session};
use planlang::Span;
use planlang::ast::{self, Effect, ParamType};
use planlang::lower::CondError;
use planlang::lower::Consts;
use std::collections::{BTreeMap, HashMap};
use warden_core::cond::Cond;
use warden_core::cond::Pattern;
use warden_core::value::Field;
use z3::SatResult;

/// Why a plan cannot be checked at all (bad input, exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The plan cannot be lowered to steps and a control-flow graph.
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// A param's `where` (or a result's assumption) cannot be lowered to
    /// a condition.
    #[error("{span}: the `where` condition of param `{param}`: {source}")]
    Where {
        /// The param's declaration.
        span: Span,
        /// Its name (`bill.amount` for an assumed field).
        param: String,
        /// Why its condition cannot be lowered.
        source: CondError,
    },
    /// No values meet every param's `where` together: a proof under them
    /// would hold vacuously.
    #[error("{span}: the `where` conditions of the params cannot all hold: no value is possible")]
    UnsatisfiableWhere {
        /// The first param with a `where` (the plan when none has one).
        span: Span,
    },
}

/// A step of the plan as the check sees it.
struct StepInfo {
    /// The first step with the same action (duplicates are decided once).
    canonical: usize,
    concrete: Option<warden_core::action::ConcreteAction>,
}

struct Checker<'s, 'p> {
    spec: &'s CompiledSpec,
    /// The options of this check (the spec's, or a caller's).
    options: &'s Options,
    plan: &'p ast::Plan,
    lowered: Lowered,
    info: Vec<StepInfo>,
    reachable: Vec<bool>,
    param_types: HashMap<String, ParamType>,
    wheres: Vec<Cond>,
    /// The compiled `where`s, for the concrete check of witnesses.
    where_conds: Vec<(String, Option<Cond>)>,
    where_key: String,
    session: Option<Session>,
    /// Why the automata left the last question to Z3 (a refusal for want
    /// of a proof names it); `None` when they decided it.
    outside: Option<crate::automata::Outside>,
    /// Defaults for a session started later (the `where`s were known
    /// satisfiable from the cache).
    base: Option<std::collections::BTreeMap<String, warden_core::value::Value>>,
    stats: Stats,
    violations: Vec<Counterexample>,
    approvals: Vec<Approval>,
}

impl CompiledSpec {
    /// Checks a plan: the verdict, every reason with its counterexample, and
    /// the envelope when the plan is accepted or needs approval.
    pub fn check(&self, plan: &ast::Plan) -> Result<Outcome, CheckError> {
        self.check_with(plan, &self.options)
    }

    /// [`CompiledSpec::check`] with other options (a longer solver bound
    /// for the proofs of issuing); the caches are shared, as only decided
    /// answers are kept.
    pub fn check_with(&self, plan: &ast::Plan, options: &Options) -> Result<Outcome, CheckError> {
        let lowered = cfg::lower(plan)?;
        let reachable = lowered.graph.reachable(lowered.steps.len());
        let mut first: HashMap<&StepAction, usize> = HashMap::new();
        let mut info = Vec::with_capacity(lowered.steps.len());
        for (i, s) in lowered.steps.iter().enumerate() {
            let canonical = *first.entry(s).or_insert(i);
            info.push(StepInfo {
                canonical,
                concrete: s.to_concrete(),
            });
        }
        // The fields of results with an assumption are params the proof
        // may rely on.
        let param_types: HashMap<String, ParamType> = lowered
            .checked_params()
            .map(|p| (p.name.clone(), p.ty))
            .collect();
        let mut wheres = Vec::new();
        let mut where_conds = Vec::new();
        for p in lowered.checked_params() {
            let compiled = match &p.condition {
                Some(c) => Some(planlang::lower::cond(c, &Consts::new()).map_err(|source| {
                    CheckError::Where {
                        span: p.span.clone(),
                        param: p.name.clone(),
                        source,
                    }
                })?),
                None => None,
            };
            if let Some(c) = &compiled {
                let scope = ResidualScope::Params(&param_types);
                wheres.push(symbolic::residual(c, &scope));
            }
            where_conds.push((p.name.clone(), compiled));
        }
        let mut types: Vec<String> = param_types
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        types.sort();
        let where_key = format!(
            "{}|{}",
            types.join(","),
            canon::key(&canon::tidy(&Cond::And {
                all: wheres.clone()
            }))
        );
        let mut c = Checker {
            spec: self,
            options,
            plan,
            lowered,
            info,
            reachable,
            param_types,
            wheres,
            where_conds,
            where_key,
            session: None,
            outside: None,
            base: None,
            stats: Stats::default(),
            violations: Vec::new(),
            approvals: Vec::new(),
        };
        c.run()?;
        let verdict = if !c.violations.is_empty() {
            Verdict::Reject
        } else if !c.approvals.is_empty() {
            Verdict::Approve
        } else {
            Verdict::Accept
        };
        let envelope = (verdict != Verdict::Reject).then(|| c.envelope());
        Ok(Outcome {
            verdict,
            violations: c.violations,
            approvals: c.approvals,
            envelope,
            stats: c.stats,
        })
    }
}

impl<'s, 'p> Checker<'s, 'p> {
    fn run(&mut self) -> Result<(), CheckError> {
        if let (Some(ttl), Some(max)) = (&self.plan.ttl, self.spec.max_ttl)
            && ttl.node.secs > max
        {
            self.violations.push(Counterexample {
                reason: Reason::Ttl,
                message: format!(
                    "the plan asks for a ttl of {} but the spec allows at most {}",
                    ttl.node,
                    planlang::value::Duration::from_secs(max)
                ),
                rule: None,
                rule_text: Some(format!(
                    "max ttl {}",
                    planlang::value::Duration::from_secs(max)
                )),
                step: Some(ttl.span.clone()),
                action: None,
                path: Vec::new(),
                witness: BTreeMap::new(),
            });
        }
        let symbolic =
            (0..self.info.len()).any(|i| self.reachable[i] && self.info[i].concrete.is_none());
        if symbolic {
            let mut s = self.new_session();
            let known = if self.options.cache {
                self.spec
                    .where_cache
                    .lock()
                    .ok()
                    .and_then(|c| c.get(&self.where_key).cloned())
            } else {
                None
            };
            let sat = match known {
                Some(base) => {
                    // Known satisfiable: the solver starts only if a question
                    // misses the cache.
                    self.stats.cache_hits += 1;
                    self.base = Some(base);
                    SatResult::Sat
                }
                None => s.satisfiable(),
            };
            self.stats.solver_queries += s.queries;
            self.stats.automata_answers += s.decided;
            s.queries = 0;
            s.decided = 0;
            match sat {
                SatResult::Unsat => {
                    let span = self
                        .lowered
                        .checked_params()
                        .find(|p| p.condition.is_some())
                        .map(|p| p.span.clone())
                        .unwrap_or_else(|| self.plan.span.clone());
                    return Err(CheckError::UnsatisfiableWhere { span });
                }
                SatResult::Unknown => {
                    self.violations
                        .push(self.solver_failure(None, Answer::Timeout));
                    return Ok(());
                }
                SatResult::Sat => {
                    if self.options.cache
                        && let Ok(mut c) = self.spec.where_cache.lock()
                    {
                        if c.len() > 10_000 {
                            c.clear();
                        }
                        c.insert(self.where_key.clone(), s.base().clone());
                    }
                }
            }
            if self.base.is_none() {
                self.session = Some(s);
            }
        }
        for i in 0..self.info.len() {
            if !self.reachable[i] || self.info[i].canonical != i {
                continue;
            }
            self.decide_step(i);
        }
        self.temporal();
        if let Some(s) = &self.session {
            self.stats.solver_queries += s.queries;
            self.stats.automata_answers += s.decided;
        }
        Ok(())
    }

    fn step(&self, i: usize) -> &StepAction {
        &self.lowered.steps[i]
    }

    /// The path as reported: branch choices and loop counts, and of its
    /// steps those `keep` names (the ones the rule is about), so that a
    /// report grows with what matters, not with every step on the way.
    fn path_steps(&self, p: &Path, keep: &dyn Fn(usize) -> bool) -> Vec<PathStep> {
        p.iter()
            .filter(|e| !matches!(e, PathElem::Step(i) if !keep(*i)))
            .map(|e| match e {
                PathElem::Step(i) => PathStep {
                    span: self.step(*i).span.clone(),
                    note: self.step(*i).to_string(),
                },
                PathElem::Branch { span, index } => PathStep {
                    span: span.clone(),
                    note: format!("either: branch {index}"),
                },
                PathElem::Iterations { span, count } => PathStep {
                    span: span.clone(),
                    note: format!(
                        "repeat: {count} iteration{}",
                        if *count == 1 { "" } else { "s" }
                    ),
                },
            })
            .collect()
    }

    /// How a path reaches step `i`: the branches and loops around it, then
    /// the step ([`Lowered::context`](crate::cfg::Lowered::context)).
    fn path_to(&self, i: usize) -> Vec<PathStep> {
        self.path_steps(&self.lowered.context(i), &|_| true)
    }

    /// Whether a witness meets the params' types and `where` conditions.
    fn where_ok(&self, w: &Witness) -> bool {
        let scope: BTreeMap<String, Field> = w
            .params
            .iter()
            .map(|(k, v)| (k.clone(), Field::new(v.clone())))
            .collect();
        self.lowered.checked_params().all(|p| {
            scope
                .get(&p.name)
                .is_some_and(|f| warden_core::envelope::type_ok(p.ty, &f.value))
        }) && self
            .where_conds
            .iter()
            .all(|(_, c)| c.as_ref().is_none_or(|c| c.eval(&scope)))
    }

    /// Asks a question about a symbolic step: in a cheap normal form
    /// ([`canon::tidy`]: flattened, constants folded, operands sorted) to
    /// the cache and the automata, and, when those cannot answer, in egg's
    /// canonical form to the cache again and to Z3.
    fn ask(
        &mut self,
        goal: Cond,
        step: usize,
        purpose: &str,
        valid: &dyn Fn(&Checker, &Witness) -> bool,
    ) -> Answer {
        self.outside = None;
        let canonicalize = self.options.canonicalize;
        let goal = if canonicalize {
            canon::tidy(&goal)
        } else {
            goal
        };
        if let Some(a) = self.trivial(&goal, step) {
            return a;
        }
        let key = format!("{}#{purpose}#{}", self.where_key, canon::key(&goal));
        if let Some(a) = self.cached(&key, valid) {
            return a;
        }
        let mut session = match self.session.take() {
            Some(s) => s,
            None => {
                let mut s = self.new_session();
                s.set_base(self.base.clone().unwrap_or_default());
                s
            }
        };
        let mut keys = vec![key];
        let decided = session.decide(&goal, &|w| valid(self, w));
        let answer = match decided {
            Ok(a) => a,
            Err(outside) => {
                self.outside = Some(outside);
                // egg, before Z3: equal questions are asked once.
                let goal = if canonicalize {
                    self.spec.canonical(&goal)
                } else {
                    goal
                };
                let key = format!("{}#{purpose}#{}", self.where_key, canon::key(&goal));
                match self
                    .trivial(&goal, step)
                    .or_else(|| self.cached(&key, valid))
                {
                    Some(a) => a,
                    None => {
                        keys.push(key);
                        let st = self.step(step).clone();
                        let max = self.options.max_refinements;
                        session.solve_z3(&goal, Some(&st), max, &|w| valid(self, w))
                    }
                }
            }
        };
        self.session = Some(session);
        if self.options.cache
            && matches!(answer, Answer::Unsat | Answer::Sat(_))
            && let Ok(mut cache) = self.spec.cache.lock()
        {
            if cache.len() > 100_000 {
                cache.clear();
            }
            for k in keys {
                cache.insert(k, answer.clone());
            }
        }
        answer
    }

    /// A solver session for this plan's params, with the spec's options.
    fn new_session(&self) -> Session {
        let mut s = Session::new(
            self.param_types.clone(),
            &self.wheres,
            self.options.timeout_ms,
        );
        s.automata = self.options.automata;
        s
    }

    /// The answer to a question that needs no solver.
    fn trivial(&self, goal: &Cond, step: usize) -> Option<Answer> {
        match goal {
            Cond::False => Some(Answer::Unsat),
            Cond::True
                if self.lowered.checked_params().next().is_none()
                    && self.step(step).is_concrete() =>
            {
                Some(Answer::Sat(Witness::default()))
            }
            _ => None,
        }
    }

    /// A cached answer (a witness only if it is still valid here).
    fn cached(&mut self, key: &str, valid: &dyn Fn(&Checker, &Witness) -> bool) -> Option<Answer> {
        if !self.options.cache {
            return None;
        }
        let a = self.spec.cache.lock().ok()?.get(key).cloned()?;
        match &a {
            Answer::Unsat => {}
            Answer::Sat(w) if valid(self, w) => {}
            _ => return None,
        }
        self.stats.cache_hits += 1;
        Some(a)
    }

    fn residual_of(&self, p: &Pattern, i: usize) -> Cond {
        let s = self.step(i);
        if !p.kind_matches(s.kind, s.call.as_deref()) {
            return Cond::False;
        }
        symbolic::residual(&p.when, &ResidualScope::Step(s))
    }

    fn solver_failure(&self, step: Option<usize>, a: Answer) -> Counterexample {
        // What took the question outside the fragment decided without the
        // solver (docs/language.md), when the automata said.
        let outside = match &self.outside {
            Some(o) => format!(
                " (the question is outside what the verifier decides without the solver: {o})"
            ),
            None => String::new(),
        };
        let (reason, message) = match &a {
            Answer::Timeout => (
                Reason::Timeout,
                format!(
                    "the solver did not answer within {} ms{outside}: refused, since nothing was proven",
                    self.options.timeout_ms
                ),
            ),
            // The reason's own words ("could not prove the step safe") come
            // first in every report: the message says why, once.
            Answer::Unknown(why) => (
                Reason::CouldNotProve,
                format!(
                    "{why}{outside}; this is a limit of the verifier, not a counterexample: refused, since nothing was proven"
                ),
            ),
            _ => (
                Reason::CouldNotProve,
                format!("refused, since nothing was proven{outside}"),
            ),
        };
        Counterexample {
            reason,
            message,
            rule: None,
            rule_text: None,
            step: step.map(|i| self.step(i).span.clone()),
            action: step.map(|i| self.step(i).to_string()),
            path: step.map(|i| self.path_to(i)).unwrap_or_default(),
            witness: BTreeMap::new(),
        }
    }

    fn violation_for(
        &self,
        i: usize,
        v: ActionVerdict,
        action: String,
        w: &Witness,
    ) -> Option<Counterexample> {
        let (reason, rule) = match v {
            ActionVerdict::Deny(Some(r)) => (Reason::Denied, Some(r)),
            ActionVerdict::Deny(None) => (Reason::NothingAllows, None),
            _ => return None,
        };
        let r = rule.map(|r| &self.spec.effects[r]);
        let message = match r {
            Some(r) => format!("`{action}` is denied by `{}`", r.text),
            None => format!("no rule allows `{action}`"),
        };
        Some(Counterexample {
            reason,
            message,
            rule: r.map(|r| r.span.clone()),
            rule_text: r.map(|r| r.text.clone()),
            step: Some(self.step(i).span.clone()),
            action: Some(action),
            path: self.path_to(i),
            witness: w.shown(),
        })
    }

    fn decide_step(&mut self, i: usize) {
        if let Some(a) = self.info[i].concrete.clone() {
            self.stats.concrete_steps += 1;
            let v = self.spec.verdict_of(&a);
            match v {
                ActionVerdict::Deny(_) => {
                    if let Some(viol) = self.violation_for(i, v, a.to_string(), &Witness::default())
                    {
                        self.violations.push(viol);
                    }
                }
                ActionVerdict::Approve(r) => self.approvals.push(Approval {
                    rule: self.spec.effects[r].span.clone(),
                    rule_text: Some(self.spec.effects[r].text.clone()),
                    step: self.step(i).span.clone(),
                    action: a.to_string(),
                    witness: BTreeMap::new(),
                }),
                ActionVerdict::Allow(_) => {}
            }
            return;
        }
        self.stats.symbolic_steps += 1;
        let (mut denies, mut grants, mut approves) = (Cond::False, Cond::False, Cond::False);
        for r in &self.spec.effects {
            let res = self.residual_of(&r.pattern, i);
            if res == Cond::False {
                continue;
            }
            match r.effect {
                Effect::Deny => denies = Cond::or(denies, res),
                Effect::Allow => grants = Cond::or(grants, res),
                Effect::Approve => {
                    approves = Cond::or(approves, res.clone());
                    grants = Cond::or(grants, res);
                }
            }
        }
        // Only values that make the step an action (a port param a port).
        let domain = symbolic::step_domain(self.step(i), &self.param_types);
        let bad = Cond::and(domain.clone(), Cond::or(denies.clone(), Cond::not(grants)));
        let ans = self.ask(bad, i, "deny", &|c, w| {
            c.where_ok(w)
                && w.action(c.step(i))
                    .is_some_and(|a| matches!(c.spec.verdict_of(&a), ActionVerdict::Deny(_)))
        });
        match ans {
            Answer::Unsat => {}
            Answer::Sat(w) => {
                if let Some(a) = w.action(self.step(i)) {
                    let v = self.spec.verdict_of(&a);
                    if let Some(viol) = self.violation_for(i, v, a.to_string(), &w) {
                        self.violations.push(viol);
                    }
                }
                return;
            }
            other => {
                let v = self.solver_failure(Some(i), other);
                self.violations.push(v);
                return;
            }
        }
        if approves != Cond::False {
            let goal = Cond::and(domain, Cond::and(Cond::not(denies), approves));
            match self.ask(goal, i, "approve", &|c, w| {
                c.where_ok(w)
                    && w.action(c.step(i))
                        .is_some_and(|a| matches!(c.spec.verdict_of(&a), ActionVerdict::Approve(_)))
            }) {
                Answer::Sat(w) => {
                    if let Some(a) = w.action(self.step(i))
                        && let ActionVerdict::Approve(r) = self.spec.verdict_of(&a)
                    {
                        self.approvals.push(Approval {
                            rule: self.spec.effects[r].span.clone(),
                            rule_text: Some(self.spec.effects[r].text.clone()),
                            step: self.step(i).span.clone(),
                            action: a.to_string(),
                            witness: w.shown(),
                        });
                    }
                }
                Answer::Unsat => {}
                other => {
                    let v = self.solver_failure(Some(i), other);
                    self.violations.push(v);
                }
            }
        }
    }

    /// Whether step `i` may match `p` for some param values (`must`:
    /// for every value). `None` when the solver could not say.
    fn matches(&mut self, p: &Pattern, i: usize, must: bool) -> Option<bool> {
        let i = self.info[i].canonical;
        if let Some(a) = &self.info[i].concrete {
            return Some(p.matches(a));
        }
        let res = self.residual_of(p, i);
        match (&res, must) {
            (Cond::False, _) => return Some(false),
            (Cond::True, _) => return Some(true),
            _ => {}
        }
        let p2 = p.clone();
        // "May match" asks of the values that make the step an action;
        // "must match" of every value (the stronger claim, kept).
        let goal = if must {
            Cond::not(res)
        } else {
            Cond::and(symbolic::step_domain(self.step(i), &self.param_types), res)
        };
        let want = !must;
        let ans = self.ask(goal, i, if must { "must" } else { "may" }, &move |c, w| {
            c.where_ok(w) && w.action(c.step(i)).is_some_and(|a| p2.matches(&a) == want)
        });
        match ans {
            Answer::Unsat => Some(must),
            Answer::Sat(_) => Some(!must),
            _ => None,
        }
    }

    /// Per step: may / must match, for the steps that run.
    fn table(&mut self, p: &Pattern, must: bool) -> Result<Vec<bool>, usize> {
        let mut out = Vec::with_capacity(self.info.len());
        for i in 0..self.info.len() {
            if !self.reachable[i] {
                out.push(false);
                continue;
            }
            match self.matches(p, i, must) {
                Some(b) => out.push(b),
                None => return Err(i),
            }
        }
        Ok(out)
    }

    fn temporal(&mut self) {
        let spec = self.spec;
        for r in &spec.never {
            let (a, b) = match (self.table(&r.first, false), self.table(&r.second, false)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(i), _) | (_, Err(i)) => {
                    let v = self.solver_failure(
                        Some(i),
                        Answer::Unknown(
                            "whether the step matches a pattern of a `never` rule is undecided"
                                .into(),
                        ),
                    );
                    self.violations.push(v);
                    continue;
                }
            };
            if let Some(path) = self.lowered.graph.never_after(&|i| a[i], &|i| b[i]) {
                let keep = |i: usize| a[i] || b[i];
                let last = last_step(&path);
                self.violations.push(Counterexample {
                    reason: Reason::Never,
                    message: format!("on this path, a step breaks `{}`", r.text),
                    rule: Some(r.span.clone()),
                    rule_text: Some(r.text.clone()),
                    step: last.map(|i| self.step(i).span.clone()),
                    action: last.map(|i| self.step(i).to_string()),
                    path: self.path_steps(&path, &keep),
                    witness: BTreeMap::new(),
                });
            }
        }
        for r in &spec.require {
            let (a, b) = match (self.table(&r.first, true), self.table(&r.second, false)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(i), _) | (_, Err(i)) => {
                    let v = self.solver_failure(
                        Some(i),
                        Answer::Unknown(
                            "whether the step matches a pattern of a `require` rule is undecided"
                                .into(),
                        ),
                    );
                    self.violations.push(v);
                    continue;
                }
            };
            if let Some(path) = self.lowered.graph.require_before(&|i| a[i], &|i| b[i]) {
                let keep = |i: usize| a[i] || b[i];
                let last = last_step(&path);
                self.violations.push(Counterexample {
                    reason: Reason::Require,
                    message: format!(
                        "on this path, a step comes without what `{}` requires before it",
                        r.text
                    ),
                    rule: Some(r.span.clone()),
                    rule_text: Some(r.text.clone()),
                    step: last.map(|i| self.step(i).span.clone()),
                    action: last.map(|i| self.step(i).to_string()),
                    path: self.path_steps(&path, &keep),
                    witness: BTreeMap::new(),
                });
            }
        }
        for r in &spec.at_most {
            let m = match self.table(&r.pattern, false) {
                Ok(m) => m,
                Err(i) => {
                    let v =
                        self.solver_failure(Some(i), Answer::Unknown("whether the step matches the pattern of an `at most` rule is undecided".into()));
                    self.violations.push(v);
                    continue;
                }
            };
            let (n, path) = self.lowered.graph.max_count(&|i| m[i]);
            let keep = |i: usize| m[i];
            if n > r.limit {
                let last = last_step(&path);
                self.violations.push(Counterexample {
                    reason: Reason::AtMost,
                    message: format!(
                        "a path performs {} matching actions; `{}` allows {}",
                        if n == u64::MAX {
                            "too many".to_string()
                        } else {
                            n.to_string()
                        },
                        r.text,
                        r.limit
                    ),
                    rule: Some(r.span.clone()),
                    rule_text: Some(r.text.clone()),
                    step: last.map(|i| self.step(i).span.clone()),
                    action: last.map(|i| self.step(i).to_string()),
                    path: self.path_steps(&path, &keep),
                    witness: BTreeMap::new(),
                });
            }
        }
    }

    fn envelope(&mut self) -> warden_core::envelope::Envelope {
        let steps: Vec<usize> = (0..self.info.len())
            .filter(|&i| self.reachable[i] && self.info[i].canonical == i)
            .collect();
        let mut env = crate::derive::derive(
            steps.iter().map(|&i| self.step(i)),
            &self.where_conds,
            &self.lowered.params,
            &self.spec.baseline,
        );
        env.assumptions = crate::derive::assumptions(&self.lowered.assumptions, &self.where_conds);
        let spec = self.spec;
        for r in &spec.at_most {
            if let Ok(m) = self.table(&r.pattern, false)
                && m.iter().any(|b| *b)
            {
                env.limits.push(warden_core::envelope::CountLimit {
                    limit: r.limit,
                    pattern: r.pattern.clone(),
                    rule: planlang::lower::location(&r.span),
                });
            }
        }
        for r in &spec.approve_each {
            // A rule the solver could not decide is kept: one approval too
            // many, never one too few.
            let may_match = match self.table(&r.pattern, false) {
                Ok(m) => m.iter().any(|b| *b),
                Err(_) => true,
            };
            if may_match {
                env.approvals.push(warden_core::envelope::ApprovalRule {
                    pattern: r.pattern.clone(),
                    rule: planlang::lower::location(&r.span),
                });
            }
        }
        env.deny_from = self.deny_from_rules(&steps);
        for (kind, rules) in [
            (warden_core::envelope::OrderKind::Never, &spec.never),
            (warden_core::envelope::OrderKind::Require, &spec.require),
        ] {
            for r in rules {
                if let Ok(m) = self.table(&r.second, false)
                    && m.iter().any(|b| *b)
                {
                    env.ordering.push(warden_core::envelope::OrderRule {
                        kind,
                        action: r.first.clone(),
                        other: r.second.clone(),
                        rule: planlang::lower::location(&r.span),
                    });
                }
            }
        }
        env
    }
}

impl Checker<'_, '_> {
    /// The `deny ... when ... from call T` rules the token carries to run
    /// time. The plan check reads a param (a glob, a `let` result of
    /// another tool) as coming from no call, or from its own tool only,
    /// but at run time its value may well come from `T`: every such rule
    /// whose pattern could match a step with a value not written in the
    /// plan rides in the envelope, and the monitor refuses at run time what
    /// the plan check could not see. One rule too many costs a check; one
    /// too few would let the flow through.
    fn deny_from_rules(&self, steps: &[usize]) -> Vec<warden_core::envelope::DenyFromRule> {
        self.spec
            .effects
            .iter()
            .filter(|r| {
                r.effect == Effect::Deny
                    && warden_core::flow::asks_provenance(&r.pattern.when)
                    && steps.iter().any(|&i| {
                        let s = self.step(i);
                        r.pattern.kind_matches(s.kind, s.call.as_deref()) && !s.is_concrete()
                    })
            })
            .map(|r| warden_core::envelope::DenyFromRule {
                pattern: r.pattern.clone(),
                rule: planlang::lower::location(&r.span),
            })
            .collect()
    }
}

fn last_step(p: &Path) -> Option<usize> {
    p.iter().rev().find_map(|e| match e {
        PathElem::Step(i) => Some(*i),
        _ => None,
    })
}
