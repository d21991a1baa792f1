//! Containment: is a sub-plan inside an envelope? This is what attenuating a
//! token (narrowing it for a sub-agent) must prove.
//!
//! The parent envelope is turned into a spec ([`envelope_spec`]): one `allow`
//! rule per grant (a param-backed value becomes the param's `where`
//! condition on that field), the envelope's `at most` limits and
//! `never`/`require` ordering as rules, and its baseline. The sub-plan is then
//! checked against that spec by the verifier, so every step is proven inside
//! some grant **for every value of the sub-plan's params**, with the same
//! solver and counterexamples as `warden check`. Default deny does the rest.
//!
//! A few properties of the envelope's runtime check are not expressible as
//! rules; they are checked structurally, conservatively (refusing when in
//! doubt), by [`contain`]:
//!
//! - a call grant allows exactly its arguments: a sub-plan call may not pass
//!   an argument no parent grant of that tool has (extra arguments of known
//!   names are excluded by `not has` in the rules);
//! - a parent param takes one value per run: every sub-plan value that may
//!   fill a parent param's place must be one value per run (the same literal
//!   everywhere, or the same sub-plan param), never an unknown `let` result,
//!   a glob or a tree;
//! - a parent param's `where` may mention only that param.
//!
//! ```
//! use verifier::containment::contain;
//! use warden_core::envelope::{CallGrant, Envelope};
//! let mut parent = Envelope::default();
//! parent.calls.push(CallGrant { name: "get_balance".into(), args: Default::default() });
//! let narrow = planlang::load_plan_str(r#"plan "p" { call get_balance() }"#, "sub.plan").unwrap();
//! assert!(contain(&parent, &narrow).is_ok());
//! let wide = planlang::load_plan_str(r#"plan "p" { call send_money(amount = 5) }"#, "sub.plan").unwrap();
//! assert!(contain(&parent, &wide).is_err());
//! ```

