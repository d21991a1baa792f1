//! The encoder: residual conditions over one plan's symbols as Z3
//! formulas. String atoms about one variable become one regular-language
//! membership; numbers, bools, addresses and bounded argument lists get
//! their own sorts; an atom that cannot be encoded exactly becomes a fresh
//! boolean (an over-approximation settled by the concrete check of the
//! witness).

use super::paths::glob_to_z3;
use super::paths::{norm_link, normal_path, normal_re, raw_relation, suffix_relation, under_re};
use super::residual::{HOST, IP, NORM, OPAQUE, PORT, RAW};
use super::scalars::{decimal_real, in_net};
use super::strings::{rconcat, regex_to_z3, rintersect, runion, zre_lit, zstr};
use planlang::ast::{CmpOp, ParamType};
use std::collections::{BTreeMap, HashMap};
use warden_core::cond::{Cond, Operand};
use warden_core::value::Value;
use z3::ast::{BV, Bool, Int, Real, Regexp};

/// A symbol's value in Z3, by how the question looks at it.
pub(super) enum Z {
    Str(z3::ast::String),
    Num(Real),
    Boolean(Bool),
    Ip(BV),
    /// A `let` result: string, number or bool, by `tag` (0, 1, 2).
    Any {
        s: z3::ast::String,
        n: Real,
        b: Bool,
        tag: Int,
    },
    List {
        len: Int,
        elems: Vec<z3::ast::String>,
    },
}

/// A question being encoded: a language membership of one string
/// variable, or a formula.
pub(super) enum Enc {
    Re {
        var: String,
        s: z3::ast::String,
        re: Regexp,
    },
    B(Bool),
}

/// What a symbol stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SymKind {
    Param(String),
    Unknown { origin: String, name: String },
    Glob(String),
    AnyList,
}

pub(super) fn parse_sym(name: &str) -> Option<(&str, SymKind)> {
    let (view, key) = name.split_once('|')?;
    let (k, rest) = key.split_once(':')?;
    let kind = match k {
        "p" => SymKind::Param(rest.to_string()),
        "u" => {
            let (origin, name) = rest.split_once(':')?;
            SymKind::Unknown {
                origin: origin.to_string(),
                name: name.to_string(),
            }
        }
        "g" => SymKind::Glob(rest.to_string()),
        "a" => SymKind::AnyList,
        _ => return None,
    };
    Some((view, kind))
}

pub(super) fn var_base(kind: &SymKind) -> String {
    match kind {
        SymKind::Param(p) => format!("p!{p}"),
        SymKind::Unknown { name, .. } => format!("u!{name}"),
        SymKind::Glob(g) => format!("g!{g}"),
        SymKind::AnyList => "a!argv".to_string(),
    }
}

/// Encodes residual conditions over one plan's symbols.
pub struct Encoder<'p> {
    pub(super) params: &'p HashMap<String, ParamType>,
    /// Constraints that define the symbols used so far (normal forms,
    /// glob languages, list bounds); asserted with the question.
    pub side: Vec<Bool>,
    pub(super) list_bound: u32,
    pub(super) fresh: u32,
    /// Names of string variables known to be normalized paths.
    pub(super) normal: std::collections::HashSet<String>,
    /// For each `norm(raw)` variable, its `raw`.
    pub(super) raws: HashMap<String, z3::ast::String>,
    /// Regular languages string variables are known to lie in (globs,
    /// normal forms), asserted by [`Encoder::finish`] (intersected with the
    /// question when it is about that variable alone).
    pub(super) languages: BTreeMap<String, (z3::ast::String, Vec<Regexp>)>,
    /// Whether an atom was over-approximated.
    pub approximate: bool,
    /// The constructs over-approximated so far, for the message of a
    /// question the solver could not settle.
    pub limits: std::collections::BTreeSet<&'static str>,
}

impl<'p> Encoder<'p> {
    /// An encoder for the symbols typed by `params`, with unknown argument
    /// lists of at most `list_bound` elements ([`list_bound`]).
    pub fn new(params: &'p HashMap<String, ParamType>, list_bound: u32) -> Self {
        Encoder {
            params,
            side: Vec::new(),
            list_bound,
            fresh: 0,
            normal: Default::default(),
            raws: HashMap::new(),
            languages: BTreeMap::new(),
            approximate: false,
            limits: Default::default(),
        }
    }

