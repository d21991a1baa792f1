//! The plan's control-flow graph, and the path questions of temporal and
//! count rules.
//!
//! A plan is lowered to a table of action steps ([`StepAction`], one per
//! action written in the plan, its values as [`Term`]s) and a control-flow
//! graph over them ([`Node`]). The graph of a plan is series-parallel
//! (sequence, `either`, bounded `repeat`), so the graph is kept as that
//! decomposition: every path question is answered by dynamic programming
//! over it (an automaton run over the graph), in time linear in the plan,
//! never by enumerating paths. `repeat N` is never unrolled: `at most`
//! multiplies counts, and `never`/`require` need at most two iterations to
//! show a violation.
//!
//! Per-step verdicts do not depend on the path, so only `never`, `require`
//! and `at most` use the graph.
//!
//! ```
//! use verifier::cfg::{Node, max_count};
//! let g = Node::Repeat { count: 3, at_most: true, body: Box::new(Node::Step(0)), span: Default::default() };
//! assert_eq!(max_count(&g, &|_| true).0, 3);
//! ```

use crate::action::Value;
use crate::concrete::{self, PathError};
use planlang::Span;
use planlang::ast::{self, ActionKind, ParamType};
use std::collections::{BTreeMap, HashMap};

/// A value in a plan step: known, or symbolic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Term {
    /// A literal (paths normalized).
    Known(Value),
    /// The value of a param.
    Param(String),
    /// A `let` result or one of its fields (`bill.iban`): content unknown,
    /// origin the tool.
    Unknown { name: String, origin: String },
    /// A plan glob (normalized): some file it matches.
    Glob(String),
    /// `exec PATH` without arguments: any argument list.
    AnyList,
    /// A list with symbolic elements.
    List(Vec<Term>),
}

impl Term {
    pub fn is_known(&self) -> bool {
        matches!(self, Term::Known(_))
    }
}

/// One action written in the plan (a `let` step's call included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepAction {
    pub kind: ActionKind,
    pub call: Option<String>,
    pub fields: BTreeMap<String, Term>,
    pub span: Span,
}

impl StepAction {
    /// Whether every value is known (then it is decided without the solver).
    pub fn is_concrete(&self) -> bool {
        self.fields.values().all(Term::is_known)
    }

    /// The concrete action, when every value is known.
    pub fn to_concrete(&self) -> Option<crate::action::ConcreteAction> {
        let mut fields = BTreeMap::new();
        for (k, t) in &self.fields {
            match t {
                Term::Known(v) => {
                    fields.insert(k.clone(), crate::action::Field::new(v.clone()));
                }
                _ => return None,
            }
        }
        Some(crate::action::ConcreteAction {
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

/// The control-flow graph, as its series-parallel decomposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// The action step with this index in [`Lowered::steps`].
    Step(usize),
    Seq(Vec<Node>),
    Either {
        branches: Vec<Node>,
        span: Span,
    },
    Repeat {
        count: u64,
        at_most: bool,
        body: Box<Node>,
        span: Span,
    },
}

/// A param of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub ty: ParamType,
    pub condition: Option<ast::Cond>,
    pub span: Span,
}

/// A plan, lowered.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub steps: Vec<StepAction>,
    pub graph: Node,
    pub params: Vec<ParamInfo>,
}

/// Why a plan cannot be lowered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("{span}: {source}")]
    Path { span: Span, source: PathError },
    #[error("{span}: `{name}` is not a param or a `let` result of this plan")]
    UnknownName { span: Span, name: String },
    #[error("{span}: a param has no fields or index (`{name}`)")]
    ParamField { span: Span, name: String },
    #[error("{span}: {what}")]
    BadValue { span: Span, what: String },
    #[error("{span}: param `{name}` is declared twice")]
    DuplicateParam { span: Span, name: String },
}