use crate::CheckError;
use crate::compile::{ApproveEachRule, CompiledSpec, CountRule, EffectRule, Options, OrderRule};
use crate::report::{Outcome, Verdict};
use planlang::Span;
use planlang::ast::{ActionKind, CmpOp, Effect, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::cond::Pattern;
use warden_core::envelope::CallGrant;
use warden_core::envelope::ConnectGrant;
use warden_core::envelope::Envelope;
use warden_core::envelope::ExecGrant;
use warden_core::envelope::FileGrant;
use warden_core::envelope::ListenGrant;
use warden_core::envelope::OrderKind;
use warden_core::envelope::PathTarget;
use warden_core::envelope::UnixGrant;
use warden_core::envelope::ValueMatch;
use warden_core::value::Value;
use warden_core::within::{covers_plainly, target_covers_plainly};

/// Why a sub-plan is not (provably) inside an envelope.
#[derive(Debug, thiserror::Error)]
pub enum ContainmentError {
    /// The sub-plan cannot be checked at all.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The parent envelope has a shape containment cannot reason about.
    #[error("cannot prove containment: {0}")]
    Unsupported(String),
    /// The verifier refused the sub-plan against the parent envelope; the
    /// outcome holds every violation with its counterexample.
    #[error("the sub-plan is not inside the parent envelope ({} reason(s))", outcome.violations.len())]
    Outside {
        /// The check's outcome against [`envelope_spec`] of the parent.
        outcome: Box<Outcome>,
    },
    /// A structural property of the envelope would be widened.
    #[error("the sub-plan would widen the parent envelope: {0}")]
    Wider(String),
}

/// The parent envelope as a spec whose `allow` rules are its grants.
pub fn envelope_spec(parent: &Envelope) -> Result<CompiledSpec, ContainmentError> {
    let params: HashMap<&str, Option<&Cond>> = parent
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.condition.as_ref()))
        .collect();
    for p in &parent.params {
        if let Some(c) = &p.condition {
            let mut refs = Vec::new();
            c.refs(&mut refs);
            if let Some(other) = refs.iter().find(|r| **r != p.name) {
                return Err(ContainmentError::Unsupported(format!(
                    "the condition of param `{}` mentions `{other}`",
                    p.name
                )));
            }
        }
    }
    let tr = Translator {
        params,
        assumptions: &parent.assumptions,
    };
    let mut effects = Vec::new();
    let mut allow = |pattern: Pattern, text: String| {
        effects.push(EffectRule {
            effect: Effect::Allow,
            pattern,
            span: Span::synthetic(),
            text,
        })
    };
    for g in &parent.files {
        allow(tr.file(g)?, format!("parent grant {g:?}"));
    }
    for g in &parent.exec {
        allow(tr.exec(g)?, format!("parent grant {g:?}"));
    }
    for g in &parent.connect {
        allow(tr.connect(g)?, format!("parent grant {g:?}"));
    }
    for g in &parent.listen {
        allow(tr.listen(g)?, format!("parent grant {g:?}"));
    }
    for g in &parent.unix {
        allow(tr.unix(g)?, format!("parent grant {g:?}"));
    }
    for g in &parent.calls {
        allow(tr.call(g, &parent.calls)?, format!("parent grant {g:?}"));
    }
    // The parent's `deny ... from call` rules bind the child as they bound
    // the parent: a flow certain in the sub-plan is refused, and one the
    // check cannot see rides in the child's token too.
    for d in &parent.deny_from {
        effects.push(EffectRule {
            effect: Effect::Deny,
            pattern: d.pattern.clone(),
            span: planlang::lower::span(&d.rule),
            text: "parent rule: deny from call".into(),
        });
    }
    let order = |o: &warden_core::envelope::OrderRule| OrderRule {
        first: o.action.clone(),
        second: o.other.clone(),
        span: planlang::lower::span(&o.rule),
        text: format!("parent {:?} rule", o.kind),
    };
    Ok(CompiledSpec {
        name: "parent envelope".into(),
        consts: Default::default(),
        effects,
        never: parent
            .ordering
            .iter()
            .filter(|o| o.kind == OrderKind::Never)
            .map(order)
            .collect(),
        require: parent
            .ordering
            .iter()
            .filter(|o| o.kind == OrderKind::Require)
            .map(order)
            .collect(),
        at_most: parent
            .limits
            .iter()
            .map(|l| CountRule {
                limit: l.limit,
                pattern: l.pattern.clone(),
                span: planlang::lower::span(&l.rule),
                text: format!("parent limit: at most {}", l.limit),
            })
            .collect(),
        // The parent's per-call approvals bind the child: a narrowed token
        // never drops one.
        approve_each: parent
            .approvals
            .iter()
            .map(|a| ApproveEachRule {
                pattern: a.pattern.clone(),
                span: planlang::lower::span(&a.rule),
                text: "parent rule: approve each".into(),
            })
            .collect(),
        baseline: parent.baseline.clone(),
        max_ttl: None,
        options: Options::default(),
        cache: Mutex::new(HashMap::new()),
        where_cache: Mutex::new(HashMap::new()),
        canon_cache: Mutex::new(HashMap::new()),
    })
}

/// Prove `sub` inside `parent` and return the sub-plan's own (least
/// privilege) envelope, which is then inside the parent's.
pub fn contain(parent: &Envelope, sub: &Plan) -> Result<Envelope, ContainmentError> {
    let spec = envelope_spec(parent)?;
    let outcome = spec.check(sub)?;
    let envelope = match (outcome.verdict, &outcome.envelope) {
        (Verdict::Accept, Some(e)) => e.clone(),
        _ => {
            return Err(ContainmentError::Outside {
                outcome: Box::new(outcome),
            });
        }
    };
    check_call_arguments(parent, &envelope)?;
    check_param_binding(parent, &envelope)?;
    Ok(envelope)
}

// ───────────────────────────── translation ─────────────────────────────

struct Translator<'e> {
    params: HashMap<&'e str, Option<&'e Cond>>,
    /// The parent's assumptions on tool results.
    assumptions: &'e [warden_core::assume::ResultAssumption],
}

fn field(name: &str) -> Operand {
    Operand::field(name)
}

fn indexed(name: &str, i: usize) -> Operand {
    Operand::Ref {
        name: name.to_string(),
        fields: Vec::new(),
        index: u32::try_from(i).ok(),
    }
}

fn cmp(op: CmpOp, lhs: Operand, value: Value) -> Cond {
    Cond::Cmp {
        op,
        lhs,
        rhs: Operand::Value { value },
    }
}