    /// The constraints every value of a param meets by its type.
    pub fn param_type(&mut self, name: &str, ty: ParamType) -> Bool {
        let base = format!("p!{name}");
        match ty {
            ParamType::Path => zstr("/").prefix(z3::ast::String::new_const(base)),
            ParamType::Host => {
                // A name or an address, chosen when the run starts.
                let s = z3::ast::String::new_const(base.as_str());
                let is_ip = Bool::new_const(format!("{base}#isip"));
                let label = "[A-Za-z0-9_-]+";
                let re = regex_to_z3(&format!("{label}(\\.{label})*"))
                    .expect("the host-name regex translates");
                Bool::or(&[is_ip, s.regex_matches(&re)])
            }
            _ => Bool::from_bool(true),
        }
    }

    pub(super) fn z(&mut self, name: &str) -> Option<(Z, Bool)> {
        let (view, kind) = parse_sym(name)?;
        let base = var_base(&kind);
        let t = Bool::from_bool(true);
        Some(match (&kind, view) {
            (SymKind::AnyList, _) => {
                let len = Int::new_const(format!("{base}#len"));
                self.side.push(len.ge(Int::from_i64(0)));
                self.side
                    .push(len.le(Int::from_i64(self.list_bound as i64)));
                let elems = (0..self.list_bound)
                    .map(|i| z3::ast::String::new_const(format!("{base}#{i}")))
                    .collect();
                (Z::List { len, elems }, t)
            }
            (SymKind::Glob(g), _) => {
                let s = z3::ast::String::new_const(base.as_str());
                // The glob's language holds only normalized paths.
                self.restrict(&s, glob_to_z3(g));
                self.normal.insert(s.to_string());
                (Z::Str(s), t)
            }
            (SymKind::Param(p), view) => {
                let ty = self.params.get(p).copied().unwrap_or(ParamType::String);
                match (ty, view) {
                    (ParamType::Number, RAW) => (Z::Num(Real::new_const(base)), t),
                    // A port is a whole number.
                    (ParamType::Number, PORT) => {
                        let r = Real::new_const(base);
                        self.side.push(r.is_int());
                        (Z::Num(r), t)
                    }
                    (ParamType::Bool, RAW | PORT) => (Z::Boolean(Bool::new_const(base)), t),
                    (ParamType::Number | ParamType::Bool, _) => return None,
                    (_, RAW | PORT) => (Z::Str(z3::ast::String::new_const(base)), t),
                    (_, NORM) => {
                        let raw = z3::ast::String::new_const(base.as_str());
                        self.side.push(zstr("/").prefix(&raw));
                        (Z::Str(self.norm_of(&raw, &base)), t)
                    }
                    (_, HOST) => {
                        let is_ip = Bool::new_const(format!("{base}#isip"));
                        (Z::Str(z3::ast::String::new_const(base)), is_ip.not())
                    }
                    (_, IP) => {
                        let is_ip = Bool::new_const(format!("{base}#isip"));
                        (Z::Ip(BV::new_const(format!("{base}#ip"), 128)), is_ip)
                    }
                    _ => return None,
                }
            }
            (SymKind::Unknown { .. }, view) => {
                let tag = Int::new_const(format!("{base}#tag"));
                self.side.push(tag.ge(Int::from_i64(0)));
                self.side.push(tag.le(Int::from_i64(2)));
                let s = z3::ast::String::new_const(format!("{base}#s"));
                let is_str = tag.eq(Int::from_i64(0));
                match view {
                    RAW | PORT => (
                        Z::Any {
                            s,
                            n: Real::new_const(format!("{base}#n")),
                            b: Bool::new_const(format!("{base}#b")),
                            tag,
                        },
                        t,
                    ),
                    NORM => {
                        self.side.push(is_str);
                        self.side.push(zstr("/").prefix(&s));
                        (Z::Str(self.norm_of(&s, &base)), t)
                    }
                    HOST => {
                        self.side.push(is_str);
                        let is_ip = Bool::new_const(format!("{base}#isip"));
                        (Z::Str(s), is_ip.not())
                    }
                    IP => {
                        let is_ip = Bool::new_const(format!("{base}#isip"));
                        (Z::Ip(BV::new_const(format!("{base}#ip"), 128)), is_ip)
                    }
                    _ => return None,
                }
            }
        })
    }

