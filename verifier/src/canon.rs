//! Canonical questions: egg rewrites a residual condition to one canonical
//! form before it reaches Z3, so equal questions are asked once.
//!
//! Atoms are first put in canonical form themselves (literal paths of
//! `under` normalized, `in` lists sorted and deduplicated) and interned; the
//! boolean structure over them goes into an e-graph with the rules of
//! boolean algebra (constant folding, double negation, idempotence,
//! absorption, complements, commutativity and associativity, negation pushed
//! inward); the smallest equivalent term is extracted, and its operands are
//! sorted. The printed canonical term is the key of the answer cache of a
//! [`crate::CompiledSpec`]: duplicate rules, duplicate steps and steps that
//! ask the same question about the same params share one solver call.
//!
//! ```
//! use verifier::canon::canonical;
//! use warden_core::cond::Cond;
//! let a = Cond::Has { field: "x".into() };
//! let b = Cond::Has { field: "y".into() };
//! let ab = Cond::And { all: vec![a.clone(), b.clone()] };
//! let ba = Cond::And { all: vec![b.clone(), Cond::Not { cond: Box::new(Cond::Not { cond: Box::new(a.clone()) }) }] };
//! assert_eq!(canonical(&ab), canonical(&ba));
//! ```

use egg::{AstSize, Extractor, Id, RecExpr, Rewrite, Runner, Symbol, define_language, rewrite};
use planlang::ast::CmpOp;
use std::collections::HashMap;
use std::sync::OnceLock;
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::value::Value;

define_language! {
    /// Boolean structure over interned atoms.
    enum BoolLang {
        "true" = True,
        "false" = False,
        "and" = And([Id; 2]),
        "or" = Or([Id; 2]),
        "not" = Not(Id),
        Atom(Symbol),
    }
}

fn rules() -> &'static [Rewrite<BoolLang, ()>] {
    static RULES: OnceLock<Vec<Rewrite<BoolLang, ()>>> = OnceLock::new();
    RULES.get_or_init(|| {
        vec![
            rewrite!("and-true"; "(and ?a true)" => "?a"),
            rewrite!("and-false"; "(and ?a false)" => "false"),
            rewrite!("or-true"; "(or ?a true)" => "true"),
            rewrite!("or-false"; "(or ?a false)" => "?a"),
            rewrite!("not-true"; "(not true)" => "false"),
            rewrite!("not-false"; "(not false)" => "true"),
            rewrite!("not-not"; "(not (not ?a))" => "?a"),
            rewrite!("and-idem"; "(and ?a ?a)" => "?a"),
            rewrite!("or-idem"; "(or ?a ?a)" => "?a"),
            rewrite!("and-comm"; "(and ?a ?b)" => "(and ?b ?a)"),
            rewrite!("or-comm"; "(or ?a ?b)" => "(or ?b ?a)"),
            rewrite!("and-assoc"; "(and ?a (and ?b ?c))" => "(and (and ?a ?b) ?c)"),
            rewrite!("or-assoc"; "(or ?a (or ?b ?c))" => "(or (or ?a ?b) ?c)"),
            rewrite!("and-absorb"; "(and ?a (or ?a ?b))" => "?a"),
            rewrite!("or-absorb"; "(or ?a (and ?a ?b))" => "?a"),
            rewrite!("and-compl"; "(and ?a (not ?a))" => "false"),
            rewrite!("or-compl"; "(or ?a (not ?a))" => "true"),
            rewrite!("demorgan-and"; "(not (and ?a ?b))" => "(or (not ?a) (not ?b))"),
            rewrite!("demorgan-or"; "(not (or ?a ?b))" => "(and (not ?a) (not ?b))"),
            rewrite!("demorgan-and-rev"; "(or (not ?a) (not ?b))" => "(not (and ?a ?b))"),
            rewrite!("demorgan-or-rev"; "(and (not ?a) (not ?b))" => "(not (or ?a ?b))"),
        ]
    })
}

/// Conditions with more atoms than this skip the e-graph (associativity and
/// commutativity grow it fast) and are only flattened and sorted.
const EGRAPH_MAX_ATOMS: usize = 12;

