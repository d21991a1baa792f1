//! The canonical text of plans and specs: two-space indents, one item per
//! line, conditions with the fewest parentheses that keep their shape. The
//! output depends only on the syntax tree (never on spans), so the verifier
//! can hash it for tokens, and `parse(fmt(tree)) == tree`.

use crate::ast::*;
use crate::diag::Diagnostics;
use crate::parse::encode_string;
use crate::span::Span;
use crate::span::Spanned;
use crate::value::{Cidr, Literal};
use std::fmt::Write as _;

/// The canonical text of a plan.
pub fn fmt_plan(plan: &Plan) -> String {
    let mut p = Printer::new("", Vec::new());
    p.plan(plan, 0);
    p.finish()
}

/// The canonical text of a spec.
pub fn fmt_spec(spec: &Spec) -> String {
    let mut p = Printer::new("", Vec::new());
    p.spec(spec);
    p.finish()
}

/// Formats a plan's source text in the canonical style, keeping its
/// comments: a comment on a line of its own stays before the item that
/// follows it, a comment after an item on the same line stays after it.
/// The text must parse (names need not resolve).
pub fn fmt_plan_source(src: &str, file: &str) -> Result<String, Diagnostics> {
    let plan = crate::parse::parse_plan(src, file)?;
    let mut p = Printer::new(src, comments(src));
    p.leading(plan.span.start, 0);
    p.plan(&plan, 0);
    Ok(p.finish())
}

/// Formats a spec's source text in the canonical style, keeping its
/// comments (see [`fmt_plan_source`]).
pub fn fmt_spec_source(src: &str, file: &str) -> Result<String, Diagnostics> {
    let spec = crate::parse::parse_spec(src, file)?;
    let mut p = Printer::new(src, comments(src));
    p.spec(&spec);
    Ok(p.finish())
}

/// A comment of the source, with its byte range.
struct Comment {
    start: usize,
    end: usize,
}

/// Every `//` and `/* */` comment of `src`, outside strings, in order.
fn comments(src: &str) -> Vec<Comment> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                out.push(Comment { start, end: i });
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                let end = src[i + 2..].find("*/").map_or(b.len(), |k| i + 2 + k + 2);
                out.push(Comment { start, end });
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Writes canonical text, weaving in the source's comments when it has any
/// (spans then locate items in the source).
struct Printer<'s> {
    out: String,
    src: &'s str,
    comments: Vec<Comment>,
    next: usize,
}