    /// `norm(raw)`: `raw` itself when it is in normal form, otherwise a fresh
    /// normal path no longer than it (an over-approximation; witnesses are
    /// checked concretely).
    pub(super) fn norm_of(&mut self, raw: &z3::ast::String, base: &str) -> z3::ast::String {
        let name = format!("{base}#norm");
        self.limits
            .insert("the normal form of a path not written in normal form");
        let n = z3::ast::String::new_const(name.as_str());
        self.normal.insert(n.to_string());
        self.raws.insert(n.to_string(), raw.clone());
        self.restrict(&n, normal_re());
        self.side.push(norm_link(&n, raw));
        n
    }

    /// For `n = norm(raw)`, asserts [`raw_relation`] of `raw` and `d`.
    pub(super) fn relate_raw(&mut self, n: &z3::ast::String, d: &str, under: bool) {
        if let Some(raw) = self.raws.get(&n.to_string()) {
            let r = raw_relation(n, raw, d, under);
            self.side.push(r);
        }
    }

    /// For `n = norm(raw)`, asserts [`suffix_relation`] of `raw` and the
    /// ending `y` (when normalization keeps it).
    pub(super) fn relate_suffix(&mut self, n: &z3::ast::String, y: &str) {
        if let Some(raw) = self.raws.get(&n.to_string())
            && let Some(r) = suffix_relation(n, raw, y)
        {
            self.side.push(r);
        }
    }

    /// A fresh boolean for an atom that cannot be encoded exactly
    /// (`what`: the construct, named in a "could not prove" refusal).
    pub(super) fn fresh_bool(&mut self, what: &'static str) -> Bool {
        self.fresh += 1;
        self.approximate = true;
        self.limits.insert(what);
        Bool::fresh_const("approx")
    }

    pub(super) fn restrict(&mut self, s: &z3::ast::String, re: Regexp) {
        let e = self
            .languages
            .entry(s.to_string())
            .or_insert_with(|| (s.clone(), Vec::new()));
        e.1.push(re);
    }

    /// Encodes a question: string atoms about one variable become a single
    /// regular-language membership (Z3 decides those far faster than
    /// boolean combinations of string predicates); the languages known for
    /// that variable are intersected in. Returns the assertions to make.
    pub fn question(&mut self, c: &Cond) -> Vec<Bool> {
        let e = self.enc(c);
        let mut out = Vec::new();
        match e {
            Enc::Re { var, s, re } => {
                let mut parts = vec![re];
                if let Some((_, langs)) = self.languages.remove(&var) {
                    parts.extend(langs);
                }
                out.push(s.regex_matches(&rintersect(&parts)));
            }
            Enc::B(b) => out.push(b),
        }
        out.extend(self.finish());
        out
    }

    /// The constraints of the variables used so far.
    pub fn finish(&mut self) -> Vec<Bool> {
        let mut out: Vec<Bool> = std::mem::take(&mut self.side);
        for (_, (s, langs)) in std::mem::take(&mut self.languages) {
            out.push(s.regex_matches(&rintersect(&langs)));
        }
        out
    }

    pub(super) fn to_bool(e: Enc) -> Bool {
        match e {
            Enc::Re { s, re, .. } => s.regex_matches(&re),
            Enc::B(b) => b,
        }
    }

