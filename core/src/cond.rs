//! Conditions and patterns, evaluated on concrete actions: the value
//! semantics of the languages.
//!
//! This module is the single definition of what each operator means; the
//! verifier's reference evaluator, the token monitor and the enforcer all
//! call it, and the verifier's Z3 encoding is tested against it.
//!
//! - Paths are absolute and compared **after normalization**: `.` and `..`
//!   segments resolved (`..` above `/` stays at `/`), repeated `/` folded, a
//!   trailing `/` dropped. `under D` holds for `D` itself and everything below
//!   it; `/` is under `/`; `/repo2` is not under `/repo/`.
//! - Plan globs: `*` matches within one segment, `**` any number of segments
//!   (zero included), `?` one character; they match normalized paths.
//! - CIDRs: an IPv4 address or network is the IPv4-mapped IPv6 one
//!   (`::ffff:10.0.0.1` is in `10.0.0.0/8`); `ip in NET` means every address
//!   of the action's `ip` is in `NET`.
//! - `matches` is a regex over the whole value.
//! - Numbers are exact decimals.
//! - On a list-valued field `==` / `!=` compare the whole list, `contains`
//!   asks for one element, and every other operator must hold for each element
//!   (an empty list satisfies it).
//! - **Missing fields.** An atomic condition (a comparison, `from call`) that
//!   mentions a field the action does not have is **false**; `not` of it is
//!   therefore **true** (`not port == 443` holds for a `read`). `has NAME` is
//!   the way to ask for a field. Comparisons between values of different
//!   types are false, except `!=`, which is the negation of `==`.
//!
//! ```
//! use warden_core::action::ConcreteAction;
//! use warden_core::cond::{Cond, Operand};
//! use warden_core::vocab::CmpOp;
//! let cond = Cond::Cmp { op: CmpOp::Under, lhs: Operand::field("path"), rhs: Operand::value("/repo/") };
//! assert!(cond.eval(&ConcreteAction::read("/repo/src/main.rs")?));
//! assert!(!cond.eval(&ConcreteAction::read("/repo/../etc/passwd")?));
//! # Ok::<(), warden_core::action::ActionError>(())
//! ```

use crate::action::ConcreteAction;
use crate::net::{cidr_contains, cidr_eq, parse_cidr};
use crate::path::under;
use crate::value::{Field, Value};
use crate::vocab::{ActionKind, CmpOp};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

// ───────────────────────────── regexes ─────────────────────────────

/// Why a regex of a `matches` condition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regex `{pattern}`: {reason}")]
pub struct RegexError {
    /// The regex as written, before it is anchored.
    pub pattern: String,
    /// The regex engine's message: a syntax error, or a compiled regex
    /// over the 1 MiB size limit.
    pub reason: String,
}

const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a `matches` regex, anchored to the whole value (cached).
pub fn regex(pattern: &str) -> Result<Regex, RegexError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(c) = cache.lock()
        && let Some(r) = c.get(pattern)
    {
        return Ok(r.clone());
    }
    let r = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| RegexError {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
    }
    Ok(r)
}

// ───────────────────────────── conditions ─────────────────────────────