/// `x` exists (for an indexed operand: the list is long enough). A missing
/// value makes every comparison false, so one of `== v`, `!= v` holds exactly
/// when it exists.
fn exists(o: &Operand) -> Cond {
    let probe = Value::String(String::new());
    Cond::Or {
        any: vec![
            cmp(CmpOp::Eq, o.clone(), probe.clone()),
            cmp(CmpOp::Ne, o.clone(), probe),
        ],
    }
}

fn and(conds: Vec<Cond>) -> Cond {
    conds.into_iter().fold(Cond::True, Cond::and)
}

/// Replace references to `param` in `c` by `to`.
fn substitute(c: &Cond, param: &str, to: &Operand) -> Result<Cond, ContainmentError> {
    let op = |o: &Operand| -> Result<Operand, ContainmentError> {
        match o {
            Operand::Ref {
                name,
                fields,
                index,
            } if name == param => {
                if !fields.is_empty() || index.is_some() {
                    return Err(ContainmentError::Unsupported(format!(
                        "param `{param}` is used with a field or index in its condition"
                    )));
                }
                Ok(to.clone())
            }
            other => Ok(other.clone()),
        }
    };
    Ok(match c {
        Cond::True => Cond::True,
        Cond::False => Cond::False,
        Cond::And { all } => Cond::And {
            all: all
                .iter()
                .map(|c| substitute(c, param, to))
                .collect::<Result<_, _>>()?,
        },
        Cond::Or { any } => Cond::Or {
            any: any
                .iter()
                .map(|c| substitute(c, param, to))
                .collect::<Result<_, _>>()?,
        },
        Cond::Not { cond } => Cond::not(substitute(cond, param, to)?),
        Cond::Cmp { op: o, lhs, rhs } => Cond::Cmp {
            op: *o,
            lhs: op(lhs)?,
            rhs: op(rhs)?,
        },
        Cond::Has { field: f } if f == param => exists(to),
        Cond::Has { field: f } => Cond::Has { field: f.clone() },
        Cond::FromCall { value, tool } => Cond::FromCall {
            value: op(value)?,
            tool: tool.clone(),
        },
    })
}

