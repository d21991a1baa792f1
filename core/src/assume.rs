//! Assumptions on tool results, as the envelope carries them and the
//! monitor checks them.
//!
//! A plan step `let bill = call read_file(...) where bill.amount <= 100`
//! lets the proof rely on `bill.amount <= 100`. The envelope carries the
//! assumption ([`ResultAssumption`]): the tool, the fields it names with
//! the type their comparisons give them, and the condition over those
//! fields, each named by its flat name (`bill.amount`). At run time:
//!
//! - every result of the tool is checked against it when it arrives
//!   ([`ResultAssumption::check_result`]); a result that fails it stops the
//!   run ([`crate::monitor::RefusalReason::Assumption`]);
//! - a call argument the plan fills with an assumed field
//!   ([`crate::envelope::ValueMatch::Assumed`]) must come from the tool and
//!   meet that field's part of the assumption on its own
//!   ([`ResultAssumption::value_ok`]): every part of the assumption's
//!   top-level `and` names one field (the plan language refuses others), so
//!   a value that meets its part is one the proof covered, whichever result
//!   it came from.
//!
//! Every result of a tool is held to every assumption written on a call of
//! that tool (a run cannot tell which step of the plan a result answers).
//!
//! A result is JSON: an object whose members are the fields (`bill.amount`
//! is member `amount`; `bill.items[0]` the first item of member `items`),
//! or one value (`bill` itself). A field that is missing, `null`, an object,
//! or not of its type (a number where the assumption compares a number) fails
//! the assumption.
//!
//! ```
//! use warden_core::assume::{AssumedField, ResultAssumption};
//! use warden_core::cond::{Cond, Operand};
//! use warden_core::vocab::{CmpOp, ParamType};
//! let a = ResultAssumption {
//!     tool: "read_bill".into(),
//!     result: "bill".into(),
//!     fields: [("bill.amount".to_string(), AssumedField { path: vec!["amount".into()], index: None, ty: ParamType::Number })].into(),
//!     cond: Cond::Cmp { op: CmpOp::Le, lhs: Operand::field("bill.amount"), rhs: Operand::value(100) },
//!     text: "bill.amount <= 100".into(),
//!     at: "pay.plan:4:3".parse().unwrap(),
//! };
//! assert!(a.check_result(&serde_json::json!({"amount": 40, "iban": "X"})).is_ok());
//! let no = a.check_result(&serde_json::json!({"amount": 400})).unwrap_err();
//! assert_eq!(no.to_string(), "the result of `read_bill` does not meet the assumption `bill.amount <= 100` (pay.plan:4:3): `bill.amount` is 400");
//! ```

use crate::cond::{Cond, Operand};
pub use crate::envelope::{AssumedField, ResultAssumption};
use crate::envelope::{Location, type_ok};
use crate::value::{Field, Number, Value};
use crate::vocab::ParamType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A result that does not meet an assumption.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("the result of `{tool}` does not meet the assumption `{text}` ({at}): {why}")]
pub struct Violation {
    /// The tool whose result it is.
    pub tool: String,
    /// The assumption as the plan writes it (`bill.amount <= 100`).
    pub text: String,
    /// Where the plan writes it (`file:line:col`).
    pub at: Location,
    /// What was wrong: a field missing or of another type, or the values
    /// that make the condition false.
    pub why: String,
}

fn type_words(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "a string",
        ParamType::Number => "a number",
        ParamType::Bool => "a bool",
        ParamType::Path => "an absolute path",
        ParamType::Host => "a host name or an address",
    }
}

/// A JSON value as a value of the languages (`None`: `null`, an object, a
/// number that is not an exact decimal, a list holding one of those).
pub fn json_value(v: &serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            Value::Number(
                text.parse::<Number>()
                    .or_else(|_| Number::from_scientific(&text))
                    .ok()?,
            )
        }
        serde_json::Value::Array(items) => {
            Value::List(items.iter().map(json_value).collect::<Option<_>>()?)
        }
        serde_json::Value::Null | serde_json::Value::Object(_) => return None,
    })
}

/// A value as a field of type `ty` holds it: an address given as a string
/// is an address for a `host` field.
fn typed(ty: ParamType, v: Value) -> Value {
    match (ty, &v) {
        (ParamType::Host, Value::String(s)) => match crate::net::parse_cidr(s) {
            Some(net) => Value::Cidr(net),
            None => v,
        },
        _ => v,
    }
}

