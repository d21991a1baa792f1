//! Z3 encoding of the questions about steps whose values are not all known.
//!
//! A question starts as a spec condition evaluated **partially** on a plan
//! step ([`residual`]): known fields are folded to `true`/`false`, and what
//! remains mentions only *symbols* (params, `let` results, globs, unknown
//! argument lists). The residual is canonicalized ([`crate::canon`]) and
//! then encoded here:
//!
//! - strings (params of type `string`, `path`, `host`; glob paths) with the
//!   string theory; `matches` with Z3 regexes translated from the regex's
//!   syntax tree; globs as regexes of normalized paths;
//! - numbers as exact `Real`s; bools as `Bool`s;
//! - addresses as 128-bit vectors, IPv4 as IPv4-mapped IPv6;
//! - an unknown argument list as a bounded list (length and elements), with
//!   the each-element semantics;
//! - a `let` result as a value of unknown type: a string, a number or a bool.
//!
//! **Paths are sound.** The path an action touches is `norm(p)`. When `p` is
//! in normal form, `norm(p) = p`; otherwise `norm(p)` is a fresh string that
//! is only known to be a normal absolute path no longer than `p`. That is an
//! over-approximation (every real value is still possible), so no violation
//! is missed; a witness it produces is then checked concretely with
//! [`crate::concrete`], and a spurious one is blocked and the solver asked
//! again (a bounded number of times; then the step is refused as "could not
//! prove"). Atoms that cannot be encoded exactly (a regex feature Z3 lacks,
//! a string compared with a cidr) become fresh booleans: again an
//! over-approximation settled by the concrete check of the witness.
//!
//! Every solver call is bounded by a timeout; a timeout refuses.
//!
//! ```
//! use verifier::symbolic::unescape_z3;
//! assert_eq!(unescape_z3(r"a\u{5c}b"), "a\\b");
//! ```

use warden_core::action::ConcreteAction;

use warden_core::value::Field;

use crate::cfg::{StepAction, Term};
use ipnet::IpNet;
use planlang::ast::{ActionKind, CmpOp, ParamType};
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::value::Value;
use z3::ast::{Ast, BV, Bool, Int, Real, Regexp};
use z3::{Context, SatResult, Solver};

// ───────────────────────────── residuals ─────────────────────────────

/// The view of a symbol an atom asks about.
const RAW: &str = "raw";
/// The normalized path of a string (an action's `path`).
const NORM: &str = "norm";
/// A connect target as a host name (present when it is not an address).
const HOST: &str = "host";
/// A connect target as an address (present when it is one).
const IP: &str = "ip";
/// An atom that cannot be encoded exactly.
const OPAQUE: &str = "opaque";

fn sym_name(view: &str, term: &Term) -> Option<String> {
    let key = match term {
        Term::Param(p) => format!("p:{p}"),
        Term::Unknown { name, origin } => format!("u:{origin}:{name}"),
        Term::Glob(g) => format!("g:{g}"),
        Term::AnyList => "a:argv".to_string(),
        _ => return None,
    };
    Some(format!("{view}|{key}"))
}

fn sym(name: String, index: Option<u32>) -> Operand {
    Operand::Ref {
        name,
        fields: Vec::new(),
        index,
    }
}

/// A partially evaluated operand.
enum PT {
    Known(Value),
    Sym(String, Option<u32>),
    List(Vec<PT>),
    Missing,
}