impl Translator<'_> {
    /// The condition a param puts on the value at `at` (which must exist).
    fn param(&self, param: &str, at: &Operand) -> Result<Cond, ContainmentError> {
        let cond = match self.params.get(param) {
            None => {
                return Err(ContainmentError::Unsupported(format!(
                    "param `{param}` is not declared in the envelope"
                )));
            }
            Some(None) => Cond::True,
            Some(Some(c)) => substitute(c, param, at)?,
        };
        Ok(Cond::and(exists(at), cond))
    }

    fn value(&self, m: &ValueMatch, at: &Operand) -> Result<Cond, ContainmentError> {
        Ok(match m {
            ValueMatch::Exact {
                value: value @ Value::Cidr(_),
            } => Cond::and(
                exists(at),
                cmp(CmpOp::In, at.clone(), Value::List(vec![value.clone()])),
            ),
            ValueMatch::Exact { value } => cmp(CmpOp::Eq, at.clone(), value.clone()),
            ValueMatch::Param { param } => self.param(param, at)?,
            ValueMatch::Unknown { origin: None } => exists(at),
            ValueMatch::Unknown { origin: Some(tool) } => Cond::FromCall {
                value: at.clone(),
                tool: tool.clone(),
            },
            // A field with an assumption: a value from the tool that meets
            // the field's part of the assumption, as the monitor checks it.
            ValueMatch::Assumed { field } => {
                let a = self
                    .assumptions
                    .iter()
                    .find(|a| a.fields.contains_key(field))
                    .ok_or_else(|| {
                        ContainmentError::Unsupported(format!(
                            "the assumed field `{field}` is not declared in the envelope"
                        ))
                    })?;
                Cond::and(
                    Cond::FromCall {
                        value: at.clone(),
                        tool: a.tool.clone(),
                    },
                    substitute(&a.field_cond(field), field, at)?,
                )
            }
        })
    }

    fn target(&self, t: &PathTarget) -> Result<Cond, ContainmentError> {
        let path = field("path");
        Ok(match t {
            PathTarget::Exact { path: p } => cmp(CmpOp::Eq, path, Value::String(p.clone())),
            PathTarget::Tree { dir } => cmp(CmpOp::Under, path, Value::String(dir.clone())),
            PathTarget::Glob { glob } => {
                let re = warden_core::path::glob_to_regex(glob).map_err(|e| {
                    ContainmentError::Unsupported(format!("the glob `{glob}`: {e}"))
                })?;
                cmp(CmpOp::Matches, path, Value::String(re))
            }
            PathTarget::Param { param } => self.param(param, &path)?,
            // A path from a `let` result: the envelope grants any path.
            PathTarget::Unknown { .. } => exists(&path),
        })
    }

    fn file(&self, g: &FileGrant) -> Result<Pattern, ContainmentError> {
        Ok(Pattern {
            kind: Some(g.access.kind()),
            calls: None,
            when: self.target(&g.target)?,
        })
    }

    fn exec(&self, g: &ExecGrant) -> Result<Pattern, ContainmentError> {
        let mut conds = vec![self.target(&g.program)?];
        if let Some(ms) = &g.argv {
            let exact: Option<Vec<Value>> = ms
                .iter()
                .map(|m| match m {
                    ValueMatch::Exact { value } => Some(value.clone()),
                    _ => None,
                })
                .collect();
            match exact {
                Some(values) => conds.push(cmp(CmpOp::Eq, field("argv"), Value::List(values))),
                None => {
                    for (i, m) in ms.iter().enumerate() {
                        let at = indexed("argv", i);
                        conds.push(Cond::and(exists(&at), self.value(m, &at)?));
                    }
                    // Exactly this many arguments.
                    conds.push(Cond::not(exists(&indexed("argv", ms.len()))));
                }
            }
        }
        Ok(Pattern {
            kind: Some(ActionKind::Exec),
            calls: None,
            when: and(conds),
        })
    }

    fn host(&self, m: &ValueMatch) -> Result<Cond, ContainmentError> {
        // A name is the action's `host`, an address its `ip`.
        Ok(match m {
            ValueMatch::Exact {
                value: Value::String(_),
            } => self.value(m, &field("host"))?,
            ValueMatch::Exact { .. } => self.value(m, &field("ip"))?,
            _ => Cond::Or {
                any: vec![self.value(m, &field("host"))?, self.value(m, &field("ip"))?],
            },
        })
    }

    fn connect(&self, g: &ConnectGrant) -> Result<Pattern, ContainmentError> {
        Ok(Pattern {
            kind: Some(ActionKind::Connect),
            calls: None,
            when: Cond::and(self.host(&g.host)?, self.value(&g.port, &field("port"))?),
        })
    }

    fn listen(&self, g: &ListenGrant) -> Result<Pattern, ContainmentError> {
        Ok(Pattern {
            kind: Some(ActionKind::Listen),
            calls: None,
            when: self.value(&g.port, &field("port"))?,
        })
    }

    fn unix(&self, g: &UnixGrant) -> Result<Pattern, ContainmentError> {
        // `path` is the socket's: a network connect or listen has none.
        Ok(Pattern {
            kind: Some(g.op.kind()),
            calls: None,
            when: self.target(&g.target)?,
        })
    }

    fn call(&self, g: &CallGrant, all: &[CallGrant]) -> Result<Pattern, ContainmentError> {
        let mut conds = Vec::new();
        for (arg, m) in &g.args {
            conds.push(Cond::and(
                Cond::Has { field: arg.clone() },
                self.value(m, &field(arg))?,
            ));
        }
        // Exactly these arguments, among those any grant of the tool knows.
        let others: BTreeSet<&String> = all
            .iter()
            .filter(|o| o.name == g.name)
            .flat_map(|o| o.args.keys())
            .filter(|a| !g.args.contains_key(*a))
            .collect();
        for arg in others {
            conds.push(Cond::not(Cond::Has { field: arg.clone() }));
        }
        Ok(Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec![g.name.clone()]),
            when: and(conds),
        })
    }
}

// ───────────────────────────── structural checks ─────────────────────────────

