//! Deciding the common questions without Z3: each atom of the question
//! mentions one param (or one glob), and the atoms of a string are regular
//! languages.
//!
//! For every variable the question mentions, this finds one value for each
//! combination of truth values its atoms can take: for strings, by a
//! breadth-first search of the product of the atoms' DFAs (built with
//! `regex-automata`) and of the DFA of the variable's domain; for numbers,
//! by the constants the atoms compare with, the points between them and
//! beyond; for bools, both; for a `host` param, names like strings, and
//! addresses and networks like whole numbers, a cidr being an interval of
//! IPv4-mapped IPv6 addresses (one network per class of prefix lengths and
//! region between the named networks' ends).
//! The question (the step's residual and the
//! `where` conditions of its params) is then a boolean formula over those
//! truth values, and the variables are independent, so it can hold exactly
//! when some choice of one combination per variable makes it true.
//!
//! - No choice makes it true: the answer is `Unsat`. This is exact for the
//!   atoms translated here (the translation follows [`warden_core::cond`]).
//! - A choice makes it true: its values are substituted and checked
//!   concretely, like every witness; a valid one is the answer.
//! - Anything else (an atom over two symbols, a `let` result, a `string`
//!   param used as a connect target, an argument list, a `..`-escape the
//!   construction below does not find, a product too large): no answer,
//!   and the question goes to Z3.
//!
//! A path param is seen by a step through its normal form `norm(p)`. Its
//! atoms on `norm(p)` are decided over the language of normalized paths;
//! its atoms on the raw `p` (a `where p startswith "/tmp/"`) are left free,
//! every combination of their truth values considered possible: an
//! over-approximation, so `Unsat` stays sound. A witness is then built
//! constructively: `p = norm(p)` itself, or a value of the raw atoms
//! followed by enough `..` segments to climb back to `/` and then `norm(p)`
//! (`/tmp/../etc/passwd`), and checked concretely. Raw atoms that fix
//! the normal form are not left free: the strings a raw `==`, `!=` or `in`
//! names are each decided exactly (every other value meets none of them),
//! a raw `matches` whose every value is a normal path decides `norm(p) =
//! p`, and a raw prefix with `not contains ".."` is known to survive
//! normalization (like an ending of whole segments).
//!
//! ```
//! use verifier::automata::decide;
//! use warden_core::cond::Cond;
//! use verifier::answer::Answer;
//! use std::collections::{BTreeMap, HashMap};
//! let params = HashMap::from([("p".to_string(), planlang::ast::ParamType::Path)]);
//! // `where p startswith "/tmp/"`, question: may `norm(p)` leave /tmp?
//! let w: Cond = serde_json::from_str(r#"{"kind":"cmp","op":"starts_with",
//!     "lhs":{"kind":"ref","name":"raw|p:p"},"rhs":{"kind":"value","value":{"type":"string","value":"/tmp/"}}}"#).unwrap();
//! let q: Cond = serde_json::from_str(r#"{"kind":"not","cond":{"kind":"cmp","op":"under",
//!     "lhs":{"kind":"ref","name":"norm|p:p"},"rhs":{"kind":"value","value":{"type":"string","value":"/tmp"}}}}"#).unwrap();
//! let a = decide(&q, &[&w], &params, &BTreeMap::new(), &|_| true);
//! let Ok(Answer::Sat(w)) = a else { panic!("{a:?}") };
//! assert!(w.params["p"].as_str().unwrap().starts_with("/tmp/.."));
//! ```

use warden_core::value::Field;

use crate::answer::{Answer, Witness};
use planlang::ast::{CmpOp, ParamType};
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, Input, MatchKind};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::value::Value;

/// The most product states one variable's search visits.
const MAX_STATES: usize = 20_000;
/// The most combinations of the variables' values tried.
const MAX_COMBOS: usize = 4_096;
/// The most raw atoms of a path param left free (2^n combinations).
const MAX_FREE: usize = 8;
/// The most witnesses checked concretely before giving up.
const MAX_TRIES: usize = 64;

/// Normalized absolute paths: `/`, or segments that are not empty, `.` or
/// `..`, without `/` or NUL (what [`warden_core::path::normalize_path`] returns).
const NORMAL: &str = r"/|(?:/(?:[^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+))+";

type Dfa = dense::DFA<Vec<u32>>;

/// A pattern and how its DFA reads the input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Pat {
    pattern: String,
    /// Unicode mode (a user's `matches` regex, a glob's `?`); otherwise
    /// bytes: the patterns written here are ASCII classes and literals,
    /// whose language over bytes, restricted to UTF-8, is the same, with far
    /// fewer states.
    unicode: bool,
}

fn bytes(pattern: impl Into<String>) -> Pat {
    Pat {
        pattern: pattern.into(),
        unicode: false,
    }
}

fn unicode(pattern: impl Into<String>) -> Pat {
    Pat {
        pattern: pattern.into(),
        unicode: true,
    }
}

/// Builds (once, then cached) the DFA of the strings each pattern matches
/// as a whole (pattern `i` is `PatternID` `i`), all read in one mode.
/// `None` when regex-automata cannot build it (e.g. a Unicode word
/// boundary) or it would be too large.
fn dfa(patterns: &[String], unicode: bool) -> Option<Arc<Dfa>> {
    type Cache = HashMap<(Vec<String>, bool), Option<Arc<Dfa>>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (patterns.to_vec(), unicode);
    if let Ok(c) = cache.lock()
        && let Some(d) = c.get(&key)
    {
        return d.clone();
    }
    let wrapped: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    let built = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(regex_automata::dfa::StartKind::Anchored)
                .dfa_size_limit(Some(8 << 20))
                .determinize_size_limit(Some(8 << 20)),
        )
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(unicode)
                .utf8(unicode),
        )
        .thompson(regex_automata::nfa::thompson::Config::new().utf8(unicode))
        .build_many(&wrapped)
        .ok()
        .map(Arc::new);
    if let Ok(mut c) = cache.lock() {
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(key, built.clone());
    }
    built
}

/// A multiplicative hasher for the product states' keys (SipHash was most
/// of the search's time).
#[derive(Default)]
struct Fast(u64);

impl std::hash::Hasher for Fast {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}

type FastHash = std::hash::BuildHasherDefault<Fast>;

/// How an atom sees its param.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum View {
    /// The value itself (a `where`, a call's argument, a port).
    Raw,
    /// Its normal form, as a path.
    Norm,
    /// A connect target as a host name: present when the value is a name.
    Host,
    /// A connect target as an address: present when the value is one.
    Ip,
}

/// A symbol of the question, as the residual names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Sym {
    /// A param, seen through `view`.
    Param {
        name: String,
        view: View,
    },
    Glob(String),
}

fn parse_sym(name: &str) -> Option<Sym> {
    let (view, key) = name.split_once('|')?;
    let (k, rest) = key.split_once(':')?;
    let view = match (view, k) {
        // A port is the param's value, taken whole ([`decide`]).
        ("raw" | "port", "p") => View::Raw,
        ("norm", "p") => View::Norm,
        ("host", "p") => View::Host,
        ("ip", "p") => View::Ip,
        ("norm", "g") => return Some(Sym::Glob(rest.to_string())),
        _ => return None,
    };
    Some(Sym::Param {
        name: rest.to_string(),
        view,
    })
}

/// The question as a formula over atoms.
enum F {
    Const(bool),
    Atom(usize),
    And(Vec<F>),
    Or(Vec<F>),
    Not(Box<F>),
}

impl F {
    fn eval(&self, truth: &[bool]) -> bool {
        match self {
            F::Const(b) => *b,
            F::Atom(i) => truth[*i],
            F::And(xs) => xs.iter().all(|x| x.eval(truth)),
            F::Or(xs) => xs.iter().any(|x| x.eval(truth)),
            F::Not(x) => !x.eval(truth),
        }
    }
}

/// One comparison of a symbol with a value.
struct Atom {
    sym: Sym,
    op: CmpOp,
    value: Value,
}

#[derive(Default)]
struct Atoms {
    list: Vec<Atom>,
    index: HashMap<(Sym, CmpOp, Value), usize>,
}

impl Atoms {
    /// The index of the atom `sym op value`, added when new.
    fn atom(&mut self, sym: Sym, op: CmpOp, value: &Value) -> usize {
        let key = (sym.clone(), op, value.clone());
        let n = self.list.len();
        let i = *self.index.entry(key).or_insert(n);
        if i == n {
            self.list.push(Atom {
                sym,
                op,
                value: value.clone(),
            });
        }
        i
    }

