//! Lowering: the syntax tree's conditions, patterns and literals as the
//! core's concrete [`Cond`], [`Pattern`] and [`Value`], with the spec's `let`
//! constants inlined and every `matches` regex checked.
//!
//! ```
//! let baseline = planlang::load_spec_str(r#"spec "b" { baseline { read under "/usr/lib/" } }"#, "b.spec").unwrap();
//! let read = &baseline.baselines().next().unwrap().patterns[0];
//! let read = planlang::lower::pattern(read, &Default::default()).unwrap();
//! assert!(read.matches(&warden_core::action::ConcreteAction::read("/usr/lib/libc.so.6").unwrap()));
//! ```

use crate::Span;
use crate::ast::{self, ActionKind, CmpOp};
use crate::value::Literal;
use std::collections::BTreeMap;
use warden_core::cond::{Cond, Operand, Pattern, RegexError, regex};
use warden_core::envelope::Location;
use warden_core::path::{PathError, normalize_path};
use warden_core::value::Value;

/// Where a span points, as the envelope records a rule's place.
pub fn location(span: &Span) -> Location {
    Location {
        file: span.file.to_string(),
        line: span.line,
        col: span.col,
    }
}

/// A location as a span (without byte offsets), for messages about a rule
/// that an envelope recorded.
pub fn span(loc: &Location) -> Span {
    Span {
        file: loc.file.as_str().into(),
        start: 0,
        end: 0,
        line: loc.line,
        col: loc.col,
    }
}

/// A literal of the languages as a concrete value.
pub fn literal(lit: &Literal) -> Value {
    match lit {
        Literal::String(s) => Value::String(s.clone()),
        Literal::Number(n) => Value::Number(*n),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Duration(d) => Value::Duration(d.secs),
        Literal::Cidr(c) => Value::Cidr(*c),
    }
}

/// Why a condition cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CondError {
    /// A name resolved as a constant is not in the constants given.
    #[error("`{0}` is not a known constant")]
    UnknownConst(String),
    /// The regex of a `matches` is not one the core accepts.
    #[error(transparent)]
    Regex(#[from] RegexError),
    /// The right side of a `matches` is not a string.
    #[error("`matches` needs a string regex")]
    RegexNotString,
    /// A value that must be constant (a list item, a pattern's target)
    /// names a param, a field or a result.
    #[error("a list may hold only literals and constants")]
    RefInList,
    /// A constant written with a field (`c.x`), or with an index that is
    /// out of its list's range or on a value that is no list.
    #[error("`{0}` has no fields or index (it is a constant)")]
    FieldOfConst(String),
    /// A pattern's exact path target cannot be normalized (it is not
    /// absolute, holds a NUL, or a glob has `..` after a wildcard).
    #[error(transparent)]
    Path(PathError),
}

/// The spec's `let` constants, by name.
pub type Consts = BTreeMap<String, Value>;

/// Converts a value of the syntax tree that holds no references (a literal or
/// a list of them, constants inlined).
pub fn const_value(v: &ast::ValueExpr, consts: &Consts) -> Result<Value, CondError> {
    match v {
        ast::ValueExpr::Literal { literal } => Ok(self::literal(literal)),
        ast::ValueExpr::List { items } => items
            .iter()
            .map(|i| const_value(&i.node, consts))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        ast::ValueExpr::Ref(r) => match (&r.resolved, consts.get(&r.name.node)) {
            (ast::RefKind::Const | ast::RefKind::Unresolved, Some(v)) => {
                if r.fields.is_empty() && r.index.is_none() {
                    Ok(v.clone())
                } else if let (Some(i), Value::List(items), true) =
                    (&r.index, v, r.fields.is_empty())
                {
                    items
                        .get(i.node as usize)
                        .cloned()
                        .ok_or_else(|| CondError::FieldOfConst(r.name.node.clone()))
                } else {
                    Err(CondError::FieldOfConst(r.name.node.clone()))
                }
            }
            _ => Err(CondError::RefInList),
        },
    }
}

fn operand(v: &ast::ValueExpr, consts: &Consts) -> Result<Operand, CondError> {
    match v {
        ast::ValueExpr::Ref(r) => {
            let is_const = match r.resolved {
                ast::RefKind::Const => true,
                ast::RefKind::Unresolved => consts.contains_key(&r.name.node),
                _ => false,
            };
            if is_const {
                if !consts.contains_key(&r.name.node) {
                    return Err(CondError::UnknownConst(r.name.node.clone()));
                }
                return const_value(v, consts).map(|value| Operand::Value { value });
            }
            Ok(Operand::Ref {
                name: r.name.node.clone(),
                fields: r.fields.iter().map(|f| f.node.clone()).collect(),
                index: r.index.as_ref().map(|i| i.node),
            })
        }
        v => const_value(v, consts).map(|value| Operand::Value { value }),
    }
}