fn term_pt(term: &Term, view: &str, index: Option<u32>) -> PT {
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

fn field_view(kind: ActionKind, field: &str) -> &'static str {
    match (kind, field) {
        // Every action's path (a file's, a unix socket's) is normalized.
        (ActionKind::Call, _) => RAW,
        (_, "path") => NORM,
        (ActionKind::Connect, "host") => HOST,
        (ActionKind::Connect, "ip") => IP,
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
    fn operand(&self, o: &Operand) -> PT {
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

    fn term(&self, name: &str) -> Option<&Term> {
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

fn bool_cond(b: bool) -> Cond {
    if b { Cond::True } else { Cond::False }
}

fn pt_operand(p: PT) -> Option<Operand> {
    match p {
        PT::Known(value) => Some(Operand::Value { value }),
        PT::Sym(n, i) => Some(sym(n, i)),
        _ => None,
    }
}

fn opaque(op: CmpOp) -> Cond {
    Cond::Cmp {
        op,
        lhs: sym(format!("{OPAQUE}|x"), None),
        rhs: Operand::Value {
            value: Value::Bool(true),
        },
    }
}

fn cmp_residual(op: CmpOp, l: PT, r: PT) -> Cond {
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

// ───────────────────────────── Z3 terms ─────────────────────────────

fn ctx() -> Context {
    Context::thread_local()
}

/// A Z3 string literal, exactly these characters (no escape processing).
pub fn zstr(s: &str) -> z3::ast::String {
    let c = ctx();
    let chars: Vec<u32> = s.chars().map(|c| c as u32).collect();
    // SAFETY: the context is live for the call; the pointer and length
    // describe `chars`; `wrap` takes a reference to the returned AST.
    unsafe {
        let raw = z3_sys::Z3_mk_u32string(c.get_z3_context(), chars.len() as u32, chars.as_ptr())
            .expect("Z3 returned no string");
        z3::ast::String::wrap(&c, raw)
    }
}

fn zre_lit(s: &str) -> Regexp {
    let c = ctx();
    let st = zstr(s);
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_seq_to_re(c.get_z3_context(), st.get_z3_ast())
            .expect("Z3 returned no regex");
        Regexp::wrap(&c, raw)
    }
}

/// Z3's characters stop here (its default unicode encoding).
const Z3_MAX_CHAR: u32 = 0x2FFFF;

fn zre_range(lo: char, hi: char) -> Option<Regexp> {
    let lo = lo as u32;
    let hi = (hi as u32).min(Z3_MAX_CHAR);
    if lo > hi {
        return None;
    }
    let c = ctx();
    let (a, b) = (char_str(lo), char_str(hi));
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_re_range(c.get_z3_context(), a.get_z3_ast(), b.get_z3_ast())
            .expect("Z3 returned no range");
        Some(Regexp::wrap(&c, raw))
    }
}

fn char_str(c: u32) -> z3::ast::String {
    let ctx = ctx();
    let chars = [c];
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_u32string(ctx.get_z3_context(), 1, chars.as_ptr())
            .expect("Z3 returned no string");
        z3::ast::String::wrap(&ctx, raw)
    }
}

/// Reads a string value of a model, unescaped.
fn read_str(s: &z3::ast::String) -> Option<String> {
    let c = ctx();
    // SAFETY: `s` is a string constant of this context (checked first).
    unsafe {
        if !z3_sys::Z3_is_string(c.get_z3_context(), s.get_z3_ast()) {
            return None;
        }
        let n = z3_sys::Z3_get_string_length(c.get_z3_context(), s.get_z3_ast());
        let mut buf = vec![0u32; n as usize];
        z3_sys::Z3_get_string_contents(c.get_z3_context(), s.get_z3_ast(), n, buf.as_mut_ptr());
        Some(buf.into_iter().filter_map(char::from_u32).collect())
    }
}

/// Undoes Z3's `\u{..}` escapes in a printed string.
pub fn unescape_z3(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\u{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        match after.find('}').and_then(|j| {
            u32::from_str_radix(&after[..j], 16)
                .ok()
                .and_then(char::from_u32)
                .map(|c| (c, j))
        }) {
            Some((c, j)) => {
                out.push(c);
                rest = &after[j + 1..];
            }
            None => {
                out.push_str("\\u{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Translates a `matches` regex (whole value) to Z3; `None` when it uses a
/// feature without a Z3 counterpart (look-around, word boundaries).
pub fn regex_to_z3(pattern: &str) -> Option<Regexp> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    hir_to_z3(&hir, true, true)
}

fn hir_to_z3(h: &Hir, at_start: bool, at_end: bool) -> Option<Regexp> {
    match h.kind() {
        HirKind::Empty => Some(zre_lit("")),
        HirKind::Literal(lit) => Some(zre_lit(std::str::from_utf8(&lit.0).ok()?)),
        HirKind::Class(Class::Unicode(cls)) => {
            let rs: Vec<Regexp> = cls
                .ranges()
                .iter()
                .filter_map(|r| zre_range(r.start(), r.end()))
                .collect();
            if rs.is_empty() {
                return Some(Regexp::empty());
            }
            Some(runion(&rs))
        }
        HirKind::Class(Class::Bytes(cls)) => {
            let rs: Vec<Regexp> = cls
                .ranges()
                .iter()
                .filter_map(|r| zre_range(r.start() as char, r.end() as char))
                .collect();
            if rs.is_empty() {
                return Some(Regexp::empty());
            }
            Some(runion(&rs))
        }
        HirKind::Look(look) => match look {
            // The value is matched whole: anchors at its ends are no-ops.
            Look::Start | Look::StartLF | Look::StartCRLF if at_start => Some(zre_lit("")),
            Look::End | Look::EndLF | Look::EndCRLF if at_end => Some(zre_lit("")),
            _ => None,
        },
        HirKind::Repetition(rep) => {
            let sub = hir_to_z3(&rep.sub, false, false)?;
            Some(match rep.max {
                Some(max) => sub.r#loop(rep.min, max),
                None if rep.min == 0 => sub.star(),
                None => rconcat(&[sub.power(rep.min), sub.star()]),
            })
        }
        HirKind::Capture(cap) => hir_to_z3(&cap.sub, at_start, at_end),
        HirKind::Concat(xs) => {
            let n = xs.len();
            let parts = xs
                .iter()
                .enumerate()
                .map(|(i, x)| hir_to_z3(x, at_start && i == 0, at_end && i + 1 == n))
                .collect::<Option<Vec<_>>>()?;
            Some(rconcat(&parts))
        }
        HirKind::Alternation(xs) => {
            let parts = xs
                .iter()
                .map(|x| hir_to_z3(x, at_start, at_end))
                .collect::<Option<Vec<_>>>()?;
            Some(runion(&parts))
        }
    }
}

/// The Z3 regex of the normalized paths a (normalized) glob matches.
pub fn glob_to_z3(glob: &str) -> Regexp {
    let segs: Vec<&str> = glob.split('/').filter(|s| !s.is_empty()).collect();
    let not_slash = || {
        runion(&[
            zre_range('\0', '.').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    let seg_any = || rconcat(&[zre_lit("/"), segment_re()]);
    if segs.is_empty() {
        return zre_lit("/");
    }
    if segs.iter().all(|s| *s == "**") {
        return runion(&[zre_lit("/"), seg_any().plus()]);
    }
    let mut parts = Vec::new();
    for s in segs {
        if s == "**" {
            parts.push(seg_any().star());
            continue;
        }
        parts.push(zre_lit("/"));
        if s.chars().all(|c| c == '*') {
            parts.push(segment_re());
            continue;
        }
        let mut seg = Vec::new();
        let mut lit = String::new();
        for c in s.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        seg.push(zre_lit(&lit));
                        lit.clear();
                    }
                    seg.push(if c == '*' {
                        not_slash().star()
                    } else {
                        not_slash()
                    });
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            seg.push(zre_lit(&lit));
        }
        let seg = rconcat(&seg);
        // A segment of only wildcards and dots could spell `.` or `..`.
        if s.chars().all(|c| matches!(c, '*' | '?' | '.')) {
            parts.push(Regexp::intersect(&[seg, segment_re()]));
        } else {
            parts.push(seg);
        }
    }
    rconcat(&parts)
}

fn decimal_real(d: &Decimal) -> Real {
    let d = d.normalize();
    let scale = d.scale();
    let mantissa = d.mantissa();
    let den = 10i128.pow(scale);
    Real::from_rational_str(&mantissa.to_string(), &den.to_string())
        .unwrap_or_else(|| Real::from_rational(0, 1))
}

fn real_decimal(r: &Real) -> Option<Decimal> {
    let (n, d) = r.as_rational()?;
    if d == 0 {
        return None;
    }
    let v = Decimal::from(n).checked_div(Decimal::from(d))?;
    // Only exact decimals are values of the language.
    (v.checked_mul(Decimal::from(d))? == Decimal::from(n)).then_some(v)
}

fn mapped_bv(net: &IpNet) -> (BV, u8) {
    let (addr, prefix) = warden_core::net::mapped(net);
    (
        BV::from_str(128, &addr.to_string()).expect("a 128-bit value"),
        prefix,
    )
}

fn read_bv128(bv: &BV) -> Option<u128> {
    let hi = bv.extract(127, 64).simplify().as_u64()?;
    let lo = bv.extract(63, 0).simplify().as_u64()?;
    Some(((hi as u128) << 64) | lo as u128)
}

fn in_net(ip: &BV, net: &IpNet) -> Bool {
    let (addr, prefix) = mapped_bv(net);
    if prefix == 0 {
        return Bool::from_bool(true);
    }
    let hi = 127;
    let lo = 128 - prefix as u32;
    ip.extract(hi, lo).eq(addr.extract(hi, lo))
}

// ───────────────────────────── the encoder ─────────────────────────────

/// A symbol's value in Z3, by how the question looks at it.
enum Z {
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
enum Enc {
    Re {
        var: String,
        s: z3::ast::String,
        re: Regexp,
    },
    B(Bool),
}

/// What a symbol stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SymKind {
    Param(String),
    Unknown { origin: String, name: String },
    Glob(String),
    AnyList,
}

fn parse_sym(name: &str) -> Option<(&str, SymKind)> {
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

fn var_base(kind: &SymKind) -> String {
    match kind {
        SymKind::Param(p) => format!("p!{p}"),
        SymKind::Unknown { name, .. } => format!("u!{name}"),
        SymKind::Glob(g) => format!("g!{g}"),
        SymKind::AnyList => "a!argv".to_string(),
    }
}

/// Encodes residual conditions over one plan's symbols.
pub struct Encoder<'p> {
    params: &'p HashMap<String, ParamType>,
    /// Constraints that define the symbols used so far (normal forms,
    /// glob languages, list bounds); asserted with the question.
    pub side: Vec<Bool>,
    list_bound: u32,
    fresh: u32,
    /// Names of string variables known to be normalized paths.
    normal: std::collections::HashSet<String>,
    /// For each `norm(raw)` variable, its `raw`.
    raws: HashMap<String, z3::ast::String>,
    /// Regular languages string variables are known to lie in (globs,
    /// normal forms), asserted by [`Encoder::finish`] (intersected with the
    /// question when it is about that variable alone).
    languages: BTreeMap<String, (z3::ast::String, Vec<Regexp>)>,
    /// Whether an atom was over-approximated.
    pub approximate: bool,
}

/// `re.++` of the parts (Z3 wants two or more; one is itself).
fn rconcat(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => zre_lit(""),
        [one] => one.clone(),
        many => Regexp::concat(many),
    }
}

/// `re.union` of the parts (none is the empty language).
fn runion(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => Regexp::empty(),
        [one] => one.clone(),
        many => Regexp::union(many),
    }
}

/// `re.inter` of the parts (none is every string).
fn rintersect(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => Regexp::full(),
        [one] => one.clone(),
        many => Regexp::intersect(many),
    }
}

/// The normalized paths under `d` (normal): `d` itself and below.
fn under_re(d: &str) -> Regexp {
    if d == "/" {
        return rconcat(&[zre_lit("/"), Regexp::full()]);
    }
    runion(&[
        zre_lit(d),
        rconcat(&[zre_lit(&format!("{d}/")), Regexp::full()]),
    ])
}

/// The absolute paths without `..` segments whose normal form is `d`
/// (`under`: or is under `d`): `d`'s segments with empty and `.` segments
/// anywhere between them and a trailing `/`.
fn raw_lang(d: &str, under: bool) -> Regexp {
    // Junk: empty or `.` segments.
    let junk = || runion(&[zre_lit("/"), zre_lit("/.")]).star();
    let mut parts = vec![junk()];
    for seg in d.split('/').filter(|s| !s.is_empty()) {
        parts.push(zre_lit(&format!("/{seg}")));
        parts.push(junk());
    }
    let tail = if under {
        // End here, or go on below (a `/` and anything).
        runion(&[zre_lit(""), rconcat(&[zre_lit("/"), Regexp::full()])])
    } else {
        runion(&[zre_lit(""), zre_lit("/")])
    };
    parts.push(tail);
    // A relative string is no path at all.
    rintersect(&[rconcat(&parts), rconcat(&[zre_lit("/"), Regexp::full()])])
}

/// One segment of a normalized path: not empty, no `/`, not `.` or `..`
/// (written without complement, which Z3 decides faster): it starts with a
/// character other than `.`, or is `.` and such a character, or `..` and
/// at least one more character.
fn segment_re() -> Regexp {
    let not_slash = || {
        runion(&[
            zre_range('\0', '.').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    let not_slash_dot = || {
        runion(&[
            zre_range('\0', '-').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    runion(&[
        rconcat(&[not_slash_dot(), not_slash().star()]),
        rconcat(&[zre_lit("."), not_slash_dot(), not_slash().star()]),
        rconcat(&[zre_lit(".."), not_slash().plus()]),
    ])
}

/// The language of normalized absolute paths: `/` or `(/SEGMENT)+`.
fn normal_re() -> Regexp {
    runion(&[zre_lit("/"), rconcat(&[zre_lit("/"), segment_re()]).plus()])
}

fn normal_path(s: &z3::ast::String) -> Bool {
    s.regex_matches(&normal_re())
}

impl<'p> Encoder<'p> {
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

    fn z(&mut self, name: &str) -> Option<(Z, Bool)> {
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
                    (ParamType::Bool, RAW) => (Z::Boolean(Bool::new_const(base)), t),
                    (ParamType::Number | ParamType::Bool, _) => return None,
                    (_, RAW) => (Z::Str(z3::ast::String::new_const(base)), t),
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
                    RAW => (
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
    fn norm_of(&mut self, raw: &z3::ast::String, base: &str) -> z3::ast::String {
        let name = format!("{base}#norm");
        let n = z3::ast::String::new_const(name.as_str());
        self.normal.insert(n.to_string());
        self.raws.insert(n.to_string(), raw.clone());
        self.restrict(&n, normal_re());
        self.side.push(normal_path(raw).implies(n.eq(raw)));
        n
    }

    fn fresh_bool(&mut self) -> Bool {
        self.fresh += 1;
        self.approximate = true;
        Bool::fresh_const("approx")
    }

    fn restrict(&mut self, s: &z3::ast::String, re: Regexp) {
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

    fn to_bool(e: Enc) -> Bool {
        match e {
            Enc::Re { s, re, .. } => s.regex_matches(&re),
            Enc::B(b) => b,
        }
    }

    fn enc(&mut self, c: &Cond) -> Enc {
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

    /// For `n = norm(raw)`: when `raw` has no `..` segment, normalization
    /// only drops empty and `.` segments and a trailing `/`, so whether `n`
    /// is under (or equal to) the normal path `d` is exactly a regular
    /// property of `raw`. Asserting that lets the solver see that only a
    /// `..` can move a path out of a tree.
    fn relate_raw(&mut self, n: &z3::ast::String, d: &str, under: bool) {
        let Some(raw) = self.raws.get(&n.to_string()).cloned() else {
            return;
        };
        let n_in = n.regex_matches(&if under { under_re(d) } else { zre_lit(d) });
        let raw_in = raw.regex_matches(&raw_lang(d, under));
        let has_dotdot = raw.regex_matches(&rconcat(&[
            Regexp::full(),
            zre_lit("/.."),
            runion(&[zre_lit(""), rconcat(&[zre_lit("/"), Regexp::full()])]),
        ]));
        self.side.push(has_dotdot.not().implies(n_in.iff(raw_in)));
    }

    /// A string atom as a regular language, when it is one.
    fn str_re(&mut self, op: CmpOp, s: &z3::ast::String, v: &Value) -> Option<Regexp> {
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
            (CmpOp::EndsWith, Value::String(x)) => rconcat(&[all(), zre_lit(x)]),
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
                None => self.fresh_bool(),
            },
            Cond::FromCall { .. } => Bool::from_bool(false),
            Cond::Cmp { op, lhs, rhs } => self.cmp(*op, lhs, rhs),
        }
    }

    fn cmp(&mut self, op: CmpOp, lhs: &Operand, rhs: &Operand) -> Bool {
        match (lhs, rhs) {
            (
                Operand::Ref {
                    name, index: None, ..
                },
                _,
            ) if name.starts_with(OPAQUE) => self.fresh_bool(),
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
                        None => self.fresh_bool(),
                    };
                }
                match self.z(name) {
                    None => self.fresh_bool(),
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
                            _ => return self.fresh_bool(),
                        };
                        Bool::and(&[pa, pb, atom])
                    }
                    _ => self.fresh_bool(),
                }
            }
            _ => self.fresh_bool(),
        }
    }

    fn atom(&mut self, op: CmpOp, z: &Z, index: Option<u32>, v: &Value) -> Bool {
        match z {
            Z::List { len, elems } => match index {
                Some(i) => match elems.get(i as usize) {
                    Some(e) => {
                        Bool::and(&[len.gt(Int::from_i64(i as i64)), self.str_atom(op, e, v)])
                    }
                    // Beyond the bound: the encoding cannot see it.
                    None => self.fresh_bool(),
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

    fn str_atom(&mut self, op: CmpOp, s: &z3::ast::String, v: &Value) -> Bool {
        let f = Bool::from_bool(false);
        match (op, v) {
            (CmpOp::Eq, Value::String(x)) => s.eq(zstr(x)),
            (CmpOp::Eq, Value::Cidr(_)) => self.fresh_bool(),
            (CmpOp::Eq, _) => f,
            (CmpOp::Ne, v) => self.str_atom(CmpOp::Eq, s, v).not(),
            (CmpOp::In, Value::List(items)) => {
                let xs: Vec<Bool> = items
                    .iter()
                    .map(|i| self.str_atom(CmpOp::In, s, i))
                    .collect();
                Bool::or(&xs)
            }
            (CmpOp::In, Value::Cidr(_)) => self.fresh_bool(),
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
                let other = self.fresh_bool();
                normal_path(s).ite(&exact, &other)
            }
            (CmpOp::StartsWith, Value::String(x)) => zstr(x).prefix(s),
            (CmpOp::EndsWith, Value::String(x)) => zstr(x).suffix(s),
            (CmpOp::Contains, Value::String(x)) => s.contains(zstr(x)),
            (CmpOp::Matches, Value::String(re)) => match regex_to_z3(re) {
                Some(r) => s.regex_matches(&r),
                None => self.fresh_bool(),
            },
            _ => f,
        }
    }

    fn num_atom(&mut self, op: CmpOp, n: &Real, v: &Value) -> Bool {
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

    fn ip_atom(&mut self, op: CmpOp, ip: &BV, v: &Value) -> Bool {
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

    fn list_atom(&mut self, op: CmpOp, len: &Int, elems: &[z3::ast::String], v: &Value) -> Bool {
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
                    Value::List(_) => self.fresh_bool(),
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
    fn walk(c: &Cond, atoms: &mut u32, longest: &mut u32) {
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

// ───────────────────────────── solving ─────────────────────────────

/// Concrete values for a plan's symbols.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Witness {
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
            Term::Unknown { name, origin } => {
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
        Some(Some(Field { value, origin }))
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

/// A solver for one check: the plan's params declared, their `where`
/// conditions asserted once; each question is pushed and popped.
pub struct Session {
    /// Made when the first question reaches Z3 (many checks never need it).
    solver: std::cell::OnceCell<Solver>,
    timeout_ms: u32,
    pub params: HashMap<String, ParamType>,
    /// The params' `where` conditions (residual), with the params each names.
    wheres: Vec<(Vec<String>, Cond)>,
    /// Values of every param that meet every `where` (found by
    /// [`Session::satisfiable`]): a question fills in the params it does not
    /// involve from here.
    base: BTreeMap<String, Value>,
    /// Solver calls made.
    pub queries: usize,
    /// Decide what [`crate::automata`] can before asking Z3.
    pub automata: bool,
    /// Questions [`crate::automata`] decided.
    pub decided: usize,
}

fn params_of(c: &Cond) -> Vec<String> {
    let mut names = Vec::new();
    c.refs(&mut names);
    names
        .iter()
        .filter_map(|n| match parse_sym(n) {
            Some((_, SymKind::Param(p))) => Some(p),
            _ => None,
        })
        .collect()
}

impl Session {
    /// A solver with a timeout (ms) for a plan's params and their `where`
    /// conditions. A question asserts only the conditions of the params it
    /// involves (and of params tied to them by a condition): the others can
    /// be met independently once [`Session::satisfiable`] has said so.
    pub fn new(params: HashMap<String, ParamType>, wheres: &[Cond], timeout_ms: u32) -> Self {
        Session {
            solver: std::cell::OnceCell::new(),
            timeout_ms,
            params,
            wheres: wheres.iter().map(|w| (params_of(w), w.clone())).collect(),
            base: BTreeMap::new(),
            queries: 0,
            automata: true,
            decided: 0,
        }
    }

    fn solver(&self) -> &Solver {
        self.solver.get_or_init(|| {
            let solver = Solver::new();
            let mut p = z3::Params::new();
            p.set_u32("timeout", self.timeout_ms);
            solver.set_params(&p);
            solver
        })
    }

    /// The params tied to `names` by `where` conditions (names included).
    fn closure(&self, names: Vec<String>) -> std::collections::BTreeSet<String> {
        let mut set: std::collections::BTreeSet<String> = names.into_iter().collect();
        loop {
            let before = set.len();
            for (ps, _) in &self.wheres {
                if ps.iter().any(|p| set.contains(p)) {
                    set.extend(ps.iter().cloned());
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    /// The `where` conditions that name a param of `set`.
    fn wheres_of(&self, set: &std::collections::BTreeSet<String>) -> Vec<&Cond> {
        self.wheres
            .iter()
            .filter(|(ps, _)| ps.iter().any(|p| set.contains(p)))
            .map(|(_, c)| c)
            .collect()
    }

    /// Asserts the types and conditions of `names` and of the params tied
    /// to them.
    fn assert_params(&self, names: Vec<String>) -> std::collections::BTreeSet<String> {
        let set = self.closure(names);
        let conds = self.wheres_of(&set);
        let mut enc = Encoder::new(&self.params, list_bound(&conds));
        for name in &set {
            if let Some(ty) = self.params.get(name) {
                let c = enc.param_type(name, *ty);
                self.solver().assert(&c);
            }
        }
        for w in conds {
            for c in enc.question(w) {
                self.solver().assert(&c);
            }
        }
        for s in enc.finish() {
            self.solver().assert(&s);
        }
        set
    }

    /// Values of every param that meet every `where` (after
    /// [`Session::satisfiable`] said `Sat`).
    pub fn base(&self) -> &BTreeMap<String, Value> {
        &self.base
    }

    /// Takes defaults found by an earlier session for the same conditions.
    pub fn set_base(&mut self, base: BTreeMap<String, Value>) {
        self.base = base;
    }

    /// Whether the params' conditions can all hold at once. Params tied by
    /// conditions are asked together, independent groups apart; the values
    /// found become the defaults of later questions.
    pub fn satisfiable(&mut self) -> SatResult {
        let mut todo: std::collections::BTreeSet<String> = self.params.keys().cloned().collect();
        while let Some(first) = todo.iter().next().cloned() {
            let group = self.closure(vec![first]);
            for g in &group {
                todo.remove(g);
            }
            if self.automata {
                let conds = self.wheres_of(&group);
                let types = self
                    .params
                    .iter()
                    .filter(|(k, _)| group.contains(*k))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                let ok = |w: &Witness| group.iter().all(|p| w.params.contains_key(p));
                match crate::automata::decide(&Cond::True, &conds, &types, &self.base, &ok) {
                    Some(Answer::Sat(w)) => {
                        self.decided += 1;
                        self.base.extend(w.params);
                        continue;
                    }
                    Some(_) => {
                        self.decided += 1;
                        return SatResult::Unsat;
                    }
                    None => {}
                }
            }
            self.solver().push();
            let group = self.assert_params(group.into_iter().collect());
            if std::env::var_os("WARDEN_DEBUG_SMT").is_some() {
                eprintln!("{}", self.solver().to_smt2());
            }
            self.queries += 1;
            let r = self.solver().check();
            if r == SatResult::Sat
                && let Some(model) = self.solver().get_model()
            {
                let (w, _) = self.witness(&model, &Cond::True, None, 1, &group);
                self.base.extend(w.params);
            }
            self.solver().pop(1);
            if r != SatResult::Sat {
                return r;
            }
        }
        SatResult::Sat
    }

    /// Asks for values that make `goal` true and pass `valid` (a concrete
    /// check of the witness): with automata ([`Session::decide`]) when they
    /// can, otherwise with Z3 ([`Session::solve_z3`]).
    pub fn solve(
        &mut self,
        goal: &Cond,
        step: Option<&StepAction>,
        max_refinements: u32,
        valid: &dyn Fn(&Witness) -> bool,
    ) -> Answer {
        match self.decide(goal, valid) {
            Some(a) => a,
            None => self.solve_z3(goal, step, max_refinements, valid),
        }
    }

    /// Decides `goal` (with the `where`s of its params) with automata, when
    /// every atom is about one string, number or bool ([`crate::automata`]);
    /// `None` otherwise, or when [`Session::automata`] is off.
    pub fn decide(&mut self, goal: &Cond, valid: &dyn Fn(&Witness) -> bool) -> Option<Answer> {
        if !self.automata {
            return None;
        }
        let set = self.closure(params_of(goal));
        let conds = self.wheres_of(&set);
        let a = crate::automata::decide(goal, &conds, &self.params, &self.base, valid)?;
        self.decided += 1;
        Some(a)
    }

    /// Asks Z3 for values that make `goal` true and pass `valid`; blocks
    /// spurious witnesses and asks again, up to `max_refinements` times.
    pub fn solve_z3(
        &mut self,
        goal: &Cond,
        step: Option<&StepAction>,
        max_refinements: u32,
        valid: &dyn Fn(&Witness) -> bool,
    ) -> Answer {
        let bound = list_bound(&[goal]);
        let assertions = Encoder::new(&self.params, bound).question(goal);
        self.solver().push();
        let involved = self.assert_params(params_of(goal));
        for a in &assertions {
            self.solver().assert(a);
        }
        if std::env::var_os("WARDEN_DEBUG_SMT").is_some() {
            eprintln!("{}", self.solver().to_smt2());
        }
        let mut answer = Answer::Unknown("every witness the solver found was spurious".into());
        for _ in 0..=max_refinements {
            self.queries += 1;
            match self.solver().check() {
                SatResult::Unsat => {
                    answer = Answer::Unsat;
                    break;
                }
                SatResult::Unknown => {
                    let why = self.solver().get_reason_unknown().unwrap_or_default();
                    answer = if why.contains("timeout") || why.contains("canceled") {
                        Answer::Timeout
                    } else {
                        Answer::Unknown(why)
                    };
                    break;
                }
                SatResult::Sat => {
                    let Some(model) = self.solver().get_model() else {
                        answer = Answer::Unknown("the solver gave no model".into());
                        break;
                    };
                    let (w, block) = self.witness(&model, goal, step, bound, &involved);
                    if valid(&w) {
                        answer = Answer::Sat(w);
                        break;
                    }
                    if block.is_empty() {
                        break;
                    }
                    self.solver().assert(Bool::and(&block).not());
                }
            }
        }
        self.solver().pop(1);
        answer
    }

    fn witness(
        &self,
        model: &z3::Model,
        goal: &Cond,
        step: Option<&StepAction>,
        list_bound: u32,
        involved: &std::collections::BTreeSet<String>,
    ) -> (Witness, Vec<Bool>) {
        let mut w = Witness::default();
        let mut block = Vec::new();
        for (name, ty) in &self.params {
            if !involved.contains(name) {
                if let Some(v) = self.base.get(name) {
                    w.params.insert(name.clone(), v.clone());
                }
                continue;
            }
            let base = format!("p!{name}");
            let v = match ty {
                ParamType::Number => {
                    let r = Real::new_const(base.as_str());
                    let e = model.eval(&r, true);
                    let d = e.as_ref().and_then(real_decimal);
                    if let Some(e) = e {
                        block.push(r.eq(e));
                    }
                    d.map(Value::Number)
                }
                ParamType::Bool => {
                    let b = Bool::new_const(base.as_str());
                    let e = model.eval(&b, true);
                    let v = e.as_ref().and_then(|e| e.as_bool());
                    if let Some(e) = e {
                        block.push(b.eq(e));
                    }
                    v.map(Value::Bool)
                }
                ParamType::Host => {
                    let is_ip = Bool::new_const(format!("{base}#isip"));
                    let ip = model.eval(&is_ip, true).and_then(|b| b.as_bool()) == Some(true);
                    if ip {
                        let bv = BV::new_const(format!("{base}#ip"), 128);
                        let e = model.eval(&bv, true);
                        let addr = e.as_ref().and_then(read_bv128);
                        if let Some(e) = e {
                            block.push(bv.eq(e));
                        }
                        addr.map(|a| Value::Cidr(IpNet::from(warden_core::net::unmapped(a))))
                    } else {
                        self.str_val(model, &base, &mut block)
                    }
                }
                ParamType::String | ParamType::Path => self.str_val(model, &base, &mut block),
            };
            if let Some(v) = v {
                w.params.insert(name.clone(), v);
            }
        }
        let mut names = Vec::new();
        goal.refs(&mut names);
        if let Some(step) = step {
            for t in step.fields.values() {
                collect_terms(t, &mut |t| {
                    if let Some(n) = sym_name(RAW, t) {
                        names.push(n)
                    }
                });
            }
        }
        for n in names {
            let Some((_, kind)) = parse_sym(&n) else {
                continue;
            };
            let base = var_base(&kind);
            match kind {
                SymKind::Unknown { name, .. } => {
                    if w.unknowns.contains_key(&name) {
                        continue;
                    }
                    let tag = model
                        .eval(&Int::new_const(format!("{base}#tag")), true)
                        .and_then(|t| t.as_i64());
                    let isip = model
                        .eval(&Bool::new_const(format!("{base}#isip")), true)
                        .and_then(|b| b.as_bool());
                    // An address only where the step has one (a network
                    // connect's target, not a unix socket's path).
                    let v = if isip == Some(true)
                        && step.is_some_and(|s| {
                            s.kind == ActionKind::Connect && s.fields.contains_key(IP)
                        }) {
                        model
                            .eval(&BV::new_const(format!("{base}#ip"), 128), true)
                            .as_ref()
                            .and_then(read_bv128)
                            .map(|a| Value::Cidr(IpNet::from(warden_core::net::unmapped(a))))
                    } else {
                        match tag {
                            Some(1) => model
                                .eval(&Real::new_const(format!("{base}#n")), true)
                                .as_ref()
                                .and_then(real_decimal)
                                .map(Value::Number),
                            Some(2) => model
                                .eval(&Bool::new_const(format!("{base}#b")), true)
                                .and_then(|b| b.as_bool())
                                .map(Value::Bool),
                            _ => self.str_val(model, &format!("{base}#s"), &mut block),
                        }
                    };
                    if let Some(v) = v {
                        w.unknowns.insert(name, v);
                    }
                }
                SymKind::Glob(g) => {
                    if let Some(Value::String(p)) = self.str_val(model, &base, &mut block) {
                        w.globs.insert(g, p);
                    }
                }
                SymKind::AnyList => {
                    if w.argv.is_some() {
                        continue;
                    }
                    let len = model
                        .eval(&Int::new_const(format!("{base}#len")), true)
                        .and_then(|l| l.as_i64())
                        .unwrap_or(0)
                        .clamp(0, list_bound as i64);
                    let mut argv = Vec::new();
                    for i in 0..len {
                        if let Some(Value::String(s)) =
                            self.str_val(model, &format!("{base}#{i}"), &mut block)
                        {
                            argv.push(s);
                        }
                    }
                    w.argv = Some(argv);
                }
                SymKind::Param(_) => {}
            }
        }
        (w, block)
    }

    fn str_val(&self, model: &z3::Model, var: &str, block: &mut Vec<Bool>) -> Option<Value> {
        let s = z3::ast::String::new_const(var);
        let e = model.eval(&s, true)?;
        let v = read_str(&e);
        block.push(s.eq(e));
        v.map(Value::String)
    }
}

fn collect_terms(t: &Term, f: &mut dyn FnMut(&Term)) {
    match t {
        Term::List(ts) => ts.iter().for_each(|t| collect_terms(t, f)),
        t => f(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solver_says(goal: Bool) -> SatResult {
        let s = Solver::new();
        s.assert(&goal);
        s.check()
    }

    #[test]
    fn strings_are_literal() {
        let s = z3::ast::String::new_const("s");
        let tricky = "a\\u{41}b\0c\u{e9}";
        let solver = Solver::new();
        solver.assert(s.eq(zstr(tricky)));
        assert_eq!(solver.check(), SatResult::Sat);
        let m = solver.get_model().unwrap();
        assert_eq!(read_str(&m.eval(&s, true).unwrap()).unwrap(), tricky);
    }

    #[test]
    fn regexes_agree_with_the_regex_crate() {
        let cases = [
            ("[A-Z]{2}[0-9]{3}", "UK123", true),
            ("[A-Z]{2}[0-9]{3}", "UK1234", false),
            ("^a.c$", "abc", true),
            ("a|bc", "bc", true),
            ("(ab)+", "abab", true),
            ("(ab)+", "", false),
            (".*\\.key", "/x/y.key", true),
        ];
        for (re, s, expect) in cases {
            let r = regex_to_z3(re).unwrap();
            let goal = zstr(s).regex_matches(&r);
            let got = solver_says(goal) == SatResult::Sat;
            assert_eq!(got, expect, "{re} on {s}");
            assert_eq!(warden_core::cond::regex(re).unwrap().is_match(s), expect);
        }
        assert!(
            regex_to_z3("a\\bb").is_none(),
            "word boundaries have no Z3 form"
        );
    }

    #[test]
    fn globs_as_z3_regexes() {
        for (g, p, expect) in [
            ("/repo/**/*.rs", "/repo/a/b.rs", true),
            ("/repo/**/*.rs", "/repo/b.rs", true),
            ("/repo/*.rs", "/repo/a/b.rs", false),
            ("/repo/**", "/repo", true),
            ("/tmp/?", "/tmp/ab", false),
        ] {
            let goal = zstr(p).regex_matches(&glob_to_z3(g));
            assert_eq!(solver_says(goal) == SatResult::Sat, expect, "{g} {p}");
            assert_eq!(warden_core::path::glob_matches(g, p), expect);
        }
    }

    #[test]
    fn cidr_membership_with_mapped_ipv4() {
        let ip = BV::new_const("ip", 128);
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        let (one, _) = mapped_bv(&warden_core::net::parse_cidr("::ffff:10.1.2.3").unwrap());
        assert_eq!(
            solver_says(Bool::and(&[ip.eq(&one), in_net(&ip, &net)])),
            SatResult::Sat
        );
        let (other, _) = mapped_bv(&"11.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(
            solver_says(Bool::and(&[ip.eq(&other), in_net(&ip, &net)])),
            SatResult::Unsat
        );
    }
}