    fn formula(&mut self, c: &Cond) -> Result<F, Outside> {
        Ok(match c {
            Cond::True => F::Const(true),
            Cond::False => F::Const(false),
            Cond::And { all } => F::And(
                all.iter()
                    .map(|c| self.formula(c))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Or { any } => F::Or(
                any.iter()
                    .map(|c| self.formula(c))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Not { cond } => F::Not(Box::new(self.formula(cond)?)),
            Cond::Cmp {
                op,
                lhs:
                    Operand::Ref {
                        name,
                        fields,
                        index: None,
                    },
                rhs: Operand::Value { value },
            } if fields.is_empty() => {
                let mut sym =
                    parse_sym(name).ok_or_else(|| Outside::Condition(describe_ref(name)))?;
                // `p under D` normalizes `p`: an atom of `norm(p)`.
                if *op == CmpOp::Under
                    && let Sym::Param { view, .. } = &mut sym
                    && *view == View::Raw
                {
                    *view = View::Norm;
                }
                F::Atom(self.atom(sym, *op, value))
            }
            // `has host` / `has ip` on a connect target: whether it is a
            // name or an address, as an atom true exactly when the view is
            // present (`host startswith ""`, `ip in ::/0`).
            Cond::Has { field } => match parse_sym(field) {
                Some(
                    sym @ Sym::Param {
                        view: View::Host, ..
                    },
                ) => F::Atom(self.atom(sym, CmpOp::StartsWith, &Value::String(String::new()))),
                Some(sym @ Sym::Param { view: View::Ip, .. }) => {
                    F::Atom(self.atom(sym, CmpOp::In, &Value::Cidr(every_address())))
                }
                _ => return Err(Outside::Condition(describe_cond(c))),
            },
            other => return Err(Outside::Condition(describe_cond(other))),
        })
    }
}

/// How a string atom is decided: a regular language (true when the value
/// is in it, or not in it when `neg`), or a constant.
enum Lang {
    Re { pattern: Pat, neg: bool },
    Const(bool),
}

/// The language of a string atom, following [`warden_core::cond::compare`]; `None`
/// when it is not translated (addresses). `normal`: the value is a
/// normalized path (so `under` is a prefix question).
fn lang(op: CmpOp, v: &Value, normal: bool) -> Option<Lang> {
    let esc = |s: &str| regex_syntax::escape(s);
    let re = |pattern: String| {
        Some(Lang::Re {
            pattern: bytes(pattern),
            neg: false,
        })
    };
    match (op, v) {
        (_, Value::Cidr(_)) => None,
        (CmpOp::Eq | CmpOp::Ne, Value::String(x)) => Some(Lang::Re {
            pattern: bytes(esc(x)),
            neg: op == CmpOp::Ne,
        }),
        // A string never equals a number, a bool, a duration or a list.
        (CmpOp::Eq, _) => Some(Lang::Const(false)),
        (CmpOp::Ne, _) => Some(Lang::Const(true)),
        (CmpOp::In, Value::List(items)) => {
            if items.iter().any(|i| matches!(i, Value::Cidr(_))) {
                return None;
            }
            let alts: Vec<String> = items.iter().filter_map(|i| i.as_str().map(esc)).collect();
            if alts.is_empty() {
                Some(Lang::Const(false))
            } else {
                re(alts.join("|"))
            }
        }
        (CmpOp::In, Value::String(x)) => re(esc(x)),
        (CmpOp::In, _) => Some(Lang::Const(false)),
        (CmpOp::StartsWith, Value::String(x)) => re(format!("{}(?s:.*)", esc(x))),
        (CmpOp::EndsWith, Value::String(x)) => re(format!("(?s:.*){}", esc(x))),
        (CmpOp::Contains, Value::String(x)) => re(format!("(?s:.*){}(?s:.*)", esc(x))),
        (CmpOp::Matches, Value::String(p)) => match warden_core::cond::regex(p) {
            Err(_) => Some(Lang::Const(false)),
            Ok(_) => Some(Lang::Re {
                pattern: unicode(p.as_str()),
                neg: false,
            }),
        },
        (CmpOp::Under, Value::String(d)) if normal => match warden_core::path::normalize_path(d) {
            Err(_) => Some(Lang::Const(false)),
            Ok(d) if d == "/" => Some(Lang::Const(true)),
            Ok(d) => re(format!("{}(?:/(?s:.*))?", esc(&d))),
        },
        (CmpOp::Under, _) if normal => Some(Lang::Const(false)),
        (CmpOp::Under, _) => None,
        // Strings are not ordered; the other operators want a string.
        _ => Some(Lang::Const(false)),
    }
}

/// One value of a variable for each combination of its atoms' truth
/// values: strings by a breadth-first search of the product automaton of
/// the domain and the atoms (shortest first).
fn strings(domain: &[Pat], atoms: &[Lang]) -> Option<Vec<(Vec<bool>, String)>> {
    let mut dfas: Vec<Arc<Dfa>> = Vec::new();
    for d in domain {
        dfas.push(dfa(std::slice::from_ref(&d.pattern), d.unicode)?);
    }
    let n_domain = dfas.len();
    // The atoms' languages, one multi-pattern DFA per mode: atom k is
    // pattern `pid` of component `comp` (or a constant).
    let mut where_is: Vec<Option<(usize, usize)>> = Vec::with_capacity(atoms.len());
    let mut lists: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for a in atoms {
        where_is.push(match a {
            Lang::Re { pattern, .. } => {
                let list = &mut lists[pattern.unicode as usize];
                let pid = match list.iter().position(|p| *p == pattern.pattern) {
                    Some(i) => i,
                    None => {
                        list.push(pattern.pattern.clone());
                        list.len() - 1
                    }
                };
                Some((pattern.unicode as usize, pid))
            }
            Lang::Const(_) => None,
        });
    }
    let mut comp_of_mode = [usize::MAX; 2];
    for (mode, list) in lists.iter().enumerate() {
        if !list.is_empty() {
            comp_of_mode[mode] = dfas.len();
            dfas.push(dfa(list, mode == 1)?);
        }
    }
    // Bytes every component treats alike, one representative each.
    let mut classes: HashMap<Vec<u8>, u8> = HashMap::new();
    for b in 0..=255u8 {
        let sig: Vec<u8> = dfas.iter().map(|d| d.byte_classes().get(b)).collect();
        classes.entry(sig).or_insert(b);
    }
    let mut reps: Vec<u8> = classes.into_values().collect();
    reps.sort_unstable();
    // At most two domain automata and two of atoms: a product state fits
    // in four state ids, its key in a u128.
    const K: usize = 4;
    if dfas.len() > K {
        return None;
    }
    let n = dfas.len();
    let key = |q: &[StateID; K]| -> u128 {
        q.iter()
            .fold(0u128, |k, id| (k << 32) | u128::from(id.as_u32()))
    };
    let input = Input::new("").anchored(Anchored::Yes);
    let mut start = [StateID::ZERO; K];
    for (q, d) in start.iter_mut().zip(&dfas) {
        *q = d.start_state_forward(&input).ok()?;
    }
    let mut seen: HashMap<u128, (), FastHash> = HashMap::default();
    // Per state: (parent, byte).
    let mut parent: Vec<(usize, u8)> = vec![(usize::MAX, 0)];
    let mut states: Vec<[StateID; K]> = vec![start];
    seen.insert(key(&start), ());
    let mut found: Vec<(Vec<bool>, String)> = Vec::new();
    let mut matched: [Vec<bool>; 2] = [vec![false; lists[0].len()], vec![false; lists[1].len()]];
    let mut at = 0;
    while at < states.len() {
        let s = states[at];
        let mut eoi = [StateID::ZERO; K];
        for i in 0..n {
            eoi[i] = dfas[i].next_eoi_state(s[i]);
        }
        if (0..n_domain).all(|i| dfas[i].is_match_state(eoi[i])) {
            // Which patterns of each mode match the whole string.
            for (mode, m) in matched.iter_mut().enumerate() {
                m.iter_mut().for_each(|b| *b = false);
                let c = comp_of_mode[mode];
                if c == usize::MAX || !dfas[c].is_match_state(eoi[c]) {
                    continue;
                }
                for k in 0..dfas[c].match_len(eoi[c]) {
                    m[dfas[c].match_pattern(eoi[c], k).as_usize()] = true;
                }
            }
            let truth = atoms.iter().zip(&where_is).map(|(a, w)| match (a, w) {
                (Lang::Re { neg, .. }, Some((mode, pid))) => matched[*mode][*pid] != *neg,
                (Lang::Const(b), _) => *b,
                _ => false,
            });
            if !found
                .iter()
                .any(|(t, _)| t.iter().copied().eq(truth.clone()))
            {
                let mut bytes = Vec::new();
                let mut k = at;
                while parent[k].0 != usize::MAX {
                    bytes.push(parent[k].1);
                    k = parent[k].0;
                }
                bytes.reverse();
                // A byte that is not UTF-8: Z3 decides this one.
                found.push((truth.collect(), String::from_utf8(bytes).ok()?));
            }
        }
        'bytes: for &b in &reps {
            let mut next = [StateID::ZERO; K];
            for i in 0..n {
                next[i] = dfas[i].next_state(s[i], b);
                // A domain automaton that is dead accepts nothing any more.
                if i < n_domain && dfas[i].is_dead_state(next[i]) {
                    continue 'bytes;
                }
            }
            if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(key(&next)) {
                if states.len() >= MAX_STATES {
                    return None;
                }
                e.insert(());
                states.push(next);
                parent.push((at, b));
            }
        }
        at += 1;
    }
    Some(found)
}

/// Numbers: every atom compares with constants, so its truth is the same
/// between two neighbouring constants; one value per region and constant.
/// `whole`: only whole numbers (a port): `floor(c) - 1`, `floor(c)` and
/// `floor(c) + 1` of each constant `c` meet every region that holds one.
fn numbers(atoms: &[&Atom], whole: bool) -> Option<Vec<(Vec<bool>, Value)>> {
    let mut cs: Vec<Decimal> = Vec::new();
    for a in atoms {
        match &a.value {
            Value::Number(n) => cs.push(*n),
            Value::List(items) => cs.extend(items.iter().filter_map(|i| match i {
                Value::Number(n) => Some(*n),
                _ => None,
            })),
            _ => {}
        }
    }
    cs.sort_unstable();
    cs.dedup();
    if whole {
        // A whole `x` meets `x < c`, `x <= c`, `x == c` ... alike from
        // `floor(c) + 1` up to the next such cut, and from `floor(c)`.
        let mut cuts = Vec::new();
        for c in &cs {
            let f = c.floor();
            cuts.push(f);
            cuts.push(f.checked_add(Decimal::ONE)?);
        }
        let below = match cuts.iter().min() {
            Some(lo) => lo.checked_sub(Decimal::ONE)?,
            None => Decimal::ZERO,
        };
        let samples = regions(cuts, Some(below))
            .into_iter()
            .map(|(first, _)| first);
        return Some(dedup_by_truth(samples.map(Value::Number).collect(), atoms));
    }
    // Constants first, then a point between each two (a whole number when
    // there is one), then the outside: witnesses read naturally (a port
    // param gets 444, not 443.5).
    let mut samples = cs.clone();
    for w in cs.windows(2) {
        let whole = w[0].floor().checked_add(Decimal::ONE)?;
        let mid = if whole < w[1] {
            whole
        } else {
            w[0].checked_add(w[1])?.checked_div(Decimal::TWO)?
        };
        if !(w[0] < mid && mid < w[1]) {
            return None;
        }
        samples.push(mid);
    }
    match (cs.first(), cs.last()) {
        (Some(lo), Some(hi)) => {
            samples.push(lo.floor().checked_sub(Decimal::ONE)?);
            samples.push(hi.floor().checked_add(Decimal::ONE)?);
        }
        _ => samples.push(Decimal::ZERO),
    }
    Some(dedup_by_truth(
        samples.into_iter().map(Value::Number).collect(),
        atoms,
    ))
}

/// The regions of a line of whole values cut at `cuts`: one starts at
/// each cut and runs up to the next one (`None`: to the end of the line),
/// and one more starts at `below` (a value below every cut, if the line
/// has one). Every atom comparing a whole value (a port, an address) with
/// constants is true on all of a region or on none of it, when the cuts
/// are where its truth can change: one value per region then meets every
/// combination of the atoms' truth values that any value meets.
fn regions<T: Copy + Ord>(mut cuts: Vec<T>, below: Option<T>) -> Vec<(T, Option<T>)> {
    cuts.extend(below);
    cuts.sort_unstable();
    cuts.dedup();
    let ends = cuts.iter().skip(1).map(|c| Some(*c)).chain([None]);
    cuts.iter().copied().zip(ends).collect()
}

/// Host names as [`warden_core::net::is_host_name`] takes them, except
/// their lengths (labels of at most 63 bytes, 253 in all): counting them
/// would make the product automaton some 64 times larger. The search finds
/// the shortest name of each combination of the atoms' truth values; when
/// each is short enough, the names meet exactly the combinations the real
/// names meet, and otherwise [`hosts`] decides nothing.
const HOST_NAME: &str = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*";

/// The host names that spell an IPv4 address (`10.0.0.1`, as
/// [`std::net::Ipv4Addr`] parses it: no leading zeros): a connect to one
/// has an `ip`, so it is an address, not a name.
const DOTTED_QUAD: &str = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";

/// The values of a `host` param: a name, an address or a network (a
/// connect to it has `host` or `ip`, [`crate::answer::Witness::action`]),
/// one per combination of its atoms' truth values. Names by the string
/// automata (the views `raw` and `host` are the name, `ip` is missing),
/// addresses and networks by [`addresses`]; a name spelling an IPv4
/// address is that address ([`quads_as_addresses`]), or nothing is
/// decided.
fn hosts(atoms: &[&Atom]) -> Option<Vec<(Vec<bool>, Value)>> {
    if !quads_as_addresses(atoms) {
        return None;
    }
    let mut langs: Vec<Lang> = atoms
        .iter()
        .map(|a| match a.sym {
            Sym::Param { view: View::Ip, .. } => Some(Lang::Const(false)),
            // `h under D` (a name is no absolute path); no other atom sees
            // a host through a normal form.
            Sym::Param {
                view: View::Norm, ..
            } if a.op != CmpOp::Under => None,
            _ => name_lang(a.op, &a.value),
        })
        .collect::<Option<_>>()?;
    // A last atom for the names that are addresses, left out.
    langs.push(Lang::Re {
        pattern: bytes(DOTTED_QUAD),
        neg: false,
    });
    let mut out: Vec<(Vec<bool>, Value)> = Vec::new();
    for (mut t, s) in strings(&[bytes(HOST_NAME)], &langs)? {
        if t.pop() == Some(true) {
            continue;
        }
        // Too long for a name: a longer one might meet the same atoms.
        if !warden_core::net::is_host_name(&s) {
            return None;
        }
        out.push((t, Value::String(s)));
    }
    out.extend(addresses(atoms));
    Some(out)
}

/// The language of an atom on a host name ([`lang`]): a name never spells
/// an address, so it equals no cidr and is in none, and it is no absolute
/// path (`under` is false).
fn name_lang(op: CmpOp, v: &Value) -> Option<Lang> {
    match (op, v) {
        (CmpOp::Ne, Value::Cidr(_)) => Some(Lang::Const(true)),
        (_, Value::Cidr(_)) | (CmpOp::Under, _) => Some(Lang::Const(false)),
        (CmpOp::In, Value::List(items)) => {
            let names: Vec<Value> = items
                .iter()
                .filter(|i| !matches!(i, Value::Cidr(_)))
                .cloned()
                .collect();
            lang(op, &Value::List(names), false)
        }
        _ => lang(op, v, false),
    }
}

/// The networks an atom's value names (a cidr, a string spelling one, the
/// items of a list), each as its first IPv4-mapped IPv6 address and its
/// prefix length there ([`warden_core::net::mapped`]).
fn networks(v: &Value, out: &mut Vec<(u128, u32)>) {
    let net = match v {
        Value::Cidr(n) => Some(*n),
        Value::String(s) => warden_core::net::parse_cidr(s),
        Value::List(items) => {
            items.iter().for_each(|i| networks(i, out));
            None
        }
        _ => None,
    };
    if let Some(net) = net {
        let (first, prefix) = warden_core::net::mapped(&net);
        out.push((first, u32::from(prefix)));
    }
}

/// `::/0`, every address (IPv4 ones as IPv4-mapped IPv6 among them).
fn every_address() -> ipnet::IpNet {
    ipnet::IpNet::V6(ipnet::Ipv6Net::default())
}

/// The IPv4 addresses, as IPv4-mapped IPv6 (`::ffff:0.0.0.0/96`).
const V4: (u128, u32) = (0xffff_0000_0000, 96);

/// The network of IPv4-mapped IPv6 addresses starting at `first` with
/// `prefix` bits, as the language spells it (IPv4 when it is one).
fn network(first: u128, prefix: u32) -> Option<ipnet::IpNet> {
    let v6 = std::net::Ipv6Addr::from(first);
    Some(match v6.to_ipv4_mapped() {
        Some(v4) if prefix >= V4.1 => {
            ipnet::IpNet::V4(ipnet::Ipv4Net::new(v4, (prefix - V4.1) as u8).ok()?)
        }
        _ => ipnet::IpNet::V6(ipnet::Ipv6Net::new(v6, prefix as u8).ok()?),
    })
}

/// Addresses and networks: a `host` value may be a cidr (`connect
/// 10.0.0.0/8:443` connects to every address in it, and `ip in NET` asks
/// whether all of them are in `NET`, [`warden_core::cond`]). IPv4 is
/// IPv4-mapped IPv6, so a network is an aligned interval of whole numbers
/// below 2^128: its first address and its prefix length. An atom on one
/// (`in` networks, `==` or `!=` a network) holds when its prefix is at
/// least (or exactly) that of a network the atom names and its first
/// address lies in that network (or is its first): the truth changes only
/// where the prefix crosses those lengths, and where the first address
/// crosses a named network's first address, the one after it, or the one
/// after its last (the cuts of [`regions`], on both lines). Within a class
/// of prefixes the longest has the most networks (every network of a
/// shorter prefix starts where one of it does), so one network of that
/// prefix per region of first addresses that holds one meets every
/// combination of truth values any network meets. Single addresses come
/// first, IPv4 first, a named network's own first address last (its
/// region is that one address, cut for `==`): witnesses read as the
/// addresses people write.
fn addresses(atoms: &[&Atom]) -> Vec<(Vec<bool>, Value)> {
    let mut named = vec![V4];
    for a in atoms {
        networks(&a.value, &mut named);
    }
    let (mut firsts, mut lengths) = (vec![0u128], Vec::new());
    for &(first, prefix) in &named {
        let last = first | u128::MAX.checked_shr(prefix).unwrap_or(0);
        firsts.push(first);
        firsts.extend(first.checked_add(1));
        firsts.extend(last.checked_add(1));
        lengths.push(prefix);
        lengths.push(prefix + 1);
    }
    let firsts = regions(firsts, None);
    // The longest prefix of each class; a class past /128 has none.
    let mut prefixes: Vec<u32> = regions(lengths, Some(0))
        .into_iter()
        .map(|(_, next)| next.map_or(128, |n| n - 1).min(128))
        .collect();
    prefixes.sort_unstable_by(|a, b| b.cmp(a));
    prefixes.dedup();
    let mut points: Vec<(u128, u32)> = Vec::new();
    for &prefix in &prefixes {
        let mut these: Vec<(u128, u32)> = firsts
            .iter()
            .filter_map(|&(first, next)| {
                let at = match 1u128.checked_shl(128 - prefix).unwrap_or(0) {
                    0 if first == 0 => 0,
                    0 => return None,
                    size => first.checked_next_multiple_of(size)?,
                };
                next.is_none_or(|n| at < n).then_some((at, prefix))
            })
            .collect();
        // IPv4 first, and a network's own first address last.
        these.sort_by_key(|&(a, _)| {
            (
                !(V4.0..=V4.0 | u128::from(u32::MAX)).contains(&a),
                named.iter().any(|&(first, _)| first == a),
            )
        });
        points.extend(these);
    }
    let values = points
        .into_iter()
        .filter_map(|(a, p)| network(a, p))
        .map(Value::Cidr)
        .collect();
    dedup_by_truth(values, atoms)
}

/// Whether a host name that spells an IPv4 address (`"10.0.0.1"`, which a
/// call's argument may pass for a `host` param) meets each atom as that
/// address does: then it adds no combination of truth values to those the
/// addresses meet. It does not when an atom compares with another spelling
/// of an address (`"::ffff:10.0.0.1"`, `"10.0.0.1/32"`: equal to the
/// address, not to the string), or asks a string question that some
/// dotted quad answers yes (`startswith "10."`).
fn quads_as_addresses(atoms: &[&Atom]) -> bool {
    let canonical = |s: &str| match warden_core::net::parse_cidr(s) {
        None => true,
        Some(ipnet::IpNet::V4(n)) => n.prefix_len() == 32 && n.addr().to_string() == s,
        Some(_) => false,
    };
    atoms.iter().all(|a| {
        // A dotted quad has no `host` and the same `ip`.
        if matches!(
            a.sym,
            Sym::Param {
                view: View::Host | View::Ip,
                ..
            }
        ) {
            return true;
        }
        match (a.op, &a.value) {
            (CmpOp::Eq | CmpOp::Ne | CmpOp::In, Value::String(s)) => canonical(s),
            (CmpOp::In, Value::List(items)) => items.iter().all(|i| match i {
                Value::String(s) => canonical(s),
                _ => true,
            }),
            (CmpOp::StartsWith | CmpOp::EndsWith | CmpOp::Contains | CmpOp::Matches, _) => {
                match lang(a.op, &a.value, false) {
                    Some(Lang::Const(false)) => true,
                    Some(l) => strings(&[bytes(DOTTED_QUAD)], &[l])
                        .is_some_and(|found| found.iter().all(|(t, _)| !t[0])),
                    None => false,
                }
            }
            _ => true,
        }
    })
}

/// Whether atom `a` holds of the value `v` of its variable, seen through
/// its view: a name has no `ip`, an address no `host`, and a comparison
/// with a field the action lacks is false ([`warden_core::cond`]).
fn holds(a: &Atom, v: &Value) -> bool {
    let present = !matches!(
        (&a.sym, v),
        (
            Sym::Param {
                view: View::Host,
                ..
            },
            Value::Cidr(_)
        ) | (Sym::Param { view: View::Ip, .. }, Value::String(_))
    );
    present && warden_core::cond::compare(a.op, v, &a.value)
}

fn dedup_by_truth(values: Vec<Value>, atoms: &[&Atom]) -> Vec<(Vec<bool>, Value)> {
    let mut out: Vec<(Vec<bool>, Value)> = Vec::new();
    for v in values {
        let t: Vec<bool> = atoms.iter().map(|a| holds(a, &v)).collect();
        if !out.iter().any(|(u, _)| *u == t) {
            out.push((t, v));
        }
    }
    out
}

/// A variable's possible values, each with the truth of its atoms
/// (indices into the question's atom list) and, for a path param seen
/// normalized, raw values to climb out of.
struct Choices {
    sym: Sym,
    atoms: Vec<usize>,
    options: Vec<(Vec<bool>, Value)>,
    /// Path params seen normalized: values meeting the free raw atoms.
    raw: Vec<String>,
}

/// Why [`decide`] leaves a question to Z3: it is outside the fragment the
/// automata and intervals decide (docs/language.md, "What the verifier
/// decides, and where it stops"). A refusal for want of a proof names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outside {
    /// The automata are turned off ([`crate::check::CheckOptions`]).
    Off,
    /// A condition that is not one value compared with a constant, said for
    /// people (`a comparison of two unknowns`).
    Condition(String),
    /// No automaton or interval for the values of this param or glob, or
    /// for one of the conditions on them (a `cidr`, a regex feature).
    Values(String),
    /// More combinations of the conditions' truth values than
    /// `MAX_COMBOS`.
    TooMany,
    /// Every value the automata built failed the concrete check, up to
    /// `MAX_TRIES`.
    Spurious,
}

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outside::Off => write!(f, "the automata are turned off"),
            Outside::Condition(what) => write!(f, "{what}"),
            Outside::Values(what) => {
                write!(f, "the values of {what}, which no automaton describes here")
            }
            Outside::TooMany => write!(f, "more than {MAX_COMBOS} combinations of its conditions"),
            Outside::Spurious => write!(f, "values that only the concrete check can tell apart"),
        }
    }
}