impl<'s> Printer<'s> {
    fn new(src: &'s str, comments: Vec<Comment>) -> Printer<'s> {
        Printer {
            out: String::new(),
            src,
            comments,
            next: 0,
        }
    }

    fn finish(mut self) -> String {
        // Comments after the last `}`.
        while self.next < self.comments.len() {
            let text = self.comment_text(self.next);
            self.out.push_str(&text);
            self.out.push('\n');
            self.next += 1;
        }
        self.out
    }

    fn comment_text(&self, i: usize) -> String {
        let c = &self.comments[i];
        self.src[c.start..c.end].trim_end().to_string()
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
    }

    /// Emits, each on its own line, the comments that start before `pos`.
    fn leading(&mut self, pos: u32, level: usize) {
        let pos = pos as usize;
        while self.next < self.comments.len() && self.comments[self.next].start < pos {
            let text = self.comment_text(self.next);
            self.indent(level);
            self.out.push_str(&text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    /// Appends the comment that follows `end` on the same source line.
    fn trailing(&mut self, end: u32) {
        let end = end as usize;
        if let Some(c) = self.comments.get(self.next)
            && c.start >= end
            && !self.src[end..c.start].contains('\n')
        {
            let text = self.comment_text(self.next);
            self.out.push(' ');
            self.out.push_str(&text);
            self.next += 1;
        }
    }

    /// In source mode, one blank line where the source had one or more
    /// before `pos` (not right after an opening brace).
    fn source_blank(&mut self, pos: u32) {
        if self.src.is_empty() || self.out.ends_with("{\n") || self.out.ends_with("\n\n") {
            return;
        }
        let before = &self.src[..(pos as usize).min(self.src.len())];
        let mut lines = before.rsplit('\n').skip(1);
        // The source line before this item's line, skipping comment lines.
        for l in lines.by_ref() {
            let t = l.trim();
            if t.is_empty() {
                self.out.push('\n');
                return;
            }
            if !(t.starts_with("//")
                || t.starts_with("/*")
                || t.starts_with('*')
                || t.ends_with("*/"))
            {
                return;
            }
        }
    }

    /// One line: leading comments, the text, a trailing comment.
    fn line(&mut self, span: &Span, level: usize, text: &str) {
        self.source_blank(self.first_comment_or(span.start));
        self.leading(span.start, level);
        self.indent(level);
        self.out.push_str(text);
        self.trailing(span.end);
        self.out.push('\n');
    }

    /// A closing brace at `level`, after the comments before `end`.
    fn close(&mut self, end: u32, level: usize) {
        self.leading(end.saturating_sub(1), level + 1);
        self.indent(level);
        self.out.push('}');
    }

    fn spec(&mut self, spec: &Spec) {
        self.leading(spec.span.start, 0);
        let _ = write!(self.out, "spec {} {{", encode_string(&spec.name.node));
        self.trailing(spec.name.span.end + 2);
        self.out.push('\n');
        let mut prev: Option<u8> = None;
        for item in &spec.items {
            let group = item_group(item);
            // A blank line between groups of items, and around every block.
            if self.src.is_empty() && prev.is_some_and(|p| p != group || group >= 5) {
                self.out.push('\n');
            }
            prev = Some(group);
            match item {
                SpecItem::Version { version } => {
                    self.line(&version.span, 1, &format!("version {}", version.node))
                }
                SpecItem::MaxTtl { ttl } => {
                    self.line(&ttl.span, 1, &format!("max ttl {}", ttl.node))
                }
                SpecItem::Let(l) => self.line(
                    &l.span,
                    1,
                    &format!("let {} = {}", l.name.node, value(&l.value.node)),
                ),
                SpecItem::Include { path } => self.line(
                    &path.span,
                    1,
                    &format!("include {}", encode_string(&path.node)),
                ),
                SpecItem::Rule(r) => self.line(&r.span, 1, &rule(r)),
                SpecItem::Baseline(b) => {
                    self.source_blank(self.first_comment_or(b.span.start));
                    self.leading(b.span.start, 1);
                    self.indent(1);
                    if b.patterns.is_empty() && !self.has_comments_before(b.span.end) {
                        self.out.push_str("baseline {}");
                    } else {
                        self.out.push_str("baseline {\n");
                        for p in &b.patterns {
                            self.line(&p.span, 2, &pattern(p));
                        }
                        self.close(b.span.end, 1);
                    }
                    self.trailing(b.span.end);
                    self.out.push('\n');
                }
                SpecItem::Test(t) => {
                    self.source_blank(self.first_comment_or(t.span.start));
                    self.leading(t.span.start, 1);
                    self.indent(1);
                    let _ = writeln!(self.out, "test {} {{", encode_string(&t.name.node));
                    self.leading(t.plan.span.start, 2);
                    self.indent(2);
                    self.plan(&t.plan, 2);
                    self.line(&t.expect.span, 2, &format!("expect {}", t.expect.node));
                    self.close(t.span.end, 1);
                    self.trailing(t.span.end);
                    self.out.push('\n');
                }
            }
        }
        self.close(spec.span.end, 0);
        self.trailing(spec.span.end);
        self.out.push('\n');
    }

    /// Where the item at `pos` starts with its leading comments.
    fn first_comment_or(&self, pos: u32) -> u32 {
        match self.comments.get(self.next) {
            Some(c) if c.start < pos as usize => c.start as u32,
            _ => pos,
        }
    }

    fn has_comments_before(&self, pos: u32) -> bool {
        self.comments
            .get(self.next)
            .is_some_and(|c| c.start < pos as usize)
    }

    /// Writes `plan ... { ... }` whose first line is already indented to
    /// `level`; ends with a newline.
    fn plan(&mut self, plan: &Plan, level: usize) {
        self.out.push_str("plan ");
        if let Some(n) = &plan.name {
            self.out.push_str(&encode_string(&n.node));
            self.out.push(' ');
        }
        let header = plan.agent.is_some() || plan.goal.is_some() || plan.ttl.is_some();
        if !header
            && plan.params.is_empty()
            && plan.steps.is_empty()
            && !self.has_comments_before(plan.span.end)
        {
            self.out.push_str("{}");
            self.trailing(plan.span.end);
            self.out.push('\n');
            return;
        }
        let simple = |s: &Step| matches!(s.kind, StepKind::Action { .. } | StepKind::Let { .. });
        if plan.name.is_none()
            && !header
            && plan.params.is_empty()
            && plan.steps.len() == 1
            && simple(&plan.steps[0])
            && !self.has_comments_before(plan.span.end)
        {
            self.out.push_str("{ ");
            self.step(&plan.steps[0], level);
            self.out.push_str(" }");
            self.trailing(plan.span.end);
            self.out.push('\n');
            return;
        }
        self.out.push_str("{\n");
        let inner = level + 1;
        if let Some(a) = &plan.agent {
            self.line(&a.span, inner, &format!("agent {}", encode_string(&a.node)));
        }
        if let Some(g) = &plan.goal {
            self.line(&g.span, inner, &format!("goal {}", encode_string(&g.node)));
        }
        if let Some(t) = &plan.ttl {
            self.line(&t.span, inner, &format!("ttl {}", t.node));
        }
        if self.src.is_empty() && header && !(plan.params.is_empty() && plan.steps.is_empty()) {
            self.out.push('\n');
        }
        for p in &plan.params {
            let mut text = format!("param {}: {}", p.name.node, p.ty.node);
            if let Some(c) = &p.condition {
                let _ = write!(text, " where {}", cond(c, Ctx::Top));
            }
            self.line(&p.span, inner, &text);
        }
        if self.src.is_empty() && !plan.params.is_empty() && !plan.steps.is_empty() {
            self.out.push('\n');
        }
        self.steps(&plan.steps, inner);
        self.close(plan.span.end, level);
        self.trailing(plan.span.end);
        self.out.push('\n');
    }

    fn steps(&mut self, steps: &[Step], level: usize) {
        for s in steps {
            self.source_blank(self.first_comment_or(s.span.start));
            self.leading(s.span.start, level);
            self.indent(level);
            self.step(s, level);
            self.trailing(s.span.end);
            self.out.push('\n');
        }
    }

    fn block(&mut self, b: &Block, level: usize) {
        if b.steps.is_empty() && !self.has_comments_before(b.span.end) {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        self.steps(&b.steps, level + 1);
        self.close(b.span.end, level);
    }

    fn step(&mut self, s: &Step, level: usize) {
        match &s.kind {
            StepKind::Action { action: a } => self.out.push_str(&action(a)),
            StepKind::Let {
                name,
                call: c,
                assume,
            } => {
                let _ = write!(self.out, "let {} = call {}", name.node, call(c));
                if let Some(a) = assume {
                    let _ = write!(self.out, " where {}", cond(a, Ctx::Top));
                }
            }
            StepKind::Either { branches } => {
                self.out.push_str("either ");
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(" or ");
                    }
                    self.block(b, level);
                }
            }
            StepKind::Repeat {
                count,
                at_most,
                body,
            } => {
                self.out.push_str("repeat ");
                if *at_most {
                    self.out.push_str("at most ");
                }
                let _ = write!(self.out, "{} ", count.node);
                self.block(body, level);
            }
        }
    }
}

fn item_group(item: &SpecItem) -> u8 {
    match item {
        SpecItem::Version { .. } | SpecItem::MaxTtl { .. } => 0,
        SpecItem::Include { .. } => 1,
        SpecItem::Let(_) => 2,
        SpecItem::Rule(_) => 3,
        SpecItem::Baseline(_) => 5,
        SpecItem::Test(_) => 6,
    }
}

fn action(a: &Action) -> String {
    match a {
        Action::Read { path } => format!("read {}", value(&path.node)),
        Action::Write { path } => format!("write {}", value(&path.node)),
        Action::Delete { path } => format!("delete {}", value(&path.node)),
        Action::Exec { program, args } => {
            let mut s = format!("exec {}", value(&program.node));
            if let Some(args) = args {
                s.push(' ');
                s.push_str(&list(args));
            }
            s
        }
        Action::Connect { host, port } => {
            let h = match &host.node {
                ValueExpr::Literal {
                    literal: Literal::Cidr(c @ Cidr::V6(_)),
                } => format!("[{}]", cidr(c)),
                v => value(v),
            };
            format!("connect {h}:{}", value(&port.node))
        }
        Action::ConnectUnix { path } => format!("connect {}", value(&path.node)),
        Action::Listen { port } => format!("listen {}", value(&port.node)),
        Action::ListenUnix { path } => format!("listen {}", value(&path.node)),
        Action::Call(c) => format!("call {}", call(c)),
    }
}

fn call(c: &Call) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| format!("{} = {}", a.name.node, value(&a.value.node)))
        .collect();
    format!("{}({})", c.name.node, args.join(", "))
}

/// A value as written in canonical style.
pub(crate) fn value(v: &ValueExpr) -> String {
    match v {
        ValueExpr::Literal { literal } => literal_text(literal),
        ValueExpr::List { items } => list(items),
        ValueExpr::Ref(r) => reference(r),
    }
}

fn list(items: &[Spanned<ValueExpr>]) -> String {
    let parts: Vec<String> = items.iter().map(|i| value(&i.node)).collect();
    format!("[{}]", parts.join(", "))
}

fn reference(r: &Ref) -> String {
    let mut s = r.name.node.clone();
    for f in &r.fields {
        s.push('.');
        s.push_str(&f.node);
    }
    if let Some(i) = &r.index {
        let _ = write!(s, "[{}]", i.node);
    }
    s
}

fn cidr(c: &Cidr) -> String {
    if c.prefix_len() == c.max_prefix_len() {
        c.addr().to_string()
    } else {
        c.to_string()
    }
}

/// A literal as written in canonical style.
pub(crate) fn literal_text(l: &Literal) -> String {
    match l {
        Literal::String(s) => encode_string(s),
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Duration(d) => d.to_string(),
        Literal::Cidr(c) => cidr(c),
    }
}

/// Where a condition stands, to decide on parentheses.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    And,
    Or,
    Not,
}