    pub(super) fn enc(&mut self, c: &Cond) -> Enc {
        match c {
            Cond::And { all: cs } | Cond::Or { any: cs } => {
                let and = matches!(c, Cond::And { .. });
                let parts: Vec<Enc> = cs.iter().map(|c| self.enc(c)).collect();
                let one_var = match parts.first() {
                    Some(Enc::Re { var, .. }) => parts
                        .iter()
                        .all(|p| matches!(p, Enc::Re { var: v, .. } if v == var)),
                    _ => false,
                };
                if one_var {
                    let mut var = String::new();
                    let mut st = None;
                    let mut res = Vec::new();
                    for p in &parts {
                        if let Enc::Re { var: v, s, re } = p {
                            var = v.clone();
                            st = Some(s.clone());
                            res.push(re.clone());
                        }
                    }
                    if let Some(s) = st {
                        let re = if and { rintersect(&res) } else { runion(&res) };
                        return Enc::Re { var, s, re };
                    }
                }
                let bs: Vec<Bool> = parts.into_iter().map(Self::to_bool).collect();
                Enc::B(if and { Bool::and(&bs) } else { Bool::or(&bs) })
            }
            Cond::Not { cond } => match self.enc(cond) {
                Enc::Re { var, s, re } => Enc::Re {
                    var,
                    s,
                    re: re.complement(),
                },
                Enc::B(b) => Enc::B(b.not()),
            },
            Cond::Cmp {
                op,
                lhs: Operand::Ref {
                    name, index: None, ..
                },
                rhs: Operand::Value { value },
            } if *op == CmpOp::Under && name.starts_with("raw|p:") => {
                // `p under D` in a `where`: the normalized value lies in the
                // tree (and the value is an absolute path).
                if let (Some((Z::Str(raw), present)), Value::String(d)) = (self.z(name), value)
                    && present.as_bool() == Some(true)
                    && let Ok(d) = warden_core::path::normalize_path(d)
                {
                    let base = raw.to_string().trim_matches('|').to_string();
                    let n = self.norm_of(&raw, &base);
                    self.relate_raw(&n, &d, true);
                    let abs = rconcat(&[zre_lit("/"), Regexp::full()]);
                    return Enc::B(Bool::and(&[
                        raw.regex_matches(&abs),
                        n.regex_matches(&under_re(&d)),
                    ]));
                }
                Enc::B(self.encode(c))
            }
            Cond::Cmp {
                op,
                lhs: Operand::Ref {
                    name, index: None, ..
                },
                rhs: Operand::Value { value },
            } if !(name.starts_with(OPAQUE) || *op == CmpOp::Under && name.starts_with("raw|")) => {
                if let Some((Z::Str(s), present)) = self.z(name)
                    && present.as_bool() == Some(true)
                    && let Some(re) = self.str_re(*op, &s, value)
                {
                    return Enc::Re {
                        var: s.to_string(),
                        s,
                        re,
                    };
                }
                Enc::B(self.encode(c))
            }
            c => Enc::B(self.encode(c)),
        }
    }

    /// A string atom as a regular language, when it is one.
    pub(super) fn str_re(&mut self, op: CmpOp, s: &z3::ast::String, v: &Value) -> Option<Regexp> {
        let all = || Regexp::full();
        Some(match (op, v) {
            (CmpOp::Eq, Value::String(x)) if self.raws.contains_key(&s.to_string()) => {
                if let Ok(x) = warden_core::path::normalize_path(x) {
                    self.relate_raw(s, &x, false);
                }
                zre_lit(x)
            }
            (CmpOp::Eq, Value::String(x)) => zre_lit(x),
            (CmpOp::Ne, Value::String(x)) => zre_lit(x).complement(),
            (CmpOp::In, Value::List(items)) => {
                let mut rs = Vec::new();
                for i in items {
                    match i {
                        Value::String(x) => rs.push(zre_lit(x)),
                        Value::Cidr(_) => return None,
                        _ => {}
                    }
                }
                runion(&rs)
            }
            (CmpOp::StartsWith, Value::String(x)) => rconcat(&[zre_lit(x), all()]),
            (CmpOp::EndsWith, Value::String(x)) => {
                self.relate_suffix(s, x);
                rconcat(&[all(), zre_lit(x)])
            }
            (CmpOp::Contains, Value::String(x)) => rconcat(&[all(), zre_lit(x), all()]),
            (CmpOp::Matches, Value::String(x)) => regex_to_z3(x)?,
            (CmpOp::Under, Value::String(d)) if self.normal.contains(&s.to_string()) => {
                let d = warden_core::path::normalize_path(d).ok()?;
                self.relate_raw(s, &d, true);
                under_re(&d)
            }
            _ => return None,
        })
    }

    /// Encodes a residual condition.
    pub fn encode(&mut self, c: &Cond) -> Bool {
        match c {
            Cond::True => Bool::from_bool(true),
            Cond::False => Bool::from_bool(false),
            Cond::And { all } => {
                let xs: Vec<Bool> = all.iter().map(|c| self.encode(c)).collect();
                Bool::and(&xs)
            }
            Cond::Or { any } => {
                let xs: Vec<Bool> = any.iter().map(|c| self.encode(c)).collect();
                Bool::or(&xs)
            }
            Cond::Not { cond } => self.encode(cond).not(),
            Cond::Has { field } => match self.z(field) {
                Some((_, present)) => present,
                None => self.fresh_bool("a field the encoding does not model"),
            },
            Cond::FromCall { .. } => Bool::from_bool(false),
            Cond::Cmp { op, lhs, rhs } => self.cmp(*op, lhs, rhs),
        }
    }