/// A symbol the automata do not model, for people.
fn describe_ref(name: &str) -> String {
    let (view, key) = name.split_once('|').unwrap_or(("", name));
    if let Some(rest) = key.strip_prefix("u:") {
        let (origin, result) = rest.split_once(':').unwrap_or(("", rest));
        return format!(
            "the `let` result `{result}` of `{origin}` compared with a value (its content is unknown until the run; an assumption, `let ... where`, makes it decidable)"
        );
    }
    match view {
        "ip" => "a host or an address (`ip`)".into(),
        "opaque" => "a condition that cannot be encoded exactly".into(),
        _ if key == "a:argv" => "an argument list the plan does not write".into(),
        _ => format!("`{key}`, which the automata do not model"),
    }
}

/// A condition the automata do not model, for people.
fn describe_cond(c: &Cond) -> String {
    match c {
        Cond::Cmp {
            rhs: Operand::Ref { .. },
            ..
        } => "a comparison of two unknowns".into(),
        Cond::Cmp {
            lhs: Operand::Ref { fields, index, .. },
            ..
        } if !fields.is_empty() || index.is_some() => {
            "a field or an item of a value the plan does not write".into()
        }
        Cond::Cmp {
            lhs: Operand::Ref { name, .. },
            ..
        } => describe_ref(name),
        Cond::Has { .. } => "`has` on a value the plan does not write".into(),
        Cond::FromCall { .. } => "`from call` on a value the plan does not write".into(),
        _ => "a condition the automata do not model".into(),
    }
}

