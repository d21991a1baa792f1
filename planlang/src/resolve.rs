//! Name resolution and type checks: every [`Ref`] gets its [`RefKind`], and
//! values that cannot work where they stand (a cidr as a port, a number as a
//! path, `in` with a string on the right) are reported. All problems of a
//! file are collected, not just the first.
//!
//! Plans: a name is a `param` (visible everywhere in the plan) or the result
//! of an earlier `let` in the same block or an enclosing one.
//! Specs: a name is a `let` constant of the same file, a built-in field
//! (`path argv host ip port`), or, in a pattern that can match a call
//! (`call ...`, `any`), an argument of the call.

use crate::ast::*;
use crate::diag::{Diagnostic, suggest};
use crate::span::{Span, Spanned};
use crate::value::{Literal, ValueType};
use std::collections::HashMap;

/// What the checker knows of a value's type.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// Content unknown (a call argument, a `let` result): anything goes.
    Unknown,
    Scalar(ValueType),
    /// A list whose items have this type (Unknown for mixed or empty).
    List(Box<Ty>),
    /// The `port` field: a number that must be a whole number in 0..=65535.
    Port,
    /// A `host` param: a name or an address, chosen at run time, so it is
    /// compared with strings (`h endswith ".example.com"`) and with cidrs
    /// (`h in 10.0.0.0/8`). The `host` field of a spec is a name only
    /// (`Scalar(Host)`): an address has `ip` instead.
    NameOrAddress,
}

impl Ty {
    fn words(&self) -> String {
        match self {
            Ty::Unknown => "a value".into(),
            Ty::Scalar(t) => article(*t),
            Ty::List(_) => "a list".into(),
            Ty::Port => "a port".into(),
            Ty::NameOrAddress => "a host name or an address".into(),
        }
    }

    fn is_stringish(&self) -> bool {
        matches!(
            self,
            Ty::Unknown
                | Ty::NameOrAddress
                | Ty::Scalar(ValueType::String | ValueType::Path | ValueType::Host)
        )
    }

    fn is_numberish(&self) -> bool {
        matches!(self, Ty::Unknown | Ty::Port | Ty::Scalar(ValueType::Number))
    }

    /// The type of each element, for operators that act per element.
    fn element(&self) -> &Ty {
        match self {
            Ty::List(t) => t,
            t => t,
        }
    }

    /// Whether values of the two types can ever be equal.
    fn compatible(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::List(a), Ty::List(b)) => a.compatible(b),
            (Ty::List(_), _) | (_, Ty::List(_)) => false,
            (a, b) if a.is_stringish() && b.is_stringish() => true,
            (Ty::NameOrAddress, Ty::Scalar(ValueType::Cidr))
            | (Ty::Scalar(ValueType::Cidr), Ty::NameOrAddress) => true,
            (Ty::Port, b) | (b, Ty::Port) => b.is_numberish(),
            (Ty::Scalar(a), Ty::Scalar(b)) => a == b,
            (Ty::NameOrAddress, _) | (_, Ty::NameOrAddress) => false,
        }
    }
}

fn article(t: ValueType) -> String {
    match t {
        ValueType::Host => "a host name".into(),
        ValueType::Duration => "a duration".into(),
        ValueType::Cidr => "a cidr".into(),
        ValueType::List => "a list".into(),
        t => format!("a {t}"),
    }
}

fn param_ty(t: ParamType) -> Ty {
    Ty::Scalar(match t {
        ParamType::String => ValueType::String,
        ParamType::Number => ValueType::Number,
        ParamType::Bool => ValueType::Bool,
        ParamType::Path => ValueType::Path,
        ParamType::Host => return Ty::NameOrAddress,
    })
}

