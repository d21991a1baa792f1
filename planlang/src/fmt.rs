//! The canonical text of plans and specs: two-space indents, one item per
//! line, conditions with the fewest parentheses that keep their shape. The
//! output depends only on the syntax tree (never on spans), so the verifier
//! can hash it for tokens, and `parse(fmt(tree)) == tree`.

use crate::ast::*;
use crate::parse::encode_string;
use crate::span::Spanned;
use crate::value::{Cidr, Literal};
use std::fmt::Write as _;

/// The canonical text of a plan.
pub fn fmt_plan(plan: &Plan) -> String {
    let mut out = String::new();
    plan_into(&mut out, plan, 0);
    out
}

/// The canonical text of a spec.
pub fn fmt_spec(spec: &Spec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "spec {} {{", encode_string(&spec.name.node));
    let mut prev: Option<u8> = None;
    for item in &spec.items {
        let group = item_group(item);
        // A blank line between groups of items, and around every block.
        if prev.is_some_and(|p| p != group || group >= 5) {
            out.push('\n');
        }
        prev = Some(group);
        indent(&mut out, 1);
        match item {
            SpecItem::Version { version } => {
                let _ = writeln!(out, "version {}", version.node);
            }
            SpecItem::MaxTtl { ttl } => {
                let _ = writeln!(out, "max ttl {}", ttl.node);
            }
            SpecItem::Let(l) => {
                let _ = writeln!(out, "let {} = {}", l.name.node, value(&l.value.node));
            }
            SpecItem::Include { path } => {
                let _ = writeln!(out, "include {}", encode_string(&path.node));
            }
            SpecItem::Rule(r) => {
                out.push_str(&rule(r));
                out.push('\n');
            }
            SpecItem::Baseline(b) => {
                if b.patterns.is_empty() {
                    out.push_str("baseline {}\n");
                } else {
                    out.push_str("baseline {\n");
                    for p in &b.patterns {
                        indent(&mut out, 2);
                        out.push_str(&pattern(p));
                        out.push('\n');
                    }
                    indent(&mut out, 1);
                    out.push_str("}\n");
                }
            }
            SpecItem::Test(t) => {
                let _ = writeln!(out, "test {} {{", encode_string(&t.name.node));
                indent(&mut out, 2);
                plan_into(&mut out, &t.plan, 2);
                indent(&mut out, 2);
                let _ = writeln!(out, "expect {}", t.expect.node);
                indent(&mut out, 1);
                out.push_str("}\n");
            }
        }
    }
    out.push_str("}\n");
    out
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

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// Writes `plan ... { ... }` whose first line is already indented to
/// `level`; ends with a newline.
fn plan_into(out: &mut String, plan: &Plan, level: usize) {
    out.push_str("plan ");
    if let Some(n) = &plan.name {
        out.push_str(&encode_string(&n.node));
        out.push(' ');
    }
    let header = plan.agent.is_some() || plan.goal.is_some() || plan.ttl.is_some();
    if !header && plan.params.is_empty() && plan.steps.is_empty() {
        out.push_str("{}\n");
        return;
    }
    out.push_str("{\n");
    let inner = level + 1;
    if let Some(a) = &plan.agent {
        indent(out, inner);
        let _ = writeln!(out, "agent {}", encode_string(&a.node));
    }
    if let Some(g) = &plan.goal {
        indent(out, inner);
        let _ = writeln!(out, "goal {}", encode_string(&g.node));
    }
    if let Some(t) = &plan.ttl {
        indent(out, inner);
        let _ = writeln!(out, "ttl {}", t.node);
    }
    if header && !(plan.params.is_empty() && plan.steps.is_empty()) {
        out.push('\n');
    }
    for p in &plan.params {
        indent(out, inner);
        let _ = write!(out, "param {}: {}", p.name.node, p.ty.node);
        if let Some(c) = &p.condition {
            let _ = write!(out, " where {}", cond(c, Ctx::Top));
        }
        out.push('\n');
    }
    if !plan.params.is_empty() && !plan.steps.is_empty() {
        out.push('\n');
    }
    steps_into(out, &plan.steps, inner);
    indent(out, level);
    out.push_str("}\n");
}

fn steps_into(out: &mut String, steps: &[Step], level: usize) {
    for s in steps {
        indent(out, level);
        step_into(out, s, level);
        out.push('\n');
    }
}

