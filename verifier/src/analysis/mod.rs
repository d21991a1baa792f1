//! Spec tooling for security teams: [`diff`] (what a change lets through),
//! [`lint`] (rules that cannot do what they say) and [`coverage`] (rules no
//! `test` block exercises). Every finding carries a proof: a concrete
//! witness action checked with the value semantics of [`crate::concrete`],
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
//! let probe = Probe::new(ActionKind::Write, None, &[], None);
//! let mut session = probe.session(2_000);
//! let goal = probe.decision_cond(&spec, Decision::Allow);
//! let answer = session.solve(&goal, Some(&probe.step), 4, &|w| {
//!     probe.action(w).is_some_and(|a| Decision::from(spec.verdict_of(&a)) == Decision::Allow)
//! });
//! assert!(matches!(answer, verifier::symbolic::Answer::Sat(_)));
//! ```

pub mod coverage;
pub mod diff;
pub mod lint;

use crate::action::{ConcreteAction, Value};
use crate::cfg::{StepAction, Term};
use crate::compile::{ActionVerdict, CompiledSpec, EffectRule};
use crate::concrete::{Cond, Operand};
use crate::symbolic::{self, ResidualScope, Session, Witness};
use planlang::Span;
use planlang::ast::{ActionKind, CmpOp, Effect, ParamType};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// The verdict a spec gives one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Approve,
    Deny,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::Approve, Decision::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ActionVerdict> for Decision {
    fn from(v: ActionVerdict) -> Decision {
        match v {
            ActionVerdict::Allow(_) => Decision::Allow,
            ActionVerdict::Approve(_) => Decision::Approve,
            ActionVerdict::Deny(_) => Decision::Deny,
        }
    }
}

/// The rule that decides a verdict, if any (nothing allowing is no rule).
pub fn deciding_rule(v: ActionVerdict) -> Option<usize> {
    match v {
        ActionVerdict::Allow(i) | ActionVerdict::Approve(i) => Some(i),
        ActionVerdict::Deny(i) => i,
    }
}

/// The glob every normalized absolute path matches.
pub const ANY_PATH: &str = "/**";

/// A fully symbolic action of one kind (and, for calls, one tool name and
/// one set of arguments): a plan step whose values are params.
#[derive(Clone, Debug)]
pub struct Probe {
    pub kind: ActionKind,
    pub call: Option<String>,
    pub step: StepAction,
    pub params: HashMap<String, ParamType>,
    /// Constraints every value meets (a port is 0 to 65535).
    pub wheres: Vec<Cond>,
}

fn param(name: &str) -> Operand {
    Operand::Ref {
        name: name.to_string(),
        fields: Vec::new(),
        index: None,
    }
}

fn num(n: i64) -> Operand {
    Operand::Value {
        value: Value::Number(n.into()),
    }
}

impl Probe {
    /// A probe of `kind`. For a call: the tool `call`, passing `args` (each
    /// a value of unknown type), originating from the result of `origin`
    /// when given.
    pub fn new(
        kind: ActionKind,
        call: Option<&str>,
        args: &[String],
        origin: Option<&str>,
    ) -> Probe {
        let mut fields = BTreeMap::new();
        let mut params = HashMap::new();
        let mut wheres = Vec::new();
        let mut port = |fields: &mut BTreeMap<String, Term>, params: &mut HashMap<_, _>| {
            fields.insert("port".to_string(), Term::Param("port".into()));
            params.insert("port".to_string(), ParamType::Number);
            let scope = HashMap::from([("port".to_string(), ParamType::Number)]);
            let c = Cond::And {
                all: vec![
                    Cond::Cmp {
                        op: CmpOp::Ge,
                        lhs: param("port"),
                        rhs: num(0),
                    },
                    Cond::Cmp {
                        op: CmpOp::Le,
                        lhs: param("port"),
                        rhs: num(65535),
                    },
                ],
            };
            wheres.push(symbolic::residual(&c, &ResidualScope::Params(&scope)));
        };
        match kind {
            ActionKind::Read | ActionKind::Write | ActionKind::Delete | ActionKind::Exec => {
                // Some file of the glob `/**`: any normalized absolute path
                // (an action's path is normalized before it is checked).
                fields.insert("path".to_string(), Term::Glob(ANY_PATH.to_string()));
                if kind == ActionKind::Exec {
                    fields.insert("argv".to_string(), Term::AnyList);
                }
            }
            ActionKind::Connect => {
                fields.insert("host".to_string(), Term::Param("host".into()));
                fields.insert("ip".to_string(), Term::Param("host".into()));
                params.insert("host".to_string(), ParamType::Host);
                port(&mut fields, &mut params);
            }
            ActionKind::Listen => port(&mut fields, &mut params),
            ActionKind::Call => {
                for a in args {
                    fields.insert(
                        a.clone(),
                        Term::Unknown {
                            name: a.clone(),
                            origin: origin.unwrap_or("").to_string(),
                        },
                    );
                }
            }
        }
        Probe {
            kind,
            call: call.map(str::to_string),
            step: StepAction {
                kind,
                call: call.map(str::to_string),
                fields,
                span: Span::synthetic(),
            },
            params,
            wheres,
        }
    }