fn builtin_ty(name: &str) -> Option<Ty> {
    Some(match name {
        "path" => Ty::Scalar(ValueType::Path),
        "argv" => Ty::List(Box::new(Ty::Scalar(ValueType::String))),
        "host" => Ty::Scalar(ValueType::Host),
        "ip" => Ty::Scalar(ValueType::Cidr),
        "port" => Ty::Port,
        _ => return None,
    })
}

/// Type of a literal-or-list value that names nothing (or names consts).
fn literal_ty(l: &Literal) -> Ty {
    Ty::Scalar(l.value_type())
}

// ───────────────────────────── conditions ─────────────────────────────

/// What names mean where a condition or value is checked.
trait Scope {
    /// Resolves `r` in place and returns its type, or reports an error.
    fn resolve(&self, r: &mut Ref, span: &Span, diags: &mut Vec<Diagnostic>) -> Ty;
}

fn value_ty(v: &mut Spanned<ValueExpr>, scope: &dyn Scope, diags: &mut Vec<Diagnostic>) -> Ty {
    let span = v.span.clone();
    match &mut v.node {
        ValueExpr::Literal { literal } => literal_ty(literal),
        ValueExpr::List { items } => {
            let mut elem: Option<Ty> = None;
            for it in items.iter_mut() {
                let t = value_ty(it, scope, diags);
                elem = Some(match elem {
                    None => t,
                    Some(e) if e == t => e,
                    Some(e) if e.is_stringish() && t.is_stringish() => {
                        Ty::Scalar(ValueType::String)
                    }
                    Some(_) => Ty::Unknown,
                });
            }
            Ty::List(Box::new(elem.unwrap_or(Ty::Unknown)))
        }
        ValueExpr::Ref(r) => scope.resolve(r, &span, diags),
    }
}

fn type_error(span: &Span, expected: &str, found: &Ty, context: &str) -> Diagnostic {
    Diagnostic::error(
        span.clone(),
        format!("expected {expected}, found {}", found.words()),
    )
    .with_label(context.to_string())
}

/// A literal number used as a port (an action's, a pattern's) must be a
/// whole number in 0..=65535.
fn check_port_literal(v: &Spanned<ValueExpr>, diags: &mut Vec<Diagnostic>) {
    let items: Vec<&Spanned<ValueExpr>> = match &v.node {
        ValueExpr::List { items } => items.iter().collect(),
        _ => vec![v],
    };
    for it in items {
        if let ValueExpr::Literal {
            literal: Literal::Number(n),
        } = &it.node
        {
            let ok = n.fract().is_zero() && *n >= 0.into() && *n <= 65_535.into();
            if !ok {
                diags.push(
                    Diagnostic::error(it.span.clone(), format!("`{n}` is not a port"))
                        .with_label("a port is a whole number from 0 to 65535"),
                );
            }
        }
    }
}

fn check_cond(c: &mut Spanned<CondExpr>, scope: &dyn Scope, diags: &mut Vec<Diagnostic>) {
    match &mut c.node {
        CondExpr::And { all: cs } | CondExpr::Or { any: cs } => {
            for c in cs {
                check_cond(c, scope, diags);
            }
        }
        CondExpr::Not { cond } => check_cond(cond, scope, diags),
        CondExpr::Has { .. } => {}
        CondExpr::FromCall { value, .. } => {
            value_ty(value, scope, diags);
        }
        CondExpr::Value { value } => {
            let t = value_ty(value, scope, diags);
            if !matches!(t, Ty::Unknown | Ty::Scalar(ValueType::Bool)) {
                diags.push(
                    type_error(&value.span, "a condition", &t, "this is not true or false")
                        .with_help("compare it with an operator: `==`, `in`, `under`, ..."),
                );
            }
        }
        CondExpr::Compare { op, lhs, rhs } => {
            let lt = value_ty(lhs, scope, diags);
            let rt = value_ty(rhs, scope, diags);
            check_compare(op, lhs, &lt, rhs, &rt, diags);
        }
    }
}

