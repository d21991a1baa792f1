//! Probes: one fully symbolic action per class of actions, complete for
//! what the specs can observe.
//!
//! A probe stands for **every** action of its class (an action kind; for
//! calls, one tool name). The questions of [`super::diff`] and
//! [`super::lint`] are spec conditions rewritten over the probe's symbols
//! ([`Probe::cond`]) and answered by the verifier's own Z3 encoding
//! ([`crate::symbolic`]); a witness is turned back into a concrete action
//! ([`Probe::action`]) and re-checked with the value semantics of
//! [`warden_core::cond`] before anything is reported.
//!
//! **Paths** (`read`, `write`, `delete`, `exec`): any normalized absolute
//! path (the glob `/**`); `exec` also any argument list (strings, as a run
//! passes them). **`connect`**: a host that is a name or an address, a port
//! in 0..65535, and, when the specs compare `ip` with networks, a target
//! that is itself a network (`connect 10.0.0.0/8:443`): one representative
//! network per class those comparisons can tell apart (each network the
//! specs name, both of its halves, and `::/0`). **`listen`**: a port.
//! **Unix sockets** (`connect PATH`, `listen PATH`): a class of their own
//! for each kind, any normalized absolute path (the glob `/**`), beside the
//! network one.
//!
//! **Calls.** The specs observe a call only through the arguments their
//! conditions name (a condition looks arguments up by name; there is no
//! way to ask about "some other argument"), so a call is modelled by those
//! names alone. Each argument is independently:
//!
//! - present or absent (`has:NAME`);
//! - a string, a number or a bool (one symbolic value of unknown type), a
//!   **list** of up to `list_bound` elements (each one of those, with the
//!   each-element semantics of docs/language.md), or one of a few concrete
//!   values of the types the solver does not encode (durations: 0 and
//!   each duration the specs compare it with, one less and one more; an
//!   address, which no string, number or bool condition can tell from a
//!   duration when the specs name no address);
//! - originating from one of the tools a `from call` names, or from none.
//!
//! The list bound is large enough that every behaviour of a longer list is
//! also shown by one within the bound: keep the elements up to the largest
//! index used, one witness element for each `contains` that holds and each
//! each-element condition that fails, and one more element per `==` with a
//! list literal (so the shorter list does not equal that literal); and at
//! least the longest list literal compared with the argument. Where the model is known to be incomplete
//! (a call argument compared with an address or a nested list, a bound
//! above [`MAX_LIST_BOUND`]) the probe records a **gap**: `diff` then never
//! claims equivalence for that class and `lint` makes no claim about it.

use warden_core::action::ConcreteAction;

use warden_core::value::Field;

use crate::answer::Witness;
use crate::cfg::{StepAction, Term};
use crate::compile::{CompiledSpec, EffectRule};
use crate::symbolic::{self, ResidualScope, Session};
use ipnet::IpNet;
use planlang::Span;
use planlang::ast::{ActionKind, CmpOp, Effect, ParamType};
use rust_decimal::prelude::ToPrimitive;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::value::Value;

use super::decision::Decision;

/// The glob every normalized absolute path matches.
pub const ANY_PATH: &str = "/**";

/// The longest list a call argument is modelled with; a spec that needs a
/// longer one makes the probe incomplete.
pub const MAX_LIST_BOUND: u32 = 12;

/// Above this many arguments that may be lists, a question is asked in one
/// case rather than one per choice of list arguments.
pub const MAX_CASE_ARGS: usize = 5;

/// Shape of an argument: one symbolic string, number or bool.
const SCALAR: i64 = 0;
/// Shape of an argument: a list.
const LIST: i64 = 1;
/// Shapes from here on: the argument's representative values, in order.
const REP0: i64 = 2;

/// The params of the call model (names no plan param can have).
fn has_p(x: &str) -> String {
    format!("has:{x}")
}
fn shape_p(x: &str) -> String {
    format!("shape:{x}")
}
fn el_p(x: &str, i: u32) -> String {
    format!("el:{x}:{i}")
}
fn eshape_p(x: &str, i: u32) -> String {
    format!("eshape:{x}:{i}")
}
fn from_p(x: &str) -> String {
    format!("from:{x}")
}
/// The param choosing a connect probe's target (0: a host or address).
const NET_P: &str = "net:target";
/// The symbolic value of list element `i` of `x`.
fn elem(x: &str, i: u32) -> String {
    format!("{x}#{i}")
}

fn param(name: &str) -> Operand {
    Operand::field(name)
}

fn num(n: i64) -> Value {
    Value::Number(n.into())
}

/// `c` over params of the given types, as the encoder names them.
fn on_params(c: Cond, params: &[(&str, ParamType)]) -> Cond {
    let scope: HashMap<String, ParamType> =
        params.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    symbolic::residual(&c, &ResidualScope::Params(&scope))
}

