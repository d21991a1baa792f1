//! The envelope of an accepted plan: what each step names, params as
//! references to their declarations, and the spec's baseline.

use crate::cfg::{ParamInfo, StepAction, Term};
use planlang::ast::ActionKind;
use warden_core::cond::{Cond, Pattern};
use warden_core::envelope::{
    CallGrant, ConnectGrant, Envelope, ExecGrant, FileAccess, FileGrant, ListenGrant, ParamDecl,
    PathTarget, UnixGrant, UnixOp, ValueMatch,
};
use warden_core::value::Value;

/// Derives the envelope of the steps of an accepted plan: what each step
/// names, params as references to their declarations, and the baseline.
/// (Counts and ordering are added by the check, which knows which rules
/// the steps touch.)
pub fn derive<'a>(
    steps: impl Iterator<Item = &'a StepAction>,
    wheres: &[(String, Option<Cond>)],
    params: &[ParamInfo],
    baseline: &[Pattern],
) -> Envelope {
    let mut env = Envelope::default();
    for s in steps {
        let get = |k: &str| s.fields.get(k);
        match s.kind {
            ActionKind::Read | ActionKind::Write | ActionKind::Delete => {
                if let (Some(access), Some(t)) = (FileAccess::of(s.kind), get("path")) {
                    push(
                        &mut env.files,
                        FileGrant {
                            access,
                            target: path_target(t),
                        },
                    );
                }
            }
            ActionKind::Exec => {
                let program = get("path").map(path_target);
                let argv = match get("argv") {
                    Some(Term::Known(Value::List(items))) => Some(
                        items
                            .iter()
                            .map(|v| ValueMatch::Exact { value: v.clone() })
                            .collect(),
                    ),
                    Some(Term::List(ts)) => Some(ts.iter().map(value_match).collect()),
                    _ => None,
                };
                if let Some(program) = program {
                    push(&mut env.exec, ExecGrant { program, argv });
                }
            }
            ActionKind::Connect | ActionKind::Listen if get("path").is_some() => {
                if let (Some(op), Some(t)) = (UnixOp::of(s.kind), get("path")) {
                    push(
                        &mut env.unix,
                        UnixGrant {
                            op,
                            target: path_target(t),
                        },
                    );
                }
            }
            ActionKind::Connect => {
                let host = get("ip").or(get("host")).map(value_match);
                let port = get("port").map(value_match);
                if let (Some(host), Some(port)) = (host, port) {
                    push(&mut env.connect, ConnectGrant { host, port });
                }
            }
            ActionKind::Listen => {
                if let Some(port) = get("port").map(value_match) {
                    push(&mut env.listen, ListenGrant { port });
                }
            }
            ActionKind::Call => {
                let grant = CallGrant {
                    name: s.call.clone().unwrap_or_default(),
                    args: s
                        .fields
                        .iter()
                        .map(|(k, t)| (k.clone(), value_match(t)))
                        .collect(),
                };
                push(&mut env.calls, grant);
            }
        }
    }
    for p in params {
        let condition = wheres
            .iter()
            .find(|(n, _)| *n == p.name)
            .and_then(|(_, c)| c.clone());
        env.params.push(ParamDecl {
            name: p.name.clone(),
            ty: p.ty,
            condition,
        });
    }
    env.baseline = baseline.to_vec();
    env
}

/// The plan's assumptions on tool results as the envelope carries them,
/// their conditions as compiled for the check (`wheres`, by the name of
/// each assumption's first field). An assumption whose condition did not
/// compile is left out: a grant naming its fields then grants nothing.
pub fn assumptions(
    infos: &[crate::cfg::AssumptionInfo],
    wheres: &[(String, Option<Cond>)],
) -> Vec<warden_core::assume::ResultAssumption> {
    infos
        .iter()
        .filter_map(|a| {
            let first = a.fields.keys().next()?;
            let cond = wheres
                .iter()
                .find(|(n, _)| n == first)
                .and_then(|(_, c)| c.clone())?;
            Some(warden_core::assume::ResultAssumption {
                tool: a.tool.clone(),
                result: a.key.clone(),
                fields: a
                    .fields
                    .iter()
                    .map(|(k, f)| {
                        (
                            k.clone(),
                            warden_core::assume::AssumedField {
                                path: f.path.clone(),
                                index: f.index,
                                ty: f.ty,
                            },
                        )
                    })
                    .collect(),
                cond,
                text: a.text.clone(),
                at: planlang::lower::location(&a.span),
            })
        })
        .collect()
}

fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

fn path_target(t: &Term) -> PathTarget {
    match t {
        Term::Known(Value::String(p)) => PathTarget::Exact { path: p.clone() },
        Term::Glob(g) => PathTarget::Glob { glob: g.clone() },
        Term::Param(p) => PathTarget::Param { param: p.clone() },
        Term::Unknown { origin, .. } => PathTarget::Unknown {
            origin: origin.clone(),
        },
        // Lowering admits no other path terms.
        _ => PathTarget::Exact {
            path: t.to_string(),
        },
    }
}

fn value_match(t: &Term) -> ValueMatch {
    match t {
        Term::Known(v) => ValueMatch::Exact { value: v.clone() },
        Term::Param(p) => ValueMatch::Param { param: p.clone() },
        Term::Unknown { key: Some(k), .. } => ValueMatch::Assumed { field: k.clone() },
        Term::Unknown { origin, .. } => ValueMatch::Unknown {
            origin: Some(origin.clone()),
        },
        Term::Glob(_) | Term::AnyList | Term::List(_) => ValueMatch::Unknown { origin: None },
    }
}
