//! The plan lowered for checking: its action steps and its control-flow
//! graph.
//!
//! A plan is lowered to a table of action steps ([`StepAction`], one per
//! action written in the plan, its values as [`Term`]s) and a petgraph
//! control-flow graph over them ([`Cfg`], in [`graph`]): entry and exit,
//! sequence edges, `either` branches, and `repeat` loops as regions with a
//! back edge. Temporal and count rules (`never`, `require`, `at most`) are
//! answered by dynamic programming over that graph, in time linear in the
//! plan, never by enumerating paths; per-step verdicts do not depend on the
//! path, so only those rules use the graph.
//!
//! ```
//! let plan = planlang::load_plan_str(
//!     r#"plan { repeat at most 3 { read "/a" } read "/b" }"#, "t.plan").unwrap();
//! let lowered = verifier::cfg::lower(&plan).unwrap();
//! // `read "/a"` is step 0: a path performs it 3 times at most.
//! assert_eq!(lowered.graph.max_count(&|i| i == 0).0, 3);
//! ```

pub mod graph;

pub use graph::{Cfg, CfgEdge, CfgNode, Path, PathElem, PathQuestion};

use graph::{CfgBuilder, Cursor};
use planlang::Span;
use planlang::ast::{self, ActionKind, ParamType};
use std::collections::{BTreeMap, HashMap};
use warden_core::path::PathError;
use warden_core::value::Value;

/// A value in a plan step: known, or symbolic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Term {
    /// A literal (paths normalized).
    Known(Value),
    /// The value of a param.
    Param(String),
    /// A `let` result or one of its fields (`bill.iban`): content unknown,
    /// origin the tool. `key`: in a call argument, the field of a result
    /// the plan makes an assumption about ([`Lowered::assumed`]): the
    /// proof treats it as that value (typed, meeting the assumption).
    Unknown {
        /// The name as the plan writes it, fields and index included
        /// (`bill.iban`, `rows[0]`).
        name: String,
        /// The tool whose result it is.
        origin: String,
        /// The assumed field it stands for, if any.
        key: Option<String>,
    },
    /// A plan glob (normalized): some file it matches.
    Glob(String),
    /// `exec PATH` without arguments: any argument list.
    AnyList,
    /// A list with symbolic elements.
    List(Vec<Term>),
}

impl Term {
    /// Whether the value is a literal ([`Term::Known`]).
    pub fn is_known(&self) -> bool {
        matches!(self, Term::Known(_))
    }
}

/// One action written in the plan (a `let` step's call included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepAction {
    /// The kind rules match it by.
    pub kind: ActionKind,
    /// For a call: the tool's name.
    pub call: Option<String>,
    /// The action's fields by name, as spec conditions name them: `path`,
    /// `argv`, `host`, `ip`, `port`, or a call's arguments.
    pub fields: BTreeMap<String, Term>,
    /// The step in the plan.
    pub span: Span,
}

impl StepAction {
    /// Whether every value is known (then it is decided without the solver).
    pub fn is_concrete(&self) -> bool {
        self.fields.values().all(Term::is_known)
    }