fn flag(name: &str) -> Cond {
    on_params(
        Cond::Cmp {
            op: CmpOp::Eq,
            lhs: param(name),
            rhs: Operand::Value {
                value: Value::Bool(true),
            },
        },
        &[(name, ParamType::Bool)],
    )
}

fn num_is(name: &str, k: i64) -> Cond {
    on_params(
        Cond::Cmp {
            op: CmpOp::Eq,
            lhs: param(name),
            rhs: Operand::Value { value: num(k) },
        },
        &[(name, ParamType::Number)],
    )
}

fn num_in(name: &str, ks: impl IntoIterator<Item = i64>) -> Cond {
    on_params(
        Cond::Cmp {
            op: CmpOp::In,
            lhs: param(name),
            rhs: Operand::Value {
                value: Value::List(ks.into_iter().map(num).collect()),
            },
        },
        &[(name, ParamType::Number)],
    )
}

fn str_is(name: &str, s: &str) -> Cond {
    on_params(
        Cond::Cmp {
            op: CmpOp::Eq,
            lhs: param(name),
            rhs: Operand::Value {
                value: Value::String(s.to_string()),
            },
        },
        &[(name, ParamType::String)],
    )
}

fn bool_cond(b: bool) -> Cond {
    if b { Cond::True } else { Cond::False }
}

/// How one argument of a call probe is modelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgModel {
    /// The argument's name.
    pub name: String,
    /// The longest list considered.
    pub list_bound: u32,
    /// Concrete values standing for the types the solver does not encode.
    pub reps: Vec<Value>,
}

/// What the conditions of the rules of one call name do with one argument.
#[derive(Default)]
struct Uses {
    /// Distinct atoms on the argument.
    atoms: BTreeSet<String>,
    /// Distinct `==` / `!=` atoms with a list literal.
    list_eq: BTreeSet<String>,
    max_index: Option<u32>,
    longest: usize,
    durations: BTreeSet<u64>,
    addresses: bool,
    nested: bool,
}

impl Uses {
    fn literal(&mut self, v: &Value, depth: usize) {
        match v {
            Value::Duration(d) => {
                self.durations.insert(*d);
            }
            Value::Cidr(_) => self.addresses = true,
            Value::String(s) if warden_core::net::parse_cidr(s).is_some() => self.addresses = true,
            Value::List(items) => {
                if depth > 0 {
                    self.nested = true;
                }
                self.longest = self.longest.max(items.len());
                items.iter().for_each(|i| self.literal(i, depth + 1));
            }
            _ => {}
        }
    }
}

fn collect_uses(c: &Cond, uses: &mut BTreeMap<String, Uses>, tools: &mut BTreeSet<String>) {
    match c {
        Cond::True | Cond::False => {}
        Cond::And { all: cs } | Cond::Or { any: cs } => {
            cs.iter().for_each(|c| collect_uses(c, uses, tools))
        }
        Cond::Not { cond } => collect_uses(cond, uses, tools),
        Cond::Has { field } => {
            uses.entry(field.clone()).or_default();
        }
        Cond::FromCall { value, tool } => {
            tools.insert(tool.clone());
            if let Operand::Ref { name, index, .. } = value {
                let u = uses.entry(name.clone()).or_default();
                if let Some(i) = index {
                    u.max_index = Some(u.max_index.map_or(*i, |m| m.max(*i)));
                }
            }
        }
        Cond::Cmp { op, lhs, rhs } => {
            for (me, other) in [(lhs, rhs), (rhs, lhs)] {
                if let Operand::Ref { name, index, .. } = me {
                    let u = uses.entry(name.clone()).or_default();
                    let key = format!("{op:?} {lhs:?} {rhs:?}");
                    if matches!(op, CmpOp::Eq | CmpOp::Ne)
                        && matches!(
                            other,
                            Operand::Value {
                                value: Value::List(_)
                            }
                        )
                    {
                        u.list_eq.insert(key.clone());
                    }
                    u.atoms.insert(key);
                    if let Some(i) = index {
                        u.max_index = Some(u.max_index.map_or(*i, |m| m.max(*i)));
                    }
                    if let Operand::Value { value } = other {
                        u.literal(value, 0);
                    }
                }
            }
        }
    }
}

/// A fully symbolic action of one class (see the module doc).
#[derive(Clone, Debug)]
pub struct Probe {
    /// The kind of action it stands for.
    pub kind: ActionKind,
    /// For a call probe: the tool (a name no rule uses stands for every
    /// tool no rule names).
    pub call: Option<String>,
    /// The symbolic plan step (for a call: one unknown value per argument
    /// and per list element).
    pub step: StepAction,
    /// The type of each symbol of the step, by its param name.
    pub params: HashMap<String, ParamType>,
    /// Constraints every value meets (a port is 0 to 65535).
    pub wheres: Vec<Cond>,
    /// For a call: how each argument the specs name is modelled.
    pub args: Vec<ArgModel>,
    /// For a call: the tools `from call` conditions name.
    pub tools: BTreeSet<String>,
    /// For a connect: targets that are networks, as steps with known values.
    pub alternatives: Vec<StepAction>,
    /// Why the model may miss actions the specs decide differently (empty
    /// when it is complete).
    pub gaps: Vec<String>,
    /// Atoms the solver cannot encode exactly, each one boolean (the same
    /// atom is the same boolean in every rule of both specs).
    opaque: RefCell<BTreeSet<String>>,
}

