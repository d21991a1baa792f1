//! The solver session of one check: the plan's params declared, their
//! `where` conditions asserted once, each question pushed and popped;
//! automata first ([`crate::automata`]), then Z3 with refinement of
//! spurious witnesses.

use super::encode::{Encoder, SymKind, list_bound, parse_sym};
use crate::answer::{Answer, Witness};
use crate::cfg::StepAction;
use planlang::ast::ParamType;
use std::collections::{BTreeMap, HashMap};
use warden_core::cond::Cond;
use warden_core::value::Value;
use z3::ast::Bool;
use z3::{SatResult, Solver};

/// A solver for one check: the plan's params declared, their `where`
/// conditions asserted once; each question is pushed and popped.
pub struct Session {
    /// Made when the first question reaches Z3 (many checks never need it).
    pub(super) solver: std::cell::OnceCell<Solver>,
    pub(super) timeout_ms: u32,
    /// The type of every param the questions may name.
    pub params: HashMap<String, ParamType>,
    /// The params' `where` conditions (residual), with the params each names.
    pub(super) wheres: Vec<(Vec<String>, Cond)>,
    /// Values of every param that meet every `where` (found by
    /// [`Session::satisfiable`]): a question fills in the params it does not
    /// involve from here.
    pub(super) base: BTreeMap<String, Value>,
    /// Solver calls made.
    pub queries: usize,
    /// Decide what [`crate::automata`] can before asking Z3.
    pub automata: bool,
    /// Questions [`crate::automata`] decided.
    pub decided: usize,
}

pub(super) fn params_of(c: &Cond) -> Vec<String> {
    let mut names = Vec::new();
    c.refs(&mut names);
    names
        .iter()
        .filter_map(|n| match parse_sym(n) {
            Some((_, SymKind::Param(p))) => Some(p),
            _ => None,
        })
        .collect()
}

impl Session {
    /// A solver with a timeout (ms) for a plan's params and their `where`
    /// conditions. A question asserts only the conditions of the params it
    /// involves (and of params tied to them by a condition): the others can
    /// be met independently once [`Session::satisfiable`] has said so.
    pub fn new(params: HashMap<String, ParamType>, wheres: &[Cond], timeout_ms: u32) -> Self {
        Session {
            solver: std::cell::OnceCell::new(),
            timeout_ms,
            params,
            wheres: wheres.iter().map(|w| (params_of(w), w.clone())).collect(),
            base: BTreeMap::new(),
            queries: 0,
            automata: true,
            decided: 0,
        }
    }

    pub(super) fn solver(&self) -> &Solver {
        self.solver.get_or_init(|| {
            let solver = Solver::new();
            let mut p = z3::Params::new();
            p.set_u32("timeout", self.timeout_ms);
            solver.set_params(&p);
            solver
        })
    }