/// Lowers a plan to its action steps and control-flow graph.
pub fn lower(plan: &ast::Plan) -> Result<Lowered, LowerError> {
    let mut l = Lowerer {
        steps: Vec::new(),
        params: HashMap::new(),
        lets: HashMap::new(),
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
    let graph = l.block(&plan.steps)?;
    Ok(Lowered {
        steps: l.steps,
        graph,
        params,
    })
}

struct Lowerer {
    steps: Vec<StepAction>,
    params: HashMap<String, ParamType>,
    lets: HashMap<String, String>,
}

impl Lowerer {
    fn block(&mut self, steps: &[ast::Step]) -> Result<Node, LowerError> {
        let mut seq = Vec::with_capacity(steps.len());
        for s in steps {
            seq.push(self.step(s)?);
        }
        Ok(if seq.len() == 1 {
            seq.remove(0)
        } else {
            Node::Seq(seq)
        })
    }

    fn step(&mut self, s: &ast::Step) -> Result<Node, LowerError> {
        match &s.kind {
            ast::StepKind::Action { action } => {
                let a = self.action(action, &s.span)?;
                self.steps.push(a);
                Ok(Node::Step(self.steps.len() - 1))
            }
            ast::StepKind::Let { name, call } => {
                let a = self.call(call, &s.span)?;
                self.steps.push(a);
                // The name is bound after the call (its own args cannot use it).
                self.lets.insert(name.node.clone(), call.name.node.clone());
                Ok(Node::Step(self.steps.len() - 1))
            }
            ast::StepKind::Either { branches } => {
                let mut bs = Vec::with_capacity(branches.len());
                for b in branches {
                    bs.push(self.block(&b.steps)?);
                }
                Ok(Node::Either {
                    branches: bs,
                    span: s.span.clone(),
                })
            }
            ast::StepKind::Repeat {
                count,
                at_most,
                body,
            } => Ok(Node::Repeat {
                count: count.node,
                at_most: *at_most,
                body: Box::new(self.block(&body.steps)?),
                span: s.span.clone(),
            }),
        }
    }

    fn call(&mut self, c: &ast::Call, span: &Span) -> Result<StepAction, LowerError> {
        let mut fields = BTreeMap::new();
        for a in &c.args {
            if fields
                .insert(a.name.node.clone(), self.value(&a.value)?)
                .is_some()
            {
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
                    Term::Known(Value::String(h)) => match concrete::parse_cidr(&h) {
                        Some(net) => {
                            fields.insert("ip".into(), Term::Known(Value::Cidr(net)));
                        }
                        None if concrete::is_host_name(&h) => {
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
            ast::Action::Call(c) => return self.call(c, span),
        }
        Ok(StepAction {
            kind: a.kind(),
            call: None,
            fields,
            span: span.clone(),
        })
    }

    fn port(&mut self, v: &planlang::Spanned<ast::Value>) -> Result<Term, LowerError> {
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

    fn path(&mut self, v: &planlang::Spanned<ast::Value>) -> Result<Term, LowerError> {
        let t = self.value(v)?;
        let err = |source| LowerError::Path {
            span: v.span.clone(),
            source,
        };
        Ok(match t {
            Term::Known(Value::String(p)) if concrete::is_glob(&p) => {
                Term::Glob(concrete::normalize_glob(&p).map_err(err)?)
            }
            Term::Known(Value::String(p)) => {
                Term::Known(Value::String(concrete::normalize_path(&p).map_err(err)?))
            }
            Term::Known(other) => {
                return Err(LowerError::BadValue {
                    span: v.span.clone(),
                    what: format!("a path is a string, not a {}", other.type_name()),
                });
            }
            t => t,
        })
    }

    fn value(&mut self, v: &planlang::Spanned<ast::Value>) -> Result<Term, LowerError> {
        match &v.node {
            ast::Value::Literal { literal } => Ok(Term::Known(Value::from_literal(literal))),
            ast::Value::List { items } => {
                let mut ts = Vec::with_capacity(items.len());
                for i in items {
                    ts.push(self.value(i)?);
                }
                Ok(list_term(ts))
            }
            ast::Value::Ref(r) => {
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
                        Ok(Term::Unknown { name: full, origin })
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

// ───────────────────────────── path questions ─────────────────────────────

/// Which steps some path performs (a step inside `repeat 0` never runs).
pub fn reachable(node: &Node, n_steps: usize) -> Vec<bool> {
    fn walk(node: &Node, out: &mut Vec<bool>) {
        match node {
            Node::Step(i) => out[*i] = true,
            Node::Seq(xs) | Node::Either { branches: xs, .. } => {
                xs.iter().for_each(|x| walk(x, out))
            }
            Node::Repeat { count, body, .. } => {
                if *count > 0 {
                    walk(body, out)
                }
            }
        }
    }
    let mut out = vec![false; n_steps];
    walk(node, &mut out);
    out
}

/// A path from the start of the plan to step `i` (branch choices and loop
/// entries on the way), if some path reaches it.
pub fn path_to(node: &Node, i: usize) -> Option<Path> {
    match node {
        Node::Step(j) => (*j == i).then(|| vec![PathElem::Step(i)]),
        Node::Seq(xs) => {
            let mut prefix: Path = Vec::new();
            for x in xs {
                if let Some(p) = path_to(x, i) {
                    return Some(cat(&prefix, &p));
                }
                prefix.extend(first_path(x));
            }
            None
        }
        Node::Either { branches, span } => branches
            .iter()
            .enumerate()
            .find_map(|(k, b)| path_to(b, i).map(|p| branch(span, k, &p))),
        Node::Repeat {
            count, body, span, ..
        } => {
            if *count == 0 {
                return None;
            }
            path_to(body, i).map(|p| iters(span, 1, &p))
        }
    }
}

/// Some complete path through a node (first branches, fewest iterations).
fn first_path(node: &Node) -> Path {
    match node {
        Node::Step(i) => vec![PathElem::Step(*i)],
        Node::Seq(xs) => xs.iter().flat_map(first_path).collect(),
        Node::Either { branches, span } => branches
            .first()
            .map(|b| branch(span, 0, &first_path(b)))
            .unwrap_or_default(),
        Node::Repeat {
            count,
            at_most,
            body,
            span,
        } => {
            if *at_most || *count == 0 {
                Vec::new()
            } else {
                iters(span, *count, &first_path(body))
            }
        }
    }
}

/// One element of a path through the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElem {
    /// The action step with this index.
    Step(usize),
    /// The branch taken at an `either` (counting from 1).
    Branch { span: Span, index: usize },
    /// Iterations of a `repeat` (the body's path follows, once).
    Iterations { span: Span, count: u64 },
}

/// A path, or a prefix of one.
pub type Path = Vec<PathElem>;

fn cat(a: &Path, b: &Path) -> Path {
    let mut p = a.clone();
    p.extend(b.iter().cloned());
    p
}

fn branch(span: &Span, i: usize, p: &Path) -> Path {
    let mut out = vec![PathElem::Branch {
        span: span.clone(),
        index: i + 1,
    }];
    out.extend(p.iter().cloned());
    out
}

fn iters(span: &Span, count: u64, p: &Path) -> Path {
    let mut out = vec![PathElem::Iterations {
        span: span.clone(),
        count,
    }];
    out.extend(p.iter().cloned());
    out
}

/// The largest number of steps for which `counts` holds on one path (loops
/// count every iteration; saturating), and a path that reaches it.
pub fn max_count(node: &Node, counts: &dyn Fn(usize) -> bool) -> (u64, Path) {
    match node {
        Node::Step(i) => {
            if counts(*i) {
                (1, vec![PathElem::Step(*i)])
            } else {
                (0, Vec::new())
            }
        }
        Node::Seq(xs) => xs.iter().fold((0, Vec::new()), |(n, p), x| {
            let (m, q) = max_count(x, counts);
            (n.saturating_add(m), cat(&p, &q))
        }),
        Node::Either { branches, span } => {
            let mut best = (0, Vec::new());
            for (i, b) in branches.iter().enumerate() {
                let (m, q) = max_count(b, counts);
                if m > best.0 {
                    best = (m, branch(span, i, &q));
                }
            }
            best
        }
        Node::Repeat {
            count, body, span, ..
        } => {
            let (m, q) = max_count(body, counts);
            if m == 0 || *count == 0 {
                (0, Vec::new())
            } else {
                (m.saturating_mul(*count), iters(span, *count, &q))
            }
        }
    }
}

/// Summary of a node for `never A after B`.
struct NeverSum {
    /// Some complete path through the node.
    any: Path,
    /// A complete path on which some step may be B.
    b: Option<Path>,
    /// A prefix ending at a step that may be A.
    a: Option<Path>,
    /// A prefix ending at an A that follows a B.
    viol: Option<Path>,
}

/// A path on which a step that may be `A` follows a step that may be `B`
/// (`never A after B` fails), if there is one. The path ends at the `A`.
pub fn never_after(
    node: &Node,
    may_a: &dyn Fn(usize) -> bool,
    may_b: &dyn Fn(usize) -> bool,
) -> Option<Path> {
    never_sum(node, may_a, may_b).viol
}

fn never_sum(
    node: &Node,
    may_a: &dyn Fn(usize) -> bool,
    may_b: &dyn Fn(usize) -> bool,
) -> NeverSum {
    match node {
        Node::Step(i) => {
            let p = vec![PathElem::Step(*i)];
            NeverSum {
                any: p.clone(),
                b: may_b(*i).then(|| p.clone()),
                a: may_a(*i).then(|| p.clone()),
                viol: None,
            }
        }
        Node::Seq(xs) => {
            let mut acc = NeverSum {
                any: Vec::new(),
                b: None,
                a: None,
                viol: None,
            };
            for x in xs {
                let y = never_sum(x, may_a, may_b);
                let viol = acc
                    .viol
                    .take()
                    .or_else(|| match (&acc.b, &y.a) {
                        (Some(b), Some(a)) => Some(cat(b, a)),
                        _ => None,
                    })
                    .or_else(|| y.viol.as_ref().map(|v| cat(&acc.any, v)));
                let b = acc
                    .b
                    .as_ref()
                    .map(|b| cat(b, &y.any))
                    .or_else(|| y.b.as_ref().map(|b| cat(&acc.any, b)));
                let a = acc
                    .a
                    .take()
                    .or_else(|| y.a.as_ref().map(|a| cat(&acc.any, a)));
                acc = NeverSum {
                    any: cat(&acc.any, &y.any),
                    b,
                    a,
                    viol,
                };
            }
            acc
        }
        Node::Either { branches, span } => {
            let sums: Vec<NeverSum> = branches
                .iter()
                .map(|b| never_sum(b, may_a, may_b))
                .collect();
            let pick = |f: &dyn Fn(&NeverSum) -> Option<&Path>| {
                sums.iter()
                    .enumerate()
                    .find_map(|(i, s)| f(s).map(|p| branch(span, i, p)))
            };
            NeverSum {
                any: sums
                    .first()
                    .map(|s| branch(span, 0, &s.any))
                    .unwrap_or_default(),
                b: pick(&|s| s.b.as_ref()),
                a: pick(&|s| s.a.as_ref()),
                viol: pick(&|s| s.viol.as_ref()),
            }
        }
        Node::Repeat {
            count,
            at_most,
            body,
            span,
        } => {
            if *count == 0 {
                return NeverSum {
                    any: Vec::new(),
                    b: None,
                    a: None,
                    viol: None,
                };
            }
            let s = never_sum(body, may_a, may_b);
            let any = if *at_most {
                Vec::new()
            } else {
                iters(span, *count, &s.any)
            };
            let viol = s.viol.as_ref().map(|v| iters(span, 1, v)).or_else(|| {
                match (&s.b, &s.a, *count >= 2) {
                    // B in one iteration, A in the next.
                    (Some(b), Some(a), true) => Some(iters(span, 2, &cat(b, a))),
                    _ => None,
                }
            });
            NeverSum {
                any,
                b: s.b.as_ref().map(|b| iters(span, 1, b)),
                a: s.a.as_ref().map(|a| iters(span, 1, a)),
                viol,
            }
        }
    }
}

/// Summary of a node for `require A before B`.
struct RequireSum {
    /// A prefix ending at a step that may be B, with no step that must be A
    /// before it (starting without A).
    viol: Option<Path>,
    /// A complete path with no step that must be A.
    no_a: Option<Path>,
}

/// A path on which a step that may be `B` is reached before any step that
/// must be `A` (`require A before B` fails), if there is one.
pub fn require_before(
    node: &Node,
    must_a: &dyn Fn(usize) -> bool,
    may_b: &dyn Fn(usize) -> bool,
) -> Option<Path> {
    require_sum(node, must_a, may_b).viol
}

fn require_sum(
    node: &Node,
    must_a: &dyn Fn(usize) -> bool,
    may_b: &dyn Fn(usize) -> bool,
) -> RequireSum {
    match node {
        Node::Step(i) => {
            let p = vec![PathElem::Step(*i)];
            RequireSum {
                viol: may_b(*i).then(|| p.clone()),
                no_a: (!must_a(*i)).then_some(p),
            }
        }
        Node::Seq(xs) => {
            let mut acc = RequireSum {
                viol: None,
                no_a: Some(Vec::new()),
            };
            for x in xs {
                let y = require_sum(x, must_a, may_b);
                let viol = acc.viol.take().or_else(|| match (&acc.no_a, &y.viol) {
                    (Some(p), Some(v)) => Some(cat(p, v)),
                    _ => None,
                });
                let no_a = match (&acc.no_a, &y.no_a) {
                    (Some(p), Some(q)) => Some(cat(p, q)),
                    _ => None,
                };
                acc = RequireSum { viol, no_a };
            }
            acc
        }
        Node::Either { branches, span } => {
            let sums: Vec<RequireSum> = branches
                .iter()
                .map(|b| require_sum(b, must_a, may_b))
                .collect();
            RequireSum {
                viol: sums
                    .iter()
                    .enumerate()
                    .find_map(|(i, s)| s.viol.as_ref().map(|p| branch(span, i, p))),
                no_a: sums
                    .iter()
                    .enumerate()
                    .find_map(|(i, s)| s.no_a.as_ref().map(|p| branch(span, i, p))),
            }
        }
        Node::Repeat {
            count,
            at_most,
            body,
            span,
        } => {
            if *count == 0 {
                return RequireSum {
                    viol: None,
                    no_a: Some(Vec::new()),
                };
            }
            let s = require_sum(body, must_a, may_b);
            RequireSum {
                viol: s.viol.as_ref().map(|v| iters(span, 1, v)),
                no_a: if *at_most {
                    Some(Vec::new())
                } else {
                    s.no_a.as_ref().map(|p| iters(span, *count, p))
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(xs: Vec<Node>) -> Node {
        Node::Seq(xs)
    }
    fn either(xs: Vec<Node>) -> Node {
        Node::Either {
            branches: xs,
            span: Span::default(),
        }
    }
    fn rep(n: u64, at_most: bool, b: Node) -> Node {
        Node::Repeat {
            count: n,
            at_most,
            body: Box::new(b),
            span: Span::default(),
        }
    }
    use Node::Step as S;

    #[test]
    fn counts_multiply_in_loops_and_take_the_worst_branch() {
        let g = seq(vec![
            S(0),
            either(vec![S(1), seq(vec![S(1), S(1)])]),
            rep(4, true, S(1)),
        ]);
        let is1 = |i: usize| i == 1;
        assert_eq!(max_count(&g, &is1).0, 6);
        let big = rep(u64::MAX, false, seq(vec![S(1), S(1)]));
        assert_eq!(max_count(&big, &is1).0, u64::MAX);
        assert_eq!(max_count(&rep(0, false, S(1)), &is1).0, 0);
    }

    #[test]
    fn never_after_needs_order() {
        // A = 0, B = 1.
        let a = |i: usize| i == 0;
        let b = |i: usize| i == 1;
        assert!(never_after(&seq(vec![S(0), S(1)]), &a, &b).is_none());
        assert!(never_after(&seq(vec![S(1), S(0)]), &a, &b).is_some());
        assert!(never_after(&either(vec![S(1), S(0)]), &a, &b).is_none());
        assert!(never_after(&seq(vec![either(vec![S(1), S(2)]), S(0)]), &a, &b).is_some());
        // A then B inside a loop: the next iteration puts A after B.
        assert!(never_after(&rep(2, false, seq(vec![S(0), S(1)])), &a, &b).is_some());
        assert!(never_after(&rep(1, false, seq(vec![S(0), S(1)])), &a, &b).is_none());
        // One step that is both does not follow itself.
        let both = |i: usize| i == 0;
        assert!(never_after(&S(0), &both, &both).is_none());
        assert!(never_after(&rep(2, true, S(0)), &both, &both).is_some());
    }

    #[test]
    fn require_before_on_every_path() {
        // A = 0 (must), B = 1.
        let a = |i: usize| i == 0;
        let b = |i: usize| i == 1;
        assert!(require_before(&seq(vec![S(0), S(1)]), &a, &b).is_none());
        assert!(require_before(&seq(vec![S(1), S(0)]), &a, &b).is_some());
        assert!(require_before(&seq(vec![either(vec![S(0), S(2)]), S(1)]), &a, &b).is_some());
        assert!(require_before(&seq(vec![either(vec![S(0), S(0)]), S(1)]), &a, &b).is_none());
        assert!(require_before(&seq(vec![rep(3, true, S(0)), S(1)]), &a, &b).is_some());
        assert!(require_before(&seq(vec![rep(3, false, S(0)), S(1)]), &a, &b).is_none());
        assert!(require_before(&seq(vec![rep(0, false, S(0)), S(1)]), &a, &b).is_some());
    }
}