impl Probe {
    /// A probe of a kind other than `call`, or of a call with no argument
    /// the specs name.
    pub fn new(kind: ActionKind, call: Option<&str>) -> Probe {
        let mut fields = BTreeMap::new();
        let mut params = HashMap::new();
        let mut wheres = Vec::new();
        match kind {
            ActionKind::Read | ActionKind::Write | ActionKind::Delete | ActionKind::Exec => {
                // Some file of the glob `/**`: any normalized absolute path
                // (an action's path is normalized before it is checked).
                fields.insert("path".to_string(), Term::Glob(ANY_PATH.to_string()));
                if kind == ActionKind::Exec {
                    fields.insert("argv".to_string(), Term::AnyList);
                }
            }
            ActionKind::Connect | ActionKind::Listen => {
                if kind == ActionKind::Connect {
                    fields.insert("host".to_string(), Term::Param("host".into()));
                    fields.insert("ip".to_string(), Term::Param("host".into()));
                    params.insert("host".to_string(), ParamType::Host);
                }
                fields.insert("port".to_string(), Term::Param("port".into()));
                params.insert("port".to_string(), ParamType::Number);
                let range = Cond::and(
                    Cond::Cmp {
                        op: CmpOp::Ge,
                        lhs: param("port"),
                        rhs: Operand::Value { value: num(0) },
                    },
                    Cond::Cmp {
                        op: CmpOp::Le,
                        lhs: param("port"),
                        rhs: Operand::Value { value: num(65535) },
                    },
                );
                wheres.push(on_params(range, &[("port", ParamType::Number)]));
            }
            ActionKind::Call => {}
        }
        Probe::with(kind, call, fields, params, wheres)
    }

    fn with(
        kind: ActionKind,
        call: Option<&str>,
        fields: BTreeMap<String, Term>,
        params: HashMap<String, ParamType>,
        wheres: Vec<Cond>,
    ) -> Probe {
        Probe {
            kind,
            call: call.map(str::to_string),
            step: StepAction {
                kind,
                call: call.map(str::to_string),
                fields,
                span: Span::synthetic(),
            },
            params,
            wheres,
            args: Vec::new(),
            tools: BTreeSet::new(),
            alternatives: Vec::new(),
            gaps: Vec::new(),
            opaque: RefCell::new(BTreeSet::new()),
        }
    }

    /// A probe of the connects (or listens) on pathname unix sockets: any
    /// normalized absolute socket path.
    pub fn unix_socket(kind: ActionKind) -> Probe {
        let fields = BTreeMap::from([("path".to_string(), Term::Glob(ANY_PATH.to_string()))]);
        Probe::with(kind, None, fields, HashMap::new(), Vec::new())
    }

    /// A call probe for the tool `call` whose rules (of every spec compared)
    /// have the conditions `conds`.
    pub fn for_call(call: &str, conds: &[&Cond]) -> Probe {
        let mut p = Probe::new(ActionKind::Call, Some(call));
        let mut uses = BTreeMap::new();
        let mut tools = BTreeSet::new();
        for c in conds {
            collect_uses(c, &mut uses, &mut tools);
        }
        for (name, u) in uses {
            let need = (u.max_index.map_or(0, |i| i + 1) as u64)
                + u.atoms.len() as u64
                + u.list_eq.len() as u64;
            let need = need.max(u.longest as u64);
            let list_bound = if need > MAX_LIST_BOUND as u64 {
                p.gaps.push(format!(
                    "argument `{name}` would need lists of {need} elements to be modelled completely (the bound is {MAX_LIST_BOUND})"
                ));
                MAX_LIST_BOUND
            } else {
                need as u32
            };
            if u.addresses {
                p.gaps.push(format!(
                    "argument `{name}` is compared with an address; argument values of address type are not modelled"
                ));
            }
            if u.nested {
                p.gaps.push(format!(
                    "argument `{name}` is compared with a nested list; nested list values are not modelled"
                ));
            }
            let mut reps = Vec::new();
            if u.durations.is_empty() {
                reps.push(Value::Duration(0));
            } else {
                // Not a duration, a string, a number or a bool.
                reps.push(Value::Cidr(IpNet::V4(ipnet::Ipv4Net::default())));
                let mut ds = BTreeSet::from([0u64]);
                for d in &u.durations {
                    ds.extend([d.saturating_sub(1), *d, d.saturating_add(1)]);
                }
                reps.extend(ds.into_iter().map(Value::Duration));
            }
            let shapes = (0..REP0 + reps.len() as i64).collect::<Vec<_>>();
            p.params.insert(has_p(&name), ParamType::Bool);
            p.params.insert(shape_p(&name), ParamType::Number);
            p.params.insert(from_p(&name), ParamType::String);
            p.wheres
                .push(num_in(&shape_p(&name), shapes.iter().copied()));
            p.step.fields.insert(
                name.clone(),
                Term::Unknown {
                    name: name.clone(),
                    origin: String::new(),
                    key: None,
                },
            );
            for i in 0..list_bound {
                p.params.insert(el_p(&name, i), ParamType::Bool);
                p.params.insert(eshape_p(&name, i), ParamType::Number);
                p.wheres.push(num_in(
                    &eshape_p(&name, i),
                    shapes.iter().copied().filter(|s| *s != LIST),
                ));
                if i > 0 {
                    // Elements are a prefix: element i only after i - 1.
                    p.wheres.push(Cond::or(
                        Cond::not(flag(&el_p(&name, i))),
                        flag(&el_p(&name, i - 1)),
                    ));
                }
                let e = elem(&name, i);
                p.step.fields.insert(
                    e.clone(),
                    Term::Unknown {
                        name: e,
                        origin: String::new(),
                        key: None,
                    },
                );
            }
            p.args.push(ArgModel {
                name,
                list_bound,
                reps,
            });
        }
        p.tools = tools;
        p
    }