    /// The params tied to `names` by `where` conditions (names included).
    pub(super) fn closure(&self, names: Vec<String>) -> std::collections::BTreeSet<String> {
        let mut set: std::collections::BTreeSet<String> = names.into_iter().collect();
        loop {
            let before = set.len();
            for (ps, _) in &self.wheres {
                if ps.iter().any(|p| set.contains(p)) {
                    set.extend(ps.iter().cloned());
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    /// The `where` conditions that name a param of `set`.
    pub(super) fn wheres_of(&self, set: &std::collections::BTreeSet<String>) -> Vec<&Cond> {
        self.wheres
            .iter()
            .filter(|(ps, _)| ps.iter().any(|p| set.contains(p)))
            .map(|(_, c)| c)
            .collect()
    }

    /// Asserts the types and conditions of `names` and of the params tied
    /// to them.
    pub(super) fn assert_params(
        &self,
        names: Vec<String>,
    ) -> (
        std::collections::BTreeSet<String>,
        std::collections::BTreeSet<&'static str>,
    ) {
        let set = self.closure(names);
        let conds = self.wheres_of(&set);
        let mut enc = Encoder::new(&self.params, list_bound(&conds));
        for name in &set {
            if let Some(ty) = self.params.get(name) {
                let c = enc.param_type(name, *ty);
                self.solver().assert(&c);
            }
        }
        for w in conds {
            for c in enc.question(w) {
                self.solver().assert(&c);
            }
        }
        for s in enc.finish() {
            self.solver().assert(&s);
        }
        (set, enc.limits)
    }

    /// Values of every param that meet every `where` (after
    /// [`Session::satisfiable`] said `Sat`).
    pub fn base(&self) -> &BTreeMap<String, Value> {
        &self.base
    }

    /// Takes defaults found by an earlier session for the same conditions.
    pub fn set_base(&mut self, base: BTreeMap<String, Value>) {
        self.base = base;
    }

    /// Whether the params' conditions can all hold at once. Params tied by
    /// conditions are asked together, independent groups apart; the values
    /// found become the defaults of later questions.
    pub fn satisfiable(&mut self) -> SatResult {
        let mut todo: std::collections::BTreeSet<String> = self.params.keys().cloned().collect();
        while let Some(first) = todo.iter().next().cloned() {
            let group = self.closure(vec![first]);
            for g in &group {
                todo.remove(g);
            }
            if self.automata {
                let conds = self.wheres_of(&group);
                let types = self
                    .params
                    .iter()
                    .filter(|(k, _)| group.contains(*k))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                let ok = |w: &Witness| group.iter().all(|p| w.params.contains_key(p));
                match crate::automata::decide(&Cond::True, &conds, &types, &self.base, &ok) {
                    Ok(Answer::Sat(w)) => {
                        self.decided += 1;
                        self.base.extend(w.params);
                        continue;
                    }
                    Ok(_) => {
                        self.decided += 1;
                        return SatResult::Unsat;
                    }
                    Err(_) => {}
                }
            }
            self.solver().push();
            let (group, _) = self.assert_params(group.into_iter().collect());
            if std::env::var_os("WARDEN_DEBUG_SMT").is_some() {
                eprintln!("{}", self.solver().to_smt2());
            }
            self.queries += 1;
            let r = self.solver().check();
            if r == SatResult::Sat
                && let Some(model) = self.solver().get_model()
            {
                let (w, _) = self.witness(&model, &Cond::True, None, 1, &group);
                self.base.extend(w.params);
            }
            self.solver().pop(1);
            if r != SatResult::Sat {
                return r;
            }
        }
        SatResult::Sat
    }

    /// Asks for values that make `goal` true and pass `valid` (a concrete
    /// check of the witness): with automata ([`Session::decide`]) when they
    /// can, otherwise with Z3 ([`Session::solve_z3`]).
    pub fn solve(
        &mut self,
        goal: &Cond,
        step: Option<&StepAction>,
        max_refinements: u32,
        valid: &dyn Fn(&Witness) -> bool,
    ) -> Answer {
        match self.decide(goal, valid) {
            Ok(a) => a,
            Err(_) => self.solve_z3(goal, step, max_refinements, valid),
        }
    }

    /// Decides `goal` (with the `where`s of its params) with automata, when
    /// every atom is about one string, number or bool ([`crate::automata`]);
    /// otherwise, or when [`Session::automata`] is off, why not.
    pub fn decide(
        &mut self,
        goal: &Cond,
        valid: &dyn Fn(&Witness) -> bool,
    ) -> Result<Answer, crate::automata::Outside> {
        if !self.automata {
            return Err(crate::automata::Outside::Off);
        }
        let set = self.closure(params_of(goal));
        let conds = self.wheres_of(&set);
        let a = crate::automata::decide(goal, &conds, &self.params, &self.base, valid)?;
        self.decided += 1;
        Ok(a)
    }

    /// Asks Z3 for values that make `goal` true and pass `valid`; blocks
    /// spurious witnesses and asks again, up to `max_refinements` times.
    pub fn solve_z3(
        &mut self,
        goal: &Cond,
        step: Option<&StepAction>,
        max_refinements: u32,
        valid: &dyn Fn(&Witness) -> bool,
    ) -> Answer {
        let bound = list_bound(&[goal]);
        let mut enc = Encoder::new(&self.params, bound);
        let assertions = enc.question(goal);
        self.solver().push();
        let (involved, mut limits) = self.assert_params(params_of(goal));
        limits.extend(enc.limits);
        for a in &assertions {
            self.solver().assert(a);
        }
        if std::env::var_os("WARDEN_DEBUG_SMT").is_some() {
            eprintln!("{}", self.solver().to_smt2());
        }
        // Spurious witnesses come from what the encoding over-approximates:
        // the refusal names it.
        let spurious = if limits.is_empty() {
            "every witness the solver found was spurious".to_string()
        } else {
            format!(
                "every witness the solver found was spurious (the question involves {})",
                limits.into_iter().collect::<Vec<_>>().join("; ")
            )
        };
        let mut answer = Answer::Unknown(spurious);
        for _ in 0..=max_refinements {
            self.queries += 1;
            match self.solver().check() {
                SatResult::Unsat => {
                    answer = Answer::Unsat;
                    break;
                }
                SatResult::Unknown => {
                    let why = self.solver().get_reason_unknown().unwrap_or_default();
                    answer = if why.contains("timeout") || why.contains("canceled") {
                        Answer::Timeout
                    } else {
                        Answer::Unknown(why)
                    };
                    break;
                }
                SatResult::Sat => {
                    let Some(model) = self.solver().get_model() else {
                        answer = Answer::Unknown("the solver gave no model".into());
                        break;
                    };
                    let (w, block) = self.witness(&model, goal, step, bound, &involved);
                    if valid(&w) {
                        answer = Answer::Sat(w);
                        break;
                    }
                    if block.is_empty() {
                        break;
                    }
                    self.solver().assert(Bool::and(&block).not());
                }
            }
        }
        self.solver().pop(1);
        answer
    }
}