/// A condition ready to evaluate: the spec's `let` constants inlined, literals
/// converted. Serializable, so the envelope can carry param conditions and
/// rule patterns to the token monitor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cond {
    /// Always holds.
    True,
    /// Never holds.
    False,
    /// Holds when every part holds (an empty `and` holds).
    And {
        /// The parts.
        all: Vec<Cond>,
    },
    /// Holds when some part holds (an empty `or` does not).
    Or {
        /// The parts.
        any: Vec<Cond>,
    },
    /// Holds when `cond` does not (so it holds for a comparison on a
    /// missing field).
    Not {
        /// The negated condition.
        cond: Box<Cond>,
    },
    /// `lhs OP rhs`, with the semantics of [`compare`]; false when either
    /// side is missing from the scope.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// The left side, usually a field.
        lhs: Operand,
        /// The right side, usually a value.
        rhs: Operand,
    },
    /// `has NAME`: the scope has this field (a call passes this argument).
    Has {
        /// The field's name.
        field: String,
    },
    /// `VALUE from call TOOL`: the value's known origin is a result of
    /// `tool` ([`Field::origin`]). Rules that refuse count the value's
    /// further sources too ([`crate::flow`]); [`Cond::eval`] does not.
    FromCall {
        /// The value asked about, usually a field.
        value: Operand,
        /// The tool whose result it must come from.
        tool: String,
    },
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operand {
    /// A literal or an inlined constant.
    Value {
        /// The value.
        value: Value,
    },
    /// A name looked up in the scope: a field of the action (in a rule), a
    /// param (in a `where`), with field access and an optional index.
    Ref {
        /// The name looked up in the scope.
        name: String,
        /// Field accesses after the name (`bill.amount`); a concrete value
        /// has no fields, so a non-empty list resolves to nothing at run time.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        /// `[i]`: the element at this index of a list (from 0); missing
        /// when the value is not a list or is too short.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
}

impl Cond {
    /// `a and b`, simplifying `true`/`false`.
    pub fn and(a: Cond, b: Cond) -> Cond {
        match (a, b) {
            (Cond::True, x) | (x, Cond::True) => x,
            (Cond::False, _) | (_, Cond::False) => Cond::False,
            (Cond::And { mut all }, Cond::And { all: b }) => {
                all.extend(b);
                Cond::And { all }
            }
            (Cond::And { mut all }, x) | (x, Cond::And { mut all }) => {
                all.push(x);
                Cond::And { all }
            }
            (a, b) => Cond::And { all: vec![a, b] },
        }
    }

    /// `a or b`, simplifying `true`/`false`.
    pub fn or(a: Cond, b: Cond) -> Cond {
        match (a, b) {
            (Cond::False, x) | (x, Cond::False) => x,
            (Cond::True, _) | (_, Cond::True) => Cond::True,
            (Cond::Or { mut any }, Cond::Or { any: b }) => {
                any.extend(b);
                Cond::Or { any }
            }
            (Cond::Or { mut any }, x) | (x, Cond::Or { mut any }) => {
                any.push(x);
                Cond::Or { any }
            }
            (a, b) => Cond::Or { any: vec![a, b] },
        }
    }

    /// `not c`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(c: Cond) -> Cond {
        match c {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not { cond } => *cond,
            c => Cond::Not { cond: Box::new(c) },
        }
    }

    /// Evaluates the condition in a scope (an action's fields, param values).
    pub fn eval(&self, scope: &dyn Scope) -> bool {
        match self {
            Cond::True => true,
            Cond::False => false,
            Cond::And { all } => all.iter().all(|c| c.eval(scope)),
            Cond::Or { any } => any.iter().any(|c| c.eval(scope)),
            Cond::Not { cond } => !cond.eval(scope),
            Cond::Has { field } => scope.get(field).is_some(),
            Cond::Cmp { op, lhs, rhs } => match (resolve(lhs, scope), resolve(rhs, scope)) {
                (Some(l), Some(r)) => compare(*op, &l.value, &r.value),
                _ => false,
            },
            Cond::FromCall { value, tool } => {
                resolve(value, scope).is_some_and(|f| f.origin.as_deref() == Some(tool.as_str()))
            }
        }
    }

    /// Every name the condition looks up.
    pub fn refs(&self, out: &mut Vec<String>) {
        let op = |o: &Operand, out: &mut Vec<String>| {
            if let Operand::Ref { name, .. } = o {
                out.push(name.clone());
            }
        };
        match self {
            Cond::True | Cond::False => {}
            Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().for_each(|c| c.refs(out)),
            Cond::Not { cond } => cond.refs(out),
            Cond::Cmp { lhs, rhs, .. } => {
                op(lhs, out);
                op(rhs, out);
            }
            Cond::Has { field } => out.push(field.clone()),
            Cond::FromCall { value, .. } => op(value, out),
        }
    }
}

/// Where a condition finds the values its names stand for.
pub trait Scope {
    /// The field named `name`, or `None` when the scope has none.
    fn get(&self, name: &str) -> Option<&Field>;
}

impl Scope for ConcreteAction {
    fn get(&self, name: &str) -> Option<&Field> {
        self.fields.get(name)
    }
}