    /// A connect probe whose targets may also be networks: one
    /// representative per class of networks the `ip` comparisons of
    /// `conds` can tell apart.
    fn for_connect(conds: &[&Cond]) -> Probe {
        let mut p = Probe::new(ActionKind::Connect, None);
        let mut nets = BTreeSet::new();
        for c in conds {
            networks(c, &mut nets);
        }
        if nets.is_empty() {
            return p;
        }
        let mut reps: BTreeSet<IpNet> = BTreeSet::new();
        reps.insert(IpNet::V6(ipnet::Ipv6Net::default()));
        for n in &nets {
            reps.insert(*n);
            if n.prefix_len() < n.max_prefix_len()
                && let Ok(halves) = n.subnets(n.prefix_len() + 1)
            {
                reps.extend(halves);
            }
        }
        // A single address is already the symbolic target.
        reps.retain(|n| n.prefix_len() < n.max_prefix_len());
        for n in reps {
            let mut fields = BTreeMap::new();
            fields.insert("ip".to_string(), Term::Known(Value::Cidr(n)));
            fields.insert("port".to_string(), Term::Param("port".into()));
            p.alternatives.push(StepAction {
                kind: ActionKind::Connect,
                call: None,
                fields,
                span: Span::synthetic(),
            });
        }
        p.params.insert(NET_P.to_string(), ParamType::Number);
        p.wheres
            .push(num_in(NET_P, 0..=p.alternatives.len() as i64));
        p
    }

    fn arg(&self, name: &str) -> Option<&ArgModel> {
        self.args.iter().find(|a| a.name == name)
    }