fn check_compare(
    op: &Spanned<CmpOp>,
    lhs: &Spanned<ValueExpr>,
    lt: &Ty,
    rhs: &Spanned<ValueExpr>,
    rt: &Ty,
    diags: &mut Vec<Diagnostic>,
) {
    let o = op.node;
    let mismatch = |expected: &str, found: &Ty, at: &Spanned<ValueExpr>| {
        type_error(
            &at.span,
            expected,
            found,
            &format!("`{o}` needs {expected} here"),
        )
    };
    match o {
        // A port compared with a number outside the ports (`port <= 70000`)
        // loads: the comparison is always true or always false, which
        // `warden lint` and `warden check` report as a warning.
        CmpOp::Eq | CmpOp::Ne => {
            if !lt.compatible(rt) {
                diags.push(mismatch(&lt.words(), rt, rhs).with_help(format!(
                    "the left side is {}; compare it with a value of the same type",
                    lt.words()
                )));
            }
        }
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            for (t, v) in [(lt, lhs), (rt, rhs)] {
                if !t.element().is_numberish() {
                    diags.push(mismatch("a number", t, v));
                }
            }
        }
        CmpOp::In => {
            let items = match rt {
                Ty::List(items) => Some(&**items),
                Ty::Scalar(ValueType::Cidr) => Some(rt),
                Ty::Unknown => None,
                other => {
                    diags.push(
                        mismatch("a list or cidrs", other, rhs)
                            .with_help("write a list (`[\"a\", \"b\"]`), cidrs (`10.0.0.0/8, 192.168.0.0/16`) or a `let` of them"),
                    );
                    None
                }
            };
            if let Some(item) = items {
                let elem = lt.element();
                if !elem.compatible(item) && *elem != Ty::Scalar(ValueType::Cidr) {
                    diags.push(mismatch(
                        &format!("a list of {}s", elem.words().trim_start_matches("a ")),
                        rt,
                        rhs,
                    ));
                } else if *elem == Ty::Scalar(ValueType::Cidr)
                    && !matches!(item, Ty::Unknown | Ty::Scalar(ValueType::Cidr))
                {
                    diags.push(mismatch("cidrs", rt, rhs));
                }
            }
        }
        CmpOp::Under | CmpOp::StartsWith | CmpOp::EndsWith | CmpOp::Matches => {
            if !lt.element().is_stringish() {
                diags.push(mismatch("a string", lt, lhs));
            }
            if !rt.is_stringish() {
                diags.push(mismatch("a string", rt, rhs));
            }
        }
        CmpOp::Contains => {
            if !matches!(lt, Ty::List(_)) && !lt.is_stringish() {
                diags.push(mismatch("a string or a list", lt, lhs));
            } else if lt.is_stringish() && !rt.is_stringish() {
                diags.push(mismatch("a string", rt, rhs));
            } else if let Ty::List(e) = lt
                && !e.compatible(rt)
            {
                diags.push(mismatch(&e.words(), rt, rhs));
            }
        }
    }
}

// ───────────────────────────── plans ─────────────────────────────

struct PlanScope<'a> {
    params: &'a HashMap<String, (ParamType, Span)>,
    /// Visible `let` results: name, tool.
    lets: &'a [(String, String)],
    /// Inside a param's `where`: only params are visible.
    in_where: bool,
}