/// Puts one atom in canonical form.
fn canonical_atom(c: &Cond) -> Cond {
    match c {
        Cond::Cmp { op, lhs, rhs } => {
            let rhs = match (op, rhs) {
                (
                    CmpOp::Under,
                    Operand::Value {
                        value: Value::String(d),
                    },
                ) => match warden_core::path::normalize_path(d) {
                    Ok(n) => Operand::Value {
                        value: Value::String(n),
                    },
                    Err(_) => rhs.clone(),
                },
                (
                    CmpOp::In,
                    Operand::Value {
                        value: Value::List(items),
                    },
                ) => {
                    let mut items = items.clone();
                    items.sort();
                    items.dedup();
                    Operand::Value {
                        value: Value::List(items),
                    }
                }
                _ => rhs.clone(),
            };
            Cond::Cmp {
                op: *op,
                lhs: lhs.clone(),
                rhs,
            }
        }
        c => c.clone(),
    }
}

fn is_atom(c: &Cond) -> bool {
    matches!(
        c,
        Cond::Cmp { .. } | Cond::Has { .. } | Cond::FromCall { .. }
    )
}

/// Interns atoms by their canonical spelling.
#[derive(Default)]
struct Atoms {
    by_key: HashMap<String, Symbol>,
    conds: HashMap<Symbol, Cond>,
}

impl Atoms {
    fn intern(&mut self, c: &Cond) -> Symbol {
        let c = canonical_atom(c);
        let key = serde_json::to_string(&c).unwrap_or_default();
        if let Some(s) = self.by_key.get(&key) {
            return *s;
        }
        let s = Symbol::from(format!("a{}", self.by_key.len()));
        self.by_key.insert(key, s);
        self.conds.insert(s, c);
        s
    }
}

fn to_expr(c: &Cond, atoms: &mut Atoms, e: &mut RecExpr<BoolLang>) -> Id {
    match c {
        Cond::True => e.add(BoolLang::True),
        Cond::False => e.add(BoolLang::False),
        Cond::Not { cond } => {
            let x = to_expr(cond, atoms, e);
            e.add(BoolLang::Not(x))
        }
        Cond::And { all: cs } | Cond::Or { any: cs } => {
            let and = matches!(c, Cond::And { .. });
            let ids: Vec<Id> = cs.iter().map(|c| to_expr(c, atoms, e)).collect();
            let unit = if and { BoolLang::True } else { BoolLang::False };
            let Some((&first, rest)) = ids.split_first() else {
                return e.add(unit);
            };
            rest.iter().fold(first, |acc, &x| {
                e.add(if and {
                    BoolLang::And([acc, x])
                } else {
                    BoolLang::Or([acc, x])
                })
            })
        }
        atom => {
            let s = atoms.intern(atom);
            e.add(BoolLang::Atom(s))
        }
    }
}

fn from_expr(e: &RecExpr<BoolLang>, id: Id, atoms: &Atoms) -> Cond {
    match &e[id] {
        BoolLang::True => Cond::True,
        BoolLang::False => Cond::False,
        BoolLang::Not(x) => Cond::not(from_expr(e, *x, atoms)),
        BoolLang::And([a, b]) => Cond::and(from_expr(e, *a, atoms), from_expr(e, *b, atoms)),
        BoolLang::Or([a, b]) => Cond::or(from_expr(e, *a, atoms), from_expr(e, *b, atoms)),
        BoolLang::Atom(s) => atoms.conds.get(s).cloned().unwrap_or(Cond::False),
    }
}

fn count_atoms(c: &Cond) -> usize {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().map(count_atoms).sum(),
        Cond::Not { cond } => count_atoms(cond),
        c if is_atom(c) => 1,
        _ => 0,
    }
}