    /// The effect rules of `spec` whose kind and tool name fit the probe.
    pub fn rules<'a>(
        &'a self,
        spec: &'a CompiledSpec,
    ) -> impl Iterator<Item = (usize, &'a EffectRule)> + 'a {
        spec.effects
            .iter()
            .enumerate()
            .filter(|(_, r)| r.pattern.kind_matches(self.kind, self.call.as_deref()))
    }

    /// A spec condition as a question about the probe's symbols.
    pub fn cond(&self, c: &Cond) -> Cond {
        match self.kind {
            ActionKind::Call => self.call_cond(c),
            _ if self.alternatives.is_empty() => {
                symbolic::residual(c, &ResidualScope::Step(&self.step))
            }
            _ => {
                let mut out = Cond::and(
                    num_is(NET_P, 0),
                    symbolic::residual(c, &ResidualScope::Step(&self.step)),
                );
                for (j, s) in self.alternatives.iter().enumerate() {
                    out = Cond::or(
                        out,
                        Cond::and(
                            num_is(NET_P, j as i64 + 1),
                            symbolic::residual(c, &ResidualScope::Step(s)),
                        ),
                    );
                }
                out
            }
        }
    }

    /// The condition under which `rule`'s pattern matches the probe.
    pub fn matches_cond(&self, rule: &EffectRule) -> Cond {
        if !rule.pattern.kind_matches(self.kind, self.call.as_deref()) {
            return Cond::False;
        }
        self.cond(&rule.pattern.when)
    }

    /// The condition under which `spec` gives the probe the verdict `d`
    /// (deny beats approve beats allow; nothing matching is deny).
    pub fn decision_cond(&self, spec: &CompiledSpec, d: Decision) -> Cond {
        let (mut deny, mut approve, mut allow) = (Cond::False, Cond::False, Cond::False);
        for (_, r) in self.rules(spec) {
            let m = self.cond(&r.pattern.when);
            match r.effect {
                Effect::Deny => deny = Cond::or(deny, m),
                Effect::Approve => approve = Cond::or(approve, m),
                Effect::Allow => allow = Cond::or(allow, m),
            }
        }
        match d {
            Decision::Deny => Cond::or(deny, Cond::and(Cond::not(approve), Cond::not(allow))),
            Decision::Approve => Cond::and(Cond::not(deny), approve),
            Decision::Allow => Cond::and(Cond::and(Cond::not(deny), Cond::not(approve)), allow),
        }
    }

    /// A solver with the probe's values declared (ask it questions built
    /// by [`Probe::cond`] before creating it).
    pub fn session(&self, timeout_ms: u32) -> Session {
        let mut params = self.params.clone();
        for o in self.opaque.borrow().iter() {
            params.insert(o.clone(), ParamType::Bool);
        }
        Session::new(params, &self.wheres, timeout_ms)
    }

    /// The cases a question about the probe is asked in, one after the
    /// other (together they cover every action of the class). For a call:
    /// one case per choice of which arguments are lists, fewest lists
    /// first. Z3 decides each case far faster than their disjunction, and
    /// the first witnesses found are the plainest.
    pub fn cases(&self) -> Vec<Cond> {
        let listy: Vec<&ArgModel> = self.args.iter().filter(|a| a.list_bound > 0).collect();
        if listy.is_empty() || listy.len() > MAX_CASE_ARGS {
            return vec![Cond::True];
        }
        let mut masks: Vec<u32> = (0..1u32 << listy.len()).collect();
        masks.sort_by_key(|m| m.count_ones());
        masks
            .into_iter()
            .map(|m| {
                listy.iter().enumerate().fold(Cond::True, |acc, (i, a)| {
                    let is_list = num_is(&shape_p(&a.name), LIST);
                    Cond::and(
                        acc,
                        if m & (1 << i) != 0 {
                            is_list
                        } else {
                            Cond::not(is_list)
                        },
                    )
                })
            })
            .collect()
    }

    // ─────────────────────────── calls ───────────────────────────

    fn call_cond(&self, c: &Cond) -> Cond {
        match c {
            Cond::True | Cond::False => c.clone(),
            Cond::And { all } => all
                .iter()
                .fold(Cond::True, |acc, c| Cond::and(acc, self.call_cond(c))),
            Cond::Or { any } => any
                .iter()
                .fold(Cond::False, |acc, c| Cond::or(acc, self.call_cond(c))),
            Cond::Not { cond } => Cond::not(self.call_cond(cond)),
            Cond::Has { field } => match self.arg(field) {
                Some(_) => flag(&has_p(field)),
                None => Cond::False,
            },
            Cond::FromCall { value, tool } => match value {
                Operand::Ref {
                    name,
                    fields,
                    index,
                } if fields.is_empty() => match self.arg(name) {
                    None => Cond::False,
                    Some(a) => {
                        let mut c = Cond::and(flag(&has_p(name)), str_is(&from_p(name), tool));
                        if let Some(i) = index {
                            c = Cond::and(
                                c,
                                Cond::and(num_is(&shape_p(name), LIST), self.elem_exists(a, *i)),
                            );
                        }
                        c
                    }
                },
                _ => Cond::False,
            },
            Cond::Cmp { op, lhs, rhs } => self.call_cmp(*op, lhs, rhs),
        }
    }

    fn elem_exists(&self, a: &ArgModel, i: u32) -> Cond {
        if i < a.list_bound {
            flag(&el_p(&a.name, i))
        } else {
            Cond::False
        }
    }

    /// A boolean standing for an atom the solver cannot encode exactly.
    fn opaque(&self, key: &str) -> Cond {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let name = format!("opaque:{:016x}", h.finish());
        self.opaque.borrow_mut().insert(name.clone());
        flag(&name)
    }

    fn call_cmp(&self, op: CmpOp, lhs: &Operand, rhs: &Operand) -> Cond {
        // A field with sub-fields, or one no argument has, is missing.
        for o in [lhs, rhs] {
            if let Operand::Ref { name, fields, .. } = o
                && (!fields.is_empty() || self.arg(name).is_none())
            {
                return Cond::False;
            }
        }
        match (lhs, rhs) {
            (Operand::Value { value: a }, Operand::Value { value: b }) => {
                bool_cond(warden_core::cond::compare(op, a, b))
            }
            (Operand::Ref { name, index, .. }, Operand::Value { value }) => Cond::and(
                flag(&has_p(name)),
                self.value_atom(op, name, *index, value, true),
            ),
            (Operand::Value { value }, Operand::Ref { name, index, .. }) => Cond::and(
                flag(&has_p(name)),
                self.value_atom(op, name, *index, value, false),
            ),
            (Operand::Ref { name: x, .. }, Operand::Ref { name: y, .. }) => Cond::and(
                Cond::and(flag(&has_p(x)), flag(&has_p(y))),
                self.opaque(&format!("{op:?} {lhs:?} {rhs:?}")),
            ),
        }
    }

    /// `x[index] OP v` (`v OP x[index]` when not `x_left`) over every shape
    /// of the argument `x`.
    fn value_atom(&self, op: CmpOp, x: &str, index: Option<u32>, v: &Value, x_left: bool) -> Cond {
        let Some(a) = self.arg(x) else {
            return Cond::False;
        };
        let scalar = match index {
            Some(_) => Cond::False,
            None => self.scalar_atom(op, x, v, x_left),
        };
        let list = match index {
            Some(i) if i < a.list_bound => {
                Cond::and(flag(&el_p(x, i)), self.elem_atom(op, a, i, v, x_left))
            }
            Some(_) => Cond::False,
            None => self.list_atom(op, a, v, x_left),
        };
        let mut out = Cond::or(
            Cond::and(num_is(&shape_p(x), SCALAR), scalar),
            Cond::and(num_is(&shape_p(x), LIST), list),
        );
        for (j, r) in a.reps.iter().enumerate() {
            if index.is_none() && oriented(op, r, v, x_left) {
                out = Cond::or(out, num_is(&shape_p(x), REP0 + j as i64));
            }
        }
        out
    }

    /// The atom on one symbolic string, number or bool named `sym`.
    fn scalar_atom(&self, op: CmpOp, sym: &str, v: &Value, x_left: bool) -> Cond {
        let (lhs, rhs) = if x_left {
            (param(sym), Operand::Value { value: v.clone() })
        } else {
            (Operand::Value { value: v.clone() }, param(sym))
        };
        let exact = (x_left || matches!(op, CmpOp::Eq | CmpOp::Ne))
            && !has_address(v)
            && !(op == CmpOp::Matches
                && matches!(v, Value::String(re) if symbolic::regex_to_z3(re).is_none()));
        let atom = Cond::Cmp { op, lhs, rhs };
        if exact {
            symbolic::residual(&atom, &ResidualScope::Step(&self.step))
        } else {
            self.opaque(&format!("{atom:?}"))
        }
    }

    /// The atom on element `i` of the list argument `a` (the element is a
    /// string, number or bool, or one of the representatives).
    fn elem_atom(&self, op: CmpOp, a: &ArgModel, i: u32, v: &Value, x_left: bool) -> Cond {
        let es = eshape_p(&a.name, i);
        let mut out = Cond::and(
            num_is(&es, SCALAR),
            self.scalar_atom(op, &elem(&a.name, i), v, x_left),
        );
        for (j, r) in a.reps.iter().enumerate() {
            if oriented(op, r, v, x_left) {
                out = Cond::or(out, num_is(&es, REP0 + j as i64));
            }
        }
        out
    }

    /// The list has exactly `m` elements.
    fn len_is(&self, a: &ArgModel, m: u32) -> Cond {
        let at_least = if m == 0 {
            Cond::True
        } else {
            self.elem_exists(a, m - 1)
        };
        let at_most = if m < a.list_bound {
            Cond::not(flag(&el_p(&a.name, m)))
        } else {
            Cond::True
        };
        Cond::and(at_least, at_most)
    }

    /// The atom on the whole list argument `a` (docs/language.md: `==` and `!=`
    /// compare whole lists, `contains` asks for one element, every other
    /// operator holds for each element).
    fn list_atom(&self, op: CmpOp, a: &ArgModel, v: &Value, x_left: bool) -> Cond {
        let n = a.list_bound;
        let list_eq = |vs: &[Value]| -> Cond {
            if vs.len() > n as usize {
                return Cond::False;
            }
            let mut c = self.len_is(a, vs.len() as u32);
            for (i, x) in vs.iter().enumerate() {
                c = Cond::and(c, self.elem_atom(CmpOp::Eq, a, i as u32, x, true));
            }
            c
        };
        let some = |op: CmpOp| {
            (0..n).fold(Cond::False, |acc, i| {
                Cond::or(
                    acc,
                    Cond::and(flag(&el_p(&a.name, i)), self.elem_atom(op, a, i, v, true)),
                )
            })
        };
        match (op, v, x_left) {
            (CmpOp::Eq | CmpOp::Ne, Value::List(vs), _) => {
                let eq = list_eq(vs);
                if op == CmpOp::Eq { eq } else { Cond::not(eq) }
            }
            (CmpOp::Eq, _, _) => Cond::False,
            (CmpOp::Ne, _, _) => Cond::True,
            (CmpOp::Contains, _, true) => some(CmpOp::Eq),
            // `v in x`: some element is (or, for an address, contains) v.
            (CmpOp::In, v, false) if !matches!(v, Value::List(_)) && !has_address(v) => {
                some(CmpOp::Eq)
            }
            (op, _, true) => (0..n).fold(Cond::True, |acc, i| {
                Cond::and(
                    acc,
                    Cond::or(
                        Cond::not(flag(&el_p(&a.name, i))),
                        self.elem_atom(op, a, i, v, true),
                    ),
                )
            }),
            // A scalar literal against a list is false for every other
            // operator (no order, prefix or pattern between them).
            (_, v, false) if !matches!(v, Value::List(_)) && !has_address(v) => Cond::False,
            (op, v, false) => self.opaque(&format!("list {op:?} {v:?} {}", a.name)),
        }
    }

    // ─────────────────────────── witnesses ───────────────────────────

    /// The concrete action a witness makes of the probe, or `None` when it
    /// makes none (a relative path, a port that is not a whole number).
    pub fn action(&self, w: &Witness) -> Option<ConcreteAction> {
        if self.kind == ActionKind::Call {
            return Some(self.call_action(w));
        }
        // A value the question does not mention is left out of the model
        // (or left meaningless): any value will do, so take a plain one.
        let mut w = w.clone();
        if self.step.fields.contains_key("path")
            && !w
                .globs
                .get(ANY_PATH)
                .is_some_and(|p| warden_core::path::glob_matches(ANY_PATH, p))
        {
            w.globs.insert(ANY_PATH.to_string(), "/".to_string());
        }
        let step = match whole(w.params.get(NET_P)) {
            Some(j) if j > 0 => self.alternatives.get(j - 1)?,
            _ => &self.step,
        };
        if step.fields.contains_key("port") && !w.params.contains_key("port") {
            w.params.insert("port".into(), num(0));
        }
        if step.fields.contains_key("host") && !w.params.contains_key("host") {
            w.params
                .insert("host".into(), Value::String("example.com".into()));
        }
        let a = w.action(step)?;
        if let Some(f) = a.fields.get("port") {
            match &f.value {
                Value::Number(n) if n.fract().is_zero() => {}
                _ => return None,
            }
        }
        Some(a)
    }

    fn call_action(&self, w: &Witness) -> ConcreteAction {
        let flag = |name: &str| w.params.get(name) == Some(&Value::Bool(true));
        let scalar = |sym: &str| {
            w.unknowns
                .get(sym)
                .cloned()
                .unwrap_or_else(|| Value::String(String::new()))
        };
        let mut fields = BTreeMap::new();
        for a in &self.args {
            if !flag(&has_p(&a.name)) {
                continue;
            }
            let rep = |k: usize| a.reps.get(k - REP0 as usize).cloned();
            let value = match whole(w.params.get(&shape_p(&a.name))) {
                Some(1) => {
                    let mut items = Vec::new();
                    for i in 0..a.list_bound {
                        if !flag(&el_p(&a.name, i)) {
                            break;
                        }
                        let item = match whole(w.params.get(&eshape_p(&a.name, i))) {
                            Some(k) if k >= REP0 as usize => rep(k),
                            _ => None,
                        };
                        items.push(item.unwrap_or_else(|| scalar(&elem(&a.name, i))));
                    }
                    Value::List(items)
                }
                Some(k) if k >= REP0 as usize => rep(k).unwrap_or_else(|| scalar(&a.name)),
                _ => scalar(&a.name),
            };
            let origin = match w.params.get(&from_p(&a.name)) {
                Some(Value::String(t)) if self.tools.contains(t) => Some(t.clone()),
                _ => None,
            };
            fields.insert(
                a.name.clone(),
                Field {
                    value,
                    origin,
                    sources: Default::default(),
                },
            );
        }
        ConcreteAction {
            kind: ActionKind::Call,
            call: self.call.clone(),
            fields,
        }
    }

    /// A short name of the class of actions the probe stands for.
    pub fn class(&self) -> String {
        match (&self.call, self.kind) {
            (Some(c), _) => format!("call {c}"),
            (None, k @ (ActionKind::Connect | ActionKind::Listen))
                if self.step.fields.contains_key("path") =>
            {
                format!("{k} (unix socket)")
            }
            (None, k) => k.to_string(),
        }
    }
}