impl Scope for PlanScope<'_> {
    fn resolve(&self, r: &mut Ref, span: &Span, diags: &mut Vec<Diagnostic>) -> Ty {
        let name = r.name.node.as_str();
        if let Some((_, tool)) = self.lets.iter().rev().find(|(n, _)| n == name) {
            r.resolved = RefKind::Result { tool: tool.clone() };
            return Ty::Unknown;
        }
        if let Some((ty, _)) = self.params.get(name) {
            r.resolved = RefKind::Param;
            if let Some(f) = r.fields.first() {
                diags.push(
                    Diagnostic::error(f.span.clone(), format!("the param `{name}` has no fields"))
                        .with_label("only a `let` result has fields"),
                );
            }
            if let Some(i) = &r.index {
                diags.push(
                    Diagnostic::error(i.span.clone(), format!("the param `{name}` is not a list"))
                        .with_label("cannot index it"),
                );
            }
            return param_ty(*ty);
        }
        let mut candidates: Vec<&str> = self.params.keys().map(String::as_str).collect();
        if !self.in_where {
            candidates.extend(self.lets.iter().map(|(n, _)| n.as_str()));
        }
        candidates.sort();
        let label = if self.in_where {
            "not a param of this plan"
        } else {
            "not a param or an earlier `let` of this plan"
        };
        let mut d = Diagnostic::error(r.name.span.clone(), format!("unknown name `{name}`"))
            .with_label(label);
        if let Some(s) = suggest(name, candidates) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if r.name.span.is_synthetic() {
            d.span = span.clone();
        }
        diags.push(d);
        Ty::Unknown
    }
}

/// Resolves and type-checks a plan in place.
pub(crate) fn resolve_plan(plan: &mut Plan, diags: &mut Vec<Diagnostic>) {
    let mut params: HashMap<String, (ParamType, Span)> = HashMap::new();
    for p in &plan.params {
        if let Some((_, first)) = params.get(&p.name.node) {
            diags.push(
                Diagnostic::error(
                    p.name.span.clone(),
                    format!("duplicate param `{}`", p.name.node),
                )
                .with_label("declared again here")
                .with_related(first.clone(), "first declared here")
                .with_help("give each param its own name"),
            );
        } else {
            params.insert(p.name.node.clone(), (p.ty.node, p.name.span.clone()));
        }
    }
    for p in &mut plan.params {
        if let Some(c) = &mut p.condition {
            let scope = PlanScope {
                params: &params,
                lets: &[],
                in_where: true,
            };
            check_cond(c, &scope, diags);
        }
    }
    if let Some(ttl) = &plan.ttl
        && ttl.node.secs == 0
    {
        diags.push(
            Diagnostic::error(ttl.span.clone(), "a ttl of zero")
                .with_label("a token that expires at once is useless"),
        );
    }
    let mut lets = Vec::new();
    resolve_steps(&mut plan.steps, &params, &mut lets, diags);
}

fn resolve_steps(
    steps: &mut [Step],
    params: &HashMap<String, (ParamType, Span)>,
    lets: &mut Vec<(String, String)>,
    diags: &mut Vec<Diagnostic>,
) {
    let outer = lets.len();
    for step in steps {
        match &mut step.kind {
            StepKind::Action { action } => resolve_action(action, params, lets, diags),
            StepKind::Let { name, call, assume } => {
                resolve_call(call, params, lets, diags);
                if let Some(a) = assume {
                    crate::assume::check(&name.node, &call.name.node, a, diags);
                }
                if params.contains_key(&name.node) {
                    diags.push(
                        Diagnostic::error(
                            name.span.clone(),
                            format!("`{}` is already a param", name.node),
                        )
                        .with_label("this `let` would hide the param")
                        .with_related(params[&name.node].1.clone(), "the param")
                        .with_help("give the result another name"),
                    );
                } else if lets.iter().any(|(n, _)| *n == name.node) {
                    diags.push(
                        Diagnostic::error(
                            name.span.clone(),
                            format!("`{}` is already defined", name.node),
                        )
                        .with_label("a second `let` with this name")
                        .with_help("give each result its own name"),
                    );
                }
                lets.push((name.node.clone(), call.name.node.clone()));
            }
            StepKind::Either { branches } => {
                for b in branches {
                    resolve_steps(&mut b.steps, params, lets, diags);
                }
            }
            StepKind::Repeat { body, .. } => resolve_steps(&mut body.steps, params, lets, diags),
        }
    }
    lets.truncate(outer);
}

