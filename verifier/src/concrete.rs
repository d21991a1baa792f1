//! Value semantics of the languages, on concrete values.
//!
//! This module is the single definition of what each operator means; the
//! reference evaluator, the token monitor and the enforcer all call it, and the
//! Z3 encoding ([`crate::symbolic`]) is tested against it.
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
//! use verifier::concrete::{normalize_path, under, glob_matches};
//! assert_eq!(normalize_path("/tmp/../etc//passwd").unwrap(), "/etc/passwd");
//! assert!(under("/repo", "/repo/"));
//! assert!(!under("/repo/../etc/passwd", "/repo/"));
//! assert!(glob_matches("/repo/**/*.rs", "/repo/src/a/b.rs"));
//! ```

use crate::action::{ConcreteAction, Field, Value};
use ipnet::IpNet;
use planlang::ast::{self, ActionKind, CmpOp};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, OnceLock};

// ───────────────────────────── paths ─────────────────────────────

/// Why a string is not a usable path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("`{0}` is not an absolute path (paths start with `/`)")]
    NotAbsolute(String),
    #[error("`{0}` contains a NUL character")]
    Nul(String),
    #[error("glob `{0}` has `..` after a wildcard segment; write the directory out")]
    DotDotAfterWildcard(String),
}

/// Normalizes an absolute path: resolves `.` and `..` (`..` above `/` stays
/// at `/`), folds repeated `/`, drops a trailing `/`.
pub fn normalize_path(p: &str) -> Result<String, PathError> {
    check_absolute(p)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    Ok(join(&segs))
}

fn check_absolute(p: &str) -> Result<(), PathError> {
    if !p.starts_with('/') {
        return Err(PathError::NotAbsolute(p.to_string()));
    }
    if p.contains('\0') {
        return Err(PathError::Nul(p.to_string()));
    }
    Ok(())
}

fn join(segs: &[&str]) -> String {
    if segs.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(segs.iter().map(|s| s.len() + 1).sum());
    for s in segs {
        out.push('/');
        out.push_str(s);
    }
    out
}

/// Whether a path is already in normal form (what [`normalize_path`] returns).
pub fn is_normal(p: &str) -> bool {
    normalize_path(p).is_ok_and(|n| n == p)
}

/// `path under dir`: `dir` itself or anything below it, both normalized.
/// A relative path is under nothing.
pub fn under(path: &str, dir: &str) -> bool {
    match (normalize_path(path), normalize_path(dir)) {
        (Ok(p), Ok(d)) => under_normal(&p, &d),
        _ => false,
    }
}

/// [`under`] for paths already normalized.
pub fn under_normal(p: &str, d: &str) -> bool {
    d == "/" || p == d || (p.len() > d.len() && p.starts_with(d) && p.as_bytes()[d.len()] == b'/')
}

// ───────────────────────────── globs ─────────────────────────────

/// Whether a plan path is a glob (has `*` or `?`).
pub fn is_glob(p: &str) -> bool {
    p.contains('*') || p.contains('?')
}

/// Normalizes a glob like a path: `.` and repeated `/` go, `..` removes the
/// segment before it when that one is literal; `..` after a wildcard segment
/// is refused (it could climb anywhere).
pub fn normalize_glob(g: &str) -> Result<String, PathError> {
    check_absolute(g)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in g.split('/') {
        match s {
            "" | "." => {}
            ".." => match segs.last() {
                Some(prev) if is_glob(prev) => {
                    return Err(PathError::DotDotAfterWildcard(g.to_string()));
                }
                _ => {
                    segs.pop();
                }
            },
            s => segs.push(s),
        }
    }
    Ok(join(&segs))
}

/// Whether the glob `glob` matches the path `path` (normalized first). A
/// glob that is not absolute matches nothing.
pub fn glob_matches(glob: &str, path: &str) -> bool {
    let (Ok(g), Ok(p)) = (normalize_glob(glob), normalize_path(path)) else {
        return false;
    };
    let gs: Vec<&str> = segments(&g);
    let ps: Vec<&str> = segments(&p);
    glob_segs(&gs, &ps)
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

fn glob_segs(g: &[&str], p: &[&str]) -> bool {
    // Dynamic programming over (glob segment, path segment).
    let (n, m) = (g.len(), p.len());
    let mut dp = vec![vec![false; m + 1]; n + 1];
    dp[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            dp[i][j] = if g[i] == "**" {
                dp[i + 1][j] || (j < m && dp[i][j + 1])
            } else {
                j < m && segment_matches(g[i], p[j]) && dp[i + 1][j + 1]
            };
        }
    }
    dp[0][0]
}