fn check_call_arguments(parent: &Envelope, sub: &Envelope) -> Result<(), ContainmentError> {
    for c in &sub.calls {
        let known: BTreeSet<&String> = parent
            .calls
            .iter()
            .filter(|p| p.name == c.name)
            .flat_map(|p| p.args.keys())
            .collect();
        if let Some(extra) = c.args.keys().find(|a| !known.contains(a)) {
            return Err(ContainmentError::Wider(format!(
                "call {} passes `{extra}`, an argument no parent grant of it has",
                c.name
            )));
        }
    }
    Ok(())
}

/// What fills a parent param's place in a sub-plan grant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Filler {
    Exact(Value),
    Param(String),
    /// Many values per run (an unknown result, a glob, a tree).
    Many(String),
}

fn filler(m: &ValueMatch) -> Filler {
    match m {
        ValueMatch::Exact { value } => Filler::Exact(value.clone()),
        ValueMatch::Param { param } => Filler::Param(param.clone()),
        ValueMatch::Unknown { .. } => Filler::Many("an unknown `let` result".into()),
        ValueMatch::Assumed { field } => Filler::Many(format!("the result field `{field}`")),
    }
}

fn target_filler(t: &PathTarget) -> Filler {
    match t {
        PathTarget::Exact { path } => Filler::Exact(Value::String(path.clone())),
        PathTarget::Param { param } => Filler::Param(param.clone()),
        PathTarget::Glob { glob } => Filler::Many(format!("the glob {glob:?}")),
        PathTarget::Tree { dir } => Filler::Many(format!("the tree {dir:?}")),
        PathTarget::Unknown { origin } => {
            Filler::Many(format!("a path from the result of {origin}"))
        }
    }
}

