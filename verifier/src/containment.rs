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
//! use verifier::envelope::{CallGrant, Envelope};
//! let mut parent = Envelope::default();
//! parent.calls.push(CallGrant { name: "get_balance".into(), args: Default::default() });
//! let narrow = planlang::load_plan_str(r#"plan "p" { call get_balance() }"#, "sub.plan").unwrap();
//! assert!(contain(&parent, &narrow).is_ok());
//! let wide = planlang::load_plan_str(r#"plan "p" { call send_money(amount = 5) }"#, "sub.plan").unwrap();
//! assert!(contain(&parent, &wide).is_err());
//! ```

use crate::CheckError;
use crate::action::{ConcreteAction, Value};
use crate::compile::{CompiledSpec, CountRule, EffectRule, Options, OrderRule};
use crate::concrete::{self, Cond, Operand, Pattern};
use crate::envelope::{
    CallGrant, ConnectGrant, Envelope, ExecGrant, FileGrant, ListenGrant, OrderKind, PathTarget,
    UnixGrant, ValueMatch,
};
use crate::report::{Outcome, Verdict};
use planlang::Span;
use planlang::ast::{ActionKind, CmpOp, Effect, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

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
    Outside { outcome: Box<Outcome> },
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
    let tr = Translator { params };
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
    let order = |o: &crate::envelope::OrderRule| OrderRule {
        first: o.action.clone(),
        second: o.other.clone(),
        span: o.rule.clone(),
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
                span: l.rule.clone(),
                text: format!("parent limit: at most {}", l.limit),
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

// ───────────────────────────── grants inside grants ─────────────────────────────

/// A grant of one envelope that another does not (provably) cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotWithin {
    /// No grant of the outer envelope covers it as written, and the
    /// verifier refuses it against the outer envelope (`action`: its
    /// counterexample, when it gave one).
    #[error("`{grant}` is not inside the envelope{}", .action.as_ref().map(|a| format!(" (it lets `{a}` through)")).unwrap_or_default())]
    Outside {
        grant: String,
        action: Option<String>,
    },
    /// The question could not be asked or answered (refused all the same).
    #[error("whether `{grant}` is inside the envelope could not be decided: {reason}")]
    Undecided { grant: String, reason: String },
}

/// Whether every file, exec, connect and listen grant of `inner` lies
/// inside `outer` (its grants, plus the grants its baseline's plain path
/// patterns amount to, [`crate::enforced::baseline_grants`]); tool calls,
/// params, limits and ordering are not compared. `Err` names the first
/// grant of `inner` that is not, in `inner`'s order (files, exec, connect,
/// listen).
///
/// Each grant is first compared with `outer`'s grants as written (the
/// plain coverage [`contain`] uses for params: a tree covers the files and
/// trees below it, a cidr the addresses inside it, an unknown value any
/// value). One that is not covered that way becomes a one-step plan over a
/// param ranging over the grant (`param p: path where p matches
/// "^/d(/[^/]+)*$"`), checked against `outer` as a spec
/// ([`envelope_spec`]) by the verifier, for every value. A grant of `inner`
/// that names a param, or a fixed argv not plainly covered, is refused as
/// undecided.
///
/// ```
/// use verifier::containment::grants_within;
/// use verifier::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
/// let grant = |target| FileGrant { access: FileAccess::Read, target };
/// let mut outer = Envelope::default();
/// outer.files.push(grant(PathTarget::Tree { dir: "/srv".into() }));
/// let mut inner = Envelope::default();
/// inner.files.push(grant(PathTarget::Exact { path: "/srv/a".into() }));
/// assert!(grants_within(&outer, &inner).is_ok());
/// inner.files.push(grant(PathTarget::Tree { dir: "/etc".into() }));
/// let err = grants_within(&outer, &inner).unwrap_err();
/// assert!(err.to_string().starts_with("`read under \"/etc\"` is not inside"), "{err}");
/// ```
pub fn grants_within(outer: &Envelope, inner: &Envelope) -> Result<(), NotWithin> {
    within(outer, inner, true)
}

/// [`grants_within`] without the verifier: every grant of `inner` must be
/// covered by a grant of `outer` as written (microseconds; a grant covered
/// only by several of `outer`'s together is refused).
pub fn plainly_within(outer: &Envelope, inner: &Envelope) -> Result<(), NotWithin> {
    within(outer, inner, false)
}

fn within(outer: &Envelope, inner: &Envelope, solve: bool) -> Result<(), NotWithin> {
    let (base, _) = crate::enforced::baseline_grants(&outer.baseline);
    let mut all = outer.clone();
    all.files.extend(base.files);
    all.exec.extend(base.exec);
    all.unix.extend(base.unix);
    all.baseline.clear();
    let mut spec: Option<CompiledSpec> = None;
    let mut ask = |grant: String,
                   plan: Option<String>,
                   candidates: Vec<ConcreteAction>|
     -> Result<(), NotWithin> {
        let undecided = |reason: String| NotWithin::Undecided {
            grant: grant.clone(),
            reason,
        };
        // Likely witnesses first: one `outer` does not permit refutes the
        // grant at once, without the solver.
        if let Some(a) = candidates.iter().find(|a| all.permits(a).is_err()) {
            return Err(NotWithin::Outside {
                action: Some(a.to_string()),
                grant,
            });
        }
        if !solve {
            return Err(NotWithin::Outside {
                grant,
                action: None,
            });
        }
        let text = plan.ok_or_else(|| undecided("it has no plain cover and no plan".into()))?;
        let spec = match &mut spec {
            Some(s) => s,
            None => spec.insert(envelope_spec(&all).map_err(|e| undecided(e.to_string()))?),
        };
        // `Ok(None)`: inside; `Ok(Some(action))`: outside, with a witness.
        let refuted = |spec: &CompiledSpec, text: &str| -> Result<Option<Option<String>>, String> {
            let plan = planlang::load_plan_str(text, "grant.plan")
                .map_err(|d| format!("the question does not load: {d}"))?;
            match spec.check(&plan) {
                Ok(o) if o.verdict == Verdict::Accept => Ok(None),
                Ok(o) => Ok(Some(o.violations.iter().find_map(|v| v.action.clone()))),
                // The grant holds no action at all.
                Err(CheckError::UnsatisfiableWhere { .. }) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        };
        let Some(action) = refuted(spec, &text).map_err(undecided)? else {
            return Ok(());
        };
        // A readable witness when there is one (the refusal stands either way).
        let plain = text.replace(
            &format!("and {}", crate::enforced::NORMAL),
            &format!(
                "and {} and {}",
                crate::enforced::NORMAL,
                crate::enforced::PLAIN
            ),
        );
        // A plan without a path param (exec of a file, connect, listen) has
        // no plain variant: it is not asked again.
        let readable = if plain == text {
            None
        } else {
            refuted(spec, &plain).ok().flatten().flatten()
        };
        Err(NotWithin::Outside {
            grant,
            action: readable.or(action),
        })
    };
    use crate::enforced::{NORMAL, connect_host, covers_cond, describe_match, describe_target};
    // Files and unix sockets: a path grant of one kind of action.
    let paths = inner
        .files
        .iter()
        .map(|g| (g.access.kind(), &g.target))
        .chain(inner.unix.iter().map(|g| (g.op.kind(), &g.target)));
    for (kind, target) in paths {
        let plain = all
            .files
            .iter()
            .map(|o| (o.access.kind(), &o.target))
            .chain(all.unix.iter().map(|o| (o.op.kind(), &o.target)))
            .any(|(k, o)| k == kind && target_covers_plainly(o, target));
        if plain {
            continue;
        }
        let word = kind.as_str();
        let inside = match (target, kind) {
            // Rights on a tree reach what is inside it; the directory
            // itself is created and removed in its parent (as in
            // `enforced::prove`).
            (PathTarget::Tree { dir }, ActionKind::Write | ActionKind::Delete) => Some(format!(
                "p matches {}",
                crate::enforced::quote(&crate::enforced::tree_regex(dir, true))
            )),
            (t, _) => covers_cond(t),
        };
        let plan = inside.map(|c| {
            format!("plan \"grant\" {{\n  param p: path where {c} and {NORMAL}\n  {word} p\n}}\n")
        });
        let candidates = crate::enforced::path_candidates(kind, target);
        ask(
            format!("{word} {}", describe_target(target)),
            plan,
            candidates,
        )?;
    }
    for g in &inner.exec {
        let plain = all.exec.iter().any(|o| {
            target_covers_plainly(&o.program, &g.program)
                && match (&o.argv, &g.argv) {
                    (None, _) => true,
                    (Some(o), Some(i)) => {
                        o.len() == i.len() && o.iter().zip(i).all(|(o, i)| covers_plainly(o, i))
                    }
                    (Some(_), None) => false,
                }
        });
        if plain {
            continue;
        }
        let grant = format!("exec {} with any arguments", describe_target(&g.program));
        let plan = match (&g.program, &g.argv) {
            (_, Some(_)) => None,
            (PathTarget::Exact { path }, None) => Some(format!(
                "plan \"grant\" {{\n  exec {}\n}}\n",
                crate::enforced::quote(path)
            )),
            (t, None) => covers_cond(t).map(|c| {
                format!("plan \"grant\" {{\n  param p: path where {c} and {NORMAL}\n  exec p\n}}\n")
            }),
        };
        let candidates = match &g.argv {
            None => crate::enforced::path_candidates(ActionKind::Exec, &g.program),
            Some(_) => Vec::new(),
        };
        ask(grant, plan, candidates)?;
    }
    // A value of a connect or listen step: a literal, or a param over any
    // value (`None`: a param-backed grant, which this cannot say).
    let operand = |m: &ValueMatch, name: &str, ty: &str, decls: &mut String| match m {
        ValueMatch::Exact { value } => Some(connect_host(value)),
        ValueMatch::Unknown { .. } => {
            decls.push_str(&format!("  param {name}: {ty}\n"));
            Some(name.to_owned())
        }
        ValueMatch::Param { .. } => None,
    };
    for g in &inner.connect {
        let plain = all
            .connect
            .iter()
            .any(|o| covers_plainly(&o.host, &g.host) && covers_plainly(&o.port, &g.port));
        if plain {
            continue;
        }
        let mut decls = String::new();
        let host = match &g.host {
            ValueMatch::Exact {
                value: Value::String(name),
            } => Some(crate::enforced::quote(name)),
            m => operand(m, "h", "host", &mut decls),
        };
        let port = operand(&g.port, "port", "number", &mut decls);
        let plan = host
            .zip(port)
            .map(|(h, p)| format!("plan \"grant\" {{\n{decls}  connect {h}:{p}\n}}\n"));
        let grant = format!(
            "connect {}:{}",
            describe_match(&g.host),
            describe_match(&g.port)
        );
        let port = match &g.port {
            ValueMatch::Exact {
                value: Value::Number(n),
            } => n.to_string().parse::<u16>().ok(),
            _ => Some(443),
        };
        let candidate = match (&g.host, port) {
            (
                ValueMatch::Exact {
                    value: Value::Cidr(net),
                },
                Some(port),
            ) => Some(ConcreteAction::connect_ip(net.network(), port)),
            _ => None,
        };
        ask(grant, plan, candidate.into_iter().collect())?;
    }
    for g in &inner.listen {
        if all.listen.iter().any(|o| covers_plainly(&o.port, &g.port)) {
            continue;
        }
        let mut decls = String::new();
        let plan = operand(&g.port, "port", "number", &mut decls)
            .map(|p| format!("plan \"grant\" {{\n{decls}  listen {p}\n}}\n"));
        let candidate = match &g.port {
            ValueMatch::Exact {
                value: Value::Number(n),
            } => n
                .to_string()
                .parse::<u16>()
                .ok()
                .map(ConcreteAction::listen),
            _ => None,
        };
        ask(
            format!("listen {}", describe_match(&g.port)),
            plan,
            candidate.into_iter().collect(),
        )?;
    }
    Ok(())
}

// ───────────────────────────── translation ─────────────────────────────

struct Translator<'e> {
    params: HashMap<&'e str, Option<&'e Cond>>,
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
        })
    }

    fn target(&self, t: &PathTarget) -> Result<Cond, ContainmentError> {
        let path = field("path");
        Ok(match t {
            PathTarget::Exact { path: p } => cmp(CmpOp::Eq, path, Value::String(p.clone())),
            PathTarget::Tree { dir } => cmp(CmpOp::Under, path, Value::String(dir.clone())),
            PathTarget::Glob { glob } => {
                let re = concrete::glob_to_regex(glob).map_err(|e| {
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
    }
}

/// Whether a parent value covers a sub value without any param.
fn covers_plainly(parent: &ValueMatch, sub: &ValueMatch) -> bool {
    match (parent, sub) {
        (ValueMatch::Exact { value: p }, ValueMatch::Exact { value: s }) => match (p, s) {
            (Value::Cidr(net), Value::Cidr(ip)) => concrete::cidr_contains(net, ip),
            (p, s) => concrete::value_eq(p, s),
        },
        (ValueMatch::Unknown { origin: None }, _) => true,
        (ValueMatch::Unknown { origin: Some(o) }, ValueMatch::Unknown { origin: Some(s) }) => {
            o == s
        }
        _ => false,
    }
}

fn target_covers_plainly(parent: &PathTarget, sub: &PathTarget) -> bool {
    match (parent, sub) {
        (PathTarget::Param { .. }, _) | (_, PathTarget::Param { .. }) => false,
        (PathTarget::Unknown { .. }, _) => true,
        (p, PathTarget::Exact { path }) => p.covers(path),
        (PathTarget::Tree { dir }, PathTarget::Tree { dir: d }) => concrete::under_normal(d, dir),
        (PathTarget::Tree { dir }, PathTarget::Glob { glob }) => {
            glob_prefix(glob).is_some_and(|pre| concrete::under_normal(&pre, dir))
        }
        // `/d/**` is the tree `/d` (it matches `/d` itself).
        (PathTarget::Glob { glob }, sub) if glob_tree(glob).is_some() => {
            glob_tree(glob).is_some_and(|dir| target_covers_plainly(&PathTarget::Tree { dir }, sub))
        }
        (PathTarget::Glob { glob: g }, PathTarget::Glob { glob }) => g == glob,
        _ => false,
    }
}

/// The directory of a glob that is a whole tree (`/d/**`, `/**`).
fn glob_tree(glob: &str) -> Option<String> {
    let g = concrete::normalize_glob(glob).ok()?;
    let dir = g.strip_suffix("/**")?;
    if concrete::is_glob(dir) || dir.contains('[') {
        return None;
    }
    Some(if dir.is_empty() {
        "/".into()
    } else {
        dir.into()
    })
}

/// The directory a glob cannot leave: its segments before the first
/// wildcard.
fn glob_prefix(glob: &str) -> Option<String> {
    let mut out = String::new();
    for seg in glob.split('/').skip(1) {
        if seg.contains(['*', '?', '[']) {
            return (!out.is_empty()).then_some(out);
        }
        out.push('/');
        out.push_str(seg);
    }
    None
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
    use crate::enforced::tests::env as grants;

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
            access: crate::envelope::FileAccess::Read,
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

    fn connect(net: &str) -> serde_json::Value {
        serde_json::json!({
            "host": {"match": "exact", "value": {"type": "cidr", "value": net}},
            "port": {"match": "exact", "value": {"type": "number", "value": "443"}}
        })
    }

    #[test]
    fn grants_inside_several_grants_together_are_proven_by_the_verifier() {
        let read = |t: serde_json::Value| serde_json::json!({"access": "read", "target": t});
        let glob = |g: &str| read(serde_json::json!({"shape": "glob", "glob": g}));
        let tree = |d: &str| read(serde_json::json!({"shape": "tree", "dir": d}));
        let outer = grants(serde_json::json!({"files": [glob("/srv/*"), glob("/srv/*/**")]}));
        let inner = grants(serde_json::json!({"files": [tree("/srv/a")]}));
        // No one grant covers it as written; the two together do.
        assert!(plainly_within(&outer, &inner).is_err());
        assert_eq!(grants_within(&outer, &inner), Ok(()));
        let wider = grants(serde_json::json!({"files": [tree("/srv")]}));
        match grants_within(&outer, &wider) {
            Err(NotWithin::Outside { grant, action }) => {
                assert_eq!(grant, "read under \"/srv\"");
                assert_eq!(action.as_deref(), Some("read \"/srv\""));
            }
            other => panic!("{other:?}"),
        }
        // A network is inside only a network that holds all of it.
        let outer = grants(serde_json::json!({"connect": [connect("10.0.0.0/8")]}));
        let inner = grants(serde_json::json!({"connect": [connect("10.1.0.0/16")]}));
        assert_eq!(plainly_within(&outer, &inner), Ok(()));
        match grants_within(&inner, &outer) {
            Err(NotWithin::Outside { grant, .. }) => assert_eq!(grant, "connect 10.0.0.0/8:443"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unix_socket_grants_inside_and_outside() {
        let unix = |op: &str, t: serde_json::Value| serde_json::json!({"op": op, "target": t});
        let tree = |d: &str| serde_json::json!({"shape": "tree", "dir": d});
        let exact = |p: &str| serde_json::json!({"shape": "exact", "path": p});
        let outer = grants(serde_json::json!({"unix": [
            unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*"})),
            unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*/**"})),
        ]}));
        let inner = grants(serde_json::json!({"unix": [unix("connect", tree("/run/app/db"))]}));
        assert_eq!(grants_within(&outer, &inner), Ok(()));
        // A connect grant is no listen grant, and no file grant.
        let listen =
            grants(serde_json::json!({"unix": [unix("listen", exact("/run/app/a.sock"))]}));
        assert!(matches!(
            grants_within(&outer, &listen),
            Err(NotWithin::Outside { .. })
        ));
        let file = grants(
            serde_json::json!({"files": [{"access": "write", "target": exact("/run/app/a.sock")}]}),
        );
        assert!(grants_within(&outer, &file).is_err());
        // Every socket: refuted by the socket that gives the machine away.
        let all = grants(serde_json::json!({"unix": [unix("connect", tree("/"))]}));
        match grants_within(&outer, &all) {
            Err(NotWithin::Outside { grant, action }) => {
                assert_eq!(grant, "connect under \"/\"");
                assert_eq!(action.as_deref(), Some("connect \"/var/run/docker.sock\""));
            }
            other => panic!("{other:?}"),
        }
        // The baseline's socket patterns count.
        let spec = planlang::load_spec_str(
            r#"spec "s" { baseline { connect under "/run/dbus/" } }"#,
            "b.spec",
        )
        .unwrap();
        let base = Envelope {
            baseline: CompiledSpec::compile(&spec).unwrap().baseline,
            ..Envelope::default()
        };
        let bus = grants(
            serde_json::json!({"unix": [unix("connect", exact("/run/dbus/system_bus_socket"))]}),
        );
        assert_eq!(plainly_within(&base, &bus), Ok(()));
        // Attenuation: a sub-plan inside the parent's sockets, and one not.
        let parent = grants(serde_json::json!({"unix": [unix("connect", tree("/run/app"))]}));
        let plan =
            |body: &str| planlang::load_plan_str(&format!("plan {{ {body} }}"), "s.plan").unwrap();
        assert!(contain(&parent, &plan(r#"connect "/run/app/x/db.sock""#)).is_ok());
        assert!(
            contain(
                &parent,
                &plan(r#"param p: path where p under "/run/app/"  connect p"#)
            )
            .is_ok()
        );
        assert!(contain(&parent, &plan(r#"connect "/run/app/../docker.sock""#)).is_err());
        assert!(contain(&parent, &plan(r#"listen "/run/app/x.sock""#)).is_err());
    }

    #[test]
    fn the_baseline_counts_and_a_refusal_names_a_witness() {
        let spec = planlang::load_spec_str(
            r#"spec "s" { baseline { read under "/usr/lib/"  exec "/bin/sh" } }"#,
            "b.spec",
        )
        .unwrap();
        let mut outer = grants(serde_json::json!({
            "files": [{"access": "read", "target": {"shape": "glob", "glob": "/srv/**"}}]
        }));
        outer.baseline = CompiledSpec::compile(&spec).unwrap().baseline;
        let inner = grants(serde_json::json!({
            "files": [
                {"access": "read", "target": {"shape": "tree", "dir": "/usr/lib/x86_64"}},
                {"access": "read", "target": {"shape": "tree", "dir": "/srv/data"}},
                {"access": "read", "target": {"shape": "exact", "path": "/bin/sh"}}
            ],
            "exec": [{"program": {"shape": "exact", "path": "/bin/sh"}, "argv": null}]
        }));
        assert_eq!(plainly_within(&outer, &inner), Ok(()));
        let more = grants(serde_json::json!({
            "files": [{"access": "write", "target": {"shape": "tree", "dir": "/srv/data"}}]
        }));
        match grants_within(&outer, &more) {
            Err(NotWithin::Outside {
                grant,
                action: Some(a),
            }) => {
                assert_eq!(grant, "write under \"/srv/data\"");
                assert!(a.starts_with("write \"/srv/data/"), "{a}");
            }
            other => panic!("{other:?}"),
        }
    }
}