impl Scope for BTreeMap<String, Field> {
    fn get(&self, name: &str) -> Option<&Field> {
        BTreeMap::get(self, name)
    }
}

impl Scope for HashMap<String, Field> {
    fn get(&self, name: &str) -> Option<&Field> {
        HashMap::get(self, name)
    }
}

pub(crate) fn resolve<'a>(
    o: &'a Operand,
    scope: &'a dyn Scope,
) -> Option<std::borrow::Cow<'a, Field>> {
    use std::borrow::Cow;
    match o {
        Operand::Value { value } => Some(Cow::Owned(Field::new(value.clone()))),
        Operand::Ref {
            name,
            fields,
            index,
        } => {
            // Values have no fields: `x.y` on a concrete value is missing.
            if !fields.is_empty() {
                return None;
            }
            let f = scope.get(name)?;
            match index {
                None => Some(Cow::Borrowed(f)),
                Some(i) => match &f.value {
                    Value::List(items) => items.get(*i as usize).map(|v| {
                        Cow::Owned(Field {
                            value: v.clone(),
                            origin: f.origin.clone(),
                            sources: f.sources.clone(),
                        })
                    }),
                    _ => None,
                },
            }
        }
    }
}

/// `lhs OP rhs` on concrete values, with the list semantics of docs/language.md.
pub fn compare(op: CmpOp, lhs: &Value, rhs: &Value) -> bool {
    match op {
        CmpOp::Eq => value_eq(lhs, rhs),
        CmpOp::Ne => !value_eq(lhs, rhs),
        CmpOp::Contains => match (lhs, rhs) {
            (Value::List(items), r) => items.iter().any(|i| value_eq(i, r)),
            (Value::String(s), Value::String(r)) => s.contains(r.as_str()),
            _ => false,
        },
        op => match lhs {
            Value::List(items) => items.iter().all(|i| scalar(op, i, rhs)),
            l => scalar(op, l, rhs),
        },
    }
}

/// Equality of values: exact decimals, CIDRs as address sets, lists element
/// by element; a string that spells an address equals that address.
pub fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Cidr(x), Value::Cidr(y)) => cidr_eq(x, y),
        (Value::Cidr(x), Value::String(s)) | (Value::String(s), Value::Cidr(x)) => {
            parse_cidr(s).is_some_and(|y| cidr_eq(x, &y))
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| value_eq(a, b))
        }
        (a, b) => a == b,
    }
}