fn cond(c: &Spanned<CondExpr>, ctx: Ctx) -> String {
    match &c.node {
        CondExpr::And { all } => {
            let parts: Vec<String> = all.iter().map(|c| cond(c, Ctx::And)).collect();
            let s = parts.join(" and ");
            if matches!(ctx, Ctx::And | Ctx::Not) {
                format!("({s})")
            } else {
                s
            }
        }
        CondExpr::Or { any } => {
            let parts: Vec<String> = any.iter().map(|c| cond(c, Ctx::Or)).collect();
            let s = parts.join(" or ");
            if ctx == Ctx::Top { s } else { format!("({s})") }
        }
        CondExpr::Not { cond: inner } => format!("not {}", cond(inner, Ctx::Not)),
        CondExpr::Compare { op, lhs, rhs } => {
            let r = match (&rhs.node, op.node) {
                (ValueExpr::List { items }, CmpOp::In)
                    if items.len() >= 2
                        && items.iter().all(|i| {
                            matches!(
                                i.node,
                                ValueExpr::Literal {
                                    literal: Literal::Cidr(_)
                                }
                            )
                        }) =>
                {
                    let parts: Vec<String> = items.iter().map(|i| value(&i.node)).collect();
                    parts.join(", ")
                }
                (v, _) => value(v),
            };
            format!("{} {} {}", value(&lhs.node), op.node, r)
        }
        CondExpr::Has { field } => format!("has {}", field.node),
        CondExpr::FromCall { value: v, tool } => {
            format!("{} from call {}", value(&v.node), tool.node)
        }
        CondExpr::Value { value: v } => value(&v.node),
    }
}

