//! Assumptions on tool results: `let bill = call read_file(...) where
//! bill.amount <= 100 and bill.currency == "EUR"`.
//!
//! An assumption compares fields of the result (`bill.amount`, or `bill`
//! itself for a result that is one value) with literals. Each field it
//! names gets a type from how it is compared (`<=` with a number: a
//! number; `==` with a string: a string; `under`: a path; `in` a list of
//! cidrs: a host), and the proof treats the field as a value of that type
//! meeting the assumption. At run time the result is checked against the
//! assumption when it arrives, and a value a later step uses in the
//! field's place is checked against that field's part of it.
//!
//! So that a value can be checked on its own, every part of the top-level
//! `and` names one field only (`bill.a < 5 or bill.b > 3` is refused at
//! load). The field names are flattened to one name each
//! ([`flat_name`]: `bill.amount`), which is how the verifier and the
//! token name them.
//!
//! ```
//! let plan = planlang::load_plan_str(
//!     r#"plan { let bill = call read_file(f = "b.txt") where bill.amount <= 100 and bill.cur == "EUR" }"#,
//!     "p.plan").unwrap();
//! let planlang::ast::StepKind::Let { name, assume: Some(a), .. } = &plan.steps[0].kind else { panic!() };
//! let fields = planlang::assume::fields(&name.node, a).unwrap();
//! assert_eq!(fields["bill.amount"].ty, planlang::ast::ParamType::Number);
//! assert_eq!(fields["bill.cur"].ty, planlang::ast::ParamType::String);
//! ```

use crate::ast::{CmpOp, CondExpr, ParamType, Ref, RefKind, ValueExpr};
use crate::diag::Diagnostic;
use crate::span::{Span, Spanned};
use crate::value::Literal;
use std::collections::{BTreeMap, BTreeSet};

/// A field of a result that an assumption names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumedField {
    /// The fields after the result's name (`["amount"]` for
    /// `bill.amount`; empty for the result itself).
    pub path: Vec<String>,
    /// `bill.items[0]`: the index.
    pub index: Option<u32>,
    /// The type its comparisons give it.
    pub ty: ParamType,
    /// Where it is first compared.
    pub span: Span,
}

/// The one name of a field of a result: `bill.amount`, `bill.items[0]`,
/// `bill`.
pub fn flat_name(r: &Ref) -> String {
    let mut s = r.name.node.clone();
    for f in &r.fields {
        s.push('.');
        s.push_str(&f.node);
    }
    if let Some(i) = &r.index {
        s.push_str(&format!("[{}]", i.node));
    }
    s
}

/// The fields an assumption of the result `name` names, with their types;
/// or the errors that make it no assumption (a name that is not the
/// result's, a field compared with values of two types, a part of the `and`
/// that relates two fields, an operator it cannot be checked with).
pub fn fields(
    name: &str,
    cond: &Spanned<CondExpr>,
) -> Result<BTreeMap<String, AssumedField>, Vec<Diagnostic>> {
    let mut a = Analysis {
        name,
        fields: BTreeMap::new(),
        diags: Vec::new(),
    };
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    for part in parts {
        let mut named = BTreeSet::new();
        a.cond(part, &mut named);
        if named.len() > 1 {
            let list: Vec<String> = named.iter().map(|n| format!("`{n}`")).collect();
            a.diags.push(
                Diagnostic::error(
                    part.span.clone(),
                    format!("this part of the assumption relates {}", list.join(" and ")),
                )
                .with_label("each part of an assumption's `and` may name one field")
                .with_help(
                    "write each field's condition on its own, joined with `and`: a value a later step uses is checked on its own",
                ),
            );
        }
    }
    if a.diags.is_empty() {
        Ok(a.fields)
    } else {
        Err(a.diags)
    }
}

/// Resolves the names of an assumption in place (each one a field of the
/// result of `tool`) and reports what [`fields`] refuses.
pub(crate) fn check(
    name: &str,
    tool: &str,
    cond: &mut Spanned<CondExpr>,
    diags: &mut Vec<Diagnostic>,
) {
    let own = |r: &Ref| r.name.node == name;
    visit_refs(&mut cond.node, &mut |r| {
        if own(r) {
            r.resolved = RefKind::Result {
                tool: tool.to_string(),
            };
        }
    });
    if let Err(d) = fields(name, cond) {
        diags.extend(d);
    }
}