fn scalar(op: CmpOp, l: &Value, r: &Value) -> bool {
    use Value as V;
    match op {
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = match (l, r) {
                (V::Number(a), V::Number(b)) => a.cmp(b),
                (V::Duration(a), V::Duration(b)) => a.cmp(b),
                _ => return false,
            };
            match op {
                CmpOp::Lt => ord.is_lt(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        CmpOp::In => match r {
            V::List(items) => items.iter().any(|i| member(l, i)),
            r => member(l, r),
        },
        CmpOp::Under => match (l, r) {
            (V::String(p), V::String(d)) => under(p, d),
            _ => false,
        },
        CmpOp::StartsWith => match (l, r) {
            (V::String(s), V::String(p)) => s.starts_with(p.as_str()),
            _ => false,
        },
        CmpOp::EndsWith => match (l, r) {
            (V::String(s), V::String(p)) => s.ends_with(p.as_str()),
            _ => false,
        },
        CmpOp::Matches => match (l, r) {
            (V::String(s), V::String(p)) => regex(p).is_ok_and(|re| re.is_match(s)),
            _ => false,
        },
        // Handled by `compare`; a nested list element compares whole.
        CmpOp::Eq => value_eq(l, r),
        CmpOp::Ne => !value_eq(l, r),
        CmpOp::Contains => compare(CmpOp::Contains, l, r),
    }
}

/// `x in item` for one item of an `in` list: a CIDR item contains addresses,
/// any other item must be equal.
fn member(x: &Value, item: &Value) -> bool {
    match (x, item) {
        (Value::Cidr(a), Value::Cidr(net)) => cidr_contains(net, a),
        (Value::String(s), Value::Cidr(net)) => {
            parse_cidr(s).is_some_and(|a| cidr_contains(net, &a))
        }
        (x, i) => value_eq(x, i),
    }
}

// ───────────────────────────── patterns ─────────────────────────────

/// A compiled rule pattern: which actions it matches. The shorthand target
/// of the syntax (`write under "/tmp/"`, `exec "/usr/bin/git"`) is folded
/// into `when` (`path under "/tmp/"`, `path == "/usr/bin/git"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pattern {
    /// The action kind; `None` is `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActionKind>,
    /// For calls: the tool names; `None` is `call *`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<String>>,
    /// The condition (`true` when there is none).
    pub when: Cond,
}

impl Pattern {
    /// Whether the kind and call name fit, before the condition. Inlined
    /// across crates: the verifier asks it of every rule for every concrete
    /// step, and most rules fail on the kind at once.
    #[inline]
    pub fn kind_matches(&self, kind: ActionKind, call: Option<&str>) -> bool {
        if self.kind.is_some_and(|k| k != kind) {
            return false;
        }
        match (&self.calls, call) {
            (None, _) => true,
            (Some(names), Some(c)) => names.iter().any(|n| n == c),
            (Some(_), None) => false,
        }
    }

    /// Whether the pattern matches a concrete action.
    #[inline]
    pub fn matches(&self, a: &ConcreteAction) -> bool {
        self.kind_matches(a.kind, a.call.as_deref()) && self.when.eval(a)
    }
}

impl Operand {
    /// A literal value.
    pub fn value(v: impl Into<Value>) -> Operand {
        Operand::Value { value: v.into() }
    }

    /// A plain field reference (`path`, `port`, `recipient`).
    pub fn field(name: &str) -> Operand {
        Operand::Ref {
            name: name.to_string(),
            fields: Vec::new(),
            index: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::*;
    use rust_decimal::Decimal;

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }
    fn n(x: i64) -> Value {
        Value::Number(Decimal::from(x))
    }
    fn c(x: &str) -> Value {
        Value::Cidr(parse_cidr(x).unwrap())
    }
    fn list(xs: &[&str]) -> Value {
        Value::List(xs.iter().map(|x| s(x)).collect())
    }
    fn field(name: &str) -> Operand {
        Operand::Ref {
            name: name.into(),
            fields: vec![],
            index: None,
        }
    }
    fn lit(v: Value) -> Operand {
        Operand::Value { value: v }
    }
    fn cmp(op: CmpOp, name: &str, v: Value) -> Cond {
        Cond::Cmp {
            op,
            lhs: field(name),
            rhs: lit(v),
        }
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("//").unwrap(), "/");
        assert_eq!(normalize_path("/..").unwrap(), "/");
        assert_eq!(normalize_path("/a/b/../../..").unwrap(), "/");
        assert_eq!(normalize_path("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(normalize_path("/a/b/.").unwrap(), "/a/b");
        assert!(normalize_path("a/b").is_err());
        assert!(is_normal("/a/b"));
        assert!(!is_normal("/a/b/"));
        assert!(!is_normal("/a/./b"));
    }

    #[test]
    fn under_edges() {
        assert!(under("/", "/"));
        assert!(under("/anything/at/all", "/"));
        assert!(under("/repo", "/repo/"));
        assert!(under("/repo/", "/repo"));
        assert!(under("/repo/a", "/repo//"));
        assert!(!under("/repo2", "/repo/"));
        assert!(!under("/repo/../etc/passwd", "/repo/"));
        assert!(under("/etc/../repo/x", "/repo/"));
        assert!(!under("relative", "/"));
        assert!(!under("/", "/repo"));
    }

    #[test]
    fn globs() {
        assert!(glob_matches("/repo/*.rs", "/repo/a.rs"));
        assert!(!glob_matches("/repo/*.rs", "/repo/src/a.rs"));
        assert!(glob_matches("/repo/**/*.rs", "/repo/a.rs"));
        assert!(glob_matches("/repo/**/*.rs", "/repo/x/y/a.rs"));
        assert!(glob_matches("/repo/**", "/repo"));
        assert!(glob_matches("/repo/**", "/repo/a/b"));
        assert!(!glob_matches("/repo/**", "/repo2"));
        assert!(glob_matches("/tmp/?.txt", "/tmp/a.txt"));
        assert!(!glob_matches("/tmp/?.txt", "/tmp/ab.txt"));
        assert!(!glob_matches("/repo/*", "/repo/../etc"));
        assert!(glob_matches("/a/./b/../c/*", "/a/c/x"));
        assert!(normalize_glob("/a/*/../b").is_err());
    }

    #[test]
    fn glob_regex_agrees_with_matcher() {
        let globs = [
            "/repo/*.rs",
            "/repo/**/*.rs",
            "/repo/**",
            "/tmp/?.txt",
            "/**",
            "/a/*/b",
            "/",
        ];
        let paths = [
            "/",
            "/repo",
            "/repo/a.rs",
            "/repo/x/y/a.rs",
            "/repo2",
            "/tmp/a.txt",
            "/tmp/ab.txt",
            "/a/x/b",
            "/a/b",
            "/a//b",
        ];
        for g in globs {
            let re = Regex::new(&glob_to_regex(g).unwrap()).unwrap();
            for p in paths {
                let np = normalize_path(p).unwrap();
                assert_eq!(
                    re.is_match(&np),
                    glob_matches(g, p),
                    "glob {g} path {p} re {re}"
                );
            }
        }
    }

    #[test]
    fn cidrs() {
        let net8 = parse_cidr("10.0.0.0/8").unwrap();
        assert!(cidr_contains(&net8, &parse_cidr("10.1.2.3").unwrap()));
        assert!(cidr_contains(
            &net8,
            &parse_cidr("::ffff:10.0.0.1").unwrap()
        ));
        assert!(cidr_contains(
            &net8,
            &parse_cidr("[::ffff:10.0.0.1]").unwrap()
        ));
        assert!(!cidr_contains(&net8, &parse_cidr("11.0.0.1").unwrap()));
        assert!(!cidr_contains(&net8, &parse_cidr("0.0.0.0/0").unwrap()));
        assert!(cidr_contains(&parse_cidr("::/0").unwrap(), &net8));
        assert!(cidr_eq(
            &parse_cidr("10.0.0.1").unwrap(),
            &parse_cidr("::ffff:10.0.0.1").unwrap()
        ));
        let deny = cmp(
            CmpOp::In,
            "ip",
            Value::List(vec![c("10.0.0.0/8"), c("192.168.0.0/16")]),
        );
        let a = ConcreteAction::connect("::ffff:10.0.0.1", 443).unwrap();
        assert!(deny.eval(&a));
        let b = ConcreteAction::connect("10.0.0.0/7", 443).unwrap();
        assert!(!deny.eval(&b), "a /7 is not inside a /8");
    }

    #[test]
    fn missing_fields_and_not() {
        let read = ConcreteAction::read("/etc/hosts").unwrap();
        let port = cmp(CmpOp::Eq, "port", n(443));
        assert!(!port.eval(&read));
        assert!(
            Cond::not(port.clone()).eval(&read),
            "not over a missing field is true"
        );
        let port_ne = cmp(CmpOp::Ne, "port", n(443));
        assert!(!port_ne.eval(&read), "!= on a missing field is false too");
        assert!(
            !Cond::Has {
                field: "port".into()
            }
            .eval(&read)
        );
        assert!(
            Cond::Has {
                field: "path".into()
            }
            .eval(&read)
        );
        // A connect to a host name has no ip.
        let conn = ConcreteAction::connect("example.com", 443).unwrap();
        assert!(!cmp(CmpOp::In, "ip", c("0.0.0.0/0")).eval(&conn));
    }

    #[test]
    fn list_semantics() {
        let empty = Value::List(vec![]);
        let two = list(&["a@acme.com", "b@acme.com"]);
        let mixed = list(&["a@acme.com", "b@evil.com"]);
        for (op, rhs) in [
            (CmpOp::EndsWith, s("@acme.com")),
            (CmpOp::In, list(&["x"])),
            (CmpOp::StartsWith, s("zzz")),
            (CmpOp::Matches, s("nothing")),
        ] {
            assert!(compare(op, &empty, &rhs), "{op} vacuous on []");
        }
        assert!(compare(CmpOp::EndsWith, &two, &s("@acme.com")));
        assert!(!compare(CmpOp::EndsWith, &mixed, &s("@acme.com")));
        assert!(compare(CmpOp::Contains, &mixed, &s("b@evil.com")));
        assert!(!compare(CmpOp::Contains, &empty, &s("b@evil.com")));
        assert!(compare(CmpOp::Eq, &empty, &Value::List(vec![])));
        assert!(!compare(CmpOp::Eq, &two, &mixed));
        assert!(compare(CmpOp::Ne, &two, &mixed));
        assert!(compare(
            CmpOp::In,
            &two,
            &list(&["a@acme.com", "b@acme.com", "c"])
        ));
        assert!(!compare(
            CmpOp::In,
            &mixed,
            &list(&["a@acme.com", "b@acme.com"])
        ));
    }

    #[test]
    fn argv_index() {
        let git = ConcreteAction::exec("/usr/bin/git", &["status", "-s"]).unwrap();
        let c = Cond::Cmp {
            op: CmpOp::In,
            lhs: Operand::Ref {
                name: "argv".into(),
                fields: vec![],
                index: Some(0),
            },
            rhs: lit(list(&["status", "diff"])),
        };
        assert!(c.eval(&git));
        let bare = ConcreteAction::exec("/usr/bin/git", &[] as &[&str]).unwrap();
        assert!(!c.eval(&bare), "argv[0] of an empty argv is missing");
        assert!(Cond::not(c).eval(&bare));
    }

    #[test]
    fn numbers_are_exact() {
        let a = ConcreteAction::call(
            "pay",
            [("amount", Field::new(Value::Number("0.3".parse().unwrap())))],
        );
        assert!(cmp(CmpOp::Eq, "amount", Value::Number("0.30".parse().unwrap())).eval(&a));
        assert!(cmp(CmpOp::Le, "amount", Value::Number("0.3".parse().unwrap())).eval(&a));
        assert!(!cmp(CmpOp::Lt, "amount", Value::Number("0.3".parse().unwrap())).eval(&a));
        assert!(
            cmp(
                CmpOp::Gt,
                "amount",
                Value::Number("0.29999999999".parse().unwrap())
            )
            .eval(&a)
        );
        assert!(
            !cmp(CmpOp::Lt, "amount", s("1")).eval(&a),
            "no number/string order"
        );
    }

    #[test]
    fn strings_regex_and_under_on_actions() {
        let a = ConcreteAction::call(
            "send_money",
            [("recipient", Field::new(s("UK12345678901234567890")))],
        );
        assert!(cmp(CmpOp::Matches, "recipient", s("[A-Z]{2}[0-9]{20}")).eval(&a));
        assert!(
            !cmp(CmpOp::Matches, "recipient", s("[A-Z]{2}")).eval(&a),
            "whole value"
        );
        assert!(regex("(").is_err());
        let w = ConcreteAction::write("/tmp/../etc/passwd").unwrap();
        assert!(!cmp(CmpOp::Under, "path", s("/tmp/")).eval(&w));
        assert!(!cmp(CmpOp::StartsWith, "path", s("/tmp/")).eval(&w));
        let r = ConcreteAction::read("/").unwrap();
        assert!(cmp(CmpOp::Under, "path", s("/")).eval(&r));
        let t = ConcreteAction::write("/tmp/").unwrap();
        assert!(cmp(CmpOp::Under, "path", s("/tmp/")).eval(&t));
        assert!(cmp(CmpOp::Under, "path", s("/tmp")).eval(&t));
    }

    #[test]
    fn from_call_follows_origin() {
        let a = ConcreteAction::call(
            "send_money",
            [
                ("recipient", Field::from_call(s("X"), "read_file")),
                ("amount", Field::new(n(1))),
            ],
        );
        let fc = |f: &str| Cond::FromCall {
            value: field(f),
            tool: "read_file".into(),
        };
        assert!(fc("recipient").eval(&a));
        assert!(!fc("amount").eval(&a));
        assert!(!fc("subject").eval(&a));
        assert!(Cond::not(fc("subject")).eval(&a));
    }
}