/// A variable's name for people: the param or the glob, and for a param
/// that is not a `host` but is used as a connect target, that it is.
fn describe_var(
    sym: &Sym,
    idx: &[usize],
    all: &[Atom],
    params: &HashMap<String, ParamType>,
) -> String {
    match sym {
        Sym::Param { name, .. } => {
            let target = idx.iter().any(|&i| {
                matches!(
                    all[i].sym,
                    Sym::Param {
                        view: View::Host | View::Ip,
                        ..
                    }
                )
            });
            match params.get(name) {
                Some(ty) if target && *ty != ParamType::Host => format!(
                    "param `{name}`, a `{ty}` used as a connect target (a `host` param is decided)"
                ),
                _ => format!("param `{name}`"),
            }
        }
        Sym::Glob(g) => format!("glob `{g}`"),
    }
}

/// Decides `goal` and the `where` conditions `wheres` (residuals over
/// `raw|p:NAME`, `norm|p:NAME`, `norm|g:GLOB`) for params of the given
/// types. Params the question does not mention take their values from
/// `base`. `None`: not decided here (the caller asks Z3).
pub fn decide(
    goal: &Cond,
    wheres: &[&Cond],
    params: &HashMap<String, ParamType>,
    base: &BTreeMap<String, Value>,
    valid: &dyn Fn(&Witness) -> bool,
) -> Result<Answer, Outside> {
    let mut atoms = Atoms::default();
    let mut parts = vec![atoms.formula(goal)?];
    for w in wheres {
        parts.push(atoms.formula(w)?);
    }
    let formula = F::And(parts);
    // Group the atoms by variable (a param's views are one variable).
    let mut vars: BTreeMap<Sym, Vec<usize>> = BTreeMap::new();
    let var_of = |s: &Sym| match s {
        Sym::Param { name, .. } => Sym::Param {
            name: name.clone(),
            view: View::Raw,
        },
        g => g.clone(),
    };
    for (i, a) in atoms.list.iter().enumerate() {
        vars.entry(var_of(&a.sym)).or_default().push(i);
    }
    // Params the step uses as ports: only whole values make it an action.
    let mut names = Vec::new();
    goal.refs(&mut names);
    let ports: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("port|p:"))
        .collect();
    let mut choices: Vec<Choices> = Vec::new();
    for (sym, idx) in vars {
        let whole = matches!(&sym, Sym::Param { name, .. } if ports.contains(&name.as_str()));
        let values = choose(&sym, &idx, &atoms.list, params, whole)
            .ok_or_else(|| Outside::Values(describe_var(&sym, &idx, &atoms.list, params)))?;
        choices.push(values);
    }
    let combos = choices
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.options.len()))
        .ok_or(Outside::TooMany)?;
    if combos > MAX_COMBOS {
        return Err(Outside::TooMany);
    }
    let mut truth = vec![false; atoms.list.len()];
    let mut pick = vec![0usize; choices.len()];
    let mut satisfiable = false;
    let mut tries = 0;
    for _ in 0..combos.max(1) {
        if choices.iter().all(|c| !c.options.is_empty()) {
            for (c, &k) in choices.iter().zip(&pick) {
                for (&a, &t) in c.atoms.iter().zip(&c.options[k].0) {
                    truth[a] = t;
                }
            }
            if formula.eval(&truth) {
                satisfiable = true;
                if let Some(w) = witness(
                    &choices, &pick, goal, wheres, params, base, valid, &mut tries,
                ) {
                    return Ok(Answer::Sat(w));
                }
                if tries >= MAX_TRIES {
                    return Err(Outside::Spurious);
                }
            }
        }
        // The next combination.
        for (c, k) in choices.iter().zip(pick.iter_mut()) {
            *k += 1;
            if *k < c.options.len() {
                break;
            }
            *k = 0;
        }
    }
    if satisfiable {
        Err(Outside::Spurious)
    } else {
        Ok(Answer::Unsat)
    }
}

