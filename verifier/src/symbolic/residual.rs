//! Residuals: a spec condition evaluated **partially** on a plan step.
//! Known fields fold to `true`/`false`; what remains names only *symbols*
//! (params, `let` results, globs, unknown argument lists), spelled
//! `VIEW|KEY` (the view of the symbol an atom asks about: its raw value,
//! its normalized path, its host name or its address).

use crate::cfg::{StepAction, Term};
use planlang::ast::{ActionKind, CmpOp, ParamType};
use std::collections::HashMap;
use warden_core::cond::{Cond, Operand};
use warden_core::value::Value;

/// The view of a symbol an atom asks about.
pub(super) const RAW: &str = "raw";
/// The normalized path of a string (an action's `path`).
pub(super) const NORM: &str = "norm";
/// A connect target as a host name (present when it is not an address).
pub(super) const HOST: &str = "host";
/// A connect target as an address (present when it is one).
pub(super) const IP: &str = "ip";
/// A value used as a port: a whole number (a number param used as a port
/// takes only whole values in the questions about its step).
pub(super) const PORT: &str = "port";
/// An atom that cannot be encoded exactly.
pub(super) const OPAQUE: &str = "opaque";

pub(super) fn sym_name(view: &str, term: &Term) -> Option<String> {
    let key = match term {
        Term::Param(p) => format!("p:{p}"),
        // A field with an assumption is the param that stands for it.
        Term::Unknown { key: Some(k), .. } => format!("p:{k}"),
        Term::Unknown {
            name,
            origin,
            key: None,
        } => format!("u:{origin}:{name}"),
        Term::Glob(g) => format!("g:{g}"),
        Term::AnyList => "a:argv".to_string(),
        _ => return None,
    };
    Some(format!("{view}|{key}"))
}

pub(super) fn sym(name: String, index: Option<u32>) -> Operand {
    Operand::Ref {
        name,
        fields: Vec::new(),
        index,
    }
}

/// A partially evaluated operand.
pub(super) enum PT {
    Known(Value),
    Sym(String, Option<u32>),
    List(Vec<PT>),
    Missing,
}

pub(super) fn term_pt(term: &Term, view: &str, index: Option<u32>) -> PT {
    match term {
        Term::Known(v) => match index {
            None => PT::Known(v.clone()),
            Some(i) => match v {
                Value::List(items) => items
                    .get(i as usize)
                    .map_or(PT::Missing, |v| PT::Known(v.clone())),
                _ => PT::Missing,
            },
        },
        Term::Param(_) | Term::Unknown { .. } | Term::Glob(_) => match index {
            Some(_) => PT::Missing,
            None => sym_name(view, term).map_or(PT::Missing, |n| PT::Sym(n, None)),
        },
        Term::AnyList => sym_name(RAW, term).map_or(PT::Missing, |n| PT::Sym(n, index)),
        Term::List(ts) => match index {
            Some(i) => ts
                .get(i as usize)
                .map_or(PT::Missing, |t| term_pt(t, RAW, None)),
            None => PT::List(ts.iter().map(|t| term_pt(t, RAW, None)).collect()),
        },
    }
}

pub(super) fn field_view(kind: ActionKind, field: &str) -> &'static str {
    match (kind, field) {
        // Every action's path (a file's, a unix socket's) is normalized.
        (ActionKind::Call, _) => RAW,
        (_, "path") => NORM,
        (ActionKind::Connect, "host") => HOST,
        (ActionKind::Connect, "ip") => IP,
        (ActionKind::Connect | ActionKind::Listen, "port") => PORT,
        _ => RAW,
    }
}

/// Where the names of a condition point while it is evaluated partially.
pub enum ResidualScope<'a> {
    /// A rule's condition on a plan step.
    Step(&'a StepAction),
    /// A param's `where` (names are params).
    Params(&'a HashMap<String, ParamType>),
}

impl ResidualScope<'_> {
    pub(super) fn operand(&self, o: &Operand) -> PT {
        match o {
            Operand::Value { value } => PT::Known(value.clone()),
            Operand::Ref {
                name,
                fields,
                index,
            } => {
                if !fields.is_empty() {
                    return PT::Missing;
                }
                match self {
                    ResidualScope::Step(s) => match s.fields.get(name) {
                        None => PT::Missing,
                        Some(t) => term_pt(t, field_view(s.kind, name), *index),
                    },
                    ResidualScope::Params(ps) => {
                        if ps.contains_key(name) && index.is_none() {
                            PT::Sym(format!("{RAW}|p:{name}"), None)
                        } else {
                            PT::Missing
                        }
                    }
                }
            }
        }
    }

    pub(super) fn term(&self, name: &str) -> Option<&Term> {
        match self {
            ResidualScope::Step(s) => s.fields.get(name),
            ResidualScope::Params(_) => None,
        }
    }
}