fn resolve_call(
    call: &mut Call,
    params: &HashMap<String, (ParamType, Span)>,
    lets: &[(String, String)],
    diags: &mut Vec<Diagnostic>,
) {
    let scope = PlanScope {
        params,
        lets,
        in_where: false,
    };
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for a in call.args.iter_mut() {
        value_ty(&mut a.value, &scope, diags);
    }
    for a in &call.args {
        if let Some(first) = seen.get(a.name.node.as_str()) {
            diags.push(
                Diagnostic::error(
                    a.name.span.clone(),
                    format!("argument `{}` is given twice", a.name.node),
                )
                .with_label("again here")
                .with_related((*first).clone(), "first here"),
            );
        } else {
            seen.insert(&a.name.node, &a.name.span);
        }
    }
}

fn resolve_action(
    action: &mut Action,
    params: &HashMap<String, (ParamType, Span)>,
    lets: &[(String, String)],
    diags: &mut Vec<Diagnostic>,
) {
    let scope = PlanScope {
        params,
        lets,
        in_where: false,
    };
    let kind = action.kind();
    match action {
        Action::Read { path } | Action::Write { path } | Action::Delete { path } => {
            check_path(path, &scope, kind, diags);
        }
        Action::Exec { program, args } => {
            check_path(program, &scope, kind, diags);
            for a in args.iter_mut().flatten() {
                let t = value_ty(a, &scope, diags);
                if !matches!(
                    t,
                    Ty::Unknown
                        | Ty::NameOrAddress
                        | Ty::Scalar(
                            ValueType::String
                                | ValueType::Path
                                | ValueType::Host
                                | ValueType::Number
                        )
                ) {
                    diags.push(type_error(&a.span, "a string", &t, "an argument of `exec`"));
                }
            }
        }
        Action::Connect { host, port } => {
            if let ValueExpr::Literal {
                literal: Literal::String(h),
            } = &host.node
                && h.starts_with('/')
            {
                diags.push(
                    Diagnostic::error(host.span.clone(), "a unix socket has no port")
                        .with_label("a socket path, followed by a port")
                        .with_help(format!(
                            "a unix socket is named by its path alone: `connect {}`",
                            crate::parse::encode_string(h)
                        )),
                );
            }
            let t = value_ty(host, &scope, diags);
            if !matches!(
                t,
                Ty::Unknown
                    | Ty::NameOrAddress
                    | Ty::Scalar(ValueType::String | ValueType::Host | ValueType::Cidr)
            ) {
                diags.push(
                    type_error(&host.span, "a host name or an address", &t, "the host of `connect`")
                        .with_help("write `connect \"example.com\":443`, `connect 10.0.0.0/8:443` or `connect [::1]:443`"),
                );
            }
            check_port(port, &scope, diags);
        }
        Action::ConnectUnix { path } | Action::ListenUnix { path } => {
            let t = value_ty(path, &scope, diags);
            check_socket_path(path, &t, kind, false, diags);
        }
        Action::Listen { port } => {
            let t = value_ty(port, &scope, diags);
            // `listen p` with a `path` (or `string`) param is a unix socket.
            if matches!(
                t,
                Ty::NameOrAddress
                    | Ty::Scalar(ValueType::Path | ValueType::String | ValueType::Host)
            ) {
                check_socket_path(port, &t, kind, false, diags);
                let path = port.clone();
                *action = Action::ListenUnix { path };
            } else {
                check_port_ty(port, &t, diags);
            }
        }
        Action::Call(call) => resolve_call(call, params, lets, diags),
    }
}

