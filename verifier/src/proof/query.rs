//! The questions of the proof as typed one-step plans: a plan's syntax
//! tree built from typed parts (a path param and a condition on it, a
//! program, a connect or listen target), never from text, so no quoting or
//! substitution can change what is asked.
//!
//! ```text
//! plan "enforced" {
//!   param p: path where <inside> and <normal> [and <plain>] and not (<original>)
//!   write p
//! }
//! ```

use planlang::ast::{self, ActionKind, CmpOp, ParamType, Ref, RefKind};
use planlang::span::{Span, Spanned};
use planlang::value::Literal;
use warden_core::envelope::PathTarget;
use warden_core::value::Value;

/// The name of the path param of a path question.
const P: &str = "p";

/// `p` is a normalized absolute path (every action's path is): `/`, or
/// segments that are neither empty nor `.` nor `..`. One regular language,
/// which the solver decides with the other atoms about `p`.
pub(crate) const NORMAL_RE: &str = r"^/$|^(/([^/.]|\.[^/.]|\.\.[^/])[^/]*)+$";

/// Paths spelled with the characters people use in file names: asked first
/// when a widening is refused, so the counterexample reads well (the proof
/// itself is over every path).
pub(crate) const PLAIN_RE: &str = "^[a-z0-9/._-]*$";

/// A condition on the path param `p`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathCond {
    True,
    False,
    /// `p == "PATH"`.
    Eq(String),
    /// `p under "DIR"`.
    Under(String),
    /// `p matches "REGEX"`.
    Matches(String),
    And(Vec<PathCond>),
    Or(Vec<PathCond>),
    Not(Box<PathCond>),
}

impl PathCond {
    /// `p` is a normalized absolute path ([`NORMAL_RE`]).
    pub(crate) fn normal() -> PathCond {
        PathCond::Matches(NORMAL_RE.to_owned())
    }

    /// `p` is plainly spelled ([`PLAIN_RE`]).
    pub(crate) fn plain() -> PathCond {
        PathCond::Matches(PLAIN_RE.to_owned())
    }

    /// The parts joined by `or` (none: `false`; one: itself).
    pub(crate) fn any(mut parts: Vec<PathCond>) -> PathCond {
        match parts.len() {
            0 => PathCond::False,
            1 => parts.remove(0),
            _ => PathCond::Or(parts),
        }
    }

    fn ast(&self) -> Spanned<ast::CondExpr> {
        let cmp = |op: CmpOp, s: &str| ast::CondExpr::Compare {
            op: Spanned::synthetic(op),
            lhs: Spanned::synthetic(param_ref(P)),
            rhs: Spanned::synthetic(literal(Literal::String(s.to_owned()))),
        };
        Spanned::synthetic(match self {
            PathCond::True => ast::CondExpr::Value {
                value: Spanned::synthetic(literal(Literal::Bool(true))),
            },
            PathCond::False => ast::CondExpr::Value {
                value: Spanned::synthetic(literal(Literal::Bool(false))),
            },
            PathCond::Eq(s) => cmp(CmpOp::Eq, s),
            PathCond::Under(s) => cmp(CmpOp::Under, s),
            PathCond::Matches(s) => cmp(CmpOp::Matches, s),
            PathCond::And(all) => ast::CondExpr::And {
                all: all.iter().map(PathCond::ast).collect(),
            },
            PathCond::Or(any) => ast::CondExpr::Or {
                any: any.iter().map(PathCond::ast).collect(),
            },
            PathCond::Not(c) => ast::CondExpr::Not {
                cond: Box::new(c.ast()),
            },
        })
    }
}

/// A condition on `p` that holds exactly for the normalized paths `target`
/// covers (`None`: it cannot be said, e.g. a param grant).
pub(crate) fn covers(target: &PathTarget) -> Option<PathCond> {
    match target {
        PathTarget::Exact { path } => Some(PathCond::Eq(path.clone())),
        PathTarget::Tree { dir } => Some(PathCond::Matches(warden_core::shape::tree_regex(
            dir, false,
        ))),
        PathTarget::Glob { glob } => warden_core::path::glob_to_regex(glob)
            .ok()
            .map(PathCond::Matches),
        PathTarget::Unknown { .. } => Some(PathCond::True),
        PathTarget::Param { .. } => None,
    }
}