/// A param's value as a whole number.
fn whole(v: Option<&Value>) -> Option<usize> {
    match v {
        Some(Value::Number(n)) if n.fract().is_zero() => n.to_usize(),
        _ => None,
    }
}

/// `compare(op, r, v)`, or `compare(op, v, r)` when the argument is on the
/// right.
fn oriented(op: CmpOp, r: &Value, v: &Value, x_left: bool) -> bool {
    if x_left {
        warden_core::cond::compare(op, r, v)
    } else {
        warden_core::cond::compare(op, v, r)
    }
}

/// Whether a literal is or holds an address (compared specially).
fn has_address(v: &Value) -> bool {
    match v {
        Value::Cidr(_) => true,
        Value::List(items) => items.iter().any(has_address),
        _ => false,
    }
}

/// The networks (and addresses) `ip` is compared with.
fn networks(c: &Cond, out: &mut BTreeSet<IpNet>) {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().for_each(|c| networks(c, out)),
        Cond::Not { cond } => networks(cond, out),
        Cond::Cmp { lhs, rhs, .. } => {
            fn lit(v: &Value, out: &mut BTreeSet<IpNet>) {
                match v {
                    Value::Cidr(n) => {
                        out.insert(n.trunc());
                    }
                    Value::String(s) => {
                        if let Some(n) = warden_core::net::parse_cidr(s) {
                            out.insert(n);
                        }
                    }
                    Value::List(items) => items.iter().for_each(|i| lit(i, out)),
                    _ => {}
                }
            }
            let is_ip = |o: &Operand| matches!(o, Operand::Ref { name, .. } if name == "ip");
            for (me, other) in [(lhs, rhs), (rhs, lhs)] {
                if is_ip(me)
                    && let Operand::Value { value } = other
                {
                    lit(value, out);
                }
            }
        }
        _ => {}
    }
}