/// The path of a unix socket (`connect PATH`, `listen PATH`): a string
/// (not a host name or an address), and a literal one absolute and
/// without a `:PORT` (both usually mean the network form was meant).
/// `in_spec`: a pattern's target (`connect under "/run/app/"`), not a step.
fn check_socket_path(
    path: &Spanned<ValueExpr>,
    t: &Ty,
    kind: ActionKind,
    in_spec: bool,
    diags: &mut Vec<Diagnostic>,
) {
    let context = format!("the unix socket of `{kind}`");
    let ValueExpr::Literal {
        literal: Literal::String(s),
    } = &path.node
    else {
        if matches!(
            t,
            Ty::NameOrAddress | Ty::Scalar(ValueType::Host | ValueType::Cidr | ValueType::Number)
        ) {
            let help = match (kind, t) {
                (ActionKind::Listen, _) => {
                    "a port to listen on is a number: `listen 8080`".to_string()
                }
                (_, Ty::Scalar(ValueType::Number)) => {
                    "a network connect is written `connect HOST:PORT`".to_string()
                }
                _ => format!(
                    "a network connect needs a port: `connect {}:443`",
                    crate::fmt::value(&path.node)
                ),
            };
            diags.push(type_error(&path.span, "a socket path", t, &context).with_help(help));
        } else {
            check_path_type(path, t, &context, diags);
        }
        return;
    };
    let port = socket_port(s);
    // What was probably meant instead, in the words of a plan or a spec.
    let network = match (in_spec, kind, port) {
        (true, ActionKind::Listen, _) => "listening on a port is matched by `listen port == 8080`".to_string(),
        (true, _, _) => "network connects are matched by `host`, `ip` and `port`: `connect host == \"example.com\" and port == 443`".to_string(),
        (false, ActionKind::Listen, Some((_, port))) => {
            format!("to listen on a port, write `listen {port}`")
        }
        (false, ActionKind::Listen, None) => {
            "a port to listen on is a number: `listen 8080`".to_string()
        }
        (false, _, Some((host, port))) => format!(
            "a network connect is written `connect {}:{port}`",
            crate::parse::encode_string(host)
        ),
        (false, _, None) => format!(
            "a network connect needs a port: `connect {}:443`",
            crate::parse::encode_string(s)
        ),
    };
    match port {
        _ if !s.starts_with('/') => diags.push(
            Diagnostic::error(
                path.span.clone(),
                format!("the socket path `{s}` is not absolute"),
            )
            .with_label("a unix socket path starts with `/`")
            .with_help(network),
        ),
        Some((socket, port)) => diags.push(
            Diagnostic::error(path.span.clone(), "a unix socket path has no port")
                .with_label(format!("`:{port}` looks like a port"))
                .with_help(format!(
                    "a unix socket is named by its path alone: `{kind} {}`{}",
                    crate::parse::encode_string(socket),
                    match (in_spec, kind) {
                        (false, ActionKind::Listen) => format!("; {network}"),
                        _ => String::new(),
                    }
                )),
        ),
        None => {}
    }
}

/// `("localhost", "5432")` for a path that ends in `:PORT`.
fn socket_port(s: &str) -> Option<(&str, &str)> {
    let (before, port) = s.rsplit_once(':')?;
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    (digits && !before.is_empty()).then_some((before, port))
}

fn check_port(port: &mut Spanned<ValueExpr>, scope: &dyn Scope, diags: &mut Vec<Diagnostic>) {
    let t = value_ty(port, scope, diags);
    check_port_ty(port, &t, diags);
}

fn check_port_ty(port: &Spanned<ValueExpr>, t: &Ty, diags: &mut Vec<Diagnostic>) {
    if !t.is_numberish() {
        diags.push(type_error(
            &port.span,
            "a port number",
            t,
            "a port is a whole number from 0 to 65535",
        ));
    } else {
        check_port_literal(port, diags);
    }
}

fn check_path(
    path: &mut Spanned<ValueExpr>,
    scope: &dyn Scope,
    kind: ActionKind,
    diags: &mut Vec<Diagnostic>,
) {
    let t = value_ty(path, scope, diags);
    check_path_type(path, &t, &format!("the path of `{kind}`"), diags);
}