    /// The concrete action, when every value is known.
    pub fn to_concrete(&self) -> Option<warden_core::action::ConcreteAction> {
        let mut fields = BTreeMap::new();
        for (k, t) in &self.fields {
            match t {
                Term::Known(v) => {
                    fields.insert(k.clone(), warden_core::value::Field::new(v.clone()));
                }
                _ => return None,
            }
        }
        Some(warden_core::action::ConcreteAction {
            kind: self.kind,
            call: self.call.clone(),
            fields,
        })
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Term::Known(v) => write!(f, "{v}"),
            Term::Param(p) => f.write_str(p),
            Term::Unknown { name, .. } => f.write_str(name),
            Term::Glob(g) => write!(f, "{}", Value::String(g.clone())),
            Term::AnyList => Ok(()),
            Term::List(ts) => {
                f.write_str("[")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl std::fmt::Display for StepAction {
    /// The step as the plan spells it (`call send_money(amount = amount)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let get = |k: &str| self.fields.get(k);
        match self.kind {
            ActionKind::Call => {
                write!(f, "call {}(", self.call.as_deref().unwrap_or("?"))?;
                for (i, (k, v)) in self.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(")")
            }
            ActionKind::Connect | ActionKind::Listen if get("path").is_some() => {
                write!(f, "{}", self.kind)?;
                if let Some(p) = get("path") {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
            ActionKind::Connect => {
                let host = get("host").or(get("ip"));
                match host {
                    Some(h) => write!(f, "connect {h}")?,
                    None => f.write_str("connect ?")?,
                }
                match get("port") {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
            ActionKind::Listen => match get("port") {
                Some(p) => write!(f, "listen {p}"),
                None => f.write_str("listen"),
            },
            kind => {
                write!(f, "{kind}")?;
                if let Some(p) = get("path") {
                    write!(f, " {p}")?;
                }
                match get("argv") {
                    Some(Term::Known(Value::List(items))) => {
                        for (i, a) in items.iter().enumerate() {
                            f.write_str(if i == 0 { " " } else { ", " })?;
                            write!(f, "{a}")?;
                        }
                    }
                    Some(Term::List(items)) => {
                        for (i, a) in items.iter().enumerate() {
                            f.write_str(if i == 0 { " " } else { ", " })?;
                            write!(f, "{a}")?;
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
        }
    }
}

/// A param of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// Its name (for an assumed field, its name in [`Lowered::assumed`]:
    /// `bill.amount`).
    pub name: String,
    /// Its type.
    pub ty: ParamType,
    /// Its `where`, which every value meets.
    pub condition: Option<ast::CondExpr>,
    /// The declaration (for an assumed field, the `let` step's assumption).
    pub span: Span,
}

/// An assumption of the plan on a tool's results (`let X = call T(...)
/// where COND`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumptionInfo {
    /// The tool whose result is assumed about.
    pub tool: String,
    /// The result's name, made unique in the plan (`bill`, `bill#2` for a
    /// second `let bill` with an assumption).
    pub key: String,
    /// Its fields by their names in [`Lowered::assumed`], with their place
    /// in the result.
    pub fields: BTreeMap<String, planlang::assume::AssumedField>,
    /// The condition, fields named as in [`Lowered::assumed`].
    pub condition: ast::CondExpr,
    /// The condition as the plan writes it.
    pub text: String,
    /// The condition in the plan.
    pub span: Span,
}

/// A plan, lowered.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// Every action written in the plan, in written order: a step's index
    /// here is how the graph, paths and reports name it.
    pub steps: Vec<StepAction>,
    /// The control-flow graph over [`Lowered::steps`].
    pub graph: Cfg,
    /// The plan's params, in written order.
    pub params: Vec<ParamInfo>,
    /// The fields of results the plan makes assumptions about, as params
    /// the proof may rely on (typed, the assumption as the `where` of the
    /// first field of each): `bill.amount`.
    pub assumed: Vec<ParamInfo>,
    /// Every `let ... where COND` of the plan, in written order.
    pub assumptions: Vec<AssumptionInfo>,
    /// Where each step sits: the `either` branch or `repeat` around it (an
    /// index into `frames`), `None` at the top of the plan.
    step_frame: Vec<Option<usize>>,
    /// The `either` branches and `repeat`s of the plan, each with the one
    /// around it: a tree, so that every step's context costs one index.
    frames: Vec<(Option<usize>, PathElem)>,
}

impl Lowered {
    /// The params the proof ranges over: the plan's, then the fields of
    /// results with an assumption.
    pub fn checked_params(&self) -> impl Iterator<Item = &ParamInfo> {
        self.params.iter().chain(&self.assumed)
    }

    /// How a path reaches step `i`, compactly: the branch taken at each
    /// `either` and one iteration of each `repeat` around it (outermost
    /// first), then the step. Per-step verdicts do not depend on the rest
    /// of the path, so a refusal names only this: its size is the step's
    /// nesting depth, not the number of steps before it (a report of `n`
    /// refused steps stays linear in `n`).
    pub fn context(&self, i: usize) -> Path {
        let mut out = vec![PathElem::Step(i)];
        let mut at = self.step_frame.get(i).copied().flatten();
        while let Some(f) = at {
            let (parent, elem) = &self.frames[f];
            out.push(elem.clone());
            at = *parent;
        }
        out.reverse();
        out
    }
}

/// Why a plan cannot be lowered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    /// A literal path cannot be normalized (not absolute, a NUL, `..`
    /// after a glob's wildcard).
    #[error("{span}: {source}")]
    Path {
        /// The value.
        span: Span,
        /// Why it is no path.
        source: PathError,
    },
    /// A name is neither a param nor a `let` result in scope.
    #[error("{span}: `{name}` is not a param or a `let` result of this plan")]
    UnknownName {
        /// The name.
        span: Span,
        /// The name as written.
        name: String,
    },
    /// A param written with a field or index (`p.x`, `p[0]`).
    #[error("{span}: a param has no fields or index (`{name}`)")]
    ParamField {
        /// The reference.
        span: Span,
        /// The param's name.
        name: String,
    },
    /// A value that cannot stand where it is (a number as a path, a port
    /// out of range, an argument given twice, a bad assumption).
    #[error("{span}: {what}")]
    BadValue {
        /// The value.
        span: Span,
        /// What is wrong with it.
        what: String,
    },
    /// Two params of one name.
    #[error("{span}: param `{name}` is declared twice")]
    DuplicateParam {
        /// The second declaration's name.
        span: Span,
        /// The name.
        name: String,
    },
}

/// Lowers a plan to its action steps and control-flow graph.
pub fn lower(plan: &ast::Plan) -> Result<Lowered, LowerError> {
    let (cfg, start) = CfgBuilder::new();
    let mut l = Lowerer {
        cfg,
        steps: Vec::new(),
        params: HashMap::new(),
        lets: HashMap::new(),
        assumed_keys: HashMap::new(),
        assumed: Vec::new(),
        assumptions: Vec::new(),
        frame: None,
        frames: Vec::new(),
        step_frame: Vec::new(),
    };
    let mut params = Vec::new();
    for p in &plan.params {
        if l.params.insert(p.name.node.clone(), p.ty.node).is_some() {
            return Err(LowerError::DuplicateParam {
                span: p.name.span.clone(),
                name: p.name.node.clone(),
            });
        }
        params.push(ParamInfo {
            name: p.name.node.clone(),
            ty: p.ty.node,
            condition: p.condition.as_ref().map(|c| c.node.clone()),
            span: p.span.clone(),
        });
    }
    let end = l.block(&plan.steps, start)?;
    Ok(Lowered {
        graph: l.cfg.finish(end),
        steps: l.steps,
        params,
        assumed: l.assumed,
        assumptions: l.assumptions,
        step_frame: l.step_frame,
        frames: l.frames,
    })
}

struct Lowerer {
    cfg: CfgBuilder,
    steps: Vec<StepAction>,
    params: HashMap<String, ParamType>,
    lets: HashMap<String, String>,
    /// Fields of results in scope with an assumption: the field as the
    /// plan names it (`bill.amount`) -> its name in `assumed`.
    assumed_keys: HashMap<String, String>,
    assumed: Vec<ParamInfo>,
    assumptions: Vec<AssumptionInfo>,
    /// The `either` branch or `repeat` being lowered.
    frame: Option<usize>,
    frames: Vec<(Option<usize>, PathElem)>,
    step_frame: Vec<Option<usize>>,
}

impl Lowerer {
    fn push_step(&mut self, a: StepAction, at: Cursor) -> Cursor {
        self.steps.push(a);
        self.step_frame.push(self.frame);
        self.cfg.step(at, self.steps.len() - 1)
    }

    /// Lowers `steps` inside a new frame (a branch or a loop body).
    fn framed(
        &mut self,
        elem: PathElem,
        steps: &[ast::Step],
        at: Cursor,
    ) -> Result<Cursor, LowerError> {
        let outer = self.frame;
        self.frames.push((outer, elem));
        self.frame = Some(self.frames.len() - 1);
        let end = self.block(steps, at);
        self.frame = outer;
        end
    }

    fn block(&mut self, steps: &[ast::Step], mut at: Cursor) -> Result<Cursor, LowerError> {
        for s in steps {
            at = self.step(s, at)?;
        }
        Ok(at)
    }

    fn step(&mut self, s: &ast::Step, at: Cursor) -> Result<Cursor, LowerError> {
        match &s.kind {
            ast::StepKind::Action { action } => {
                let a = self.action(action, &s.span)?;
                Ok(self.push_step(a, at))
            }
            ast::StepKind::Let { name, call, assume } => {
                let a = self.call(call, &s.span)?;
                let next = self.push_step(a, at);
                // The name is bound after the call (its own args cannot use it).
                self.lets.insert(name.node.clone(), call.name.node.clone());
                self.bind_assumption(&name.node, &call.name.node, assume.as_ref())?;
                Ok(next)
            }
            ast::StepKind::Either { branches } => {
                let fork = self.cfg.fork(at, s.span.clone());
                let mut ends = Vec::with_capacity(branches.len());
                for (k, b) in branches.iter().enumerate() {
                    let elem = PathElem::Branch {
                        span: s.span.clone(),
                        index: k + 1,
                    };
                    ends.push(self.framed(elem, &b.steps, CfgBuilder::branch(fork, k))?);
                }
                Ok(self.cfg.join(fork, &ends))
            }
            ast::StepKind::Repeat {
                count,
                at_most,
                body,
            } => {
                let (head, start) = self.cfg.loop_head(at, count.node, *at_most, s.span.clone());
                let elem = PathElem::Iterations {
                    span: s.span.clone(),
                    count: 1,
                };
                let end = self.framed(elem, &body.steps, start)?;
                Ok(self.cfg.loop_tail(head, end))
            }
        }
    }

    /// Binds the assumption of `let name = call tool(...) [where ...]`:
    /// an earlier result of the same name is out of reach, and each field
    /// the assumption names becomes a param the proof may rely on.
    fn bind_assumption(
        &mut self,
        name: &str,
        tool: &str,
        assume: Option<&planlang::Spanned<ast::CondExpr>>,
    ) -> Result<(), LowerError> {
        let own = |k: &str| {
            k == name
                || k.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        };
        self.assumed_keys.retain(|k, _| !own(k));
        let Some(a) = assume else {
            return Ok(());
        };
        let fields = planlang::assume::fields(name, a).map_err(|d| LowerError::BadValue {
            span: d.first().map_or_else(|| a.span.clone(), |d| d.span.clone()),
            what: d
                .first()
                .map_or_else(|| "a bad assumption".to_string(), |d| d.message.clone()),
        })?;
        let taken = self.assumptions.iter().filter(|x| {
            x.key == name || x.key.strip_prefix(name).is_some_and(|r| r.starts_with('#'))
        });
        let key = match taken.count() {
            0 => name.to_string(),
            n => format!("{name}#{}", n + 1),
        };
        let condition = planlang::assume::flatten(&a.node, &key);
        let mut named = BTreeMap::new();
        for (i, (flat, f)) in fields.into_iter().enumerate() {
            let param = format!("{key}{}", &flat[name.len()..]);
            self.assumed_keys.insert(flat, param.clone());
            self.assumed.push(ParamInfo {
                name: param.clone(),
                ty: f.ty,
                condition: (i == 0).then(|| condition.clone()),
                span: a.span.clone(),
            });
            named.insert(param, f);
        }
        self.assumptions.push(AssumptionInfo {
            tool: tool.to_string(),
            key,
            fields: named,
            condition,
            text: planlang::fmt_cond(a),
            span: a.span.clone(),
        });
        Ok(())
    }

    fn call(&mut self, c: &ast::Call, span: &Span) -> Result<StepAction, LowerError> {
        let mut fields = BTreeMap::new();
        for a in &c.args {
            let mut t = self.value(&a.value)?;
            // An argument that is a field with an assumption: the proof may
            // rely on it (the monitor checks the value against it).
            if let Term::Unknown { name, key, .. } = &mut t {
                *key = self.assumed_keys.get(name.as_str()).cloned();
            }
            if fields.insert(a.name.node.clone(), t).is_some() {
                return Err(LowerError::BadValue {
                    span: a.name.span.clone(),
                    what: format!("argument `{}` is passed twice", a.name.node),
                });
            }
        }
        Ok(StepAction {
            kind: ActionKind::Call,
            call: Some(c.name.node.clone()),
            fields,
            span: span.clone(),
        })
    }

    fn action(&mut self, a: &ast::Action, span: &Span) -> Result<StepAction, LowerError> {
        let mut fields = BTreeMap::new();
        match a {
            ast::Action::Read { path }
            | ast::Action::Write { path }
            | ast::Action::Delete { path } => {
                fields.insert("path".to_string(), self.path(path)?);
            }
            ast::Action::Exec { program, args } => {
                fields.insert("path".to_string(), self.path(program)?);
                let argv = match args {
                    None => Term::AnyList,
                    Some(args) => {
                        let mut ts = Vec::with_capacity(args.len());
                        for a in args {
                            ts.push(self.value(a)?);
                        }
                        list_term(ts)
                    }
                };
                fields.insert("argv".to_string(), argv);
            }
            ast::Action::Connect { host, port } => {
                match self.value(host)? {
                    Term::Known(Value::String(h)) => match warden_core::net::parse_cidr(&h) {
                        Some(net) => {
                            fields.insert("ip".into(), Term::Known(Value::Cidr(net)));
                        }
                        None if warden_core::net::is_host_name(&h) => {
                            fields.insert("host".into(), Term::Known(Value::String(h)));
                        }
                        None => {
                            return Err(LowerError::BadValue {
                                span: host.span.clone(),
                                what: format!("`{h}` is not a host name or an address"),
                            });
                        }
                    },
                    Term::Known(Value::Cidr(net)) => {
                        fields.insert("ip".into(), Term::Known(Value::Cidr(net)));
                    }
                    t @ (Term::Param(_) | Term::Unknown { .. }) => {
                        // A name or an address, decided when the run starts.
                        fields.insert("host".into(), t.clone());
                        fields.insert("ip".into(), t);
                    }
                    _ => {
                        return Err(LowerError::BadValue {
                            span: host.span.clone(),
                            what: "a host is a name, an address or a cidr".into(),
                        });
                    }
                }
                fields.insert("port".into(), self.port(port)?);
            }
            ast::Action::Listen { port } => {
                fields.insert("port".into(), self.port(port)?);
            }
            // A unix socket is named by its path, normalized like a file's.
            ast::Action::ConnectUnix { path } | ast::Action::ListenUnix { path } => {
                fields.insert("path".into(), self.path(path)?);
            }
            ast::Action::Call(c) => return self.call(c, span),
        }
        Ok(StepAction {
            kind: a.kind(),
            call: None,
            fields,
            span: span.clone(),
        })
    }

    fn port(&mut self, v: &planlang::Spanned<ast::ValueExpr>) -> Result<Term, LowerError> {
        let t = self.value(v)?;
        if let Term::Known(val) = &t {
            let ok = matches!(val, Value::Number(n) if n.fract().is_zero() && *n >= 0.into() && *n <= 65535.into());
            if !ok {
                return Err(LowerError::BadValue {
                    span: v.span.clone(),
                    what: format!("{val} is not a port (0 to 65535)"),
                });
            }
        }
        Ok(t)
    }

    fn path(&mut self, v: &planlang::Spanned<ast::ValueExpr>) -> Result<Term, LowerError> {
        let t = self.value(v)?;
        let err = |source| LowerError::Path {
            span: v.span.clone(),
            source,
        };
        Ok(match t {
            Term::Known(Value::String(p)) if warden_core::path::is_glob(&p) => {
                Term::Glob(warden_core::path::normalize_glob(&p).map_err(err)?)
            }
            Term::Known(Value::String(p)) => Term::Known(Value::String(
                warden_core::path::normalize_path(&p).map_err(err)?,
            )),
            Term::Known(other) => {
                return Err(LowerError::BadValue {
                    span: v.span.clone(),
                    what: format!("a path is a string, not a {}", other.type_name()),
                });
            }
            t => t,
        })
    }

    fn value(&mut self, v: &planlang::Spanned<ast::ValueExpr>) -> Result<Term, LowerError> {
        match &v.node {
            ast::ValueExpr::Literal { literal } => {
                Ok(Term::Known(planlang::lower::literal(literal)))
            }
            ast::ValueExpr::List { items } => {
                let mut ts = Vec::with_capacity(items.len());
                for i in items {
                    ts.push(self.value(i)?);
                }
                Ok(list_term(ts))
            }
            ast::ValueExpr::Ref(r) => {
                let name = &r.name.node;
                let is_param = matches!(r.resolved, ast::RefKind::Param)
                    || (matches!(r.resolved, ast::RefKind::Unresolved)
                        && self.params.contains_key(name));
                if is_param {
                    if !r.fields.is_empty() || r.index.is_some() {
                        return Err(LowerError::ParamField {
                            span: v.span.clone(),
                            name: name.clone(),
                        });
                    }
                    return Ok(Term::Param(name.clone()));
                }
                let origin = match &r.resolved {
                    ast::RefKind::Result { tool } => Some(tool.clone()),
                    ast::RefKind::Unresolved => self.lets.get(name).cloned(),
                    _ => None,
                };
                match origin {
                    Some(origin) => {
                        let mut full = name.clone();
                        for f in &r.fields {
                            full.push('.');
                            full.push_str(&f.node);
                        }
                        if let Some(i) = &r.index {
                            full.push_str(&format!("[{}]", i.node));
                        }
                        Ok(Term::Unknown {
                            name: full,
                            origin,
                            key: None,
                        })
                    }
                    None => Err(LowerError::UnknownName {
                        span: v.span.clone(),
                        name: name.clone(),
                    }),
                }
            }
        }
    }
}

fn list_term(ts: Vec<Term>) -> Term {
    if ts.iter().all(Term::is_known) {
        Term::Known(Value::List(
            ts.into_iter()
                .filter_map(|t| match t {
                    Term::Known(v) => Some(v),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Term::List(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lowers a plan. The parser refuses `repeat 0`, which a plan built
    /// as a syntax tree may hold: the text's `repeat 0` becomes one.
    fn lowered(text: &str) -> Lowered {
        fn zero(steps: &mut [ast::Step]) {
            for s in steps {
                match &mut s.kind {
                    ast::StepKind::Repeat { count, body, .. } => {
                        if count.node == 7777 {
                            count.node = 0;
                        }
                        zero(&mut body.steps);
                    }
                    ast::StepKind::Either { branches } => {
                        branches.iter_mut().for_each(|b| zero(&mut b.steps))
                    }
                    _ => {}
                }
            }
        }
        let text = text.replace("repeat 0 ", "repeat 7777 ");
        let mut plan = planlang::load_plan_str(&text, "t.plan").unwrap();
        zero(&mut plan.steps);
        lower(&plan).unwrap()
    }
    /// The steps on that path.
    fn on(l: &Lowered, path: &str) -> Vec<bool> {
        l.steps
            .iter()
            .map(|s| s.fields.get("path") == Some(&Term::Known(Value::String(path.into()))))
            .collect()
    }
    fn max(text: &str, path: &str) -> u64 {
        let l = lowered(text);
        let m = on(&l, path);
        l.graph.max_count(&|i| m[i]).0
    }
    fn never(text: &str) -> bool {
        // A = "/a", B = "/b".
        let l = lowered(text);
        let (a, b) = (on(&l, "/a"), on(&l, "/b"));
        l.graph.never_after(&|i| a[i], &|i| b[i]).is_some()
    }
    fn require(text: &str) -> bool {
        // A = "/a" (must), B = "/b".
        let l = lowered(text);
        let (a, b) = (on(&l, "/a"), on(&l, "/b"));
        l.graph.require_before(&|i| a[i], &|i| b[i]).is_some()
    }

    #[test]
    fn the_graph_has_entry_exit_branches_and_loop_regions() {
        let l = lowered(
            r#"plan { read "/0" either { read "/1" } or { } repeat at most 2 { read "/2" } }"#,
        );
        let g = l.graph.graph();
        use petgraph::visit::EdgeRef;
        let kinds: Vec<CfgEdge> = g.edge_references().map(|e| *e.weight()).collect();
        assert!(kinds.contains(&CfgEdge::Branch { index: 1 }));
        assert!(kinds.contains(&CfgEdge::Branch { index: 2 })); // the empty branch
        assert!(kinds.contains(&CfgEdge::Merge { index: 1 }));
        assert!(kinds.contains(&CfgEdge::Back));
        assert!(kinds.contains(&CfgEdge::Skip));
        assert_eq!(g[l.graph.entry()], CfgNode::Entry);
        assert_eq!(g[l.graph.exit()], CfgNode::Exit);
        // Without its back edges the graph is acyclic, and node order is
        // a topological order of it.
        let fwd = petgraph::visit::EdgeFiltered::from_fn(g, |e| *e.weight() != CfgEdge::Back);
        assert!(!petgraph::algo::is_cyclic_directed(&fwd));
        for e in g.edge_references() {
            if *e.weight() != CfgEdge::Back {
                assert!(e.source().index() < e.target().index());
            }
        }
        // `repeat N` with N >= 1 cannot be skipped.
        let l = lowered(r#"plan { repeat 2 { read "/2" } }"#);
        let kinds: Vec<CfgEdge> = l
            .graph
            .graph()
            .edge_references()
            .map(|e| *e.weight())
            .collect();
        assert!(!kinds.contains(&CfgEdge::Skip));
    }

    #[test]
    fn counts_multiply_in_loops_and_take_the_worst_branch() {
        let g = r#"plan { read "/0" either { read "/1" } or { read "/1" read "/1" } repeat at most 4 { read "/1" } }"#;
        assert_eq!(max(g, "/1"), 6);
        let big = format!(
            r#"plan {{ repeat {} {{ read "/1" read "/1" }} }}"#,
            u64::MAX
        );
        assert_eq!(max(&big, "/1"), u64::MAX);
        assert_eq!(max(r#"plan { repeat 0 { read "/1" } }"#, "/1"), 0);
        assert_eq!(
            max(
                r#"plan { repeat 3 { repeat 5 { read "/1" } read "/2" } }"#,
                "/1"
            ),
            15
        );
    }

    #[test]
    fn never_after_needs_order() {
        assert!(!never(r#"plan { read "/a" read "/b" }"#));
        assert!(never(r#"plan { read "/b" read "/a" }"#));
        assert!(!never(r#"plan { either { read "/b" } or { read "/a" } }"#));
        assert!(never(
            r#"plan { either { read "/b" } or { read "/c" } read "/a" }"#
        ));
        // A then B inside a loop: the next iteration puts A after B.
        assert!(never(r#"plan { repeat 2 { read "/a" read "/b" } }"#));
        assert!(!never(r#"plan { repeat 1 { read "/a" read "/b" } }"#));
        assert!(!never(r#"plan { repeat 0 { read "/b" } read "/a" }"#));
        assert!(never(
            r#"plan { repeat at most 2 { either { read "/b" } or { read "/a" } } }"#
        ));
    }

    #[test]
    fn a_step_that_is_both_follows_itself_only_in_a_loop() {
        let both = |text: &str| {
            let l = lowered(text);
            let a = on(&l, "/a");
            l.graph.never_after(&|i| a[i], &|i| a[i]).is_some()
        };
        assert!(!both(r#"plan { read "/a" }"#));
        assert!(both(r#"plan { repeat at most 2 { read "/a" } }"#));
    }

    #[test]
    fn require_before_on_every_path() {
        assert!(!require(r#"plan { read "/a" read "/b" }"#));
        assert!(require(r#"plan { read "/b" read "/a" }"#));
        assert!(require(
            r#"plan { either { read "/a" } or { read "/c" } read "/b" }"#
        ));
        assert!(!require(
            r#"plan { either { read "/a" } or { read "/a" } read "/b" }"#
        ));
        assert!(require(r#"plan { either { read "/a" } or { } read "/b" }"#));
        assert!(require(
            r#"plan { repeat at most 3 { read "/a" } read "/b" }"#
        ));
        assert!(!require(r#"plan { repeat 3 { read "/a" } read "/b" }"#));
        assert!(require(r#"plan { repeat 0 { read "/a" } read "/b" }"#));
    }

    #[test]
    fn paths_are_counted_without_walking_them() {
        let count = |t: &str| lowered(t).graph.path_count();
        assert_eq!(count(r#"plan { read "/a" }"#), 1);
        assert_eq!(
            count(r#"plan { either { read "/a" } or { read "/b" } }"#),
            2
        );
        let two = r#"either { read "/a" } or { read "/b" }"#;
        assert_eq!(count(&format!("plan {{ repeat 3 {{ {two} }} }}")), 8);
        assert_eq!(
            count(&format!("plan {{ repeat at most 3 {{ {two} }} }}")),
            15
        );
        assert_eq!(count(r#"plan { repeat at most 5 { read "/a" } }"#), 6);
        assert_eq!(count(r#"plan { repeat 0 { read "/a" } }"#), 1);
        // Nested loops multiply (the reference evaluator's test has the
        // fuzz input with 266,305 paths).
        assert_eq!(
            count(&format!(
                "plan {{ repeat 2 {{ repeat at most 2 {{ {two} }} }} }}"
            )),
            49
        );
        // Saturating, never overflowing.
        let deep = format!("plan {{ repeat 1000 {{ {two} }} }}");
        assert_eq!(count(&deep), u64::MAX);
    }

    #[test]
    fn violations_name_the_path() {
        let l = lowered(r#"plan { either { read "/c" } or { read "/b" } repeat 3 { read "/a" } }"#);
        let (a, b) = (on(&l, "/a"), on(&l, "/b"));
        let p = l.graph.never_after(&|i| a[i], &|i| b[i]).unwrap();
        assert!(matches!(p[0], PathElem::Branch { index: 2, .. }));
        assert_eq!(p[1], PathElem::Step(1));
        assert!(matches!(p[2], PathElem::Iterations { count: 1, .. }));
        assert_eq!(p[3], PathElem::Step(2));
        let to = l.graph.path_to(2).unwrap();
        assert!(matches!(to[0], PathElem::Branch { index: 1, .. }));
        assert_eq!(to.last(), Some(&PathElem::Step(2)));
    }

    #[test]
    fn a_step_context_names_only_the_branches_and_loops_around_it() {
        let l = lowered(
            r#"plan { read "/0" either { read "/1" } or { repeat 3 { read "/2" } } read "/3" }"#,
        );
        assert_eq!(l.context(0), vec![PathElem::Step(0)]);
        let c = l.context(2);
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(matches!(c[0], PathElem::Branch { index: 2, .. }));
        assert!(matches!(c[1], PathElem::Iterations { count: 1, .. }));
        assert_eq!(c[2], PathElem::Step(2));
        // Nothing of the steps before it: a straight plan's contexts are
        // one element each.
        assert_eq!(l.context(3), vec![PathElem::Step(3)]);
    }

    #[test]
    fn reachable_skips_loops_run_zero_times_and_walks_every_path() {
        let l = lowered(
            r#"plan { read "/0" repeat 0 { read "/1" } repeat at most 2 { either { read "/2" } or { } } }"#,
        );
        assert_eq!(l.graph.reachable(l.steps.len()), vec![true, false, true]);
        let mut paths = Vec::new();
        l.graph
            .walk_paths(100, 10_000, &mut |p| {
                paths.push(p.to_vec());
                true
            })
            .unwrap();
        // 0 iterations, 1 (2 branches), 2 (4 combinations).
        assert_eq!(paths.len(), 7);
        assert!(paths.contains(&vec![0, 2, 2]));
        assert!(paths.iter().all(|p| !p.contains(&1)));
        let l = lowered(r#"plan { repeat 100 { read "/0" } }"#);
        assert!(l.graph.walk_paths(10, 10_000, &mut |_| true).is_err());
    }
}