/// A value of an action's target: a param of the question, or a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// `param NAME: TYPE`, declared by the question.
    Param(&'static str, ParamType),
    Value(Value),
}

/// Why a question cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a proof question cannot hold the value `{0}` as an action's target")]
pub struct QueryError(pub String);

/// One question: a one-step plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    /// `param p: path where COND`, then the action of `kind` on `p`.
    Path { kind: ActionKind, cond: PathCond },
    /// `exec "PROGRAM"` with any arguments.
    Exec { program: String },
    /// `connect HOST:PORT`.
    Connect { host: Slot, port: Slot },
    /// `listen PORT`.
    Listen { port: Slot },
}

impl Query {
    /// The plan this question asks about.
    pub(crate) fn plan(&self) -> Result<ast::Plan, QueryError> {
        let mut params = Vec::new();
        let mut value = |o: &Slot| -> Result<Spanned<ast::ValueExpr>, QueryError> {
            Ok(Spanned::synthetic(match o {
                Slot::Param(name, ty) => {
                    params.push(param(name, *ty, None));
                    param_ref(name)
                }
                Slot::Value(v) => literal(match v {
                    Value::String(s) => Literal::String(s.clone()),
                    Value::Number(n) => Literal::Number(*n),
                    Value::Cidr(c) => Literal::Cidr(*c),
                    v => return Err(QueryError(v.to_string())),
                }),
            }))
        };
        let action = match self {
            Query::Path { kind, cond } => {
                let p = Spanned::synthetic(param_ref(P));
                let action = match kind {
                    ActionKind::Read => ast::Action::Read { path: p },
                    ActionKind::Write => ast::Action::Write { path: p },
                    ActionKind::Delete => ast::Action::Delete { path: p },
                    ActionKind::Exec => ast::Action::Exec {
                        program: p,
                        args: None,
                    },
                    ActionKind::Connect => ast::Action::ConnectUnix { path: p },
                    ActionKind::Listen => ast::Action::ListenUnix { path: p },
                    ActionKind::Call => return Err(QueryError("a call".into())),
                };
                params.push(param(P, ParamType::Path, Some(cond.ast())));
                action
            }
            Query::Exec { program } => ast::Action::Exec {
                program: value(&Slot::Value(Value::String(program.clone())))?,
                args: None,
            },
            Query::Connect { host, port } => ast::Action::Connect {
                host: value(host)?,
                port: value(port)?,
            },
            Query::Listen { port } => ast::Action::Listen { port: value(port)? },
        };
        Ok(ast::Plan {
            name: Some(Spanned::synthetic("enforced".to_owned())),
            agent: None,
            goal: None,
            ttl: None,
            params,
            steps: vec![ast::Step {
                kind: ast::StepKind::Action { action },
                span: Span::synthetic(),
            }],
            span: Span::synthetic(),
        })
    }
}

fn literal(literal: Literal) -> ast::ValueExpr {
    ast::ValueExpr::Literal { literal }
}

fn param_ref(name: &str) -> ast::ValueExpr {
    ast::ValueExpr::Ref(Ref {
        name: Spanned::synthetic(name.to_owned()),
        fields: Vec::new(),
        index: None,
        resolved: RefKind::Param,
    })
}