/// A path must be a string, and a literal path must be absolute.
fn check_path_type(path: &Spanned<ValueExpr>, t: &Ty, context: &str, diags: &mut Vec<Diagnostic>) {
    if !t.is_stringish() {
        diags.push(type_error(&path.span, "a path", t, context));
    } else if let ValueExpr::Literal {
        literal: Literal::String(s),
    } = &path.node
        && !s.starts_with('/')
    {
        diags.push(
            Diagnostic::error(path.span.clone(), format!("the path `{s}` is not absolute"))
                .with_label("paths start with `/`")
                .with_help(format!("write the full path, e.g. `\"/{s}\"`")),
        );
    }
}

// ───────────────────────────── specs ─────────────────────────────

/// The type of a reference to a spec constant or an action field (`what`,
/// for messages): neither has fields, and only a list can be indexed.
fn leaf_ty(r: &Ref, what: &str, ty: Ty, index_label: &str, diags: &mut Vec<Diagnostic>) -> Ty {
    if let Some(f) = r.fields.first() {
        diags.push(
            Diagnostic::error(f.span.clone(), format!("{what} has no fields"))
                .with_label("not a field of anything"),
        );
    }
    match (&r.index, ty) {
        (None, ty) => ty,
        (Some(_), Ty::List(e)) => *e,
        (Some(i), _) => {
            diags.push(
                Diagnostic::error(i.span.clone(), format!("{what} is not a list"))
                    .with_label(index_label),
            );
            Ty::Unknown
        }
    }
}

struct SpecScope<'a> {
    consts: &'a HashMap<String, (Ty, Span)>,
    /// The action kinds the pattern can match (for the "unknown name" help).
    kinds: &'a [ActionKind],
    /// Whether the pattern can match a call, so any other name is an argument.
    call_args: bool,
    /// In a `let` value or a path target: only constants.
    consts_only: bool,
}

impl Scope for SpecScope<'_> {
    fn resolve(&self, r: &mut Ref, _span: &Span, diags: &mut Vec<Diagnostic>) -> Ty {
        let name = r.name.node.clone();
        if let Some((ty, _)) = self.consts.get(&name) {
            r.resolved = RefKind::Const;
            return leaf_ty(
                r,
                &format!("the constant `{name}`"),
                ty.clone(),
                "cannot index it",
                diags,
            );
        }
        if !self.consts_only {
            if let Some(ty) = builtin_ty(&name) {
                r.resolved = RefKind::Field;
                return leaf_ty(
                    r,
                    &format!("the field `{name}`"),
                    ty,
                    "only `argv` can be indexed",
                    diags,
                );
            }
            if self.call_args {
                r.resolved = RefKind::Field;
                return Ty::Unknown;
            }
        }
        let mut candidates: Vec<&str> = self.consts.keys().map(String::as_str).collect();
        if !self.consts_only {
            for k in self.kinds {
                candidates.extend(k.fields().iter().copied());
            }
        }
        candidates.sort();
        candidates.dedup();
        let label = if self.consts_only {
            "not a `let` constant of this spec".to_string()
        } else {
            let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
            let fields: Vec<String> = self
                .kinds
                .iter()
                .flat_map(|k| k.fields().iter())
                .map(|f| format!("`{f}`"))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if fields.is_empty() {
                "not a `let` constant of this spec".to_string()
            } else {
                format!(
                    "not a `let` constant, nor a field of `{}` ({})",
                    kinds.join("`/`"),
                    fields.join(", ")
                )
            }
        };
        let mut d = Diagnostic::error(r.name.span.clone(), format!("unknown name `{name}`"))
            .with_label(label);
        if let Some(s) = suggest(&name, candidates) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        diags.push(d);
        Ty::Unknown
    }
}