/// Flattens nested `and`/`or`, folds constants, sorts and deduplicates
/// operands: a deterministic normal form of the term egg extracted.
pub fn tidy(c: &Cond) -> Cond {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => {
            let and = matches!(c, Cond::And { .. });
            let mut out: Vec<(String, Cond)> = Vec::new();
            for x in cs {
                let x = tidy(x);
                match (and, x) {
                    (true, Cond::True) | (false, Cond::False) => {}
                    (true, Cond::False) => return Cond::False,
                    (false, Cond::True) => return Cond::True,
                    (true, Cond::And { all }) => out.extend(all.into_iter().map(|c| (key(&c), c))),
                    (false, Cond::Or { any }) => out.extend(any.into_iter().map(|c| (key(&c), c))),
                    (_, x) => out.push((key(&x), x)),
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out.dedup_by(|a, b| a.0 == b.0);
            let mut items: Vec<Cond> = out.into_iter().map(|(_, c)| c).collect();
            match (items.len(), and) {
                (0, true) => Cond::True,
                (0, false) => Cond::False,
                (1, _) => items.remove(0),
                (_, true) => Cond::And { all: items },
                (_, false) => Cond::Or { any: items },
            }
        }
        Cond::Not { cond } => Cond::not(tidy(cond)),
        c if is_atom(c) => canonical_atom(c),
        c => c.clone(),
    }
}

/// The canonical form of a residual condition.
pub fn canonical(c: &Cond) -> Cond {
    if count_atoms(c) > EGRAPH_MAX_ATOMS {
        return tidy(c);
    }
    let mut atoms = Atoms::default();
    let mut expr = RecExpr::default();
    to_expr(c, &mut atoms, &mut expr);
    let runner = Runner::default()
        .with_iter_limit(4)
        .with_node_limit(1_000)
        .with_time_limit(std::time::Duration::from_millis(5))
        .with_expr(&expr)
        .run(rules());
    let root = runner.roots[0];
    let extractor = Extractor::new(&runner.egraph, AstSize);
    let (_, best) = extractor.find_best(root);
    let root_id = Id::from(best.as_ref().len() - 1);
    tidy(&from_expr(&best, root_id, &atoms))
}

/// The cache key of a condition.
pub fn key(c: &Cond) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(n: &str) -> Cond {
        Cond::Has { field: n.into() }
    }
    fn not(c: Cond) -> Cond {
        Cond::Not { cond: Box::new(c) }
    }
    fn and(xs: Vec<Cond>) -> Cond {
        Cond::And { all: xs }
    }
    fn or(xs: Vec<Cond>) -> Cond {
        Cond::Or { any: xs }
    }

    #[test]
    fn boolean_laws() {
        let (a, b) = (atom("a"), atom("b"));
        assert_eq!(
            canonical(&and(vec![a.clone(), not(a.clone())])),
            Cond::False
        );
        assert_eq!(canonical(&or(vec![a.clone(), not(a.clone())])), Cond::True);
        assert_eq!(
            canonical(&and(vec![a.clone(), or(vec![a.clone(), b.clone()])])),
            a
        );
        assert_eq!(canonical(&and(vec![a.clone(), Cond::True, a.clone()])), a);
        assert_eq!(
            canonical(&not(and(vec![a.clone(), b.clone()]))),
            canonical(&or(vec![not(b.clone()), not(a.clone())]))
        );
    }

    #[test]
    fn atoms_are_canonical() {
        let under = |d: &str| Cond::Cmp {
            op: CmpOp::Under,
            lhs: Operand::field("path"),
            rhs: Operand::Value {
                value: Value::String(d.into()),
            },
        };
        assert_eq!(canonical(&under("/tmp/")), canonical(&under("/tmp//./")));
        let inl = |xs: &[&str]| Cond::Cmp {
            op: CmpOp::In,
            lhs: Operand::field("x"),
            rhs: Operand::Value {
                value: Value::List(xs.iter().map(|s| Value::String(s.to_string())).collect()),
            },
        };
        assert_eq!(
            canonical(&inl(&["b", "a", "b"])),
            canonical(&inl(&["a", "b"]))
        );
    }

    #[test]
    fn large_conditions_are_tidied() {
        let xs: Vec<Cond> = (0..40).map(|i| atom(&format!("x{i}"))).collect();
        let mut ys = xs.clone();
        ys.reverse();
        assert_eq!(canonical(&or(xs)), canonical(&or(ys)));
    }
}