fn pattern(p: &PatternExpr) -> String {
    let with_target = |word: &str, target: &Option<PathTargetExpr>| match target {
        None => word.to_string(),
        Some(PathTargetExpr::Exact { path }) => format!("{word} {}", value(&path.node)),
        Some(PathTargetExpr::Under { path }) => format!("{word} under {}", value(&path.node)),
    };
    let mut s = match &p.matcher {
        PatternKind::Any => "any".to_string(),
        PatternKind::Path { action, target } => with_target(action.as_str(), target),
        PatternKind::Connect { target } => with_target("connect", target),
        PatternKind::Listen { target } => with_target("listen", target),
        PatternKind::Call { calls } => match calls {
            CallNames::Any => "call *".to_string(),
            CallNames::Names { names } => {
                let n: Vec<&str> = names.iter().map(|n| n.node.as_str()).collect();
                format!("call {}", n.join(", "))
            }
        },
    };
    if let Some(c) = &p.condition {
        let text = cond(c, Ctx::Top);
        // `connect host in [...]` reads as docs/language.md writes it, unless
        // the condition would read as a socket path (`connect "x"`).
        let bare = matches!(
            p.matcher,
            PatternKind::Connect { target: None } | PatternKind::Listen { target: None }
        ) && !text.starts_with('"');
        s.push_str(if bare { " " } else { " when " });
        s.push_str(&text);
    }
    s
}

fn rule(r: &Rule) -> String {
    match &r.kind {
        RuleKind::Effect { effect, pattern: p } => format!("{} {}", effect.node, pattern(p)),
        RuleKind::Never { action, after } => {
            format!("never {} after {}", pattern(action), pattern(after))
        }
        RuleKind::Require { first, then } => {
            format!("require {} before {}", pattern(first), pattern(then))
        }
        RuleKind::AtMost { limit, pattern: p } => format!("at most {} {}", limit.node, pattern(p)),
        RuleKind::ApproveEach { pattern: p } => format!("approve each {}", pattern(p)),
    }
}

/// The canonical text of one condition (for messages and tools).
pub fn fmt_cond(c: &Spanned<CondExpr>) -> String {
    cond(c, Ctx::Top)
}

/// The canonical text of one pattern.
pub fn fmt_pattern(p: &PatternExpr) -> String {
    pattern(p)
}

/// The canonical text of one rule (for messages: "the rule `deny ...`").
pub fn fmt_rule(r: &Rule) -> String {
    rule(r)
}

/// The canonical text of one step (nested blocks included).
pub fn fmt_step(s: &Step) -> String {
    let mut p = Printer::new("", Vec::new());
    p.step(s, 0);
    p.finish()
}

/// The canonical text of one value.
pub fn fmt_value(v: &ValueExpr) -> String {
    value(v)
}