/// Resolves and type-checks a spec in place (not its includes).
pub(crate) fn resolve_spec(spec: &mut Spec, diags: &mut Vec<Diagnostic>) {
    let mut consts: HashMap<String, (Ty, Span)> = HashMap::new();
    // Constants first, in order: a constant may use the ones before it.
    for item in &mut spec.items {
        let SpecItem::Let(l) = item else { continue };
        let name = l.name.node.clone();
        let scope = SpecScope {
            consts: &consts,
            kinds: &[],
            call_args: false,
            consts_only: true,
        };
        let ty = value_ty(&mut l.value, &scope, diags);
        if BUILTIN_FIELDS.contains(&name.as_str()) {
            diags.push(
                Diagnostic::error(
                    l.name.span.clone(),
                    format!("`let {name}` shadows the field `{name}`"),
                )
                .with_label("a built-in field of actions")
                .with_help(format!(
                    "rename the constant, e.g. `{name}s` or `allowed_{name}`"
                )),
            );
            continue;
        }
        if let Some((_, first)) = consts.get(&name) {
            diags.push(
                Diagnostic::error(l.name.span.clone(), format!("duplicate constant `{name}`"))
                    .with_label("defined again here")
                    .with_related(first.clone(), "first defined here"),
            );
            continue;
        }
        consts.insert(name, (ty, l.name.span.clone()));
    }
    for item in &mut spec.items {
        match item {
            SpecItem::Rule(rule) => match &mut rule.kind {
                RuleKind::Effect { pattern, .. }
                | RuleKind::AtMost { pattern, .. }
                | RuleKind::ApproveEach { pattern } => resolve_pattern(pattern, &consts, diags),
                RuleKind::Never {
                    action: a,
                    after: b,
                }
                | RuleKind::Require { first: a, then: b } => {
                    resolve_pattern(a, &consts, diags);
                    resolve_pattern(b, &consts, diags);
                }
            },
            SpecItem::Baseline(b) => {
                for p in &mut b.patterns {
                    resolve_pattern(p, &consts, diags);
                }
            }
            SpecItem::Test(t) => resolve_plan(&mut t.plan, diags),
            SpecItem::MaxTtl { ttl } if ttl.node.secs == 0 => {
                diags.push(
                    Diagnostic::error(ttl.span.clone(), "a max ttl of zero")
                        .with_label("no token could ever be issued"),
                );
            }
            _ => {}
        }
    }
}

fn resolve_pattern(
    p: &mut PatternExpr,
    consts: &HashMap<String, (Ty, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    let single;
    let (kinds, call_args): (&[ActionKind], bool) = match &p.matcher {
        PatternKind::Any => (&ActionKind::ALL, true),
        PatternKind::Call { .. } => (&[ActionKind::Call], true),
        PatternKind::Path { action, .. } => {
            single = [*action];
            (&single, false)
        }
        PatternKind::Connect { .. } => (&[ActionKind::Connect], false),
        PatternKind::Listen { .. } => (&[ActionKind::Listen], false),
    };
    let action = p.matcher.action();
    let (target, socket) = match &mut p.matcher {
        PatternKind::Path { target, .. } => (target.as_mut(), false),
        PatternKind::Connect { target } | PatternKind::Listen { target } => (target.as_mut(), true),
        PatternKind::Any | PatternKind::Call { .. } => (None, false),
    };
    if let (Some(t), Some(action)) = (target, action) {
        let path = match t {
            PathTargetExpr::Exact { path } | PathTargetExpr::Under { path } => path,
        };
        let scope = SpecScope {
            consts,
            kinds: &[],
            call_args: false,
            consts_only: true,
        };
        let ty = value_ty(path, &scope, diags);
        if socket {
            check_socket_path(path, &ty, action, true, diags);
        } else {
            check_path_type(path, &ty, &format!("the target of `{action}`"), diags);
        }
    }
    if let Some(c) = &mut p.condition {
        let scope = SpecScope {
            consts,
            kinds,
            call_args,
            consts_only: false,
        };
        check_cond(c, &scope, diags);
    }
}