    pub(super) fn cmp(&mut self, op: CmpOp, lhs: &Operand, rhs: &Operand) -> Bool {
        match (lhs, rhs) {
            (
                Operand::Ref {
                    name, index: None, ..
                },
                _,
            ) if name.starts_with(OPAQUE) => {
                self.fresh_bool("a condition on a value the encoding does not model")
            }
            (Operand::Ref { name, index, .. }, Operand::Value { value }) => {
                // `under` normalizes: ask it of the normalized string.
                if op == CmpOp::Under
                    && let Some((RAW, kind @ (SymKind::Param(_) | SymKind::Unknown { .. }))) =
                        parse_sym(name)
                {
                    let base = var_base(&kind);
                    return match self.z(name) {
                        Some((Z::Str(raw), present)) => {
                            let n = self.norm_of(&raw, &base);
                            let atom = self.str_atom(op, &n, value);
                            Bool::and(&[present, zstr("/").prefix(&raw), atom])
                        }
                        Some((Z::Any { s, tag, .. }, present)) => {
                            let n = self.norm_of(&s, &base);
                            let atom = self.str_atom(op, &n, value);
                            Bool::and(&[
                                present,
                                tag.eq(Int::from_i64(0)),
                                zstr("/").prefix(&s),
                                atom,
                            ])
                        }
                        Some(_) => Bool::from_bool(false),
                        None => self.fresh_bool("`under` on a value that is not a string"),
                    };
                }
                match self.z(name) {
                    None => self.fresh_bool("`under` on a value the encoding does not model"),
                    Some((z, present)) => {
                        let atom = self.atom(op, &z, *index, value);
                        Bool::and(&[present, atom])
                    }
                }
            }
            (Operand::Ref { name: a, .. }, Operand::Ref { name: b, .. }) => {
                match (self.z(a), self.z(b)) {
                    (Some((za, pa)), Some((zb, pb))) => {
                        let atom = match (&za, &zb, op) {
                            (Z::Str(x), Z::Str(y), CmpOp::Eq | CmpOp::In) => x.eq(y),
                            (Z::Str(x), Z::Str(y), CmpOp::Ne) => x.eq(y).not(),
                            (Z::Str(x), Z::Str(y), CmpOp::StartsWith) => y.prefix(x),
                            (Z::Str(x), Z::Str(y), CmpOp::EndsWith) => y.suffix(x),
                            (Z::Str(x), Z::Str(y), CmpOp::Contains) => x.contains(y),
                            (Z::Num(x), Z::Num(y), CmpOp::Eq | CmpOp::In) => x.eq(y),
                            (Z::Num(x), Z::Num(y), CmpOp::Ne) => x.eq(y).not(),
                            (Z::Num(x), Z::Num(y), CmpOp::Lt) => x.lt(y),
                            (Z::Num(x), Z::Num(y), CmpOp::Le) => x.le(y),
                            (Z::Num(x), Z::Num(y), CmpOp::Gt) => x.gt(y),
                            (Z::Num(x), Z::Num(y), CmpOp::Ge) => x.ge(y),
                            (Z::Boolean(x), Z::Boolean(y), CmpOp::Eq | CmpOp::In) => x.eq(y),
                            (Z::Boolean(x), Z::Boolean(y), CmpOp::Ne) => x.eq(y).not(),
                            _ => {
                                return self
                                    .fresh_bool("a comparison of two unknowns of different types");
                            }
                        };
                        Bool::and(&[pa, pb, atom])
                    }
                    _ => {
                        self.fresh_bool("a comparison of two unknowns the encoding does not model")
                    }
                }
            }
            _ => self.fresh_bool("a comparison the encoding does not model"),
        }
    }