impl AssumedField {
    /// The field's value in a result.
    fn find(&self, result: &serde_json::Value) -> Option<Value> {
        let mut at = result;
        for p in &self.path {
            at = at.as_object()?.get(p)?;
        }
        if let Some(i) = self.index {
            at = at.as_array()?.get(i as usize)?;
        }
        json_value(at).map(|v| typed(self.ty, v))
    }
}

impl ResultAssumption {
    fn violation(&self, why: String) -> Violation {
        Violation {
            tool: self.tool.clone(),
            text: self.text.clone(),
            at: self.at.clone(),
            why,
        }
    }

    /// Checks a result of the tool: every field present and of its type,
    /// and the condition true.
    pub fn check_result(&self, result: &serde_json::Value) -> Result<(), Violation> {
        let mut scope: BTreeMap<String, Field> = BTreeMap::new();
        for (name, f) in &self.fields {
            match f.find(result) {
                Some(v) if type_ok(f.ty, &v) => {
                    scope.insert(name.clone(), Field::from_call(v, self.tool.as_str()));
                }
                Some(v) => {
                    return Err(
                        self.violation(format!("`{name}` is {v}, not {}", type_words(f.ty)))
                    );
                }
                None => {
                    return Err(self.violation(format!(
                        "the result has no `{name}` (or it is null or an object)"
                    )));
                }
            }
        }
        if self.cond.eval(&scope) {
            return Ok(());
        }
        let values: Vec<String> = scope
            .iter()
            .map(|(k, f)| format!("`{k}` is {}", f.value))
            .collect();
        Err(self.violation(values.join(", ")))
    }

    /// The part of the condition about the field `name` alone: the parts
    /// of its top-level `and` that name it (and no other field).
    pub fn field_cond(&self, name: &str) -> Cond {
        let mut parts = Vec::new();
        conjuncts(&self.cond, &mut parts);
        parts
            .into_iter()
            .filter(|c| {
                let mut refs = Vec::new();
                c.refs(&mut refs);
                !refs.is_empty() && refs.iter().all(|r| r == name)
            })
            .fold(Cond::True, |acc, c| Cond::and(acc, c.clone()))
    }

    /// Whether a value a step uses in the place of the field `name` is one
    /// the proof covered: it comes from the tool, has the field's type,
    /// and meets the field's part of the condition.
    pub fn value_ok(&self, name: &str, f: &Field) -> bool {
        let Some(decl) = self.fields.get(name) else {
            return false;
        };
        if f.origin.as_deref() != Some(self.tool.as_str()) {
            return false;
        }
        let v = typed(decl.ty, f.value.clone());
        if !type_ok(decl.ty, &v) {
            return false;
        }
        let scope: BTreeMap<String, Field> = [(
            name.to_string(),
            Field {
                value: v,
                origin: f.origin.clone(),
                sources: f.sources.clone(),
            },
        )]
        .into();
        self.field_cond(name).eval(&scope)
    }

    /// Whether every part of the condition's top-level `and` names one
    /// field, and every name is a field of the assumption: what makes
    /// [`ResultAssumption::value_ok`] sound. A token whose assumption is
    /// not so is refused when read.
    pub fn is_separable(&self) -> bool {
        let mut parts = Vec::new();
        conjuncts(&self.cond, &mut parts);
        parts.iter().all(|c| {
            let mut refs = Vec::new();
            c.refs(&mut refs);
            refs.sort();
            refs.dedup();
            refs.len() <= 1 && refs.iter().all(|r| self.fields.contains_key(r))
        }) && no_fields(&self.cond)
    }
}

/// Whether no operand of `c` has field access (names are flat).
fn no_fields(c: &Cond) -> bool {
    let flat = |o: &Operand| match o {
        Operand::Ref { fields, index, .. } => fields.is_empty() && index.is_none(),
        Operand::Value { .. } => true,
    };
    match c {
        Cond::True | Cond::False => true,
        Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().all(no_fields),
        Cond::Not { cond } => no_fields(cond),
        Cond::Cmp { lhs, rhs, .. } => flat(lhs) && flat(rhs),
        Cond::Has { .. } | Cond::FromCall { .. } => false,
    }
}

fn conjuncts<'c>(c: &'c Cond, out: &mut Vec<&'c Cond>) {
    match c {
        Cond::And { all } => all.iter().for_each(|c| conjuncts(c, out)),
        c => out.push(c),
    }
}

