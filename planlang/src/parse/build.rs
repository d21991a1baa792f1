//! pest pairs to [`crate::ast`] nodes. The grammar guarantees the shape of
//! each pair, so the walkers below take children in grammar order; a missing
//! child (which would be a grammar bug) becomes a diagnostic, never a panic.

use super::grammar::Rule;
use super::literal::{self, LiteralError};
use super::source::LineIndex;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::span::{Ident, Span, Spanned};
use crate::value::{Duration, Literal, Number};
use pest::iterators::Pair;

type P<'i> = Pair<'i, Rule>;

/// The most `not`s in a row (each one nests the syntax tree one level).
const MAX_NOTS: usize = 32;

pub(crate) struct Builder<'a> {
    src: &'a str,
    index: &'a LineIndex,
    diags: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(src: &'a str, index: &'a LineIndex) -> Builder<'a> {
        Builder {
            src,
            index,
            diags: Vec::new(),
        }
    }

    pub(crate) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diags
    }

    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        let end = trim_trailing(self.src, s.start(), s.end());
        self.index.span(self.src, s.start(), end)
    }

    fn span_at(&self, start: usize, end: usize) -> Span {
        self.index.span(self.src, start, end)
    }

    fn literal_error(&mut self, p: &P<'_>, offset: usize, e: LiteralError) {
        let base = p.as_span().start() + offset;
        let span = match e.range {
            Some((s, t)) => self.span_at(base + s, base + t),
            None => self.span(p),
        };
        let mut d = Diagnostic::error(span, e.message).with_label(e.label);
        if let Some(h) = e.help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }

    /// A grammar invariant did not hold; report it instead of panicking.
    fn internal(&mut self, span: Span, what: &str) {
        self.diags.push(
            Diagnostic::error(span, format!("internal parser error: expected {what}"))
                .with_help("this is a bug in planlang; please report it with the input"),
        );
    }

    fn next<'i>(
        &mut self,
        it: &mut impl Iterator<Item = P<'i>>,
        parent: &Span,
        what: &str,
    ) -> Option<P<'i>> {
        let p = it.next();
        if p.is_none() {
            self.internal(parent.clone(), what);
        }
        p
    }

    // ───────────────────────── literals and values ─────────────────────────

    fn string(&mut self, p: P<'_>) -> Spanned<String> {
        let span = self.span(&p);
        let inner = p.as_str();
        let inner = inner.get(1..inner.len().saturating_sub(1)).unwrap_or("");
        let s = match literal::decode_string(inner) {
            Ok(s) => s,
            Err(e) => {
                self.literal_error(&p, 1, e);
                String::new()
            }
        };
        Spanned::new(s, span)
    }

    fn number(&mut self, p: &P<'_>) -> Number {
        match literal::number(p.as_str()) {
            Ok(n) => n,
            Err(e) => {
                self.literal_error(p, 0, e);
                Number::ZERO
            }
        }
    }

    fn whole(&mut self, p: P<'_>, what: &str, min: u64) -> Spanned<u64> {
        let span = self.span(&p);
        let n = match literal::whole(p.as_str(), what, min) {
            Ok(n) => n,
            Err(e) => {
                self.literal_error(&p, 0, e);
                min
            }
        };
        Spanned::new(n, span)
    }

    fn duration(&mut self, p: P<'_>) -> Spanned<Duration> {
        let span = self.span(&p);
        let d = match literal::duration(p.as_str()) {
            Ok(d) => d,
            Err(e) => {
                self.literal_error(&p, 0, e);
                Duration::from_secs(0)
            }
        };
        Spanned::new(d, span)
    }

    fn cidr(&mut self, p: &P<'_>) -> Literal {
        match literal::cidr(p.as_str()) {
            Ok(c) => Literal::Cidr(c),
            Err(e) => {
                self.literal_error(p, 0, e);
                Literal::Bool(false)
            }
        }
    }

    fn ident(&self, p: &P<'_>) -> Ident {
        Spanned::new(p.as_str().to_string(), self.span(p))
    }

    /// `value`, or one of its alternatives directly (`ipv4`, `list`, ...).
    pub(crate) fn value(&mut self, p: P<'_>) -> Spanned<ValueExpr> {
        let span = self.span(&p);
        let p = if p.as_rule() == Rule::value {
            match p.into_inner().next() {
                Some(p) => p,
                None => {
                    self.internal(span.clone(), "a value");
                    return Spanned::new(
                        ValueExpr::Literal {
                            literal: Literal::Bool(false),
                        },
                        span,
                    );
                }
            }
        } else {
            p
        };
        let v = match p.as_rule() {
            Rule::ipv4 | Rule::ipv6 => ValueExpr::Literal {
                literal: self.cidr(&p),
            },
            Rule::duration => ValueExpr::Literal {
                literal: Literal::Duration(self.duration(p).node),
            },
            Rule::number => ValueExpr::Literal {
                literal: Literal::Number(self.number(&p)),
            },
            Rule::string => ValueExpr::Literal {
                literal: Literal::String(self.string(p).node),
            },
            Rule::boolean => ValueExpr::Literal {
                literal: Literal::Bool(p.as_str() == "true"),
            },
            Rule::list => ValueExpr::List {
                items: p.into_inner().map(|v| self.value(v)).collect(),
            },
            Rule::reference => ValueExpr::Ref(self.reference(p)),
            _ => {
                self.internal(span.clone(), "a value");
                ValueExpr::Literal {
                    literal: Literal::Bool(false),
                }
            }
        };
        Spanned::new(v, span)
    }

    fn reference(&mut self, p: P<'_>) -> Ref {
        let mut name = None;
        let mut fields = Vec::new();
        let mut index = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::ident => name = Some(self.ident(&c)),
                Rule::field => {
                    let span = self.span(&c);
                    let text = c.as_str().trim_start_matches('.');
                    // The span of a field points at its name, after the dot.
                    let span = self.span_at(span.start as usize + 1, span.end as usize);
                    fields.push(Spanned::new(text.to_string(), span));
                }
                Rule::index => {
                    let span = self.span(&c);
                    let digits = c.as_str().trim_start_matches('[').trim_end_matches(']');
                    let n = match digits.parse::<u32>() {
                        Ok(n) => n,
                        Err(_) => {
                            self.diags.push(
                                Diagnostic::error(span.clone(), "index too large")
                                    .with_label("an index fits in 32 bits"),
                            );
                            0
                        }
                    };
                    index = Some(Spanned::new(n, span));
                }
                _ => {}
            }
        }
        Ref {
            name: name.unwrap_or_else(|| Spanned::synthetic(String::new())),
            fields,
            index,
            resolved: RefKind::Unresolved,
        }
    }

    // ───────────────────────────── conditions ─────────────────────────────

    pub(crate) fn cond(&mut self, p: P<'_>) -> Spanned<CondExpr> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::cond | Rule::bare_cond | Rule::paren_cond => match p.into_inner().next() {
                Some(inner) => self.cond(inner),
                None => {
                    self.internal(span.clone(), "a condition");
                    Spanned::new(
                        CondExpr::Value {
                            value: Spanned::new(
                                ValueExpr::Literal {
                                    literal: Literal::Bool(false),
                                },
                                span.clone(),
                            ),
                        },
                        span,
                    )
                }
            },
            Rule::or_cond | Rule::and_cond => {
                let is_or = p.as_rule() == Rule::or_cond;
                let mut parts: Vec<Spanned<CondExpr>> = p
                    .into_inner()
                    .filter(|c| !matches!(c.as_rule(), Rule::kw_or | Rule::kw_and))
                    .map(|c| self.cond(c))
                    .collect();
                if parts.len() == 1
                    && let Some(only) = parts.pop()
                {
                    return only;
                }
                let c = if is_or {
                    CondExpr::Or { any: parts }
                } else {
                    CondExpr::And { all: parts }
                };
                Spanned::new(c, span)
            }
            Rule::not_cond => {
                let mut nots = Vec::new();
                let mut atom = None;
                for c in p.into_inner() {
                    if c.as_rule() == Rule::kw_not {
                        nots.push(c.as_span().start());
                    } else {
                        atom = Some(c);
                    }
                }
                let Some(atom) = atom else {
                    self.internal(span.clone(), "a condition");
                    return Spanned::new(
                        CondExpr::Has {
                            field: Spanned::synthetic(String::new()),
                        },
                        span,
                    );
                };
                if nots.len() > MAX_NOTS {
                    self.diags.push(
                        Diagnostic::error(
                            self.span_at(nots[0], nots[0] + 3),
                            format!("too many `not`s in a row (more than {MAX_NOTS})"),
                        )
                        .with_label("the `not`s start here")
                        .with_help("two `not`s cancel out; remove pairs of them"),
                    );
                    nots.truncate(MAX_NOTS);
                }
                let mut c = self.cond(atom);
                let end = span.end as usize;
                for start in nots.into_iter().rev() {
                    c = Spanned::new(
                        CondExpr::Not { cond: Box::new(c) },
                        self.span_at(start, end),
                    );
                }
                c
            }
            Rule::has_cond => {
                let field = p
                    .into_inner()
                    .find(|c| c.as_rule() == Rule::word)
                    .map(|c| self.ident(&c))
                    .unwrap_or_else(|| Spanned::synthetic(String::new()));
                Spanned::new(CondExpr::Has { field }, span)
            }
            Rule::from_cond => {
                let mut it = p.into_inner();
                let value = self.next(&mut it, &span, "a value").map(|v| self.value(v));
                let tool = it
                    .find(|c| c.as_rule() == Rule::qname)
                    .map(|q| Spanned::new(q.as_str().to_string(), self.span(&q)));
                match (value, tool) {
                    (Some(value), Some(tool)) => {
                        Spanned::new(CondExpr::FromCall { value, tool }, span)
                    }
                    _ => {
                        self.internal(span.clone(), "`VALUE from call TOOL`");
                        Spanned::new(
                            CondExpr::Has {
                                field: Spanned::synthetic(String::new()),
                            },
                            span,
                        )
                    }
                }
            }
            Rule::compare => {
                let mut it = p.into_inner();
                let lhs = self.next(&mut it, &span, "a value").map(|v| self.value(v));
                let op = self
                    .next(&mut it, &span, "an operator")
                    .map(|o| self.cmp_op(o));
                let rhs = self.next(&mut it, &span, "a value").map(|r| {
                    if r.as_rule() == Rule::cidr_list {
                        let rspan = self.span(&r);
                        let items = r.into_inner().map(|c| self.value(c)).collect();
                        Spanned::new(ValueExpr::List { items }, rspan)
                    } else {
                        self.value(r)
                    }
                });
                match (lhs, op, rhs) {
                    (Some(lhs), Some(op), Some(rhs)) => {
                        Spanned::new(CondExpr::Compare { op, lhs, rhs }, span)
                    }
                    _ => Spanned::new(
                        CondExpr::Has {
                            field: Spanned::synthetic(String::new()),
                        },
                        span,
                    ),
                }
            }
            Rule::value_cond => match p.into_inner().next() {
                Some(v) => {
                    let value = self.value(v);
                    Spanned::new(CondExpr::Value { value }, span)
                }
                None => {
                    self.internal(span.clone(), "a value");
                    Spanned::new(
                        CondExpr::Has {
                            field: Spanned::synthetic(String::new()),
                        },
                        span,
                    )
                }
            },
            _ => {
                self.internal(span.clone(), "a condition");
                Spanned::new(
                    CondExpr::Has {
                        field: Spanned::synthetic(String::new()),
                    },
                    span,
                )
            }
        }
    }

    fn cmp_op(&mut self, p: P<'_>) -> Spanned<CmpOp> {
        let span = self.span(&p);
        let op = match p.into_inner().next().map(|c| c.as_rule()) {
            Some(Rule::eq) => CmpOp::Eq,
            Some(Rule::ne) => CmpOp::Ne,
            Some(Rule::le) => CmpOp::Le,
            Some(Rule::ge) => CmpOp::Ge,
            Some(Rule::lt) => CmpOp::Lt,
            Some(Rule::gt) => CmpOp::Gt,
            Some(Rule::kw_in) => CmpOp::In,
            Some(Rule::kw_under) => CmpOp::Under,
            Some(Rule::kw_startswith) => CmpOp::StartsWith,
            Some(Rule::kw_endswith) => CmpOp::EndsWith,
            Some(Rule::kw_contains) => CmpOp::Contains,
            Some(Rule::kw_matches) => CmpOp::Matches,
            _ => {
                self.internal(span.clone(), "an operator");
                CmpOp::Eq
            }
        };
        Spanned::new(op, span)
    }

    // ───────────────────────────── plans ─────────────────────────────

    pub(crate) fn plan_file(&mut self, p: P<'_>) -> Plan {
        let span = self.span(&p);
        match p.into_inner().find(|c| c.as_rule() == Rule::plan) {
            Some(plan) => self.plan(plan),
            None => {
                self.internal(span.clone(), "a plan");
                empty_plan(span)
            }
        }
    }

    pub(crate) fn plan(&mut self, p: P<'_>) -> Plan {
        let mut plan = empty_plan(self.span(&p));
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::kw_plan => {}
                Rule::string => plan.name = Some(self.string(c)),
                Rule::agent_decl => {
                    if let Some(s) = c.into_inner().find(|c| c.as_rule() == Rule::string) {
                        let s = self.string(s);
                        self.once(&plan.agent, &s.span, "agent");
                        plan.agent = Some(s);
                    }
                }
                Rule::goal_decl => {
                    if let Some(s) = c.into_inner().find(|c| c.as_rule() == Rule::string) {
                        let s = self.string(s);
                        self.once(&plan.goal, &s.span, "goal");
                        plan.goal = Some(s);
                    }
                }
                Rule::ttl_decl => {
                    if let Some(d) = c.into_inner().find(|c| c.as_rule() == Rule::duration) {
                        let d = self.duration(d);
                        self.once(&plan.ttl, &d.span, "ttl");
                        plan.ttl = Some(d);
                    }
                }
                Rule::param_decl => plan.params.push(self.param(c)),
                Rule::step => plan.steps.push(self.step(c)),
                _ => {}
            }
        }
        plan
    }

    /// Reports a second `agent`/`goal`/`ttl`/`version`/`max ttl`.
    fn once<T>(&mut self, first: &Option<Spanned<T>>, span: &Span, what: &str) {
        if let Some(first) = first {
            self.diags.push(
                Diagnostic::error(span.clone(), format!("`{what}` is given twice"))
                    .with_label("second one here")
                    .with_related(first.span.clone(), "first one here")
                    .with_help(format!("keep one `{what}`")),
            );
        }
    }

    fn param(&mut self, p: P<'_>) -> Param {
        let span = self.span(&p);
        let mut name = Spanned::synthetic(String::new());
        let mut ty = Spanned::new(ParamType::String, span.clone());
        let mut condition = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::ident => name = self.ident(&c),
                Rule::param_type => {
                    let t = match c.as_str() {
                        "string" => ParamType::String,
                        "number" => ParamType::Number,
                        "bool" => ParamType::Bool,
                        "path" => ParamType::Path,
                        _ => ParamType::Host,
                    };
                    ty = Spanned::new(t, self.span(&c));
                }
                Rule::cond => condition = Some(self.cond(c)),
                _ => {}
            }
        }
        Param {
            name,
            ty,
            condition,
            span,
        }
    }

    fn block(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let steps = p
            .into_inner()
            .filter(|c| c.as_rule() == Rule::step)
            .map(|c| self.step(c))
            .collect();
        Block { steps, span }
    }

    fn step(&mut self, p: P<'_>) -> Step {
        let span = self.span(&p);
        let Some(inner) = p.into_inner().next() else {
            self.internal(span.clone(), "a step");
            return Step {
                kind: StepKind::Either {
                    branches: Vec::new(),
                },
                span,
            };
        };
        let kind = match inner.as_rule() {
            Rule::let_step => {
                let mut name = Spanned::synthetic(String::new());
                let mut call = None;
                let mut assume = None;
                for c in inner.into_inner() {
                    match c.as_rule() {
                        Rule::ident => name = self.ident(&c),
                        Rule::call_expr => call = Some(self.call(c)),
                        Rule::cond => assume = Some(self.cond(c)),
                        _ => {}
                    }
                }
                match call {
                    Some(call) => StepKind::Let { name, call, assume },
                    None => {
                        self.internal(span.clone(), "a tool call");
                        StepKind::Either {
                            branches: Vec::new(),
                        }
                    }
                }
            }
            Rule::either_step => StepKind::Either {
                branches: inner
                    .into_inner()
                    .filter(|c| c.as_rule() == Rule::block)
                    .map(|c| self.block(c))
                    .collect(),
            },
            Rule::repeat_step => {
                let mut at_most = false;
                let mut count = Spanned::new(1, span.clone());
                let mut body = Block {
                    steps: Vec::new(),
                    span: span.clone(),
                };
                for c in inner.into_inner() {
                    match c.as_rule() {
                        Rule::at_most => at_most = true,
                        Rule::number => count = self.whole(c, "the count of `repeat`", 1),
                        Rule::block => body = self.block(c),
                        _ => {}
                    }
                }
                StepKind::Repeat {
                    count,
                    at_most,
                    body,
                }
            }
            _ => StepKind::Action {
                action: self.action(inner),
            },
        };
        Step { kind, span }
    }

    fn action(&mut self, p: P<'_>) -> Action {
        let span = self.span(&p);
        let kind_rule = p.as_rule();
        let mut values = Vec::new();
        let mut args = None;
        let mut call = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::value => values.push(self.value(c)),
                Rule::exec_args => {
                    args = Some(
                        c.into_inner()
                            .filter(|v| v.as_rule() == Rule::value)
                            .map(|v| self.value(v))
                            .collect(),
                    )
                }
                Rule::host => {
                    let hspan = self.span(&c);
                    if let Some(h) = c.into_inner().next() {
                        let mut v = self.value(h);
                        // `[::1]`: the span covers the brackets.
                        v.span = hspan;
                        values.push(v);
                    }
                }
                Rule::call_expr => call = Some(self.call(c)),
                _ => {}
            }
        }
        let mut values = values.into_iter();
        let mut take = |b: &mut Self| {
            values.next().unwrap_or_else(|| {
                b.internal(span.clone(), "a value");
                Spanned::new(
                    ValueExpr::Literal {
                        literal: Literal::Bool(false),
                    },
                    span.clone(),
                )
            })
        };
        match kind_rule {
            Rule::read_step => Action::Read { path: take(self) },
            Rule::write_step => Action::Write { path: take(self) },
            Rule::delete_step => Action::Delete { path: take(self) },
            Rule::exec_step => Action::Exec {
                program: take(self),
                args,
            },
            Rule::connect_step => {
                let host = take(self);
                let port = take(self);
                Action::Connect { host, port }
            }
            Rule::connect_unix_step => Action::ConnectUnix { path: take(self) },
            Rule::listen_step => {
                let v = take(self);
                // A string is a socket path; a number (or a name, until
                // loading knows its type) is a port.
                match &v.node {
                    ValueExpr::Literal {
                        literal: Literal::String(_),
                    } => Action::ListenUnix { path: v },
                    _ => Action::Listen { port: v },
                }
            }
            _ => match call {
                Some(c) => Action::Call(c),
                None => {
                    self.internal(span.clone(), "a step");
                    Action::Listen { port: take(self) }
                }
            },
        }
    }

    fn call(&mut self, p: P<'_>) -> Call {
        let span = self.span(&p);
        let mut name = Spanned::new(String::new(), span);
        let mut args = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::qname => name = Spanned::new(c.as_str().to_string(), self.span(&c)),
                Rule::arg => {
                    let aspan = self.span(&c);
                    let mut it = c.into_inner();
                    let n = self.next(&mut it, &aspan, "a name").map(|n| self.ident(&n));
                    let v = self.next(&mut it, &aspan, "a value").map(|v| self.value(v));
                    if let (Some(name), Some(value)) = (n, v) {
                        args.push(Arg { name, value });
                    }
                }
                _ => {}
            }
        }
        Call { name, args }
    }

    // ───────────────────────────── specs ─────────────────────────────

    pub(crate) fn spec_file(&mut self, p: P<'_>) -> Spec {
        let span = self.span(&p);
        match p.into_inner().find(|c| c.as_rule() == Rule::spec) {
            Some(spec) => self.spec(spec),
            None => {
                self.internal(span.clone(), "a spec");
                Spec {
                    name: Spanned::new(String::new(), span.clone()),
                    items: Vec::new(),
                    span,
                }
            }
        }
    }

    fn spec(&mut self, p: P<'_>) -> Spec {
        let span = self.span(&p);
        let mut name = Spanned::new(String::new(), span.clone());
        let mut items = Vec::new();
        let mut version: Option<Spanned<u64>> = None;
        let mut max_ttl: Option<Spanned<Duration>> = None;
        for c in p.into_inner() {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::string => name = self.string(c),
                Rule::version_item => {
                    if let Some(n) = c.into_inner().find(|c| c.as_rule() == Rule::number) {
                        let v = self.whole(n, "`version`", 0);
                        self.once(&version, &v.span, "version");
                        version = Some(v.clone());
                        items.push(SpecItem::Version { version: v });
                    }
                }
                Rule::max_ttl_item => {
                    if let Some(d) = c.into_inner().find(|c| c.as_rule() == Rule::duration) {
                        let d = self.duration(d);
                        self.once(&max_ttl, &d.span, "max ttl");
                        max_ttl = Some(d.clone());
                        items.push(SpecItem::MaxTtl { ttl: d });
                    }
                }
                Rule::let_const => {
                    let mut it = c.into_inner().filter(|c| c.as_rule() != Rule::kw_let);
                    let n = self.next(&mut it, &cspan, "a name").map(|n| self.ident(&n));
                    let v = self.next(&mut it, &cspan, "a value").map(|v| self.value(v));
                    if let (Some(name), Some(value)) = (n, v) {
                        items.push(SpecItem::Let(LetConst {
                            name,
                            value,
                            span: cspan,
                        }));
                    }
                }
                Rule::include_item => {
                    if let Some(s) = c.into_inner().find(|c| c.as_rule() == Rule::string) {
                        items.push(SpecItem::Include {
                            path: self.string(s),
                        });
                    }
                }
                Rule::rule => {
                    if let Some(r) = self.rule(c) {
                        items.push(SpecItem::Rule(r));
                    }
                }
                Rule::baseline => {
                    let patterns = c
                        .into_inner()
                        .filter(|c| c.as_rule() == Rule::pattern)
                        .map(|c| self.pattern(c))
                        .collect();
                    items.push(SpecItem::Baseline(Baseline {
                        patterns,
                        span: cspan,
                    }));
                }
                Rule::test_case => {
                    let mut tname = Spanned::new(String::new(), cspan.clone());
                    let mut plan = None;
                    let mut expect = None;
                    for t in c.into_inner() {
                        match t.as_rule() {
                            Rule::string => tname = self.string(t),
                            Rule::plan => plan = Some(self.plan(t)),
                            Rule::expectation => {
                                let e = match t.as_str() {
                                    "accept" => Expectation::Accept,
                                    "reject" => Expectation::Reject,
                                    _ => Expectation::Approve,
                                };
                                expect = Some(Spanned::new(e, self.span(&t)));
                            }
                            _ => {}
                        }
                    }
                    match (plan, expect) {
                        (Some(plan), Some(expect)) => items.push(SpecItem::Test(TestCase {
                            name: tname,
                            plan,
                            expect,
                            span: cspan,
                        })),
                        _ => self.internal(cspan, "a plan and an expectation"),
                    }
                }
                _ => {}
            }
        }
        Spec { name, items, span }
    }

    fn rule(&mut self, p: P<'_>) -> Option<Rule_> {
        let span = self.span(&p);
        let inner = self.next(&mut p.into_inner(), &span, "a rule")?;
        let kind_rule = inner.as_rule();
        let mut patterns = Vec::new();
        let mut effect = None;
        let mut limit = None;
        for c in inner.into_inner() {
            match c.as_rule() {
                Rule::pattern => patterns.push(self.pattern(c)),
                Rule::effect => {
                    let e = match c.as_str() {
                        "allow" => Effect::Allow,
                        "deny" => Effect::Deny,
                        _ => Effect::Approve,
                    };
                    effect = Some(Spanned::new(e, self.span(&c)));
                }
                Rule::number => limit = Some(self.whole(c, "the limit of `at most`", 0)),
                _ => {}
            }
        }
        let mut patterns = patterns.into_iter();
        let kind = match kind_rule {
            Rule::effect_rule => RuleKind::Effect {
                effect: effect?,
                pattern: patterns.next()?,
            },
            Rule::never_rule => RuleKind::Never {
                action: patterns.next()?,
                after: patterns.next()?,
            },
            Rule::require_rule => RuleKind::Require {
                first: patterns.next()?,
                then: patterns.next()?,
            },
            Rule::at_most_rule => RuleKind::AtMost {
                limit: limit?,
                pattern: patterns.next()?,
            },
            Rule::approve_each_rule => RuleKind::ApproveEach {
                pattern: patterns.next()?,
            },
            _ => {
                self.internal(span, "a rule");
                return None;
            }
        };
        Some(Rule_ { kind, span })
    }

    fn pattern(&mut self, p: P<'_>) -> PatternExpr {
        let span = self.span(&p);
        let mut matcher = PatternKind::Any;
        let mut bare = None;
        let mut condition = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::any_pattern => matcher = PatternKind::Any,
                Rule::call_pattern => {
                    let mut names = Vec::new();
                    let mut star = false;
                    for n in c.into_inner() {
                        match n.as_rule() {
                            Rule::call_star => star = true,
                            Rule::qname => {
                                names.push(Spanned::new(n.as_str().to_string(), self.span(&n)))
                            }
                            _ => {}
                        }
                    }
                    let calls = if star {
                        CallNames::Any
                    } else {
                        CallNames::Names { names }
                    };
                    matcher = PatternKind::Call { calls };
                }
                Rule::path_pattern => {
                    let mut action = ActionKind::Read;
                    let mut target = None;
                    for t in c.into_inner() {
                        match t.as_rule() {
                            Rule::path_kind => {
                                action = match t.as_str() {
                                    "read" => ActionKind::Read,
                                    "write" => ActionKind::Write,
                                    "delete" => ActionKind::Delete,
                                    _ => ActionKind::Exec,
                                }
                            }
                            _ => target = target.or_else(|| self.path_target(t)),
                        }
                    }
                    matcher = PatternKind::Path { action, target };
                }
                Rule::connect_pattern | Rule::listen_pattern => {
                    let connect = c.as_rule() == Rule::connect_pattern;
                    let mut target = None;
                    for t in c.into_inner() {
                        match t.as_rule() {
                            Rule::bare_cond => bare = Some(self.cond(t)),
                            _ => target = target.or_else(|| self.path_target(t)),
                        }
                    }
                    matcher = if connect {
                        PatternKind::Connect { target }
                    } else {
                        PatternKind::Listen { target }
                    };
                }
                Rule::cond => condition = Some(self.cond(c)),
                _ => {}
            }
        }
        if let Some(b) = bare {
            if let Some(w) = &condition {
                self.diags.push(
                    Diagnostic::error(w.span.clone(), "this pattern has two conditions")
                        .with_label("a second condition")
                        .with_related(b.span.clone(), "the first condition")
                        .with_help("join them with `and` after one `when`"),
                );
            }
            condition = Some(b);
        }
        PatternExpr {
            matcher,
            condition,
            span,
        }
    }
}