fn block_into(out: &mut String, b: &Block, level: usize) {
    if b.steps.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    steps_into(out, &b.steps, level + 1);
    indent(out, level);
    out.push('}');
}

fn step_into(out: &mut String, s: &Step, level: usize) {
    match &s.kind {
        StepKind::Action { action: a } => out.push_str(&action(a)),
        StepKind::Let { name, call: c } => {
            let _ = write!(out, "let {} = call {}", name.node, call(c));
        }
        StepKind::Either { branches } => {
            out.push_str("either ");
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push_str(" or ");
                }
                block_into(out, b, level);
            }
        }
        StepKind::Repeat {
            count,
            at_most,
            body,
        } => {
            out.push_str("repeat ");
            if *at_most {
                out.push_str("at most ");
            }
            let _ = write!(out, "{} ", count.node);
            block_into(out, body, level);
        }
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
                Value::Literal {
                    literal: Literal::Cidr(c @ Cidr::V6(_)),
                } => format!("[{}]", cidr(c)),
                v => value(v),
            };
            format!("connect {h}:{}", value(&port.node))
        }
        Action::Listen { port } => format!("listen {}", value(&port.node)),
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
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Literal { literal } => literal_text(literal),
        Value::List { items } => list(items),
        Value::Ref(r) => reference(r),
    }
}

fn list(items: &[Spanned<Value>]) -> String {
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

fn cond(c: &Spanned<Cond>, ctx: Ctx) -> String {
    match &c.node {
        Cond::And { all } => {
            let parts: Vec<String> = all.iter().map(|c| cond(c, Ctx::And)).collect();
            let s = parts.join(" and ");
            if matches!(ctx, Ctx::And | Ctx::Not) {
                format!("({s})")
            } else {
                s
            }
        }
        Cond::Or { any } => {
            let parts: Vec<String> = any.iter().map(|c| cond(c, Ctx::Or)).collect();
            let s = parts.join(" or ");
            if ctx == Ctx::Top { s } else { format!("({s})") }
        }
        Cond::Not { cond: inner } => format!("not {}", cond(inner, Ctx::Not)),
        Cond::Compare { op, lhs, rhs } => {
            let r = match (&rhs.node, op.node) {
                (Value::List { items }, CmpOp::In)
                    if items.len() >= 2
                        && items.iter().all(|i| {
                            matches!(
                                i.node,
                                Value::Literal {
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
        Cond::Has { field } => format!("has {}", field.node),
        Cond::FromCall { value: v, tool } => format!("{} from call {}", value(&v.node), tool.node),
        Cond::Value { value: v } => value(&v.node),
    }
}

fn pattern(p: &Pattern) -> String {
    let mut s = match &p.matcher {
        PatternKind::Any => "any".to_string(),
        PatternKind::Path { action, target } => match target {
            None => action.to_string(),
            Some(PathTarget::Exact { path }) => format!("{action} {}", value(&path.node)),
            Some(PathTarget::Under { path }) => format!("{action} under {}", value(&path.node)),
        },
        PatternKind::Connect => "connect".to_string(),
        PatternKind::Listen => "listen".to_string(),
        PatternKind::Call { calls } => match calls {
            CallNames::Any => "call *".to_string(),
            CallNames::Names { names } => {
                let n: Vec<&str> = names.iter().map(|n| n.node.as_str()).collect();
                format!("call {}", n.join(", "))
            }
        },
    };
    if let Some(c) = &p.condition {
        s.push_str(" when ");
        s.push_str(&cond(c, Ctx::Top));
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
    }
}

/// The canonical text of one condition (for messages and tools).
pub fn fmt_cond(c: &Spanned<Cond>) -> String {
    cond(c, Ctx::Top)
}

/// The canonical text of one pattern.
pub fn fmt_pattern(p: &Pattern) -> String {
    pattern(p)
}

/// The canonical text of one rule (for messages: "the rule `deny ...`").
pub fn fmt_rule(r: &Rule) -> String {
    rule(r)
}

/// The canonical text of one step's first line (nested blocks included).
pub fn fmt_step(s: &Step) -> String {
    let mut out = String::new();
    step_into(&mut out, s, 0);
    out
}

/// The canonical text of one value.
pub fn fmt_value(v: &Value) -> String {
    value(v)
}