/// The possible values of one variable.
fn choose(
    sym: &Sym,
    idx: &[usize],
    all: &[Atom],
    params: &HashMap<String, ParamType>,
    whole: bool,
) -> Option<Choices> {
    let atoms: Vec<&Atom> = idx.iter().map(|&i| &all[i]).collect();
    let mut out = Choices {
        sym: sym.clone(),
        atoms: idx.to_vec(),
        options: Vec::new(),
        raw: Vec::new(),
    };
    match sym {
        Sym::Glob(g) => {
            let glob = warden_core::path::glob_to_regex(g).ok()?;
            let langs: Vec<Lang> = atoms
                .iter()
                .map(|a| lang(a.op, &a.value, true))
                .collect::<Option<_>>()?;
            out.options = strings(&[bytes(NORMAL), unicode(glob)], &langs)?
                .into_iter()
                .map(|(t, s)| (t, Value::String(s)))
                .collect();
        }
        Sym::Param { name, .. } => {
            let ty = *params.get(name)?;
            let seen = |v: View| {
                atoms
                    .iter()
                    .any(|a| matches!(a.sym, Sym::Param { view, .. } if view == v))
            };
            let norm = seen(View::Norm);
            // Only a `host` param is decided as a connect target: a string
            // spelling an address (`"10.0.0.1"`, `"::ffff:a00:1"`, a cidr)
            // is one, and its string atoms are not atoms of the address.
            if ty != ParamType::Host && (seen(View::Host) || seen(View::Ip)) {
                return None;
            }
            match ty {
                ParamType::Number => out.options = numbers(&atoms, whole)?,
                ParamType::Bool => {
                    out.options =
                        dedup_by_truth(vec![Value::Bool(false), Value::Bool(true)], &atoms)
                }
                ParamType::String | ParamType::Path if !norm => {
                    let domain = if ty == ParamType::Path {
                        "/(?s:.*)"
                    } else {
                        "(?s:.*)"
                    };
                    let langs: Vec<Lang> = atoms
                        .iter()
                        .map(|a| lang(a.op, &a.value, false))
                        .collect::<Option<_>>()?;
                    out.options = strings(&[bytes(domain)], &langs)?
                        .into_iter()
                        .map(|(t, s)| (t, Value::String(s)))
                        .collect();
                }
                ParamType::Path => return normalized(out, &atoms),
                ParamType::Host => out.options = hosts(&atoms)?,
                ParamType::String => return None,
            }
        }
    }
    Some(out)
}

/// A path param seen through `norm(p)`: its normal atoms decided over the
/// normalized paths, its raw atoms free (any truth values).
fn normalized(mut out: Choices, atoms: &[&Atom]) -> Option<Choices> {
    let is_norm: Vec<bool> = atoms
        .iter()
        .map(|a| {
            matches!(
                a.sym,
                Sym::Param {
                    view: View::Norm,
                    ..
                }
            )
        })
        .collect();
    let n_langs: Vec<Lang> = atoms
        .iter()
        .zip(&is_norm)
        .filter(|(_, n)| **n)
        .map(|(a, _)| lang(a.op, &a.value, true))
        .collect::<Option<_>>()?;
    let r_langs: Vec<Lang> = atoms
        .iter()
        .zip(&is_norm)
        .filter(|(_, n)| !**n)
        .map(|(a, _)| lang(a.op, &a.value, false))
        .collect::<Option<_>>()?;
    if r_langs.len() > MAX_FREE {
        return None;
    }
    // A raw `endswith Y` whose ending normalization keeps implies `norm(p)`
    // ends with `Y` too (`warden_core::path::ending_survives_normalization`):
    // each gets a shadow atom on the normal form, and a choice where the raw
    // atom holds but its shadow does not is impossible, so left out.
    let raw_atoms: Vec<&&Atom> = atoms
        .iter()
        .zip(&is_norm)
        .filter(|(_, n)| !**n)
        .map(|(a, _)| a)
        .collect();
    let n_count = n_langs.len();
    let mut all_langs = n_langs;
    let mut shadows: Vec<usize> = Vec::new();
    for (ri, a) in raw_atoms.iter().enumerate() {
        if let (CmpOp::EndsWith, Value::String(y)) = (a.op, &a.value)
            && warden_core::path::ending_survives_normalization(y)
        {
            shadows.push(ri);
            all_langs.push(lang(CmpOp::EndsWith, &a.value, true)?);
        }
    }
    // A raw `startswith D/` (`D` normal) with `not contains ".."` implies
    // `norm(p)` is under `D`, and a raw `startswith X` (`X` normal) that
    // `norm(p)` starts with `X`: without `..`, normalization only drops
    // `.` segments and repeated `/`, and the segments of the prefix stay
    // first. Each such prefix gets a shadow atom too, impossible to miss
    // when the raw value has no `..`.
    let no_dots = raw_atoms.iter().position(|a| {
        matches!((a.op, &a.value), (CmpOp::Contains, Value::String(x)) if x == ".." || x == ".")
    });
    let mut prefixes: Vec<(usize, usize)> = Vec::new();
    if let Some(dd) = no_dots {
        for (ri, a) in raw_atoms.iter().enumerate() {
            let (CmpOp::StartsWith, Value::String(x)) = (a.op, &a.value) else {
                continue;
            };
            let Ok(n) = warden_core::path::normalize_path(x) else {
                continue;
            };
            let shadow = if x.len() > 1 && x.ends_with('/') && n == x[..x.len() - 1] {
                CmpOp::Under
            } else if n == *x {
                CmpOp::StartsWith
            } else {
                continue;
            };
            prefixes.push((ri, dd));
            all_langs.push(lang(shadow, &a.value, true)?);
        }
    }
    let normal = strings(&[bytes(NORMAL)], &all_langs)?;
    // Raw values meeting each combination the raw atoms can take.
    out.raw = strings(&[bytes("/(?s:.*)")], &r_langs)?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    // The strings the raw atoms compare with `==`, `!=` or `in` are decided
    // exactly: each is one option, its atoms evaluated on it and on its
    // normal form (`where p in ["/a/x.log", "/a/b/../y.log"]` is then
    // decided completely). Every other value meets none of them: its
    // `==` and `in` atoms are false, its `!=` atoms true.
    let mut exact: Vec<&str> = Vec::new();
    for a in &raw_atoms {
        match (a.op, &a.value) {
            (CmpOp::Eq | CmpOp::Ne | CmpOp::In, Value::String(x)) => exact.push(x),
            (CmpOp::In, Value::List(items)) => {
                exact.extend(items.iter().filter_map(Value::as_str));
            }
            _ => {}
        }
    }
    exact.sort_unstable();
    exact.dedup();
    for x in &exact {
        let Ok(n) = warden_core::path::normalize_path(x) else {
            continue;
        };
        let (raw, norm) = (Value::String(x.to_string()), Value::String(n));
        let truth: Vec<bool> = atoms
            .iter()
            .zip(&is_norm)
            .map(|(a, &isn)| {
                let v = if isn { &norm } else { &raw };
                warden_core::cond::compare(a.op, v, &a.value)
            })
            .collect();
        out.options.push((truth, raw));
    }
    // A raw `matches R` whose every value is a normal path (`R` =
    // `/srv/[a-z]+\.log`) means `norm(p) = p` whenever it holds: those
    // values are decided exactly, all their atoms on one string; the rest
    // are values where it does not hold.
    let raw_index: Vec<usize> = (0..atoms.len()).filter(|&i| !is_norm[i]).collect();
    let only_normal: Vec<usize> = raw_atoms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.op == CmpOp::Matches && matches_only_normal(&a.value))
        .map(|(ri, _)| ri)
        .collect();
    if !only_normal.is_empty() {
        let same: Vec<Lang> = atoms
            .iter()
            .zip(&is_norm)
            .map(|(a, &isn)| lang(a.op, &a.value, isn))
            .collect::<Option<_>>()?;
        for (truth, v) in strings(&[bytes(NORMAL)], &same)? {
            if only_normal.iter().any(|&ri| truth[raw_index[ri]]) {
                out.options.push((truth, Value::String(v)));
            }
        }
    }
    let mut fixed: Vec<Option<bool>> = raw_atoms
        .iter()
        .map(|a| match (a.op, &a.value) {
            (CmpOp::Eq, _) | (CmpOp::In, Value::String(_) | Value::List(_)) => Some(false),
            (CmpOp::Ne, Value::String(_)) => Some(true),
            _ => None,
        })
        .collect();
    for &ri in &only_normal {
        fixed[ri] = Some(false);
    }
    for (nt, n) in &normal {
        for free in 0..(1u32 << r_langs.len()) {
            let impossible = shadows
                .iter()
                .enumerate()
                .any(|(k, ri)| free & (1 << ri) != 0 && !nt[n_count + k])
                || prefixes.iter().enumerate().any(|(k, (ri, dd))| {
                    free & (1 << ri) != 0
                        && free & (1 << dd) == 0
                        && !nt[n_count + shadows.len() + k]
                })
                || fixed
                    .iter()
                    .enumerate()
                    .any(|(ri, f)| f.is_some_and(|f| (free & (1 << ri) != 0) != f));
            if impossible {
                continue;
            }
            let (mut ni, mut ri) = (0, 0);
            let truth: Vec<bool> = is_norm
                .iter()
                .map(|&isn| {
                    if isn {
                        ni += 1;
                        nt[ni - 1]
                    } else {
                        ri += 1;
                        free & (1 << (ri - 1)) != 0
                    }
                })
                .collect();
            out.options.push((truth, Value::String(n.clone())));
        }
    }
    Some(out)
}