    pub(super) fn atom(&mut self, op: CmpOp, z: &Z, index: Option<u32>, v: &Value) -> Bool {
        match z {
            Z::List { len, elems } => match index {
                Some(i) => match elems.get(i as usize) {
                    Some(e) => {
                        Bool::and(&[len.gt(Int::from_i64(i as i64)), self.str_atom(op, e, v)])
                    }
                    // Beyond the bound: the encoding cannot see it.
                    None => {
                        self.fresh_bool("an index beyond the bound of an unknown argument list")
                    }
                },
                None => self.list_atom(op, len, elems, v),
            },
            Z::Str(s) => self.str_atom(op, s, v),
            Z::Num(n) => self.num_atom(op, n, v),
            Z::Boolean(b) => match (op, v) {
                (CmpOp::Eq | CmpOp::In, Value::Bool(x)) => b.eq(Bool::from_bool(*x)),
                (CmpOp::In, Value::List(items)) => Bool::or(
                    &items
                        .iter()
                        .map(|i| match i {
                            Value::Bool(x) => b.eq(Bool::from_bool(*x)),
                            _ => Bool::from_bool(false),
                        })
                        .collect::<Vec<_>>(),
                ),
                (CmpOp::Ne, Value::Bool(x)) => b.eq(Bool::from_bool(*x)).not(),
                (CmpOp::Ne, _) => Bool::from_bool(true),
                _ => Bool::from_bool(false),
            },
            Z::Ip(ip) => self.ip_atom(op, ip, v),
            Z::Any { s, n, b, tag } => {
                let is = |k: i64| tag.eq(Int::from_i64(k));
                if op == CmpOp::Ne {
                    let eq = self.atom(
                        CmpOp::Eq,
                        &Z::Any {
                            s: s.clone(),
                            n: n.clone(),
                            b: b.clone(),
                            tag: tag.clone(),
                        },
                        None,
                        v,
                    );
                    return eq.not();
                }
                let as_s = self.str_atom(op, s, v);
                let as_n = self.num_atom(op, n, v);
                let as_b = self.atom(op, &Z::Boolean(b.clone()), None, v);
                Bool::or(&[
                    Bool::and(&[is(0), as_s]),
                    Bool::and(&[is(1), as_n]),
                    Bool::and(&[is(2), as_b]),
                ])
            }
        }
    }

    pub(super) fn str_atom(&mut self, op: CmpOp, s: &z3::ast::String, v: &Value) -> Bool {
        let f = Bool::from_bool(false);
        match (op, v) {
            (CmpOp::Eq, Value::String(x)) => s.eq(zstr(x)),
            (CmpOp::Eq, Value::Cidr(_)) => self.fresh_bool("a string compared with an address"),
            (CmpOp::Eq, _) => f,
            (CmpOp::Ne, v) => self.str_atom(CmpOp::Eq, s, v).not(),
            (CmpOp::In, Value::List(items)) => {
                let xs: Vec<Bool> = items
                    .iter()
                    .map(|i| self.str_atom(CmpOp::In, s, i))
                    .collect();
                Bool::or(&xs)
            }
            (CmpOp::In, Value::Cidr(_)) => self.fresh_bool("a string compared with an address"),
            (CmpOp::In, v) => self.str_atom(CmpOp::Eq, s, v),
            (CmpOp::Under, Value::String(d)) => {
                let exact = match warden_core::path::normalize_path(d) {
                    Ok(d) if d == "/" => zstr("/").prefix(s),
                    Ok(d) => Bool::or(&[s.eq(zstr(&d)), zstr(&format!("{d}/")).prefix(s)]),
                    Err(_) => return f,
                };
                if self.normal.contains(&s.to_string()) {
                    return exact;
                }
                // Exact on normal paths; elsewhere over-approximated.
                let other = self.fresh_bool("`under` on a string that may not be a normalized path");
                normal_path(s).ite(&exact, &other)
            }
            (CmpOp::StartsWith, Value::String(x)) => zstr(x).prefix(s),
            (CmpOp::EndsWith, Value::String(x)) => {
                self.relate_suffix(s, x);
                zstr(x).suffix(s)
            }
            (CmpOp::Contains, Value::String(x)) => s.contains(zstr(x)),
            (CmpOp::Matches, Value::String(re)) => match regex_to_z3(re) {
                Some(r) => s.regex_matches(&r),
                None => self.fresh_bool("a regex feature without a Z3 form (word boundaries, lookaround, backreferences)"),
            },
            _ => f,
        }
    }