/// The assumption with each field named by its flat name, the result's
/// name replaced by `key` (`bill.amount` as `key.amount`), as a param's
/// `where` names its param: what the verifier assumes of those values.
pub fn flatten(cond: &CondExpr, key: &str) -> CondExpr {
    let mut c = cond.clone();
    visit_refs(&mut c, &mut |r| {
        let flat = flat_name(r);
        r.name.node = format!("{key}{}", &flat[r.name.node.len()..]);
        r.fields.clear();
        r.index = None;
        r.resolved = RefKind::Param;
    });
    c
}

fn visit_refs(c: &mut CondExpr, f: &mut dyn FnMut(&mut Ref)) {
    let value = |v: &mut ValueExpr, f: &mut dyn FnMut(&mut Ref)| match v {
        ValueExpr::Ref(r) => f(r),
        ValueExpr::List { items } => {
            for i in items {
                if let ValueExpr::Ref(r) = &mut i.node {
                    f(r)
                }
            }
        }
        ValueExpr::Literal { .. } => {}
    };
    match c {
        CondExpr::And { all: cs } | CondExpr::Or { any: cs } => {
            for c in cs {
                visit_refs(&mut c.node, f);
            }
        }
        CondExpr::Not { cond } => visit_refs(&mut cond.node, f),
        CondExpr::Compare { lhs, rhs, .. } => {
            value(&mut lhs.node, f);
            value(&mut rhs.node, f);
        }
        CondExpr::FromCall { value: v, .. } | CondExpr::Value { value: v } => value(&mut v.node, f),
        CondExpr::Has { .. } => {}
    }
}

fn conjuncts<'c>(c: &'c Spanned<CondExpr>, out: &mut Vec<&'c Spanned<CondExpr>>) {
    match &c.node {
        CondExpr::And { all } => all.iter().for_each(|c| conjuncts(c, out)),
        _ => out.push(c),
    }
}

struct Analysis<'a> {
    name: &'a str,
    fields: BTreeMap<String, AssumedField>,
    diags: Vec<Diagnostic>,
}

fn type_words(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "a string",
        ParamType::Number => "a number",
        ParamType::Bool => "a bool",
        ParamType::Path => "a path",
        ParamType::Host => "a host or an address",
    }
}