/// Whether every string a `matches` regex accepts is a normal path (its
/// language inside [`NORMAL`]); `false` when that cannot be told.
fn matches_only_normal(v: &Value) -> bool {
    let Value::String(p) = v else { return false };
    if warden_core::cond::regex(p).is_err() {
        return false;
    }
    let normal = [Lang::Re {
        pattern: bytes(NORMAL),
        neg: false,
    }];
    strings(&[unicode(p.as_str())], &normal).is_some_and(|found| found.iter().all(|(t, _)| t[0]))
}

/// Raw values whose normal form may be `n` (each is checked concretely):
/// `n` itself; each raw value followed by enough `..` to climb to `/`, then
/// `n`; and `n` followed by each raw value (`/var/log/app` and `/a.log/..`:
/// a raw ending that normalizes away).
fn climbs(n: &str, raw: &[String]) -> Vec<String> {
    let mut out = vec![n.to_string()];
    for r in raw {
        let depth = r.split('/').filter(|s| !s.is_empty()).count() + 1;
        let mut p = r.trim_end_matches('/').to_string();
        for _ in 0..depth {
            p.push_str("/..");
        }
        if n != "/" {
            p.push_str(n);
        }
        out.push(p);
    }
    for r in raw.iter().filter(|r| r.starts_with('/')) {
        out.push(if n == "/" {
            r.clone()
        } else {
            format!("{n}{r}")
        });
    }
    out
}