fn param(name: &str, ty: ParamType, condition: Option<Spanned<ast::CondExpr>>) -> ast::Param {
    ast::Param {
        name: Spanned::synthetic(name.to_owned()),
        ty: Spanned::synthetic(ty),
        condition,
        span: Span::synthetic(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::shape::quote;

    /// The plan text a question stands for, written out by hand: what the
    /// proof asked before its questions were typed.
    fn text(cond: &str, step: &str) -> String {
        format!("plan \"enforced\" {{\n  param p: path where {cond}\n  {step}\n}}\n")
    }

    fn loaded(text: &str) -> ast::Plan {
        planlang::load_plan_str(text, "enforced.plan").unwrap_or_else(|d| panic!("{d}\n{text}"))
    }

    #[test]
    fn path_questions_are_the_plans_their_text_would_load_as() {
        let tree = warden_core::shape::tree_regex("/tmp/out", true);
        let glob = warden_core::path::glob_to_regex("/tmp/out/*.tmp").unwrap();
        let cases = [
            (
                PathCond::And(vec![
                    PathCond::Matches(tree.clone()),
                    PathCond::normal(),
                    PathCond::Not(Box::new(PathCond::any(vec![
                        PathCond::Matches(glob.clone()),
                        PathCond::Or(vec![
                            PathCond::Under("/etc".into()),
                            PathCond::Eq("/etc/hosts".into()),
                        ]),
                    ]))),
                ]),
                format!(
                    "p matches {} and p matches \"^/$|^(/([^/.]|\\\\.[^/.]|\\\\.\\\\.[^/])[^/]*)+$\" and not (p matches {} or (p under \"/etc\" or p == \"/etc/hosts\"))",
                    quote(&tree),
                    quote(&glob)
                ),
            ),
            (
                PathCond::And(vec![
                    PathCond::True,
                    PathCond::normal(),
                    PathCond::plain(),
                    PathCond::Not(Box::new(PathCond::any(vec![]))),
                ]),
                "true and p matches \"^/$|^(/([^/.]|\\\\.[^/.]|\\\\.\\\\.[^/])[^/]*)+$\" and p matches \"^[a-z0-9/._-]*$\" and not (false)".to_owned(),
            ),
        ];
        for (cond, written) in cases {
            for (kind, step) in [
                (ActionKind::Write, "write p"),
                (ActionKind::Read, "read p"),
                (ActionKind::Delete, "delete p"),
                (ActionKind::Exec, "exec p"),
                (ActionKind::Connect, "connect p"),
                (ActionKind::Listen, "listen p"),
            ] {
                let q = Query::Path {
                    kind,
                    cond: cond.clone(),
                };
                assert_eq!(q.plan().unwrap(), loaded(&text(&written, step)), "{step}");
            }
        }
    }

    #[test]
    fn program_connect_and_listen_questions_are_the_plans_their_text_would_load_as() {
        let num = |n: u16| Value::Number(n.into());
        let cidr = |s: &str| Value::Cidr(warden_core::net::parse_cidr(s).unwrap());
        let cases = [
            (
                Query::Exec {
                    program: "/usr/bin/git \"x\"".into(),
                },
                "exec \"/usr/bin/git \\\"x\\\"\"",
                "",
            ),
            (
                Query::Connect {
                    host: Slot::Param("h", ParamType::Host),
                    port: Slot::Value(num(443)),
                },
                "connect h:443",
                "  param h: host\n",
            ),
            (
                Query::Connect {
                    host: Slot::Param("h", ParamType::Host),
                    port: Slot::Param("port", ParamType::Number),
                },
                "connect h:port",
                "  param h: host\n  param port: number\n",
            ),
            (
                Query::Connect {
                    host: Slot::Value(Value::String("api.example.com".into())),
                    port: Slot::Param("port", ParamType::Number),
                },
                "connect \"api.example.com\":port",
                "  param port: number\n",
            ),
            (
                Query::Connect {
                    host: Slot::Value(cidr("10.0.0.0/8")),
                    port: Slot::Value(num(22)),
                },
                "connect 10.0.0.0/8:22",
                "",
            ),
            (
                Query::Connect {
                    host: Slot::Value(cidr("::1")),
                    port: Slot::Value(num(22)),
                },
                "connect [::1]:22",
                "",
            ),
            (
                Query::Listen {
                    port: Slot::Value(num(8080)),
                },
                "listen 8080",
                "",
            ),
            (
                Query::Listen {
                    port: Slot::Param("port", ParamType::Number),
                },
                "listen port",
                "  param port: number\n",
            ),
        ];
        for (q, step, params) in cases {
            let text = format!("plan \"enforced\" {{\n{params}  {step}\n}}\n");
            assert_eq!(q.plan().unwrap(), loaded(&text), "{text}");
        }
    }

    #[test]
    fn a_value_no_target_holds_is_refused() {
        let q = Query::Listen {
            port: Slot::Value(Value::Bool(true)),
        };
        assert_eq!(q.plan(), Err(QueryError("true".into())));
    }
}