impl Analysis<'_> {
    fn cond(&mut self, c: &Spanned<CondExpr>, named: &mut BTreeSet<String>) {
        match &c.node {
            CondExpr::And { all: cs } | CondExpr::Or { any: cs } => {
                for c in cs {
                    self.cond(c, named);
                }
            }
            CondExpr::Not { cond } => self.cond(cond, named),
            CondExpr::Has { .. } | CondExpr::FromCall { .. } => self.diags.push(
                Diagnostic::error(
                    c.span.clone(),
                    "an assumption compares the result's fields with literals",
                )
                .with_label("`has` and `from call` are not assumptions about a value")
                .with_help(format!(
                    "write comparisons such as `{}.amount <= 100`",
                    self.name
                )),
            ),
            CondExpr::Value { value } => {
                if let Some(r) = self.field_ref(value) {
                    self.typed(&r, ParamType::Bool, &value.span, named);
                } else {
                    self.not_a_field(value);
                }
            }
            CondExpr::Compare { op, lhs, rhs } => self.compare(op, lhs, rhs, named),
        }
    }

    /// The result's field `v` names, or `None` (a literal, or another name:
    /// reported).
    fn field_ref(&mut self, v: &Spanned<ValueExpr>) -> Option<Ref> {
        match &v.node {
            ValueExpr::Ref(r) if r.name.node == self.name => Some(r.clone()),
            ValueExpr::Ref(r) => {
                self.diags.push(
                    Diagnostic::error(
                        v.span.clone(),
                        format!(
                            "an assumption may name only the result `{}` and its fields",
                            self.name
                        ),
                    )
                    .with_label(format!("`{}` is not a field of `{}`", flat_name(r), self.name))
                    .with_help("compare the result's fields with literals; a param or another result is not known when the result arrives"),
                );
                None
            }
            _ => None,
        }
    }

    fn not_a_field(&mut self, v: &Spanned<ValueExpr>) {
        if matches!(v.node, ValueExpr::Ref(_)) {
            return; // reported by field_ref
        }
        self.diags.push(
            Diagnostic::error(v.span.clone(), "this compares no field of the result").with_label(
                format!("one side must be `{}` or one of its fields", self.name),
            ),
        );
    }

    fn typed(&mut self, r: &Ref, ty: ParamType, span: &Span, named: &mut BTreeSet<String>) {
        let flat = flat_name(r);
        named.insert(flat.clone());
        match self.fields.get_mut(&flat) {
            None => {
                self.fields.insert(
                    flat,
                    AssumedField {
                        path: r.fields.iter().map(|f| f.node.clone()).collect(),
                        index: r.index.as_ref().map(|i| i.node),
                        ty,
                        span: span.clone(),
                    },
                );
            }
            Some(f) if f.ty == ty => {}
            Some(f) if matches!((f.ty, ty), (ParamType::String, ParamType::Path)) => f.ty = ty,
            Some(f) if matches!((f.ty, ty), (ParamType::Path, ParamType::String)) => {}
            Some(f) => {
                let first = f.span.clone();
                let was = f.ty;
                self.diags.push(
                    Diagnostic::error(
                        span.clone(),
                        format!("`{flat}` is compared with mismatched types"),
                    )
                    .with_label(format!("here it is {}", type_words(ty)))
                    .with_related(first, format!("here it is {}", type_words(was)))
                    .with_help("a field of a result has one type: compare it with values of that type only"),
                );
            }
        }
    }

    fn compare(
        &mut self,
        op: &Spanned<CmpOp>,
        lhs: &Spanned<ValueExpr>,
        rhs: &Spanned<ValueExpr>,
        named: &mut BTreeSet<String>,
    ) {
        let o = op.node;
        let (field, other) = match (self.field_ref(lhs), self.field_ref(rhs)) {
            (Some(_), Some(_)) => {
                self.diags.push(
                    Diagnostic::error(op.span.clone(), "this compares two fields of the result")
                        .with_label("compare a field with a literal")
                        .with_help("an assumption is checked one value at a time"),
                );
                return;
            }
            // The other side names something else: reported by field_ref.
            (Some(_), None) if matches!(rhs.node, ValueExpr::Ref(_)) => return,
            (None, Some(_)) if matches!(lhs.node, ValueExpr::Ref(_)) => return,
            (Some(f), None) => (f, rhs),
            (None, Some(f)) => {
                if !matches!(
                    o,
                    CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge
                ) {
                    self.diags.push(
                        Diagnostic::error(
                            rhs.span.clone(),
                            format!("the result's field goes on the left of `{o}`"),
                        )
                        .with_label("write the field first"),
                    );
                    return;
                }
                (f, lhs)
            }
            (None, None) => {
                self.not_a_field(lhs);
                return;
            }
        };
        let lits: Vec<&Literal> = match &other.node {
            ValueExpr::Literal { literal } => vec![literal],
            ValueExpr::List { items } if o == CmpOp::In => {
                let mut out = Vec::new();
                for i in items {
                    match &i.node {
                        ValueExpr::Literal { literal } => out.push(literal),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    i.span.clone(),
                                    "an assumption's list holds only literals",
                                )
                                .with_label("not a literal"),
                            );
                            return;
                        }
                    }
                }
                out
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        other.span.clone(),
                        format!("`{o}` in an assumption needs a literal here"),
                    )
                    .with_label(if o == CmpOp::In {
                        "a list of literals, or cidrs"
                    } else {
                        "a literal"
                    }),
                );
                return;
            }
        };
        let wrong = |this: &mut Self, expected: &str| {
            this.diags.push(
                Diagnostic::error(
                    other.span.clone(),
                    format!("`{o}` compares `{}` with {expected}", flat_name(&field)),
                )
                .with_label(format!("expected {expected} here")),
            );
        };
        let ty_of = |l: &Literal| match l {
            Literal::String(_) => Some(ParamType::String),
            Literal::Number(_) => Some(ParamType::Number),
            Literal::Bool(_) => Some(ParamType::Bool),
            Literal::Cidr(_) => Some(ParamType::Host),
            Literal::Duration(_) => None,
        };
        let ty = match o {
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                if !matches!(lits.as_slice(), [Literal::Number(_)]) {
                    return wrong(self, "a number");
                }
                ParamType::Number
            }
            CmpOp::Under => {
                if !matches!(lits.as_slice(), [Literal::String(_)]) {
                    return wrong(self, "a string");
                }
                ParamType::Path
            }
            CmpOp::StartsWith | CmpOp::EndsWith | CmpOp::Matches | CmpOp::Contains => {
                if !matches!(lits.as_slice(), [Literal::String(_)]) {
                    return wrong(self, "a string");
                }
                ParamType::String
            }
            CmpOp::Eq | CmpOp::Ne | CmpOp::In => {
                let mut ty = None;
                for l in &lits {
                    let Some(t) = ty_of(l) else {
                        return wrong(self, "a string, a number, a bool or a cidr");
                    };
                    match ty {
                        None => ty = Some(t),
                        Some(u) if u == t => {}
                        Some(_) => return wrong(self, "values of one type"),
                    }
                }
                match ty {
                    Some(t) => t,
                    // `x in []`: always false, of no type; a string.
                    None => ParamType::String,
                }
            }
        };
        self.typed(
            &field,
            ty,
            &other.span.to(&field_span(&field, lhs, rhs)),
            named,
        );
    }
}