/// A parent param has one value per run: whatever may fill its places in the
/// sub-plan must be one value per run too.
fn check_param_binding(parent: &Envelope, sub: &Envelope) -> Result<(), ContainmentError> {
    let mut fills: BTreeMap<String, BTreeSet<Filler>> = BTreeMap::new();
    let mut note = |param: &str, f: Filler| {
        fills.entry(param.to_string()).or_default().insert(f);
    };

    // Files and unix sockets: path grants of one kind of action.
    let path_grants = |e: &'_ Envelope| -> Vec<(ActionKind, PathTarget)> {
        e.files
            .iter()
            .map(|g| (g.access.kind(), g.target.clone()))
            .chain(e.unix.iter().map(|g| (g.op.kind(), g.target.clone())))
            .collect()
    };
    let parent_paths = path_grants(parent);
    for (kind, target) in path_grants(sub) {
        let same: Vec<&PathTarget> = parent_paths
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| t)
            .collect();
        if same.iter().any(|p| target_covers_plainly(p, &target)) {
            continue;
        }
        for p in same {
            if let PathTarget::Param { param } = p {
                note(param, target_filler(&target));
            }
        }
    }
    for s in &sub.exec {
        for p in &parent.exec {
            let plain_prog = target_covers_plainly(&p.program, &s.program);
            if let PathTarget::Param { param } = &p.program
                && !plain_prog
            {
                note(param, target_filler(&s.program));
            }
            if let (Some(pa), Some(sa)) = (&p.argv, &s.argv)
                && pa.len() == sa.len()
            {
                for (pm, sm) in pa.iter().zip(sa) {
                    if let ValueMatch::Param { param } = pm {
                        note(param, filler(sm));
                    }
                }
            }
            if let (Some(pa), None) = (&p.argv, &s.argv)
                && pa.iter().any(|m| matches!(m, ValueMatch::Param { .. }))
            {
                for m in pa {
                    if let ValueMatch::Param { param } = m {
                        note(param, Filler::Many("any arguments".into()));
                    }
                }
            }
        }
    }
    let mut pair = |pm: &ValueMatch, sm: &ValueMatch| {
        if let ValueMatch::Param { param } = pm {
            note(param, filler(sm));
        }
    };
    for s in &sub.connect {
        let plain = parent
            .connect
            .iter()
            .any(|p| covers_plainly(&p.host, &s.host) && covers_plainly(&p.port, &s.port));
        if plain {
            continue;
        }
        for p in &parent.connect {
            pair(&p.host, &s.host);
            pair(&p.port, &s.port);
        }
    }
    for s in &sub.listen {
        if parent
            .listen
            .iter()
            .any(|p| covers_plainly(&p.port, &s.port))
        {
            continue;
        }
        for p in &parent.listen {
            pair(&p.port, &s.port);
        }
    }
    for s in &sub.calls {
        let same: Vec<&CallGrant> = parent
            .calls
            .iter()
            .filter(|p| p.name == s.name && p.args.keys().eq(s.args.keys()))
            .collect();
        let plain = same.iter().any(|p| {
            p.args
                .iter()
                .all(|(k, pm)| s.args.get(k).is_some_and(|sm| covers_plainly(pm, sm)))
        });
        if plain {
            continue;
        }
        for p in same {
            for (k, pm) in &p.args {
                if let Some(sm) = s.args.get(k) {
                    pair(pm, sm);
                }
            }
        }
    }
    for (param, set) in fills {
        if let Some(Filler::Many(what)) = set.iter().find(|f| matches!(f, Filler::Many(_))) {
            return Err(ContainmentError::Wider(format!(
                "the parent's param `{param}` takes one value per run, but the sub-plan may fill it with {what}"
            )));
        }
        if set.len() > 1 {
            let shown: Vec<String> = set
                .iter()
                .map(|f| match f {
                    Filler::Exact(v) => v.to_string(),
                    Filler::Param(p) => format!("param `{p}`"),
                    Filler::Many(w) => w.clone(),
                })
                .collect();
            return Err(ContainmentError::Wider(format!(
                "the parent's param `{param}` takes one value per run, but the sub-plan fills it with {}",
                shown.join(" and ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompiledSpec;
    // An envelope with the given grants (the rest empty).

    const SPEC: &str = r#"
spec "bank" {
  let payees = ["UK1", "UK2"]
  allow call get_balance, read_file
  allow call send_money when recipient in payees and amount <= 1000
  at most 3 call send_money
  allow read under "/srv/"
  allow write under "/tmp/"
  allow exec "/usr/bin/git" when argv[0] in ["status", "diff", "log"]
  allow connect host in ["api.bank.example"] and port == 443
}
"#;

    const PARENT: &str = r#"
plan "parent" {
  param amount: number where amount > 0 and amount <= 100

  call get_balance()
  let bill = call read_file(file_path = "/srv/bill.txt")
  call send_money(recipient = "UK1", amount = amount)
  read "/srv/data/jan.csv"
  write "/tmp/out/report.txt"
  exec "/usr/bin/git" ["status"]
  connect "api.bank.example":443
}
"#;

    /// The envelope of `plan`, which `spec` accepts.
    fn envelope_of(spec: &str, plan: &str) -> Envelope {
        let spec = planlang::load_spec_str(spec, "parent.spec").unwrap();
        let specs: Vec<_> = spec.specs().collect();
        let compiled = CompiledSpec::from_specs(&specs).unwrap();
        let plan = planlang::load_plan_str(plan, "parent.plan").unwrap();
        let outcome = compiled.check(&plan).unwrap();
        assert_eq!(outcome.verdict, Verdict::Accept, "{:?}", outcome.violations);
        outcome.envelope.unwrap()
    }

    fn parent() -> Envelope {
        envelope_of(SPEC, PARENT)
    }

    fn sub(body: &str) -> Result<Envelope, ContainmentError> {
        inside(&parent(), body)
    }

    #[test]
    fn narrower_sub_plans_are_inside() {
        // (each is proven inside, so none may time out either)
        for body in [
            "call get_balance()",
            r#"call send_money(recipient = "UK1", amount = 42)"#,
            "param a: number where a > 10 and a <= 20\ncall send_money(recipient = \"UK1\", amount = a)",
            r#"read "/srv/data/jan.csv""#,
            r#"write "/tmp/out/report.txt""#,
            r#"exec "/usr/bin/git" ["status"]"#,
            r#"connect "api.bank.example":443"#,
            "call get_balance()\ncall get_balance()",
        ] {
            let r = sub(body);
            assert!(r.is_ok(), "{body}: {:?}", r.err());
        }
    }

    #[test]
    fn wider_sub_plans_are_refused_with_the_reason() {
        for (body, why) in [
            (
                r#"call send_money(recipient = "UK2", amount = 5)"#,
                "recipient",
            ),
            (
                r#"call send_money(recipient = "UK1", amount = 500)"#,
                "amount over the param",
            ),
            (
                "param a: number where a > 0\ncall send_money(recipient = \"UK1\", amount = a)",
                "unbounded param",
            ),
            (
                r#"call send_money(recipient = "UK1", amount = 5, memo = "x")"#,
                "extra argument",
            ),
            (r#"read "/srv/other.txt""#, "file outside"),
            (r#"write "/tmp/elsewhere""#, "file outside"),
            (
                "call send_money(recipient = \"UK1\", amount = 5)\ncall send_money(recipient = \"UK1\", amount = 6)",
                "two values for one param",
            ),
            (r#"exec "/usr/bin/git" ["diff"]"#, "argv"),
            (r#"exec "/usr/bin/git""#, "any arguments"),
            (r#"connect "api.bank.example":80"#, "port"),
            (r#"call update_password()"#, "unknown tool"),
            (
                "repeat 4 { call send_money(recipient = \"UK1\", amount = 5) }",
                "count above the parent's limit",
            ),
        ] {
            let r = sub(body);
            if let Err(ContainmentError::Outside { outcome }) = &r {
                // Refused by proof, not for want of one.
                assert!(
                    outcome.violations.iter().all(|v| !matches!(
                        v.reason,
                        crate::report::Reason::Timeout | crate::report::Reason::CouldNotProve
                    )),
                    "{why}: {:?}",
                    outcome.violations
                );
            }
            assert!(r.is_err(), "{why}: `{body}` was accepted: {:?}", r.ok());
        }
    }

    /// A parent with globs, a path param, a CIDR, a port range, a param
    /// with a list condition and a count.
    const WIDE_SPEC: &str = r#"
spec "wide" {
  allow read under "/srv/"
  allow write under "/tmp/"
  allow connect
  allow call deploy
  allow exec under "/usr/bin/"
  at most 3 call deploy
}
"#;

    const WIDE_PARENT: &str = r#"
plan "parent" {
  param out: path where out under "/tmp/out/"
  param port: number where port >= 8000 and port < 9000
  param env: string where env in ["staging", "prod"]

  read "/srv/data/**/*.csv"
  read "/srv/logs/*.log"
  write out
  connect 10.0.0.0/8:443
  connect "api.example":port
  call deploy(env = env)
  exec "/usr/bin/git" ["status"]
}
"#;

    fn wide_parent() -> Envelope {
        envelope_of(WIDE_SPEC, WIDE_PARENT)
    }

    fn inside(parent: &Envelope, body: &str) -> Result<Envelope, ContainmentError> {
        let text = format!("plan \"sub\" {{\n{body}\n}}");
        let plan = planlang::load_plan_str(&text, "sub.plan").unwrap();
        contain(parent, &plan)
    }

    /// Refused, and by proof (a counterexample) or by a named structural
    /// reason, never for want of a proof.
    fn assert_refused(r: Result<Envelope, ContainmentError>, body: &str, why: &str) {
        match r {
            Ok(e) => panic!("{why}: `{body}` was accepted: {e:?}"),
            Err(ContainmentError::Outside { outcome }) => {
                assert!(!outcome.violations.is_empty(), "{why}");
                for v in &outcome.violations {
                    assert!(
                        !matches!(
                            v.reason,
                            crate::report::Reason::Timeout | crate::report::Reason::CouldNotProve
                        ),
                        "{why}: `{body}`: {v:?}"
                    );
                }
            }
            Err(ContainmentError::Wider(_)) => {}
            Err(e) => panic!("{why}: `{body}`: refused for a wrong reason: {e}"),
        }
    }

    #[test]
    fn globs_params_cidrs_ports_and_counts_narrowed_are_inside() {
        let parent = wide_parent();
        for body in [
            r#"read "/srv/data/2026/jan.csv""#,
            r#"read "/srv/data/jan.csv""#,
            r#"read "/srv/data/2026/*.csv""#,
            r#"read "/srv/data/**/q1-*.csv""#,
            r#"read "/srv/logs/app.log""#,
            r#"read "/srv/logs/app-?.log""#,
            r#"write "/tmp/out/report.txt""#,
            "param o: path where o under \"/tmp/out/a/\"\nwrite o",
            "connect 10.1.2.0/24:443",
            "connect 10.9.9.9:443",
            r#"connect "api.example":8080"#,
            "param p: number where p >= 8100 and p <= 8200\nconnect \"api.example\":p",
            r#"call deploy(env = "staging")"#,
            "param e: string where e == \"prod\"\ncall deploy(env = e)",
            "param e: string where e in [\"prod\"]\ncall deploy(env = e)",
            "repeat 3 { call deploy(env = \"staging\") }",
            "repeat at most 2 { call deploy(env = \"prod\") }",
            r#"exec "/usr/bin/git" ["status"]"#,
        ] {
            let r = inside(&parent, body);
            assert!(r.is_ok(), "{body}: {:?}", r.err());
        }
    }

    #[test]
    fn globs_params_cidrs_ports_and_counts_widened_are_refused() {
        let parent = wide_parent();
        for (body, why) in [
            (r#"read "/srv/data/**""#, "a glob wider than the parent's"),
            (r#"read "/srv/data/*.txt""#, "a glob beside the parent's"),
            (r#"read "/srv/logs/**/*.log""#, "a glob one level deeper"),
            (
                r#"read "/srv/data/../keys/a.csv""#,
                "a path that climbs out",
            ),
            (r#"write "/tmp/other.txt""#, "outside the path param"),
            (
                "param o: path where o under \"/tmp/\"\nwrite o",
                "a wider path param",
            ),
            ("param o: path\nwrite o", "an unbounded path param"),
            ("connect 10.0.0.0/7:443", "a wider cidr"),
            ("connect 11.0.0.1:443", "an address outside"),
            ("connect 10.1.2.3:80", "another port"),
            (r#"connect "api.example":9000"#, "a port beyond the range"),
            (
                "param p: number where p >= 7000 and p < 8500\nconnect \"api.example\":p",
                "a wider port range",
            ),
            (r#"connect "other.example":8080"#, "another host"),
            (
                r#"call deploy(env = "dev")"#,
                "a value outside the param's list",
            ),
            (
                "param e: string\ncall deploy(env = e)",
                "an unbounded param",
            ),
            (
                "repeat 4 { call deploy(env = \"staging\") }",
                "a count above the parent's",
            ),
            (
                "call deploy(env = \"staging\")\ncall deploy(env = \"prod\")",
                "two values of one param",
            ),
            (r#"exec "/usr/bin/git" ["push"]"#, "other arguments"),
        ] {
            assert_refused(inside(&parent, body), body, why);
        }
    }

    #[test]
    fn trees_contain_what_is_below_them() {
        let mut parent = Envelope::default();
        parent.files.push(FileGrant {
            access: warden_core::envelope::FileAccess::Read,
            target: PathTarget::Tree {
                dir: "/srv/data".into(),
            },
        });
        for body in [
            r#"read "/srv/data""#,
            r#"read "/srv/data/x/y.csv""#,
            r#"read "/srv/data/x/*.csv""#,
            r#"read "/srv/data/**""#,
            "param p: path where p under \"/srv/data/x/\"\nread p",
        ] {
            let r = inside(&parent, body);
            assert!(r.is_ok(), "{body}: {:?}", r.err());
        }
        for (body, why) in [
            (
                r#"read "/srv/database/x""#,
                "a sibling with the same prefix",
            ),
            (
                r#"read "/srv/data/../etc/passwd""#,
                "a path that climbs out",
            ),
            (r#"read "/srv/*/x.csv""#, "a glob above the tree"),
            (
                "param p: path where p startswith \"/srv/data/\"\nread p",
                "`..` after the prefix",
            ),
            (r#"write "/srv/data/x""#, "another access"),
        ] {
            assert_refused(inside(&parent, body), body, why);
        }
    }

    #[test]
    fn refusals_name_the_step() {
        match sub(r#"call send_money(recipient = "UK2", amount = 5)"#) {
            Err(ContainmentError::Outside { outcome }) => {
                assert!(!outcome.violations.is_empty());
                assert!(outcome.violations[0].step.is_some());
            }
            other => panic!("{other:?}"),
        }
    }
}