/// The assumptions of `tool` a result fails, first one first (`Ok` when
/// it meets them all, or the tool has none).
pub fn check_result(
    assumptions: &[ResultAssumption],
    tool: &str,
    result: &serde_json::Value,
) -> Result<(), Violation> {
    assumptions
        .iter()
        .filter(|a| a.tool == tool)
        .try_for_each(|a| a.check_result(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::CmpOp;
    use proptest::prelude::*;
    use serde_json::json;

    fn bill() -> ResultAssumption {
        let cmp = |op, name: &str, v: Value| Cond::Cmp {
            op,
            lhs: Operand::field(name),
            rhs: Operand::Value { value: v },
        };
        ResultAssumption {
            tool: "read_bill".into(),
            result: "bill".into(),
            fields: [
                (
                    "bill.amount".to_string(),
                    AssumedField {
                        path: vec!["amount".into()],
                        index: None,
                        ty: ParamType::Number,
                    },
                ),
                (
                    "bill.currency".to_string(),
                    AssumedField {
                        path: vec!["currency".into()],
                        index: None,
                        ty: ParamType::String,
                    },
                ),
            ]
            .into(),
            cond: Cond::and(
                Cond::and(
                    cmp(CmpOp::Gt, "bill.amount", Value::Number(0.into())),
                    cmp(CmpOp::Le, "bill.amount", Value::Number(100.into())),
                ),
                cmp(
                    CmpOp::In,
                    "bill.currency",
                    Value::List(vec!["EUR".into(), "GBP".into()]),
                ),
            ),
            text: "bill.amount > 0 and bill.amount <= 100 and bill.currency in [\"EUR\", \"GBP\"]"
                .into(),
            at: "pay.plan:5:3".parse().unwrap(),
        }
    }

    #[test]
    fn results_are_held_to_fields_types_and_condition() {
        let a = bill();
        assert!(a.is_separable());
        assert!(
            a.check_result(&json!({"amount": 99.5, "currency": "EUR", "x": null}))
                .is_ok()
        );
        for (bad, why) in [
            (json!({"amount": 100.01, "currency": "EUR"}), "is 100.01"),
            (json!({"amount": "50", "currency": "EUR"}), "not a number"),
            (json!({"currency": "EUR"}), "has no `bill.amount`"),
            (json!({"amount": null, "currency": "EUR"}), "has no"),
            (
                json!({"amount": 5, "currency": "USD"}),
                "`bill.currency` is \"USD\"",
            ),
            (json!("just text"), "has no"),
        ] {
            let e = a.check_result(&bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
            assert!(e.to_string().contains("pay.plan:5:3"), "{e}");
        }
    }

    #[test]
    fn a_value_is_checked_against_its_field_alone() {
        let a = bill();
        let from = |v: Value| Field::from_call(v, "read_bill");
        assert!(a.value_ok("bill.amount", &from(Value::Number(40.into()))));
        assert!(!a.value_ok("bill.amount", &from(Value::Number(400.into()))));
        // Not from the tool, or of another type: not a value the proof covered.
        assert!(!a.value_ok("bill.amount", &Field::new(Value::Number(40.into()))));
        assert!(!a.value_ok("bill.amount", &from(Value::String("40".into()))));
        assert!(a.value_ok("bill.currency", &from(Value::String("GBP".into()))));
        assert!(!a.value_ok("bill.nope", &from(Value::String("GBP".into()))));
    }

    #[test]
    fn a_condition_relating_two_fields_is_not_separable() {
        let mut a = bill();
        a.cond = Cond::or(a.field_cond("bill.amount"), a.field_cond("bill.currency"));
        assert!(!a.is_separable());
    }

    proptest! {
        /// The monitor's check of a result agrees with evaluating the
        /// condition on the result's values (the reference semantics).
        #[test]
        fn check_result_agrees_with_the_reference(amount in -200i64..300, cents in 0u32..100,
                                                   cur in prop::sample::select(vec!["EUR", "GBP", "USD", ""])) {
            let a = bill();
            let n = Number::new(amount * 100 + i64::from(cents), 2);
            let amount_json: serde_json::Value = serde_json::from_str(&n.to_string()).unwrap();
            let result = json!({"amount": amount_json, "currency": cur});
            let reference = n > Number::from(0) && n <= Number::from(100) && (cur == "EUR" || cur == "GBP");
            prop_assert_eq!(a.check_result(&result).is_ok(), reference);
            prop_assert_eq!(
                a.value_ok("bill.amount", &Field::from_call(Value::Number(n), "read_bill")),
                n > Number::from(0) && n <= Number::from(100)
            );
        }
    }
}
