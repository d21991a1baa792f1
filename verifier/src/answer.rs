//! The answer to one question about a plan's symbols, and the witness
//! (concrete values of the symbols) behind a satisfiable one: shared by the
//! automata ([`crate::automata`]) and Z3 ([`crate::symbolic`]), which
//! decide the questions, and by the check, which reports them.

use crate::cfg::{StepAction, Term};
use planlang::ast::ActionKind;
use std::collections::BTreeMap;
use warden_core::action::ConcreteAction;
use warden_core::value::{Field, Value};

/// Concrete values for a plan's symbols.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Witness {
    /// Params by name (assumed fields of results included: `bill.amount`).
    pub params: BTreeMap<String, Value>,
    /// `let` results by name (`bill.iban`).
    pub unknowns: BTreeMap<String, Value>,
    /// The file a glob stands for, by glob.
    pub globs: BTreeMap<String, String>,
    /// Arguments of an exec without an argument list.
    pub argv: Option<Vec<String>>,
}

impl Witness {
    /// The values people read in a report: params and `let` results.
    pub fn shown(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in self.params.iter().chain(&self.unknowns) {
            out.insert(k.clone(), v.to_string());
        }
        for (g, p) in &self.globs {
            out.insert(g.clone(), Value::String(p.clone()).to_string());
        }
        if let Some(a) = &self.argv {
            out.insert(
                "argv".into(),
                Value::List(a.iter().cloned().map(Value::String).collect()).to_string(),
            );
        }
        out
    }

    /// The concrete action of `step` with this witness substituted, or
    /// `None` when the witness does not make one (a relative path).
    pub fn action(&self, step: &StepAction) -> Option<ConcreteAction> {
        let mut fields = BTreeMap::new();
        for (k, t) in &step.fields {
            match self.field(step.kind, k, t) {
                Some(Some(f)) => {
                    fields.insert(k.clone(), f);
                }
                Some(None) => {}
                None => return None,
            }
        }
        Some(ConcreteAction {
            kind: step.kind,
            call: step.call.clone(),
            fields,
        })
    }

    /// `Some(None)`: the action does not have this field (a host that is an
    /// address has no `host`).
    fn field(&self, kind: ActionKind, name: &str, t: &Term) -> Option<Option<Field>> {
        let plain = |v: Value| Some(Some(Field::new(v)));
        let val = match t {
            Term::Known(v) => return plain(v.clone()),
            Term::Param(p) => (self.params.get(p)?.clone(), None),
            Term::Unknown {
                key: Some(k),
                origin,
                ..
            } => (self.params.get(k)?.clone(), Some(origin.clone())),
            Term::Unknown { name, origin, .. } => {
                (self.unknowns.get(name)?.clone(), Some(origin.clone()))
            }
            Term::Glob(g) => {
                let p = self.globs.get(g)?;
                if !warden_core::path::glob_matches(g, p) {
                    return None;
                }
                (Value::String(p.clone()), None)
            }
            Term::AnyList => (
                Value::List(
                    self.argv
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                ),
                None,
            ),
            Term::List(ts) => {
                let mut items = Vec::new();
                for t in ts {
                    items.push(self.field(kind, "", t)??.value);
                }
                (Value::List(items), None)
            }
        };
        let (value, origin) = val;
        let value = match (kind, name, value) {
            (ActionKind::Connect, "host" | "ip", v) => {
                let net = match &v {
                    Value::Cidr(n) => Some(*n),
                    Value::String(s) => warden_core::net::parse_cidr(s),
                    _ => return None,
                };
                match (name, net) {
                    ("ip", Some(n)) => Value::Cidr(n),
                    ("host", None) if matches!(&v, Value::String(s) if warden_core::net::is_host_name(s)) => {
                        v
                    }
                    ("host", None) => return None,
                    _ => return Some(None),
                }
            }
            (_, "path", Value::String(p)) if kind != ActionKind::Call => {
                Value::String(warden_core::path::normalize_path(&p).ok()?)
            }
            (_, "path", _) if kind != ActionKind::Call => return None,
            (_, _, v) => v,
        };
        Some(Some(Field {
            value,
            origin,
            sources: Default::default(),
        }))
    }
}

/// The solver's answer to one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// No value makes the question true.
    Unsat,
    /// These values do (checked concretely).
    Sat(Witness),
    /// The solver ran out of time.
    Timeout,
    /// The solver gave up, or every witness was spurious.
    Unknown(String),
}