/// Evaluates a condition as far as the known values allow; what remains
/// mentions only symbols.
pub fn residual(c: &Cond, scope: &ResidualScope) -> Cond {
    match c {
        Cond::True | Cond::False => c.clone(),
        Cond::And { all } => all
            .iter()
            .fold(Cond::True, |acc, c| Cond::and(acc, residual(c, scope))),
        Cond::Or { any } => any
            .iter()
            .fold(Cond::False, |acc, c| Cond::or(acc, residual(c, scope))),
        Cond::Not { cond } => Cond::not(residual(cond, scope)),
        Cond::Has { field } => match (scope, scope.term(field)) {
            (ResidualScope::Params(ps), _) => bool_cond(ps.contains_key(field)),
            (_, None) => Cond::False,
            (ResidualScope::Step(s), Some(t @ (Term::Param(_) | Term::Unknown { .. })))
                if s.kind == ActionKind::Connect && (field == HOST || field == IP) =>
            {
                match sym_name(field_view(s.kind, field), t) {
                    Some(n) => Cond::Has { field: n },
                    None => Cond::False,
                }
            }
            (_, Some(_)) => Cond::True,
        },
        Cond::FromCall { value, tool } => match value {
            Operand::Ref {
                name,
                fields,
                index: None,
            } if fields.is_empty() => match scope.term(name) {
                Some(Term::Unknown { origin, .. }) => bool_cond(origin == tool),
                _ => Cond::False,
            },
            _ => Cond::False,
        },
        Cond::Cmp { op, lhs, rhs } => cmp_residual(*op, scope.operand(lhs), scope.operand(rhs)),
    }
}

pub(super) fn bool_cond(b: bool) -> Cond {
    if b { Cond::True } else { Cond::False }
}

pub(super) fn pt_operand(p: PT) -> Option<Operand> {
    match p {
        PT::Known(value) => Some(Operand::Value { value }),
        PT::Sym(n, i) => Some(sym(n, i)),
        _ => None,
    }
}

pub(super) fn opaque(op: CmpOp) -> Cond {
    Cond::Cmp {
        op,
        lhs: sym(format!("{OPAQUE}|x"), None),
        rhs: Operand::Value {
            value: Value::Bool(true),
        },
    }
}

pub(super) fn cmp_residual(op: CmpOp, l: PT, r: PT) -> Cond {
    match (l, r) {
        (PT::Missing, _) | (_, PT::Missing) => Cond::False,
        (PT::Known(a), PT::Known(b)) => bool_cond(warden_core::cond::compare(op, &a, &b)),
        (PT::List(items), r) => {
            let r_known = match &r {
                PT::Known(v) => Some(v.clone()),
                _ => None,
            };
            match op {
                CmpOp::Eq | CmpOp::Ne => {
                    let eq = match r_known {
                        Some(Value::List(vs)) if vs.len() == items.len() => {
                            items.into_iter().zip(vs).fold(Cond::True, |acc, (i, v)| {
                                Cond::and(acc, cmp_residual(CmpOp::Eq, i, PT::Known(v)))
                            })
                        }
                        Some(_) => Cond::False,
                        None => return opaque(op),
                    };
                    if op == CmpOp::Eq { eq } else { Cond::not(eq) }
                }
                CmpOp::Contains => match r_known {
                    Some(v) => items.into_iter().fold(Cond::False, |acc, i| {
                        Cond::or(acc, cmp_residual(CmpOp::Eq, i, PT::Known(v.clone())))
                    }),
                    None => opaque(op),
                },
                op => match r_known {
                    Some(v) => items.into_iter().fold(Cond::True, |acc, i| {
                        Cond::and(acc, cmp_residual(op, i, PT::Known(v.clone())))
                    }),
                    None => opaque(op),
                },
            }
        }
        // `x in [a, p]` with a symbolic item.
        (l, PT::List(items)) if op == CmpOp::In => items.into_iter().fold(Cond::False, |acc, i| {
            let l2 = match &l {
                PT::Known(v) => PT::Known(v.clone()),
                PT::Sym(n, ix) => PT::Sym(n.clone(), *ix),
                _ => PT::Missing,
            };
            let item = match i {
                PT::Known(v) => cmp_residual(CmpOp::In, l2, PT::Known(Value::List(vec![v]))),
                i => cmp_residual(CmpOp::Eq, l2, i),
            };
            Cond::or(acc, item)
        }),
        (_, PT::List(_)) => opaque(op),
        (PT::Known(a), PT::Sym(n, i)) => match op {
            CmpOp::Eq | CmpOp::Ne => Cond::Cmp {
                op,
                lhs: sym(n, i),
                rhs: Operand::Value { value: a },
            },
            _ => opaque(op),
        },
        (l, r) => match (pt_operand(l), pt_operand(r)) {
            (Some(lhs), Some(rhs)) => Cond::Cmp { op, lhs, rhs },
            _ => Cond::False,
        },
    }
}

/// What a step's symbols must be for the step to be an action at all: a
/// `connect` or `listen` whose port is a number param performs an action
/// only for a port (0 to 65535; ports are 16-bit in every action the
/// monitor and the kernel see). Asked with every question "may this step
/// be ...": a comparison with a number outside the ports (`port <= 70000`)
/// is then decided as always true or always false, as it is on a concrete
/// step. `True` when the step has no such field.
pub fn step_domain(step: &StepAction, params: &HashMap<String, ParamType>) -> Cond {
    if !matches!(step.kind, ActionKind::Connect | ActionKind::Listen) {
        return Cond::True;
    }
    let Some(Term::Param(p)) = step.fields.get("port") else {
        return Cond::True;
    };
    if params.get(p) != Some(&ParamType::Number) {
        return Cond::True;
    }
    let cmp = |op, n: i64| Cond::Cmp {
        op,
        lhs: sym(format!("{PORT}|p:{p}"), None),
        rhs: Operand::Value {
            value: Value::Number(n.into()),
        },
    };
    Cond::and(cmp(CmpOp::Ge, 0), cmp(CmpOp::Le, 65_535))
}