    pub(super) fn num_atom(&mut self, op: CmpOp, n: &Real, v: &Value) -> Bool {
        let f = Bool::from_bool(false);
        match (op, v) {
            (CmpOp::Eq, Value::Number(x)) => n.eq(decimal_real(x)),
            (CmpOp::Ne, Value::Number(x)) => n.eq(decimal_real(x)).not(),
            (CmpOp::Ne, _) => Bool::from_bool(true),
            (CmpOp::Lt, Value::Number(x)) => n.lt(decimal_real(x)),
            (CmpOp::Le, Value::Number(x)) => n.le(decimal_real(x)),
            (CmpOp::Gt, Value::Number(x)) => n.gt(decimal_real(x)),
            (CmpOp::Ge, Value::Number(x)) => n.ge(decimal_real(x)),
            (CmpOp::In, Value::List(items)) => {
                let xs: Vec<Bool> = items
                    .iter()
                    .map(|i| self.num_atom(CmpOp::Eq, n, i))
                    .collect();
                Bool::or(&xs)
            }
            (CmpOp::In, v) => self.num_atom(CmpOp::Eq, n, v),
            _ => f,
        }
    }

    pub(super) fn ip_atom(&mut self, op: CmpOp, ip: &BV, v: &Value) -> Bool {
        let f = Bool::from_bool(false);
        let as_net = |v: &Value| match v {
            Value::Cidr(n) => Some(*n),
            Value::String(s) => warden_core::net::parse_cidr(s),
            _ => None,
        };
        match op {
            CmpOp::Eq => match as_net(v) {
                // One address equals only a one-address network.
                Some(n) if n.prefix_len() == n.max_prefix_len() => in_net(ip, &n),
                _ => f,
            },
            CmpOp::Ne => self.ip_atom(CmpOp::Eq, ip, v).not(),
            CmpOp::In => match v {
                Value::List(items) => {
                    let xs: Vec<Bool> = items
                        .iter()
                        .map(|i| match as_net(i) {
                            Some(n) => in_net(ip, &n),
                            None => Bool::from_bool(false),
                        })
                        .collect();
                    Bool::or(&xs)
                }
                v => match as_net(v) {
                    Some(n) => in_net(ip, &n),
                    None => f,
                },
            },
            _ => f,
        }
    }

    pub(super) fn list_atom(
        &mut self,
        op: CmpOp,
        len: &Int,
        elems: &[z3::ast::String],
        v: &Value,
    ) -> Bool {
        let has = |i: usize| len.gt(Int::from_i64(i as i64));
        match op {
            CmpOp::Eq | CmpOp::Ne => {
                let eq = match v {
                    Value::List(vs) if vs.len() <= elems.len() => {
                        let mut xs = vec![len.eq(Int::from_i64(vs.len() as i64))];
                        for (e, x) in elems.iter().zip(vs) {
                            xs.push(self.str_atom(CmpOp::Eq, e, x));
                        }
                        Bool::and(&xs)
                    }
                    Value::List(_) => self.fresh_bool(
                        "a list literal longer than the bound of an unknown argument list",
                    ),
                    _ => Bool::from_bool(false),
                };
                if op == CmpOp::Eq { eq } else { eq.not() }
            }
            CmpOp::Contains => {
                let xs: Vec<Bool> = elems
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Bool::and(&[has(i), self.str_atom(CmpOp::Eq, e, v)]))
                    .collect();
                Bool::or(&xs)
            }
            op => {
                let xs: Vec<Bool> = elems
                    .iter()
                    .enumerate()
                    .map(|(i, e)| has(i).implies(self.str_atom(op, e, v)))
                    .collect();
                Bool::and(&xs)
            }
        }
    }
}

/// A bound on unknown argument lists that lets every atom of `c` see its
/// own element: the longest list literal, the largest index, plus one per
/// atom.
pub fn list_bound(conds: &[&Cond]) -> u32 {
    pub(super) fn walk(c: &Cond, atoms: &mut u32, longest: &mut u32) {
        match c {
            Cond::And { all: cs } | Cond::Or { any: cs } => {
                cs.iter().for_each(|c| walk(c, atoms, longest))
            }
            Cond::Not { cond } => walk(cond, atoms, longest),
            Cond::Cmp { lhs, rhs, .. } => {
                *atoms += 1;
                for o in [lhs, rhs] {
                    match o {
                        Operand::Value {
                            value: Value::List(v),
                        } => *longest = (*longest).max(v.len() as u32),
                        Operand::Ref { index: Some(i), .. } => {
                            *longest = (*longest).max(i.saturating_add(1))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let (mut atoms, mut longest) = (0, 0);
    for c in conds {
        walk(c, &mut atoms, &mut longest);
    }
    (longest + atoms + 1).min(64)
}