/// Tool names in `from call` conditions.
pub fn from_call_tools(c: &Cond, out: &mut BTreeSet<String>) {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => {
            cs.iter().for_each(|c| from_call_tools(c, out))
        }
        Cond::Not { cond } => from_call_tools(cond, out),
        Cond::FromCall { tool, .. } => {
            out.insert(tool.clone());
        }
        _ => {}
    }
}

/// Every probe needed to cover all actions as the given specs see them:
/// one per action kind but `call` (for `connect` and `listen`, one for the
/// network and one for unix sockets); for calls, one per tool name some
/// rule names plus one for every other tool.
pub fn probes(specs: &[&CompiledSpec]) -> Vec<Probe> {
    let conds_of = |kind: ActionKind, call: Option<&str>| -> Vec<&Cond> {
        specs
            .iter()
            .flat_map(|s| s.effects.iter())
            .filter(|r| r.pattern.kind_matches(kind, call))
            .map(|r| &r.pattern.when)
            .collect()
    };
    let mut out: Vec<Probe> = ActionKind::ALL
        .iter()
        .filter(|k| !matches!(k, ActionKind::Call | ActionKind::Connect))
        .map(|k| Probe::new(*k, None))
        .collect();
    out.push(Probe::for_connect(&conds_of(ActionKind::Connect, None)));
    out.push(Probe::unix_socket(ActionKind::Connect));
    out.push(Probe::unix_socket(ActionKind::Listen));
    let mut names = BTreeSet::new();
    for s in specs {
        for r in &s.effects {
            if let Some(cs) = &r.pattern.calls {
                names.extend(cs.iter().cloned());
            }
        }
    }
    let mut other = "other_tool".to_string();
    while names.contains(&other) {
        other.push('_');
    }
    for name in names.iter().chain([&other]) {
        out.push(Probe::for_call(
            name,
            &conds_of(ActionKind::Call, Some(name)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(src: &str) -> Cond {
        let spec = planlang::load_spec_str(
            &format!("spec \"s\" {{ allow call f when {src} }}"),
            "s.spec",
        )
        .unwrap_or_else(|d| panic!("{d:?}"));
        let c = CompiledSpec::compile(&spec).unwrap_or_else(|e| panic!("{e}"));
        c.effects[0].pattern.when.clone()
    }

    #[test]
    fn list_bounds_and_representatives() {
        let (a, b) = (
            cond("x[2] == \"a\" and x contains \"b\""),
            cond("y == 5s and has z"),
        );
        let p = Probe::for_call("f", &[&a, &b]);
        let arg = |n: &str| p.args.iter().find(|a| a.name == n).unwrap();
        // Elements 0..=2, one per condition on `x`.
        assert_eq!(arg("x").list_bound, 3 + 2);
        assert_eq!(arg("z").list_bound, 0);
        assert!(arg("y").reps.contains(&Value::Duration(5)));
        assert!(arg("y").reps.contains(&Value::Duration(6)));
        assert!(p.gaps.is_empty());
        // Two arguments may be lists: four cases, no list first.
        assert_eq!(p.cases().len(), 4);
        let q = Probe::for_call("f", &[&cond("x in 10.0.0.0/8")]);
        assert_eq!(q.gaps.len(), 1, "{:?}", q.gaps);
    }

    #[test]
    fn a_witness_becomes_the_action_it_stands_for() {
        let c = cond("to contains \"a\" and n > 1");
        let p = Probe::for_call("f", &[&c]);
        let mut w = Witness::default();
        w.params.insert(has_p("to"), Value::Bool(true));
        w.params.insert(shape_p("to"), num(LIST));
        w.params.insert(el_p("to", 0), Value::Bool(true));
        w.params.insert(eshape_p("to", 0), num(SCALAR));
        w.unknowns.insert(elem("to", 0), Value::String("a".into()));
        w.params.insert(has_p("n"), Value::Bool(false));
        let a = p.action(&w).unwrap();
        assert_eq!(a.to_string(), "call f(to = [\"a\"])");
        assert!(!c.eval(&a), "`n` is absent");
    }
}