impl Builder<'_> {
    /// The shorthand target of a pattern (`under "/tmp/"`, `"/etc/hosts"`),
    /// or `None` for a pair that is not one.
    fn path_target(&mut self, t: P<'_>) -> Option<PathTargetExpr> {
        let under = match t.as_rule() {
            Rule::under_target => true,
            Rule::exact_target | Rule::socket_exact => false,
            _ => return None,
        };
        let v = t
            .into_inner()
            .find(|v| matches!(v.as_rule(), Rule::value | Rule::string))?;
        let path = self.value(v);
        Some(if under {
            PathTargetExpr::Under { path }
        } else {
            PathTargetExpr::Exact { path }
        })
    }
}

/// `crate::ast::Rule` (the pest `Rule` enum takes the plain name here).
type Rule_ = crate::ast::Rule;

fn empty_plan(span: Span) -> Plan {
    Plan {
        name: None,
        agent: None,
        goal: None,
        ttl: None,
        params: Vec::new(),
        steps: Vec::new(),
        span,
    }
}

/// The end of `src[start..end]` without trailing whitespace and comments.
/// pest leaves the whitespace it skipped before a failed optional part
/// inside the rule's span (`pattern` = `matcher ~ (when ~ cond)?`); spans
/// should end at the last token.
fn trim_trailing(src: &str, start: usize, mut end: usize) -> usize {
    let b = src.as_bytes();
    loop {
        while end > start && b[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let text = &src[start..end];
        if let Some(body) = text.strip_suffix("*/") {
            // Only a comment ends with `*/` (a string ends with `"`).
            match body.rfind("/*") {
                Some(k) => {
                    end = start + k;
                    continue;
                }
                None => return end,
            }
        }
        // A `//` comment on the last line, outside strings.
        let line_start = text.rfind('\n').map_or(0, |k| k + 1);
        let line = &text.as_bytes()[line_start..];
        let mut i = 0;
        let mut cut = None;
        while i < line.len() {
            match line[i] {
                b'"' => {
                    i += 1;
                    while i < line.len() && line[i] != b'"' {
                        i += if line[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'/' if line.get(i + 1) == Some(&b'/') => {
                    cut = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        match cut {
            Some(k) => end = start + line_start + k,
            None => return end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::trim_trailing;

    #[test]
    fn trailing_whitespace_and_comments_are_trimmed() {
        fn t(s: &str) -> &str {
            &s[..trim_trailing(s, 0, s.len())]
        }
        assert_eq!(t("allow read  \n  "), "allow read");
        assert_eq!(t("allow read // note\n /* x */ \n"), "allow read");
        assert_eq!(t("read \"a//b\"  // c"), "read \"a//b\"");
        assert_eq!(t("read \"a\\\"//b\""), "read \"a\\\"//b\"");
        assert_eq!(t("x /* a\n b */"), "x");
    }
}