fn field_span(r: &Ref, lhs: &Spanned<ValueExpr>, rhs: &Spanned<ValueExpr>) -> Span {
    match &lhs.node {
        ValueExpr::Ref(l) if l == r => lhs.span.clone(),
        _ => rhs.span.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{ParamType, StepKind};

    fn load(text: &str) -> Result<crate::ast::Plan, crate::Diagnostics> {
        crate::load_plan_str(text, "a.plan")
    }

    fn first_error(text: &str) -> String {
        load(text).unwrap_err().diagnostics[0].message.clone()
    }

    #[test]
    fn fields_get_the_types_of_their_comparisons() {
        let plan = load(
            r#"plan { let b = call bill() where b.amount <= 100 and b.cur in ["EUR", "USD"]
                        and (b.path under "/srv/" or b.path endswith ".txt") and b.ok and b.ip in 10.0.0.0/8, 192.168.0.0/16 }"#,
        )
        .unwrap();
        let StepKind::Let {
            name,
            assume: Some(a),
            ..
        } = &plan.steps[0].kind
        else {
            panic!("a let with an assumption")
        };
        let f = super::fields(&name.node, a).unwrap();
        let tys: Vec<(&str, ParamType)> = f.iter().map(|(k, v)| (k.as_str(), v.ty)).collect();
        assert_eq!(
            tys,
            [
                ("b.amount", ParamType::Number),
                ("b.cur", ParamType::String),
                ("b.ip", ParamType::Host),
                ("b.ok", ParamType::Bool),
                ("b.path", ParamType::Path),
            ]
        );
        // The canonical text reads back as the same plan.
        let text = crate::fmt_plan(&plan);
        assert!(text.contains("where b.amount <= 100"), "{text}");
        assert_eq!(load(&text).unwrap(), plan);
    }

    #[test]
    fn refused_assumptions_say_why() {
        let cases = [
            (
                r#"plan { param p: number  let b = call bill() where b.amount <= p }"#,
                "an assumption may name only the result `b` and its fields",
            ),
            (
                r#"plan { let b = call bill() where c.amount <= 5 }"#,
                "an assumption may name only the result `b` and its fields",
            ),
            (
                r#"plan { let b = call bill() where b.amount <= 5 and b.amount == "x" }"#,
                "`b.amount` is compared with mismatched types",
            ),
            (
                r#"plan { let b = call bill() where b.amount <= 5 or b.cur == "EUR" }"#,
                "this part of the assumption relates `b.amount` and `b.cur`",
            ),
            (
                r#"plan { let b = call bill() where b.amount <= "5" }"#,
                "`<=` compares `b.amount` with a number",
            ),
            (
                r#"plan { let b = call bill() where b.amount < b.limit }"#,
                "this compares two fields of the result",
            ),
            (
                r#"plan { let b = call bill() where has amount }"#,
                "an assumption compares the result's fields with literals",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(first_error(text), want, "{text}");
        }
        // The message points at the source.
        let e = load(r#"plan { let b = call bill() where b.amount <= 5 and b.amount == "x" }"#)
            .unwrap_err();
        let span = &e.diagnostics[0].span;
        assert_eq!(span.line, 1);
        assert!(span.col > 40, "{span:?}");
    }
}