/// One glob segment against one path segment: `*` any run of characters,
/// `?` exactly one character.
pub fn segment_matches(pat: &str, s: &str) -> bool {
    let pat: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while si < s.len() {
        if pi < pat.len() && (pat[pi] == '?' || (pat[pi] != '*' && pat[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < pat.len() && pat[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < pat.len() && pat[pi] == '*' {
        pi += 1;
    }
    pi == pat.len()
}

/// The regular expression (Rust `regex` syntax, anchored) of the normalized
/// paths a glob matches.
pub fn glob_to_regex(glob: &str) -> Result<String, PathError> {
    let g = normalize_glob(glob)?;
    let segs = segments(&g);
    if segs.is_empty() {
        return Ok("^/$".to_string());
    }
    let mut re = String::from("^");
    for s in &segs {
        if *s == "**" {
            // Zero or more whole segments.
            // `/a/**` also matches `/a` itself; a bare `/**` matches `/`.
            if segs.iter().all(|s| *s == "**") {
                return Ok("^(?:/|(?:/[^/]+)+)$".to_string());
            }
            re.push_str("(?:/[^/]+)*");
            continue;
        }
        re.push('/');
        // A segment is never `.` or `..` in a normalized path and never
        // empty, so a segment of only `*` needs at least one character.
        if s.chars().all(|c| c == '*') {
            re.push_str("[^/]+");
            continue;
        }
        for c in s.chars() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
    }
    re.push('$');
    Ok(re)
}

// ───────────────────────────── addresses ─────────────────────────────

/// Parses an address or network: `10.0.0.0/8`, `::1`, `[::1]`,
/// `[2001:db8::/32]`, `192.168.1.7`. A bare address is a /32 or /128.
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// A host name as DNS allows it (letters, digits, `-`, `.`, `_`).
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A network as an IPv6 range: IPv4 becomes IPv4-mapped IPv6
/// (`10.0.0.0/8` is `::ffff:10.0.0.0/104`). Returns (first address, prefix).
pub fn mapped(net: &IpNet) -> (u128, u8) {
    match net {
        IpNet::V4(n) => {
            let a = u32::from(n.network()) as u128;
            (0xffff_0000_0000u128 | a, 96 + n.prefix_len())
        }
        IpNet::V6(n) => (u128::from(n.network()), n.prefix_len()),
    }
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

/// Every address of `inner` is in `outer`, IPv4-mapped IPv6 included.
pub fn cidr_contains(outer: &IpNet, inner: &IpNet) -> bool {
    let (oa, op) = mapped(outer);
    let (ia, ip) = mapped(inner);
    ip >= op && (ia & mask(op)) == (oa & mask(op))
}

/// The same set of addresses (IPv4 and IPv4-mapped IPv6 are the same).
pub fn cidr_eq(a: &IpNet, b: &IpNet) -> bool {
    mapped(a) == mapped(b)
}

/// The IPv6 address of a mapped value (for witnesses).
pub fn unmapped(addr: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

// ───────────────────────────── regexes ─────────────────────────────

/// Why a regex of a `matches` condition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regex `{pattern}`: {reason}")]
pub struct RegexError {
    pub pattern: String,
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
    True,
    False,
    And {
        all: Vec<Cond>,
    },
    Or {
        any: Vec<Cond>,
    },
    Not {
        cond: Box<Cond>,
    },
    Cmp {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    Has {
        field: String,
    },
    FromCall {
        value: Operand,
        tool: String,
    },
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operand {
    /// A literal or an inlined constant.
    Value { value: Value },
    /// A name looked up in the scope: a field of the action (in a rule), a
    /// param (in a `where`), with field access and an optional index.
    Ref {
        name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
}

/// Why a condition cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CondError {
    #[error("`{0}` is not a known constant")]
    UnknownConst(String),
    #[error(transparent)]
    Regex(#[from] RegexError),
    #[error("`matches` needs a string regex")]
    RegexNotString,
    #[error("a list may hold only literals and constants")]
    RefInList,
    #[error("`{0}` has no fields or index (it is a constant)")]
    FieldOfConst(String),
    #[error(transparent)]
    Path(PathError),
}

/// The spec's `let` constants, by name.
pub type Consts = BTreeMap<String, Value>;

/// Converts a value of the syntax tree that holds no references (a literal or
/// a list of them, constants inlined).
pub fn const_value(v: &ast::Value, consts: &Consts) -> Result<Value, CondError> {
    match v {
        ast::Value::Literal { literal } => Ok(Value::from_literal(literal)),
        ast::Value::List { items } => items
            .iter()
            .map(|i| const_value(&i.node, consts))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        ast::Value::Ref(r) => match (&r.resolved, consts.get(&r.name.node)) {
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

fn operand(v: &ast::Value, consts: &Consts) -> Result<Operand, CondError> {
    match v {
        ast::Value::Ref(r) => {
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

impl Cond {
    /// Compiles a condition of the syntax tree, inlining `consts` and checking
    /// every `matches` regex.
    pub fn compile(c: &ast::Cond, consts: &Consts) -> Result<Cond, CondError> {
        Ok(match c {
            ast::Cond::And { all } => Cond::And {
                all: all
                    .iter()
                    .map(|c| Cond::compile(&c.node, consts))
                    .collect::<Result<_, _>>()?,
            },
            ast::Cond::Or { any } => Cond::Or {
                any: any
                    .iter()
                    .map(|c| Cond::compile(&c.node, consts))
                    .collect::<Result<_, _>>()?,
            },
            ast::Cond::Not { cond } => Cond::Not {
                cond: Box::new(Cond::compile(&cond.node, consts)?),
            },
            ast::Cond::Compare { op, lhs, rhs } => {
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
            ast::Cond::Has { field } => Cond::Has {
                field: field.node.clone(),
            },
            ast::Cond::FromCall { value, tool } => Cond::FromCall {
                value: operand(&value.node, consts)?,
                tool: tool.node.clone(),
            },
            ast::Cond::Value { value } => match operand(&value.node, consts)? {
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

fn resolve<'a>(o: &'a Operand, scope: &'a dyn Scope) -> Option<std::borrow::Cow<'a, Field>> {
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
                        })
                    }),
                    _ => None,
                },
            }
        }
    }
}

/// `lhs OP rhs` on concrete values, with the list semantics of LANGUAGE.md.
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
    /// Compiles a pattern of the syntax tree.
    pub fn compile(p: &ast::Pattern, consts: &Consts) -> Result<Pattern, CondError> {
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
            Some(c) => Cond::and(target, Cond::compile(&c.node, consts)?),
            None => target,
        };
        Ok(Pattern { kind, calls, when })
    }

    /// Whether the kind and call name fit, before the condition.
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
    pub fn matches(&self, a: &ConcreteAction) -> bool {
        self.kind_matches(a.kind, a.call.as_deref()) && self.when.eval(a)
    }
}

/// The condition a pattern's shorthand target stands for: `"/etc/hosts"`
/// is `path == "/etc/hosts"` (normalized), `under "/tmp/"` is `path under
/// "/tmp/"`. On `connect` and `listen` it is the unix socket's path (a
/// network action has no `path`, so it never matches).
fn target_cond(target: &ast::PathTarget, consts: &Consts) -> Result<Cond, CondError> {
    Ok(match target {
        ast::PathTarget::Exact { path } => {
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
        ast::PathTarget::Under { path } => Cond::Cmp {
            op: CmpOp::Under,
            lhs: Operand::field("path"),
            rhs: Operand::Value {
                value: const_value(&path.node, consts)?,
            },
        },
    })
}

impl Operand {
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

    #[test]
    fn compile_inlines_constants() {
        use planlang::ast::{Ref, RefKind};
        use planlang::span::Spanned;
        let mut consts = Consts::new();
        consts.insert("payees".into(), list(&["A", "B"]));
        let r = |name: &str, kind: RefKind| {
            Spanned::synthetic(ast::Value::Ref(Ref {
                name: Spanned::synthetic(name.to_string()),
                fields: vec![],
                index: None,
                resolved: kind,
            }))
        };
        let c = ast::Cond::Compare {
            op: Spanned::synthetic(CmpOp::In),
            lhs: r("recipient", RefKind::Field),
            rhs: r("payees", RefKind::Const),
        };
        let cc = Cond::compile(&c, &consts).unwrap();
        let a = ConcreteAction::call("send_money", [("recipient", Field::new(s("B")))]);
        assert!(cc.eval(&a));
        let bad = ast::Cond::Compare {
            op: Spanned::synthetic(CmpOp::Matches),
            lhs: r("recipient", RefKind::Field),
            rhs: Spanned::synthetic(ast::Value::Literal {
                literal: planlang::value::Literal::String("(".into()),
            }),
        };
        assert!(matches!(
            Cond::compile(&bad, &consts),
            Err(CondError::Regex(_))
        ));
        let unknown = ast::Cond::Compare {
            op: Spanned::synthetic(CmpOp::In),
            lhs: r("recipient", RefKind::Field),
            rhs: r("nope", RefKind::Const),
        };
        assert!(Cond::compile(&unknown, &consts).is_err());
    }
}