/// Builds and checks concrete witnesses for one satisfying choice.
#[allow(clippy::too_many_arguments)]
fn witness(
    choices: &[Choices],
    pick: &[usize],
    goal: &Cond,
    wheres: &[&Cond],
    params: &HashMap<String, ParamType>,
    base: &BTreeMap<String, Value>,
    valid: &dyn Fn(&Witness) -> bool,
    tries: &mut usize,
) -> Option<Witness> {
    // Candidates per variable (several only for a normalized path param).
    let cands: Vec<Vec<Value>> = choices
        .iter()
        .zip(pick)
        .map(|(c, &k)| {
            let v = &c.options[k].1;
            match (&c.sym, v) {
                (Sym::Param { .. }, Value::String(n)) if !c.raw.is_empty() => {
                    climbs(n, &c.raw).into_iter().map(Value::String).collect()
                }
                _ => vec![v.clone()],
            }
        })
        .collect();
    let mut at = vec![0usize; cands.len()];
    loop {
        if *tries >= MAX_TRIES {
            return None;
        }
        *tries += 1;
        let mut w = Witness::default();
        let mut scope: BTreeMap<String, Field> = BTreeMap::new();
        for ((c, vs), &k) in choices.iter().zip(&cands).zip(&at) {
            let v = vs[k].clone();
            match &c.sym {
                Sym::Glob(g) => {
                    if let Value::String(s) = &v {
                        w.globs.insert(g.clone(), s.clone());
                        scope.insert(format!("norm|g:{g}"), Field::new(v.clone()));
                    }
                }
                Sym::Param { name, .. } => {
                    scope.insert(format!("raw|p:{name}"), Field::new(v.clone()));
                    scope.insert(format!("port|p:{name}"), Field::new(v.clone()));
                    if let Value::String(s) = &v
                        && let Ok(n) = warden_core::path::normalize_path(s)
                    {
                        scope.insert(format!("norm|p:{name}"), Field::new(Value::String(n)));
                    }
                    // As a connect target: an address has `ip`, a name
                    // `host` (as [`Witness::action`] makes the action).
                    let net = match &v {
                        Value::Cidr(n) => Some(*n),
                        Value::String(s) => warden_core::net::parse_cidr(s),
                        _ => None,
                    };
                    match (net, &v) {
                        (Some(n), _) => {
                            scope.insert(format!("ip|p:{name}"), Field::new(Value::Cidr(n)));
                        }
                        (None, Value::String(s)) if warden_core::net::is_host_name(s) => {
                            scope.insert(format!("host|p:{name}"), Field::new(v.clone()));
                        }
                        _ => {}
                    }
                    w.params.insert(name.clone(), v);
                }
            }
        }
        for (name, ty) in params {
            if w.params.contains_key(name) {
                continue;
            }
            // Not in the question: any value of its type will do.
            let v = base.get(name).cloned().or(match ty {
                ParamType::String => Some(Value::String(String::new())),
                ParamType::Path => Some(Value::String("/".into())),
                ParamType::Number => Some(Value::Number(Decimal::ZERO)),
                ParamType::Bool => Some(Value::Bool(false)),
                ParamType::Host => Some(Value::String("example.com".into())),
            });
            if let Some(v) = v {
                w.params.insert(name.clone(), v);
            }
        }
        if goal.eval(&scope) && wheres.iter().all(|c| c.eval(&scope)) && valid(&w) {
            return Some(w);
        }
        // The next combination of candidates.
        let mut carried = true;
        for (vs, k) in cands.iter().zip(at.iter_mut()) {
            *k += 1;
            if *k < vs.len() {
                carried = false;
                break;
            }
            *k = 0;
        }
        if carried {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(name: &str, op: CmpOp, v: Value) -> Cond {
        Cond::Cmp {
            op,
            lhs: Operand::Ref {
                name: name.into(),
                fields: vec![],
                index: None,
            },
            rhs: Operand::Value { value: v },
        }
    }
    fn s(x: &str) -> Value {
        Value::String(x.into())
    }
    fn n(x: i64) -> Value {
        Value::Number(Decimal::from(x))
    }
    fn cidr(x: &str) -> Value {
        Value::Cidr(warden_core::net::parse_cidr(x).unwrap())
    }
    fn types(ps: &[(&str, ParamType)]) -> HashMap<String, ParamType> {
        ps.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    }
    fn ask(goal: &Cond, wheres: &[&Cond], ps: &[(&str, ParamType)]) -> Option<Answer> {
        decide(goal, wheres, &types(ps), &BTreeMap::new(), &|_| true).ok()
    }

    #[test]
    fn strings_in_a_list_and_not_in_a_wider_one() {
        let w = cmp("raw|p:x", CmpOp::In, Value::List(vec![s("A1"), s("A2")]));
        let q = Cond::not(cmp(
            "raw|p:x",
            CmpOp::In,
            Value::List(vec![s("A1"), s("A2"), s("A3")]),
        ));
        assert_eq!(
            ask(&q, &[&w], &[("x", ParamType::String)]),
            Some(Answer::Unsat)
        );
        let q = cmp("raw|p:x", CmpOp::Eq, s("A2"));
        let Some(Answer::Sat(w)) = ask(&q, &[&w], &[("x", ParamType::String)]) else {
            panic!()
        };
        assert_eq!(w.params["x"], s("A2"));
    }

    #[test]
    fn numbers_between_constants() {
        let w = Cond::and(
            cmp("raw|p:a", CmpOp::Gt, n(0)),
            cmp("raw|p:a", CmpOp::Le, n(100)),
        );
        let q = Cond::not(cmp("raw|p:a", CmpOp::Le, n(130)));
        assert_eq!(
            ask(&q, &[&w], &[("a", ParamType::Number)]),
            Some(Answer::Unsat)
        );
        // 0 < a < 1 has values (0.5), which `a >= 1 or a <= 0` misses.
        let w = Cond::and(
            cmp("raw|p:a", CmpOp::Gt, n(0)),
            cmp("raw|p:a", CmpOp::Lt, n(1)),
        );
        let Some(Answer::Sat(w)) = ask(&Cond::True, &[&w], &[("a", ParamType::Number)]) else {
            panic!()
        };
        assert_eq!(w.params["a"], Value::Number("0.5".parse().unwrap()));
        // Between 443 and 444.5, a whole number.
        let w = Cond::and(
            cmp("raw|p:a", CmpOp::Gt, n(443)),
            cmp(
                "raw|p:a",
                CmpOp::Lt,
                Value::Number("444.5".parse().unwrap()),
            ),
        );
        let Some(Answer::Sat(w)) = ask(&Cond::True, &[&w], &[("a", ParamType::Number)]) else {
            panic!()
        };
        assert_eq!(w.params["a"], n(444));
    }

    #[test]
    fn normalized_paths_stay_under_their_tree_only_without_dotdot() {
        let ps = [("p", ParamType::Path)];
        let under = |d: &str| cmp("norm|p:p", CmpOp::Under, s(d));
        // `where p under "/tmp/job0/"` keeps norm(p) there.
        let w = cmp("raw|p:p", CmpOp::Under, s("/tmp/job0/"));
        let q = Cond::not(Cond::or(under("/tmp/job0"), under("/tmp/job1")));
        assert_eq!(ask(&q, &[&w], &ps), Some(Answer::Unsat));
        // `where p startswith "/tmp/"` does not: `/tmp/../x`.
        let w = cmp("raw|p:p", CmpOp::StartsWith, s("/tmp/"));
        let q = Cond::not(under("/tmp"));
        let Some(Answer::Sat(wit)) = ask(&q, &[&w], &ps) else {
            panic!()
        };
        let p = wit.params["p"].as_str().unwrap().to_string();
        assert!(p.starts_with("/tmp/"), "{p}");
        assert!(!warden_core::path::under(&p, "/tmp"), "{p}");
        // A question the atoms rule out entirely.
        let q = Cond::and(under("/a"), under("/b"));
        assert_eq!(ask(&q, &[], &ps), Some(Answer::Unsat));
    }

    #[test]
    fn a_path_that_cannot_climb_stays_under_its_tree() {
        // Without `..` a path starting with /tmp/ stays under /tmp: decided
        // here (the raw prefix's shadow on the normal form), not left to Z3.
        let ps = [("p", ParamType::Path)];
        let w = Cond::and(
            cmp("raw|p:p", CmpOp::StartsWith, s("/tmp/")),
            Cond::not(cmp("raw|p:p", CmpOp::Contains, s(".."))),
        );
        let q = Cond::not(cmp("norm|p:p", CmpOp::Under, s("/tmp")));
        assert_eq!(ask(&q, &[&w], &ps), Some(Answer::Unsat));
        // Its raw atoms otherwise stay free: `/tmp/` and `..` climb out.
        let w = cmp("raw|p:p", CmpOp::StartsWith, s("/tmp/"));
        assert!(matches!(ask(&q, &[&w], &ps), Some(Answer::Sat(_))));
        // A prefix without its `/` is no tree: `/tmpx` is not under /tmp.
        let w = Cond::and(
            cmp("raw|p:p", CmpOp::StartsWith, s("/tmp")),
            Cond::not(cmp("raw|p:p", CmpOp::Contains, s(".."))),
        );
        assert_ne!(ask(&q, &[&w], &ps), Some(Answer::Unsat));
    }

    #[test]
    fn a_glob_question_mark_is_one_character() {
        // `?` matches `é` (two bytes): the glob's automaton reads characters.
        let q = cmp("norm|g:/d/?", CmpOp::Eq, s("/d/é"));
        let Some(Answer::Sat(w)) = ask(&q, &[], &[]) else {
            panic!()
        };
        assert_eq!(w.globs["/d/?"], "/d/é");
    }

    #[test]
    fn globs_and_regexes() {
        let q = Cond::not(cmp("norm|g:/srv/d/**/*.csv", CmpOp::Under, s("/srv/d")));
        assert_eq!(ask(&q, &[], &[]), Some(Answer::Unsat));
        let q = cmp("norm|g:/srv/d/**/*.csv", CmpOp::EndsWith, s(".key"));
        assert_eq!(ask(&q, &[], &[]), Some(Answer::Unsat));
        let q = cmp("raw|p:x", CmpOp::Matches, s("a+b"));
        let Some(Answer::Sat(w)) = ask(&q, &[], &[("x", ParamType::String)]) else {
            panic!()
        };
        assert_eq!(w.params["x"], s("ab"));
    }

    /// The witness of a `Sat` answer for param `h`.
    fn sat_h(goal: &Cond, wheres: &[&Cond]) -> Value {
        match ask(goal, wheres, &[("h", ParamType::Host)]) {
            Some(Answer::Sat(w)) => w.params["h"].clone(),
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn addresses_inside_a_network_and_outside_it() {
        let h = [("h", ParamType::Host)];
        // `where h in 10.1.0.0/16`: a connect to `h` stays in 10.0.0.0/8.
        let w = cmp("raw|p:h", CmpOp::In, cidr("10.1.0.0/16"));
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/8")));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        // `where h in 10.0.0.0/7` does not: 11.0.0.0, an address, outside.
        let w7 = cmp("raw|p:h", CmpOp::In, cidr("10.0.0.0/7"));
        let v = sat_h(&q, &[&w7]);
        assert_eq!(v.to_string(), "11.0.0.0");
        assert!(!warden_core::cond::compare(
            CmpOp::In,
            &v,
            &cidr("10.0.0.0/8")
        ));
        // Unions and complements: in 10/8 but not in two holes of it.
        let holes = Value::List(vec![cidr("10.1.0.0/16"), cidr("10.2.0.0/16")]);
        let w = Cond::and(
            cmp("raw|p:h", CmpOp::In, cidr("10.0.0.0/8")),
            Cond::not(cmp("raw|p:h", CmpOp::In, holes.clone())),
        );
        let q = cmp("ip|p:h", CmpOp::In, Value::List(vec![cidr("10.1.2.0/24")]));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        let q = cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/14"));
        let v = sat_h(&q, &[&w]);
        assert_eq!(v.to_string(), "10.0.0.1");
        let q = cmp("ip|p:h", CmpOp::In, cidr("10.2.0.0/15"));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "10.3.0.0");
        // One address: `==` it; a network equals itself, no address.
        let w = cmp("raw|p:h", CmpOp::Eq, s("192.168.1.7"));
        let q = cmp("ip|p:h", CmpOp::Ne, cidr("192.168.1.7"));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        let w = cmp("raw|p:h", CmpOp::In, cidr("192.168.1.0/24"));
        let q = cmp("ip|p:h", CmpOp::Eq, cidr("192.168.1.0/24"));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "192.168.1.0/24");
        let q = Cond::and(
            cmp("ip|p:h", CmpOp::Eq, cidr("192.168.1.0/24")),
            cmp("ip|p:h", CmpOp::Eq, cidr("192.168.1.0")),
        );
        assert_eq!(ask(&q, &[], &h), Some(Answer::Unsat));
        // The last address of the line, and the first.
        let last = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let w = cmp("raw|p:h", CmpOp::Eq, cidr(last));
        let q = cmp(
            "ip|p:h",
            CmpOp::In,
            cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120"),
        );
        assert_eq!(sat_h(&q, &[&w]).to_string(), last);
        let w = cmp("raw|p:h", CmpOp::In, cidr("::/127"));
        let q = Cond::not(cmp("ip|p:h", CmpOp::Eq, cidr("::1")));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "::");
    }

    #[test]
    fn a_host_may_be_a_network() {
        let h = [("h", ParamType::Host)];
        // Every address of 10.0.0.0/8 is in one of its halves; the network
        // itself is in neither (`ip in NET`: all of its addresses are).
        let w = cmp("raw|p:h", CmpOp::In, cidr("10.0.0.0/8"));
        let halves = Value::List(vec![cidr("10.0.0.0/9"), cidr("10.128.0.0/9")]);
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, halves));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "10.0.0.0/8");
        // A network equals itself only; an address, one address.
        let q = cmp("ip|p:h", CmpOp::Eq, cidr("10.4.0.0/14"));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "10.4.0.0/14");
        let q = cmp("ip|p:h", CmpOp::Eq, cidr("10.1.2.3"));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "10.1.2.3");
        // A network straddling 10.0.0.0/8 is not in it.
        let q = Cond::and(
            Cond::not(cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/8"))),
            cmp("ip|p:h", CmpOp::In, cidr("8.0.0.0/5")),
        );
        let w = Cond::not(cmp("raw|p:h", CmpOp::In, cidr("11.0.0.0/8")));
        let v = sat_h(&q, &[&w]);
        assert!(
            !warden_core::cond::compare(CmpOp::In, &v, &cidr("10.0.0.0/8")),
            "{v}"
        );
        assert!(
            !warden_core::cond::compare(CmpOp::In, &v, &cidr("11.0.0.0/8")),
            "{v}"
        );
        // A prefix of every length, IPv6 and IPv4-mapped alike.
        let w = cmp("raw|p:h", CmpOp::In, cidr("2001:db8::/32"));
        let q = Cond::not(cmp(
            "ip|p:h",
            CmpOp::In,
            Value::List(vec![cidr("2001:db8::/33"), cidr("2001:db8:8000::/33")]),
        ));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "2001:db8::/32");
        let q = cmp("ip|p:h", CmpOp::In, cidr("::/0"));
        assert_eq!(
            ask(&q, &[], &h).map(|a| matches!(a, Answer::Sat(_))),
            Some(true)
        );
    }

    #[test]
    fn a_dotted_quad_is_a_string_too() {
        // A call's argument may pass `"10.0.0.1"` as a string for a host
        // param: a string question some dotted quad answers yes is left
        // to Z3; one none does is decided.
        let ps = types(&[("h", ParamType::Host)]);
        let w = cmp("raw|p:h", CmpOp::In, cidr("10.0.0.0/8"));
        let q = cmp("raw|p:h", CmpOp::StartsWith, s("10."));
        assert_eq!(
            decide(&q, &[&w], &ps, &BTreeMap::new(), &|_| true),
            Err(Outside::Values("param `h`".into()))
        );
        let q = cmp("raw|p:h", CmpOp::EndsWith, s(".com"));
        assert_eq!(
            ask(&q, &[&w], &[("h", ParamType::Host)]),
            Some(Answer::Unsat)
        );
        // Another spelling of an address equals the address, not the string.
        let q = cmp("raw|p:h", CmpOp::Eq, s("::ffff:10.0.0.1"));
        assert!(decide(&q, &[&w], &ps, &BTreeMap::new(), &|_| true).is_err());
        // The quad's own spelling is the same for both.
        let q = cmp("raw|p:h", CmpOp::Ne, s("10.0.0.1"));
        assert_eq!(sat_h(&q, &[&w]).to_string(), "10.0.0.2");
    }

    #[test]
    fn ipv6_and_ipv4_mapped_addresses() {
        let h = [("h", ParamType::Host)];
        let w = cmp("raw|p:h", CmpOp::In, cidr("2001:db8::/32"));
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, cidr("2001:db8::/48")));
        let v = sat_h(&q, &[&w]);
        assert_eq!(v.to_string(), "2001:db8:1::");
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, cidr("2001:db8::/31")));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        // `::ffff:10.0.0.0/104` is 10.0.0.0/8.
        let w = cmp("raw|p:h", CmpOp::In, cidr("::ffff:10.0.0.0/104"));
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/8")));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        // An unconstrained host reaches outside IPv4 too, but an IPv4
        // witness comes first.
        let q = Cond::not(cmp("ip|p:h", CmpOp::In, cidr("0.0.0.0/0")));
        let v = sat_h(
            &Cond::and(
                q.clone(),
                Cond::Has {
                    field: "ip|p:h".into(),
                },
            ),
            &[],
        );
        assert_eq!(v.to_string(), "::1");
        let v = sat_h(&cmp("ip|p:h", CmpOp::In, cidr("0.0.0.0/0")), &[]);
        assert_eq!(v.to_string(), "0.0.0.1");
    }

    #[test]
    fn host_names_by_the_string_automata() {
        let h = [("h", ParamType::Host)];
        let w = Cond::or(
            cmp(
                "raw|p:h",
                CmpOp::In,
                Value::List(vec![s("api.x.com"), cidr("10.0.0.0/8")]),
            ),
            cmp("raw|p:h", CmpOp::EndsWith, s(".corp.example")),
        );
        // Names it allows are those; addresses, in 10.0.0.0/8.
        let allowed = Cond::or(
            cmp(
                "host|p:h",
                CmpOp::In,
                Value::List(vec![s("api.x.com"), s("b.com")]),
            ),
            Cond::or(
                cmp("host|p:h", CmpOp::Matches, s("(?i)[a-z0-9_.-]*\\.example")),
                cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/8")),
            ),
        );
        assert_eq!(
            ask(&Cond::not(allowed.clone()), &[&w], &h),
            Some(Answer::Unsat)
        );
        // Without `ip`, an address is refused; the witness one of 10/8.
        let names_only = Cond::or(
            cmp("host|p:h", CmpOp::In, Value::List(vec![s("api.x.com")])),
            cmp("host|p:h", CmpOp::EndsWith, s(".example")),
        );
        let v = sat_h(&Cond::not(names_only.clone()), &[&w]);
        assert_eq!(v.to_string(), "10.0.0.1");
        // `has host` and `has ip`: which of the two the value is.
        let q = Cond::and(
            Cond::not(names_only),
            Cond::Has {
                field: "host|p:h".into(),
            },
        );
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
        let q = Cond::and(
            Cond::Has {
                field: "host|p:h".into(),
            },
            Cond::Has {
                field: "ip|p:h".into(),
            },
        );
        assert_eq!(ask(&q, &[], &h), Some(Answer::Unsat));
        // A name of digits and a top-level label, never a dotted quad.
        let w = cmp("raw|p:h", CmpOp::Matches, s("[0-9]+(\\.[0-9]+)*\\.[a-z]+"));
        let q = Cond::Has {
            field: "host|p:h".into(),
        };
        let v = sat_h(&q, &[&w]);
        let name = v.as_str().unwrap();
        assert!(
            warden_core::net::is_host_name(name) && warden_core::net::parse_cidr(name).is_none(),
            "{name}"
        );
        // A dotted quad is an address, never a name: `h == "10.0.0.1"`
        // has no `host`.
        let w = cmp("raw|p:h", CmpOp::Eq, s("10.0.0.1"));
        assert_eq!(ask(&q, &[&w], &h), Some(Answer::Unsat));
    }

    #[test]
    fn a_name_longer_than_a_label_is_not_decided() {
        // Only labels of 64 bytes or more match: not decided here (the
        // names the search finds are shortest, and this one is too long).
        let w = cmp("raw|p:h", CmpOp::Matches, s("[a-z]{64}|[a-z]{64}\\.com"));
        let q = Cond::Has {
            field: "host|p:h".into(),
        };
        let ps = types(&[("h", ParamType::Host)]);
        assert_eq!(
            decide(&q, &[&w], &ps, &BTreeMap::new(), &|_| true),
            Err(Outside::Values("param `h`".into()))
        );
        // A label of 63 is a name.
        let w = cmp("raw|p:h", CmpOp::Matches, s("[a-z]{63}"));
        assert_eq!(sat_h(&q, &[&w]).as_str().map(str::len), Some(63));
    }

    #[test]
    fn dotted_quads_are_what_ipv4_parses() {
        let quad = warden_core::cond::regex(DOTTED_QUAD).unwrap();
        let name = warden_core::cond::regex(HOST_NAME).unwrap();
        let octets = [
            "0", "00", "01", "7", "10", "99", "100", "199", "200", "249", "250", "255", "256",
            "300", "0255",
        ];
        let mut n = 0;
        for a in octets {
            for b in ["0", "01", "255", "256"] {
                for c in ["1", "00"] {
                    for d in octets {
                        let x = format!("{a}.{b}.{c}.{d}");
                        let parses = x.parse::<std::net::Ipv4Addr>().is_ok();
                        assert_eq!(quad.is_match(&x), parses, "{x}");
                        assert!(name.is_match(&x));
                        n += usize::from(parses);
                    }
                }
            }
        }
        assert!(n > 100);
        for x in ["1.2.3", "1.2.3.4.5", "a.1.2.3", "1.2.3.4a"] {
            assert!(
                !quad.is_match(x) && x.parse::<std::net::Ipv4Addr>().is_err(),
                "{x}"
            );
        }
    }

    #[test]
    fn what_it_does_not_decide_goes_to_the_solver() {
        // An address, a host, a `let` result, two symbols compared: each
        // left to Z3 with what took it outside the fragment.
        let why = |q: &Cond, ps: &[(&str, ParamType)]| match decide(
            q,
            &[],
            &types(ps),
            &BTreeMap::new(),
            &|_| true,
        ) {
            Err(o) => o.to_string(),
            Ok(a) => panic!("decided: {a:?}"),
        };
        let q = cmp(
            "raw|p:x",
            CmpOp::In,
            Value::List(vec![Value::Cidr("10.0.0.0/8".parse().unwrap())]),
        );
        assert_eq!(
            why(&q, &[("x", ParamType::String)]),
            "the values of param `x`, which no automaton describes here"
        );
        // A string param used as a connect target: its string atoms are
        // not atoms of the address it may spell.
        let q = cmp("ip|p:h", CmpOp::In, cidr("10.0.0.0/8"));
        assert_eq!(
            why(&q, &[("h", ParamType::String)]),
            "the values of param `h`, a `string` used as a connect target (a `host` param is decided), which no automaton describes here"
        );
        let q = cmp("raw|u:f:y", CmpOp::Eq, s("a"));
        assert!(why(&q, &[]).starts_with("the `let` result `y` of `f` compared with a value"));
        let q = Cond::Cmp {
            op: CmpOp::Eq,
            lhs: Operand::Ref {
                name: "raw|p:x".into(),
                fields: Vec::new(),
                index: None,
            },
            rhs: Operand::Ref {
                name: "raw|p:y".into(),
                fields: Vec::new(),
                index: None,
            },
        };
        assert_eq!(why(&q, &[]), "a comparison of two unknowns");
        // A witness the concrete check refuses is not an answer either.
        let q = cmp("raw|p:x", CmpOp::Eq, s("a"));
        let ps = types(&[("x", ParamType::String)]);
        assert_eq!(
            decide(&q, &[], &ps, &BTreeMap::new(), &|_| false),
            Err(Outside::Spurious)
        );
    }
}