/// Lowers a condition of the syntax tree, inlining `consts` and checking
/// every `matches` regex.
pub fn cond(c: &ast::CondExpr, consts: &Consts) -> Result<Cond, CondError> {
    Ok(match c {
        ast::CondExpr::And { all } => Cond::And {
            all: all
                .iter()
                .map(|c| self::cond(&c.node, consts))
                .collect::<Result<_, _>>()?,
        },
        ast::CondExpr::Or { any } => Cond::Or {
            any: any
                .iter()
                .map(|c| self::cond(&c.node, consts))
                .collect::<Result<_, _>>()?,
        },
        ast::CondExpr::Not { cond } => Cond::Not {
            cond: Box::new(self::cond(&cond.node, consts)?),
        },
        ast::CondExpr::Compare { op, lhs, rhs } => {
            let lhs = operand(&lhs.node, consts)?;
            let rhs = operand(&rhs.node, consts)?;
            if op.node == CmpOp::Matches {
                match &rhs {
                    Operand::Value {
                        value: Value::String(re),
                    } => {
                        regex(re)?;
                    }
                    _ => return Err(CondError::RegexNotString),
                }
            }
            Cond::Cmp {
                op: op.node,
                lhs,
                rhs,
            }
        }
        ast::CondExpr::Has { field } => Cond::Has {
            field: field.node.clone(),
        },
        ast::CondExpr::FromCall { value, tool } => Cond::FromCall {
            value: operand(&value.node, consts)?,
            tool: tool.node.clone(),
        },
        ast::CondExpr::Value { value } => match operand(&value.node, consts)? {
            Operand::Value {
                value: Value::Bool(true),
            } => Cond::True,
            Operand::Value { .. } => Cond::False,
            r @ Operand::Ref { .. } => Cond::Cmp {
                op: CmpOp::Eq,
                lhs: r,
                rhs: Operand::Value {
                    value: Value::Bool(true),
                },
            },
        },
    })
}

/// Lowers a rule pattern of the syntax tree: its shorthand target folded
/// into its condition.
pub fn pattern(p: &ast::PatternExpr, consts: &Consts) -> Result<Pattern, CondError> {
    let (kind, calls) = match &p.matcher {
        ast::PatternKind::Any => (None, None),
        ast::PatternKind::Call { calls } => (
            Some(ActionKind::Call),
            match calls {
                ast::CallNames::Any => None,
                ast::CallNames::Names { names } => {
                    Some(names.iter().map(|n| n.node.clone()).collect())
                }
            },
        ),
        m => (m.action(), None),
    };
    let target = match p.matcher.target() {
        None => Cond::True,
        Some(t) => target_cond(t, consts)?,
    };
    let when = match &p.condition {
        Some(c) => Cond::and(target, self::cond(&c.node, consts)?),
        None => target,
    };
    Ok(Pattern { kind, calls, when })
}

/// The condition a pattern's shorthand target stands for: `"/etc/hosts"`
/// is `path == "/etc/hosts"` (normalized), `under "/tmp/"` is `path under
/// "/tmp/"`. On `connect` and `listen` it is the unix socket's path (a
/// network action has no `path`, so it never matches).
fn target_cond(target: &ast::PathTargetExpr, consts: &Consts) -> Result<Cond, CondError> {
    Ok(match target {
        ast::PathTargetExpr::Exact { path } => {
            let v = match const_value(&path.node, consts)? {
                Value::String(s) => Value::String(normalize_path(&s).map_err(CondError::Path)?),
                v => v,
            };
            Cond::Cmp {
                op: CmpOp::Eq,
                lhs: Operand::field("path"),
                rhs: Operand::Value { value: v },
            }
        }
        ast::PathTargetExpr::Under { path } => Cond::Cmp {
            op: CmpOp::Under,
            lhs: Operand::field("path"),
            rhs: Operand::Value {
                value: const_value(&path.node, consts)?,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::action::ConcreteAction;
    use warden_core::value::Field;

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }
    fn list(xs: &[&str]) -> Value {
        Value::List(xs.iter().map(|x| s(x)).collect())
    }

    #[test]
    fn compile_inlines_constants() {
        use crate::ast::{Ref, RefKind};
        use crate::span::Spanned;
        let mut consts = Consts::new();
        consts.insert("payees".into(), list(&["A", "B"]));
        let r = |name: &str, kind: RefKind| {
            Spanned::synthetic(ast::ValueExpr::Ref(Ref {
                name: Spanned::synthetic(name.to_string()),
                fields: vec![],
                index: None,
                resolved: kind,
            }))
        };
        let c = ast::CondExpr::Compare {
            op: Spanned::synthetic(CmpOp::In),
            lhs: r("recipient", RefKind::Field),
            rhs: r("payees", RefKind::Const),
        };
        let cc = cond(&c, &consts).unwrap();
        let a = ConcreteAction::call("send_money", [("recipient", Field::new(s("B")))]);
        assert!(cc.eval(&a));
        let bad = ast::CondExpr::Compare {
            op: Spanned::synthetic(CmpOp::Matches),
            lhs: r("recipient", RefKind::Field),
            rhs: Spanned::synthetic(ast::ValueExpr::Literal {
                literal: Literal::String("(".into()),
            }),
        };
        assert!(matches!(cond(&bad, &consts), Err(CondError::Regex(_))));
        let unknown = ast::CondExpr::Compare {
            op: Spanned::synthetic(CmpOp::In),
            lhs: r("recipient", RefKind::Field),
            rhs: r("nope", RefKind::Const),
        };
        assert!(cond(&unknown, &consts).is_err());
    }
}