    /// The effect rules of `spec` whose kind and tool name fit the probe.
    pub fn rules<'a>(
        &'a self,
        spec: &'a CompiledSpec,
    ) -> impl Iterator<Item = (usize, &'a EffectRule)> + 'a {
        spec.effects
            .iter()
            .enumerate()
            .filter(|(_, r)| r.pattern.kind_matches(self.kind, self.call.as_deref()))
    }

    /// The condition under which `rule`'s pattern matches the probe.
    pub fn matches_cond(&self, rule: &EffectRule) -> Cond {
        if !rule.pattern.kind_matches(self.kind, self.call.as_deref()) {
            return Cond::False;
        }
        symbolic::residual(&rule.pattern.when, &ResidualScope::Step(&self.step))
    }

    /// The condition under which `spec` gives the probe the verdict `d`
    /// (deny beats approve beats allow; nothing matching is deny).
    pub fn decision_cond(&self, spec: &CompiledSpec, d: Decision) -> Cond {
        let (mut deny, mut approve, mut allow) = (Cond::False, Cond::False, Cond::False);
        for (_, r) in self.rules(spec) {
            let m = symbolic::residual(&r.pattern.when, &ResidualScope::Step(&self.step));
            match r.effect {
                Effect::Deny => deny = Cond::or(deny, m),
                Effect::Approve => approve = Cond::or(approve, m),
                Effect::Allow => allow = Cond::or(allow, m),
            }
        }
        match d {
            Decision::Deny => Cond::or(deny, Cond::and(Cond::not(approve), Cond::not(allow))),
            Decision::Approve => Cond::and(Cond::not(deny), approve),
            Decision::Allow => Cond::and(Cond::and(Cond::not(deny), Cond::not(approve)), allow),
        }
    }

    /// A solver with the probe's values declared.
    pub fn session(&self, timeout_ms: u32) -> Session {
        Session::new(self.params.clone(), &self.wheres, timeout_ms)
    }

    /// The concrete action a witness makes of the probe, or `None` when it
    /// makes none (a relative path, a port that is not a whole number).
    pub fn action(&self, w: &Witness) -> Option<ConcreteAction> {
        // A value the question does not mention is left out of the model
        // (or left meaningless): any value will do, so take a plain one.
        let mut w = w.clone();
        if self.step.fields.contains_key("path")
            && !w
                .globs
                .get(ANY_PATH)
                .is_some_and(|p| crate::concrete::glob_matches(ANY_PATH, p))
        {
            w.globs.insert(ANY_PATH.to_string(), "/".to_string());
        }
        for t in self.step.fields.values() {
            if let Term::Unknown { name, .. } = t {
                w.unknowns
                    .entry(name.clone())
                    .or_insert_with(|| Value::String(String::new()));
            }
        }
        let a = w.action(&self.step)?;
        if let Some(f) = a.fields.get("port") {
            match &f.value {
                Value::Number(n) if n.fract().is_zero() => {}
                _ => return None,
            }
        }
        Some(a)
    }

    /// A short name of the class of actions the probe stands for.
    pub fn class(&self) -> String {
        match (&self.call, self.kind) {
            (Some(c), _) => format!("call {c}"),
            (None, k) => k.to_string(),
        }
    }
}

/// Tool names in `from call` conditions.
pub fn from_call_tools(c: &Cond, out: &mut BTreeSet<String>) {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => {
            cs.iter().for_each(|c| from_call_tools(c, out))
        }
        Cond::Not { cond } => from_call_tools(cond, out),
        Cond::FromCall { tool, .. } => {
            out.insert(tool.clone());
        }
        _ => {}
    }
}

/// Every probe needed to cover all actions as the given specs see them:
/// one per action kind but `call`; for calls, one per tool name some rule
/// names plus one for every other tool, each with the arguments the rules
/// mention (also: with none, and originating from each tool a `from call`
/// names).
pub fn probes(specs: &[&CompiledSpec]) -> Vec<Probe> {
    let mut out: Vec<Probe> = ActionKind::ALL
        .iter()
        .filter(|k| **k != ActionKind::Call)
        .map(|k| Probe::new(*k, None, &[], None))
        .collect();
    let mut names = BTreeSet::new();
    for s in specs {
        for r in &s.effects {
            if let Some(cs) = &r.pattern.calls {
                names.extend(cs.iter().cloned());
            }
        }
    }
    let mut other = "other_tool".to_string();
    while names.contains(&other) {
        other.push('_');
    }
    for name in names
        .iter()
        .map(|n| (n.as_str(), true))
        .chain([(other.as_str(), false)])
    {
        let (name, named) = name;
        let mut args = BTreeSet::new();
        let mut tools = BTreeSet::new();
        for s in specs {
            for r in &s.effects {
                if r.pattern.kind_matches(ActionKind::Call, Some(name)) {
                    let mut refs = Vec::new();
                    r.pattern.when.refs(&mut refs);
                    args.extend(refs);
                    from_call_tools(&r.pattern.when, &mut tools);
                }
            }
        }
        let args: Vec<String> = args.into_iter().collect();
        let shown = if named {
            Some(name)
        } else {
            Some(other.as_str())
        };
        out.push(Probe::new(ActionKind::Call, shown, &args, None));
        if !args.is_empty() {
            out.push(Probe::new(ActionKind::Call, shown, &[], None));
        }
        for t in &tools {
            out.push(Probe::new(ActionKind::Call, shown, &args, Some(t)));
        }
    }
    out
}

/// A finding's proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "proof", rename_all = "snake_case")]
pub enum Proof {
    /// A concrete action, checked with the value semantics.
    Witness { action: String },
    /// The rule that covers (or overrides) the finding's rule.
    Rule { at: String, rule: String },
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
    pub line: u32,
    pub col: u32,
    pub kind: String,
    pub message: String,
    pub proof: Proof,
}

impl Finding {
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
