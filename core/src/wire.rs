//! The token's claims as JSON, version 2: the layout of `docs/token-format.md`
//! and `docs/token.schema.json`, written and read here and nowhere else.
//!
//! The layout is Warden's own, independent of the verifier's types: any
//! language reads it with a JSON parser and the schema. It is compact
//! because tokens travel in HTTP headers: values are plain JSON where JSON
//! has the type (a string, an integer, a bool, a list), tagged objects
//! only where it does not (`{"cidr": "10.0.0.0/8"}`, `{"num": "98.7"}`);
//! a comparison is `{"<=": [LEFT, RIGHT]}` with the operator as the
//! language spells it; calls of one tool with the same argument names are
//! one row each under one header. Everything optional is left out when
//! empty. Reading refuses unknown members at every level, so a token that
//! says more than this version knows is never taken as saying less.
//!
//! ```
//! let claims = warden_core::claims::example();
//! let json = serde_json::to_value(&claims).unwrap();
//! assert_eq!(json["warden"], 2);
//! assert_eq!(json["envelope"]["calls"][0]["tool"], "send_money");
//! assert_eq!(json["envelope"]["params"][0]["where"]["and"][1]["<="][1], 100);
//! let back: warden_core::Claims = serde_json::from_value(json).unwrap();
//! assert_eq!(back, claims);
//! ```

use crate::assume::{AssumedField, ResultAssumption};
use crate::claims::{AlternativeProof, Claims, Digest, EnforcementProof, Timestamp, TokenId};
use crate::cond::{Cond, Operand, Pattern};
use crate::envelope::{
    ApprovalRule, CallGrant, ConnectGrant, CountLimit, DenyFromRule, Envelope, ExecGrant,
    FileAccess, FileGrant, ListenGrant, Location, OrderKind, OrderRule, ParamDecl, PathTarget,
    UnixGrant, UnixOp, ValueMatch,
};
use crate::shape::Situation;
use crate::value::{Number, Value};
use crate::vocab::{ActionKind, CmpOp, ParamType};
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

// ───────────────────────────── claims ─────────────────────────────

#[derive(Serialize)]
struct ClaimsOut<'a> {
    warden: u32,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: &'a Option<String>,
    jti: TokenId,
    iat: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<Timestamp>,
    exp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: &'a Option<String>,
    plan_hash: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: &'a Option<String>,
    spec_hash: Digest,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ancestors: &'a [TokenId],
    envelope: Env<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    enforcement: &'a [EnforcementProof],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsIn {
    warden: u32,
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    jti: TokenId,
    iat: Timestamp,
    #[serde(default)]
    nbf: Option<Timestamp>,
    exp: Timestamp,
    #[serde(default)]
    plan: Option<String>,
    plan_hash: Digest,
    #[serde(default)]
    spec: Option<String>,
    spec_hash: Digest,
    #[serde(default)]
    ancestors: Vec<TokenId>,
    envelope: EnvIn,
    #[serde(default)]
    enforcement: Vec<EnforcementProof>,
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ClaimsOut {
            warden: self.warden,
            iss: &self.iss,
            sub: &self.sub,
            jti: self.jti,
            iat: self.iat,
            nbf: (self.nbf != self.iat).then_some(self.nbf),
            exp: self.exp,
            plan: &self.plan,
            plan_hash: self.plan_hash,
            spec: &self.spec,
            spec_hash: self.spec_hash,
            ancestors: &self.ancestors,
            envelope: Env(&self.envelope),
            enforcement: &self.enforcement,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Claims, D::Error> {
        let c = ClaimsIn::deserialize(d)?;
        Ok(Claims {
            warden: c.warden,
            iss: c.iss,
            sub: c.sub,
            jti: c.jti,
            iat: c.iat,
            nbf: c.nbf.unwrap_or(c.iat),
            exp: c.exp,
            plan: c.plan,
            plan_hash: c.plan_hash,
            spec: c.spec,
            spec_hash: c.spec_hash,
            ancestors: c.ancestors,
            envelope: c.envelope.0,
            enforcement: c.enforcement,
        })
    }
}

#[derive(Serialize)]
struct ProofOut<'a> {
    profile: &'a str,
    digest: Digest,
    proven: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: &'a Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    alternatives: &'a [AlternativeProof],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofIn {
    profile: String,
    digest: Digest,
    proven: bool,
    #[serde(default)]
    counterexample: Option<String>,
    #[serde(default)]
    alternatives: Vec<AlternativeProof>,
}

impl Serialize for EnforcementProof {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ProofOut {
            profile: &self.profile,
            digest: self.digest,
            proven: self.proven,
            counterexample: &self.counterexample,
            alternatives: &self.alternatives,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EnforcementProof {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnforcementProof, D::Error> {
        let p = ProofIn::deserialize(d)?;
        Ok(EnforcementProof {
            profile: p.profile,
            digest: p.digest,
            proven: p.proven,
            counterexample: p.counterexample,
            alternatives: p.alternatives,
        })
    }
}

#[derive(Serialize)]
struct AltOut<'a> {
    grant: &'a str,
    situation: Situation,
    widened: &'a str,
    proven: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: &'a Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AltIn {
    grant: String,
    situation: Situation,
    widened: String,
    proven: bool,
    #[serde(default)]
    counterexample: Option<String>,
}

impl Serialize for AlternativeProof {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AltOut {
            grant: &self.grant,
            situation: self.situation,
            widened: &self.widened,
            proven: self.proven,
            counterexample: &self.counterexample,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AlternativeProof {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AlternativeProof, D::Error> {
        let a = AltIn::deserialize(d)?;
        Ok(AlternativeProof {
            grant: a.grant,
            situation: a.situation,
            widened: a.widened,
            proven: a.proven,
            counterexample: a.counterexample,
        })
    }
}

// ───────────────────────────── envelope ─────────────────────────────

/// An envelope as the claims write it.
struct Env<'a>(&'a Envelope);

impl Serialize for Env<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        if !e.files.is_empty() {
            m.serialize_entry("files", &Each(&e.files, file))?;
        }
        if !e.exec.is_empty() {
            m.serialize_entry("exec", &Each(&e.exec, Exec))?;
        }
        if !e.connect.is_empty() {
            m.serialize_entry("connect", &Each(&e.connect, Connect))?;
        }
        if !e.listen.is_empty() {
            m.serialize_entry("listen", &Each(&e.listen, listen))?;
        }
        if !e.unix.is_empty() {
            m.serialize_entry("unix", &Each(&e.unix, unix))?;
        }
        if !e.calls.is_empty() {
            m.serialize_entry("calls", &Calls(&e.calls))?;
        }
        if !e.params.is_empty() {
            m.serialize_entry("params", &Each(&e.params, Param))?;
        }
        if !e.limits.is_empty() {
            m.serialize_entry("limits", &Each(&e.limits, Limit))?;
        }
        if !e.ordering.is_empty() {
            m.serialize_entry("ordering", &Each(&e.ordering, Order))?;
        }
        if !e.baseline.is_empty() {
            m.serialize_entry("baseline", &Each(&e.baseline, Pat))?;
        }
        if !e.approvals.is_empty() {
            m.serialize_entry("approve_each", &Each(&e.approvals, Approval))?;
        }
        if !e.deny_from.is_empty() {
            m.serialize_entry("deny_from", &Each(&e.deny_from, DenyFrom))?;
        }
        if !e.assumptions.is_empty() {
            m.serialize_entry("assume", &Each(&e.assumptions, Assume))?;
        }
        m.end()
    }
}

/// A list written item by item through `f`.
struct Each<'a, T, F>(&'a [T], F);

impl<'a, T, F, W> Serialize for Each<'a, T, F>
where
    F: Fn(&'a T) -> W,
    W: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            seq.serialize_element(&(self.1)(x))?;
        }
        seq.end()
    }
}

/// `{KEY: VALUE}`.
struct One<V>(&'static str, V);

impl<V: Serialize> Serialize for One<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &self.1)?;
        m.end()
    }
}

fn file(g: &FileGrant) -> One<Target<'_>> {
    One(access(g.access), Target(&g.target))
}

fn unix(g: &UnixGrant) -> One<Target<'_>> {
    One(unix_op(g.op), Target(&g.target))
}

fn listen(g: &ListenGrant) -> Match<'_> {
    Match(&g.port)
}

fn access(a: FileAccess) -> &'static str {
    match a {
        FileAccess::Read => "read",
        FileAccess::Write => "write",
        FileAccess::Delete => "delete",
    }
}

fn unix_op(op: UnixOp) -> &'static str {
    match op {
        UnixOp::Connect => "connect",
        UnixOp::Listen => "listen",
    }
}

struct Exec<'a>(&'a ExecGrant);

impl Serialize for Exec<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("program", &Target(&self.0.program))?;
        if let Some(argv) = &self.0.argv {
            m.serialize_entry("argv", &Each(argv, Match))?;
        }
        m.end()
    }
}

struct Connect<'a>(&'a ConnectGrant);

impl Serialize for Connect<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("host", &Match(&self.0.host))?;
        m.serialize_entry("port", &Match(&self.0.port))?;
        m.end()
    }
}

/// Call grants, consecutive grants of one tool with the same argument
/// names as one entry: `{"tool", "args": [NAME], "grants": [[MATCH]]}`.
struct Calls<'a>(&'a [CallGrant]);

impl Serialize for Calls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let same =
            |a: &CallGrant, b: &CallGrant| a.name == b.name && a.args.keys().eq(b.args.keys());
        let mut groups: Vec<&[CallGrant]> = Vec::new();
        let mut start = 0;
        for i in 1..=self.0.len() {
            if i == self.0.len() || !same(&self.0[start], &self.0[i]) {
                groups.push(&self.0[start..i]);
                start = i;
            }
        }
        let mut seq = s.serialize_seq(Some(groups.len()))?;
        for g in groups {
            seq.serialize_element(&CallGroup(g))?;
        }
        seq.end()
    }
}

struct CallGroup<'a>(&'a [CallGrant]);

impl Serialize for CallGroup<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let first = &self.0[0];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("tool", &first.name)?;
        if !first.args.is_empty() {
            let names: Vec<&String> = first.args.keys().collect();
            m.serialize_entry("args", &names)?;
        }
        // One grant without arguments needs no row.
        if !(self.0.len() == 1 && first.args.is_empty()) {
            m.serialize_entry("grants", &Each(self.0, Row))?;
        }
        m.end()
    }
}

struct Row<'a>(&'a CallGrant);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.args.len()))?;
        for m in self.0.args.values() {
            seq.serialize_element(&Match(m))?;
        }
        seq.end()
    }
}

struct Param<'a>(&'a ParamDecl);

impl Serialize for Param<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &self.0.name)?;
        m.serialize_entry("type", &self.0.ty)?;
        if let Some(c) = &self.0.condition {
            m.serialize_entry("where", &CondW(c))?;
        }
        m.end()
    }
}

struct Limit<'a>(&'a CountLimit);

impl Serialize for Limit<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("at_most", &self.0.limit)?;
        m.serialize_entry("of", &Pat(&self.0.pattern))?;
        m.serialize_entry("rule", &self.0.rule.to_string())?;
        m.end()
    }
}

/// `{"of": PATTERN, "rule": SPAN}`: an `approve each` rule.
struct Approval<'a>(&'a ApprovalRule);

impl Serialize for Approval<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("of", &Pat(&self.0.pattern))?;
        m.serialize_entry("rule", &self.0.rule.to_string())?;
        m.end()
    }
}

/// `{"of": PATTERN, "rule": SPAN}`: a `deny ... from call` rule the
/// monitor enforces (`crate::flow`).
struct DenyFrom<'a>(&'a DenyFromRule);

impl Serialize for DenyFrom<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("of", &Pat(&self.0.pattern))?;
        m.serialize_entry("rule", &self.0.rule.to_string())?;
        m.end()
    }
}

/// `{"tool": T, "result": NAME, "fields": {FLAT: {"path": [..], "index": N,
/// "type": TYPE}}, "where": COND, "text": TEXT, "at": SPAN}`.
struct Assume<'a>(&'a ResultAssumption);

impl Serialize for Assume<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("tool", &a.tool)?;
        m.serialize_entry("result", &a.result)?;
        m.serialize_entry("fields", &a.fields)?;
        m.serialize_entry("where", &CondW(&a.cond))?;
        m.serialize_entry("text", &a.text)?;
        m.serialize_entry("at", &a.at.to_string())?;
        m.end()
    }
}

struct Order<'a>(&'a OrderRule);

impl Serialize for Order<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (first, second) = match self.0.kind {
            OrderKind::Never => ("never", "after"),
            OrderKind::Require => ("require", "before"),
        };
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry(first, &Pat(&self.0.action))?;
        m.serialize_entry(second, &Pat(&self.0.other))?;
        m.serialize_entry("rule", &self.0.rule.to_string())?;
        m.end()
    }
}

struct Pat<'a>(&'a Pattern);

impl Serialize for Pat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(k) = p.kind {
            m.serialize_entry("kind", &k)?;
        }
        if let Some(calls) = &p.calls {
            m.serialize_entry("calls", calls)?;
        }
        if p.when != Cond::True {
            m.serialize_entry("when", &CondW(&p.when))?;
        }
        m.end()
    }
}

struct Target<'a>(&'a PathTarget);

impl Serialize for Target<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PathTarget::Exact { path } => s.serialize_str(path),
            PathTarget::Glob { glob } => One("glob", glob).serialize(s),
            PathTarget::Tree { dir } => One("under", dir).serialize(s),
            PathTarget::Param { param } => One("param", param).serialize(s),
            PathTarget::Unknown { origin } => One("from", origin).serialize(s),
        }
    }
}

struct Match<'a>(&'a ValueMatch);

impl Serialize for Match<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ValueMatch::Exact { value } => Val(value).serialize(s),
            ValueMatch::Param { param } => One("param", param).serialize(s),
            ValueMatch::Unknown { origin } => One("from", origin).serialize(s),
            ValueMatch::Assumed { field } => One("assumed", field).serialize(s),
        }
    }
}

struct Val<'a>(&'a Value);

impl Serialize for Val<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(x) => s.serialize_str(x),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => match integer(n) {
                Some(i) => s.serialize_i64(i),
                None => One("num", n.normalize().to_string()).serialize(s),
            },
            Value::Cidr(c) => One("cidr", c.to_string()).serialize(s),
            Value::Duration(d) => One("secs", d).serialize(s),
            Value::List(items) => Each(items, Val).serialize(s),
        }
    }
}

/// A number that JSON writes exactly as an integer.
fn integer(n: &Number) -> Option<i64> {
    if n.fract().is_zero() {
        i64::try_from(n.trunc()).ok()
    } else {
        None
    }
}

struct CondW<'a>(&'a Cond);

impl Serialize for CondW<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Cond::True => s.serialize_bool(true),
            Cond::False => s.serialize_bool(false),
            Cond::And { all } => One("and", Each(all, CondW)).serialize(s),
            Cond::Or { any } => One("or", Each(any, CondW)).serialize(s),
            Cond::Not { cond } => One("not", CondW(cond)).serialize(s),
            Cond::Has { field } => One("has", field).serialize(s),
            Cond::FromCall { value, tool } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("from_call", tool)?;
                m.serialize_entry("value", &Opnd(value))?;
                m.end()
            }
            Cond::Cmp { op, lhs, rhs } => One(op.as_str(), (Opnd(lhs), Opnd(rhs))).serialize(s),
        }
    }
}

struct Opnd<'a>(&'a Operand);

impl Serialize for Opnd<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Operand::Value { value } => Val(value).serialize(s),
            Operand::Ref {
                name,
                fields,
                index,
            } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("ref", name)?;
                if !fields.is_empty() {
                    m.serialize_entry("fields", fields)?;
                }
                if let Some(i) = index {
                    m.serialize_entry("index", i)?;
                }
                m.end()
            }
        }
    }
}

// ───────────────────────────── reading ─────────────────────────────

/// Reads a value of one of the wire's shapes.
trait Wire: Sized {
    const EXPECTING: &'static str;
    fn from_str<E: de::Error>(_: &str) -> Result<Self, E> {
        Err(E::invalid_type(
            de::Unexpected::Other("a string"),
            &Self::EXPECTING,
        ))
    }
    fn from_bool<E: de::Error>(_: bool) -> Result<Self, E> {
        Err(E::invalid_type(
            de::Unexpected::Other("a bool"),
            &Self::EXPECTING,
        ))
    }
    fn from_i64<E: de::Error>(_: i64) -> Result<Self, E> {
        Err(E::invalid_type(
            de::Unexpected::Other("a number"),
            &Self::EXPECTING,
        ))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::Seq,
            &Self::EXPECTING,
        ))
    }
    /// An object whose first key is `key`.
    fn from_map<'de, A: MapAccess<'de>>(key: &str, _: A) -> Result<Self, A::Error> {
        Err(de::Error::custom(format_args!(
            "unexpected member `{key}` in {}",
            Self::EXPECTING
        )))
    }
}

struct In<T>(T);

impl<'de, T: Wire> Deserialize<'de> for In<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<In<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Wire> Visitor<'de> for V<T> {
            type Value = In<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<In<T>, E> {
                T::from_str(v).map(In)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<In<T>, E> {
                T::from_bool(v).map(In)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<In<T>, E> {
                T::from_i64(v).map(In)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<In<T>, E> {
                let v = i64::try_from(v).map_err(|_| {
                    E::custom("an integer too large; write it as {\"num\": \"...\"}")
                })?;
                T::from_i64(v).map(In)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<In<T>, E> {
                Err(E::custom(
                    "a number with a fraction; write exact decimals as {\"num\": \"98.7\"}",
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<In<T>, A::Error> {
                T::from_seq(seq).map(In)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<In<T>, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| {
                    de::Error::custom(format_args!("an empty object for {}", T::EXPECTING))
                })?;
                T::from_map(&key, map).map(In)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The value of the object's one (first) member, and no other member.
fn only<'de, A: MapAccess<'de>, T: DeserializeOwned>(mut map: A) -> Result<T, A::Error> {
    let v: T = map.next_value()?;
    match map.next_key::<String>()? {
        None => Ok(v),
        Some(k) => Err(de::Error::custom(format_args!("unexpected member `{k}`"))),
    }
}

fn items<'de, A: SeqAccess<'de>, T: Wire>(mut seq: A) -> Result<Vec<T>, A::Error> {
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
    while let Some(In(x)) = seq.next_element::<In<T>>()? {
        out.push(x);
    }
    Ok(out)
}

impl<T: Wire> Wire for Vec<T> {
    const EXPECTING: &'static str = "a list";
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        items(seq)
    }
}

impl Wire for Value {
    const EXPECTING: &'static str =
        "a value (a string, an integer, a bool, a list, or {\"num\"|\"cidr\"|\"secs\": ...})";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn from_bool<E: de::Error>(v: bool) -> Result<Self, E> {
        Ok(Value::Bool(v))
    }
    fn from_i64<E: de::Error>(v: i64) -> Result<Self, E> {
        Ok(Value::Number(Number::from(v)))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        items(seq).map(Value::List)
    }
    fn from_map<'de, A: MapAccess<'de>>(key: &str, map: A) -> Result<Self, A::Error> {
        match key {
            "num" => {
                let s: String = only(map)?;
                let n = Number::from_str_exact(&s).map_err(|_| {
                    de::Error::custom(format_args!("`{s}` is not a decimal number"))
                })?;
                Ok(Value::Number(n))
            }
            "cidr" => {
                let s: String = only(map)?;
                crate::net::parse_cidr(&s)
                    .map(Value::Cidr)
                    .ok_or_else(|| de::Error::custom(format_args!("`{s}` is not a cidr")))
            }
            "secs" => only(map).map(Value::Duration),
            k => Err(de::Error::custom(format_args!(
                "unexpected member `{k}` in a value"
            ))),
        }
    }
}

impl Wire for ValueMatch {
    const EXPECTING: &'static str = "a value, {\"param\": NAME} or {\"from\": TOOL | null}";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Value::from_str(v).map(|value| ValueMatch::Exact { value })
    }
    fn from_bool<E: de::Error>(v: bool) -> Result<Self, E> {
        Value::from_bool(v).map(|value| ValueMatch::Exact { value })
    }
    fn from_i64<E: de::Error>(v: i64) -> Result<Self, E> {
        Value::from_i64(v).map(|value| ValueMatch::Exact { value })
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        Value::from_seq(seq).map(|value| ValueMatch::Exact { value })
    }
    fn from_map<'de, A: MapAccess<'de>>(key: &str, map: A) -> Result<Self, A::Error> {
        match key {
            "param" => only(map).map(|param| ValueMatch::Param { param }),
            "from" => only(map).map(|origin| ValueMatch::Unknown { origin }),
            "assumed" => only(map).map(|field| ValueMatch::Assumed { field }),
            k => Value::from_map(k, map).map(|value| ValueMatch::Exact { value }),
        }
    }
}

impl Wire for PathTarget {
    const EXPECTING: &'static str = "a path, or {\"glob\"|\"under\"|\"param\"|\"from\": ...}";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(PathTarget::Exact { path: v.to_owned() })
    }
    fn from_map<'de, A: MapAccess<'de>>(key: &str, map: A) -> Result<Self, A::Error> {
        match key {
            "glob" => only(map).map(|glob| PathTarget::Glob { glob }),
            "under" => only(map).map(|dir| PathTarget::Tree { dir }),
            "param" => only(map).map(|param| PathTarget::Param { param }),
            "from" => only(map).map(|origin| PathTarget::Unknown { origin }),
            k => Err(de::Error::custom(format_args!(
                "unexpected member `{k}` in a path target"
            ))),
        }
    }
}

impl Wire for Operand {
    const EXPECTING: &'static str = "a value or {\"ref\": NAME, \"fields\"?, \"index\"?}";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Value::from_str(v).map(|value| Operand::Value { value })
    }
    fn from_bool<E: de::Error>(v: bool) -> Result<Self, E> {
        Value::from_bool(v).map(|value| Operand::Value { value })
    }
    fn from_i64<E: de::Error>(v: i64) -> Result<Self, E> {
        Value::from_i64(v).map(|value| Operand::Value { value })
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        Value::from_seq(seq).map(|value| Operand::Value { value })
    }
    fn from_map<'de, A: MapAccess<'de>>(key: &str, mut map: A) -> Result<Self, A::Error> {
        if key != "ref" {
            return Value::from_map(key, map).map(|value| Operand::Value { value });
        }
        let name: String = map.next_value()?;
        let (mut fields, mut index) = (Vec::new(), None);
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                "fields" => fields = map.next_value()?,
                "index" => index = Some(map.next_value()?),
                k => {
                    return Err(de::Error::custom(format_args!(
                        "unexpected member `{k}` in a ref"
                    )));
                }
            }
        }
        Ok(Operand::Ref {
            name,
            fields,
            index,
        })
    }
}

/// The comparison operators as the language spells them.
fn cmp_op(s: &str) -> Option<CmpOp> {
    Some(match s {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "in" => CmpOp::In,
        "under" => CmpOp::Under,
        "startswith" => CmpOp::StartsWith,
        "endswith" => CmpOp::EndsWith,
        "contains" => CmpOp::Contains,
        "matches" => CmpOp::Matches,
        _ => return None,
    })
}

impl Wire for Cond {
    const EXPECTING: &'static str = "a condition";
    fn from_bool<E: de::Error>(v: bool) -> Result<Self, E> {
        Ok(if v { Cond::True } else { Cond::False })
    }
    fn from_map<'de, A: MapAccess<'de>>(key: &str, mut map: A) -> Result<Self, A::Error> {
        match key {
            "and" => only::<_, Vec<In<Cond>>>(map).map(|v| Cond::And {
                all: v.into_iter().map(|c| c.0).collect(),
            }),
            "or" => only::<_, Vec<In<Cond>>>(map).map(|v| Cond::Or {
                any: v.into_iter().map(|c| c.0).collect(),
            }),
            "not" => only::<_, In<Cond>>(map).map(|c| Cond::Not {
                cond: Box::new(c.0),
            }),
            "has" => only(map).map(|field| Cond::Has { field }),
            "from_call" => {
                let tool: String = map.next_value()?;
                match map.next_key::<String>()?.as_deref() {
                    Some("value") => {}
                    _ => return Err(de::Error::custom("`from_call` needs its `value`")),
                }
                let In(value) = map.next_value::<In<Operand>>()?;
                if let Some(k) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format_args!("unexpected member `{k}`")));
                }
                Ok(Cond::FromCall { value, tool })
            }
            op => {
                let op = cmp_op(op).ok_or_else(|| {
                    de::Error::custom(format_args!("`{op}` is not an operator of a condition"))
                })?;
                let (In(lhs), In(rhs)): (In<Operand>, In<Operand>) = only(map)?;
                Ok(Cond::Cmp { op, lhs, rhs })
            }
        }
    }
}

impl Wire for Pattern {
    const EXPECTING: &'static str = "a pattern {\"kind\"?, \"calls\"?, \"when\"?}";
    fn from_map<'de, A: MapAccess<'de>>(key: &str, mut map: A) -> Result<Self, A::Error> {
        let mut p = Pattern {
            kind: None,
            calls: None,
            when: Cond::True,
        };
        let mut key = Some(key.to_owned());
        while let Some(k) = key {
            match k.as_str() {
                "kind" => p.kind = Some(map.next_value::<ActionKind>()?),
                "calls" => p.calls = Some(map.next_value()?),
                "when" => p.when = map.next_value::<In<Cond>>()?.0,
                k => {
                    return Err(de::Error::custom(format_args!(
                        "unexpected member `{k}` in a pattern"
                    )));
                }
            }
            key = map.next_key()?;
        }
        Ok(p)
    }
}

/// An envelope as the claims write it, read.
struct EnvIn(Envelope);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn {
    #[serde(default)]
    files: Vec<OneIn<FileAccessKey, In<PathTarget>>>,
    #[serde(default)]
    exec: Vec<ExecIn>,
    #[serde(default)]
    connect: Vec<ConnectIn>,
    #[serde(default)]
    listen: Vec<In<ValueMatch>>,
    #[serde(default)]
    unix: Vec<OneIn<UnixOp, In<PathTarget>>>,
    #[serde(default)]
    calls: Vec<CallsIn>,
    #[serde(default)]
    params: Vec<ParamIn>,
    #[serde(default)]
    limits: Vec<LimitIn>,
    #[serde(default)]
    ordering: Vec<OrderIn>,
    #[serde(default)]
    baseline: Vec<PatIn>,
    #[serde(default)]
    approve_each: Vec<ApprovalIn>,
    /// Absent in tokens written before it existed: they have none.
    #[serde(default)]
    deny_from: Vec<ApprovalIn>,
    #[serde(default)]
    assume: Vec<AssumeIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssumeIn {
    tool: String,
    result: String,
    fields: BTreeMap<String, AssumedFieldIn>,
    #[serde(rename = "where")]
    cond: In<Cond>,
    text: String,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssumedFieldIn {
    #[serde(default)]
    path: Vec<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(rename = "type")]
    ty: ParamType,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalIn {
    of: PatIn,
    rule: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileAccessKey {
    Read,
    Write,
    Delete,
}

/// `{KEY: VALUE}` with exactly one member.
struct OneIn<K, V>(K, V);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for OneIn<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Vis<K, V> {
            type Value = OneIn<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with one member")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(k) = map.next_key::<K>()? else {
                    return Err(de::Error::custom("an empty object"));
                };
                let v = map.next_value::<V>()?;
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("an object with more than one member"));
                }
                Ok(OneIn(k, v))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecIn {
    program: In<PathTarget>,
    #[serde(default)]
    argv: Option<Vec<In<ValueMatch>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectIn {
    host: In<ValueMatch>,
    port: In<ValueMatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallsIn {
    tool: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    grants: Option<Vec<Vec<In<ValueMatch>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamIn {
    name: String,
    #[serde(rename = "type")]
    ty: ParamType,
    #[serde(default, rename = "where")]
    condition: Option<In<Cond>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitIn {
    at_most: u64,
    of: PatIn,
    rule: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderIn {
    #[serde(default)]
    never: Option<PatIn>,
    #[serde(default)]
    after: Option<PatIn>,
    #[serde(default)]
    require: Option<PatIn>,
    #[serde(default)]
    before: Option<PatIn>,
    rule: String,
}

/// A pattern; `{}` is any action.
struct PatIn(Pattern);

impl<'de> Deserialize<'de> for PatIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis;
        impl<'de> Visitor<'de> for Vis {
            type Value = PatIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(Pattern::EXPECTING)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PatIn, A::Error> {
                match map.next_key::<String>()? {
                    None => Ok(PatIn(Pattern {
                        kind: None,
                        calls: None,
                        when: Cond::True,
                    })),
                    Some(k) => Pattern::from_map(&k, map).map(PatIn),
                }
            }
        }
        d.deserialize_map(Vis)
    }
}

fn location<E: de::Error>(s: &str) -> Result<Location, E> {
    s.parse().map_err(|_| E::custom("a rule location"))
}

impl<'de> Deserialize<'de> for EnvIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnvIn, D::Error> {
        let e = EnvelopeIn::deserialize(d)?;
        let files = e
            .files
            .into_iter()
            .map(|OneIn(k, In(target))| FileGrant {
                access: match k {
                    FileAccessKey::Read => FileAccess::Read,
                    FileAccessKey::Write => FileAccess::Write,
                    FileAccessKey::Delete => FileAccess::Delete,
                },
                target,
            })
            .collect();
        let exec = e
            .exec
            .into_iter()
            .map(|x| ExecGrant {
                program: x.program.0,
                argv: x.argv.map(|a| a.into_iter().map(|m| m.0).collect()),
            })
            .collect();
        let connect = e
            .connect
            .into_iter()
            .map(|c| ConnectGrant {
                host: c.host.0,
                port: c.port.0,
            })
            .collect();
        let listen = e
            .listen
            .into_iter()
            .map(|In(port)| ListenGrant { port })
            .collect();
        let unix = e
            .unix
            .into_iter()
            .map(|OneIn(op, In(target))| UnixGrant { op, target })
            .collect();
        let mut calls = Vec::new();
        for c in e.calls {
            let rows = match c.grants {
                Some(rows) => rows,
                None if c.args.is_empty() => vec![Vec::new()],
                None => {
                    return Err(de::Error::custom(format_args!(
                        "calls of `{}` name arguments but no grants",
                        c.tool
                    )));
                }
            };
            for row in rows {
                if row.len() != c.args.len() {
                    return Err(de::Error::custom(format_args!(
                        "a grant of `{}` has {} values for {} arguments",
                        c.tool,
                        row.len(),
                        c.args.len()
                    )));
                }
                let args: BTreeMap<String, ValueMatch> = c
                    .args
                    .iter()
                    .cloned()
                    .zip(row.into_iter().map(|m| m.0))
                    .collect();
                if args.len() != c.args.len() {
                    return Err(de::Error::custom(format_args!(
                        "the arguments of `{}` repeat a name",
                        c.tool
                    )));
                }
                calls.push(CallGrant {
                    name: c.tool.clone(),
                    args,
                });
            }
        }
        let params = e
            .params
            .into_iter()
            .map(|p| ParamDecl {
                name: p.name,
                ty: p.ty,
                condition: p.condition.map(|c| c.0),
            })
            .collect();
        let mut limits = Vec::new();
        for l in e.limits {
            limits.push(CountLimit {
                limit: l.at_most,
                pattern: l.of.0,
                rule: location(&l.rule)?,
            });
        }
        let mut ordering = Vec::new();
        for o in e.ordering {
            let (kind, action, other) = match (o.never, o.after, o.require, o.before) {
                (Some(a), Some(b), None, None) => (OrderKind::Never, a.0, b.0),
                (None, None, Some(a), Some(b)) => (OrderKind::Require, a.0, b.0),
                _ => {
                    return Err(de::Error::custom(
                        "an ordering rule is {\"never\", \"after\"} or {\"require\", \"before\"}",
                    ));
                }
            };
            ordering.push(OrderRule {
                kind,
                action,
                other,
                rule: location(&o.rule)?,
            });
        }
        let mut approvals = Vec::new();
        for a in e.approve_each {
            approvals.push(ApprovalRule {
                pattern: a.of.0,
                rule: location(&a.rule)?,
            });
        }
        let mut deny_from = Vec::new();
        for d in e.deny_from {
            deny_from.push(DenyFromRule {
                pattern: d.of.0,
                rule: location(&d.rule)?,
            });
        }
        let mut assumptions = Vec::new();
        for a in e.assume {
            let a = ResultAssumption {
                tool: a.tool,
                result: a.result,
                fields: a
                    .fields
                    .into_iter()
                    .map(|(k, f)| {
                        (
                            k,
                            AssumedField {
                                path: f.path,
                                index: f.index,
                                ty: f.ty,
                            },
                        )
                    })
                    .collect(),
                cond: a.cond.0,
                text: a.text,
                at: location(&a.at)?,
            };
            // The monitor checks a value on its own only when each part of
            // the condition's `and` names one field.
            if !a.is_separable() {
                return Err(de::Error::custom(format_args!(
                    "the assumption `{}` relates two fields in one part, or names a field it does not declare",
                    a.text
                )));
            }
            assumptions.push(a);
        }
        Ok(EnvIn(Envelope {
            files,
            exec,
            connect,
            listen,
            unix,
            calls,
            params,
            limits,
            ordering,
            baseline: e.baseline.into_iter().map(|p| p.0).collect(),
            approvals,
            deny_from,
            assumptions,
            ..Envelope::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: &Claims) -> Claims {
        let text = serde_json::to_string(c).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn the_example_round_trips_compactly() {
        let c = crate::claims::example();
        assert_eq!(round_trip(&c), c);
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("\"nbf\""), "nbf == iat is left out: {text}");
        assert!(text.contains(r#"{"tool":"send_money","args":["amount","recipient"],"grants":[[{"param":"amount"},"UK12345678901234567890"]]}"#), "{text}");
        assert!(text.contains(r#"{"tool":"get_balance"}"#), "{text}");
        assert!(text.contains(r#""rule":"banking.spec:13:3""#), "{text}");
    }

    /// Claims with every shape the layout has.
    fn every_shape() -> Claims {
        let mut c = crate::claims::example();
        let env: Envelope = serde_json::from_value(serde_json::json!({
            "version": 1,
            "files": [
                {"access": "read", "target": {"shape": "exact", "path": "/etc/hosts"}},
                {"access": "write", "target": {"shape": "glob", "glob": "/tmp/*.tmp"}},
                {"access": "delete", "target": {"shape": "tree", "dir": "/tmp/old"}},
                {"access": "read", "target": {"shape": "param", "param": "p"}},
                {"access": "read", "target": {"shape": "unknown", "origin": "read_file"}}
            ],
            "exec": [
                {"program": {"shape": "exact", "path": "/usr/bin/git"}, "argv": [
                    {"match": "exact", "value": {"type": "string", "value": "status"}},
                    {"match": "param", "param": "a"},
                    {"match": "unknown", "origin": null}]},
                {"program": {"shape": "exact", "path": "/bin/sh"}, "argv": null}
            ],
            "connect": [
                {"host": {"match": "exact", "value": {"type": "cidr", "value": "10.0.0.0/8"}},
                 "port": {"match": "exact", "value": {"type": "number", "value": "443"}}},
                {"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                 "port": {"match": "param", "param": "port"}}
            ],
            "listen": [{"port": {"match": "exact", "value": {"type": "number", "value": "8080"}}}],
            "unix": [{"op": "connect", "target": {"shape": "tree", "dir": "/run/app"}},
                     {"op": "listen", "target": {"shape": "exact", "path": "/run/me.sock"}}],
            "calls": [
                {"name": "pay", "args": {"amount": {"match": "exact", "value": {"type": "number", "value": "98.70"}}}},
                {"name": "pay", "args": {"amount": {"match": "exact", "value": {"type": "number", "value": "-3"}}}},
                {"name": "wait", "args": {"for": {"match": "exact", "value": {"type": "duration", "value": 90}}}},
                {"name": "pay", "args": {"amount": {"match": "exact", "value": {"type": "list", "value": [{"type": "bool", "value": true}]}}}}
            ],
            "params": [
                {"name": "p", "type": "path", "where": {"kind": "cmp", "op": "under",
                    "lhs": {"kind": "ref", "name": "p"}, "rhs": {"kind": "value", "value": {"type": "string", "value": "/srv/"}}}},
                {"name": "a", "type": "string", "where": null},
                {"name": "port", "type": "number", "where": {"kind": "or", "any": [
                    {"kind": "not", "cond": {"kind": "has", "field": "x"}},
                    {"kind": "from_call", "value": {"kind": "ref", "name": "bill", "fields": ["iban"]}, "tool": "read_file"},
                    {"kind": "cmp", "op": "in", "lhs": {"kind": "ref", "name": "argv", "index": 0},
                     "rhs": {"kind": "value", "value": {"type": "list", "value": [{"type": "string", "value": "x"}]}}},
                    {"kind": "false"}]}}
            ],
            "limits": [{"limit": 3, "pattern": {"kind": "call", "calls": ["pay"], "when": {"kind": "true"}},
                        "rule": {"file": "b.spec", "start": 0, "end": 0, "line": 4, "col": 2}}],
            "ordering": [
                {"kind": "never", "action": {"kind": "call", "calls": ["pay"], "when": {"kind": "true"}},
                 "other": {"when": {"kind": "true"}}, "rule": {"file": "b.spec", "line": 5, "col": 2}},
                {"kind": "require", "action": {"kind": "call", "when": {"kind": "true"}},
                 "other": {"kind": "exec", "when": {"kind": "true"}}, "rule": {"file": "b.spec", "line": 6, "col": 2}}
            ],
            "baseline": [{"kind": "read", "when": {"kind": "cmp", "op": "under",
                "lhs": {"kind": "ref", "name": "path"}, "rhs": {"kind": "value", "value": {"type": "string", "value": "/usr/lib/"}}}}]
        }))
        .unwrap();
        c.envelope = env;
        c.nbf = Timestamp::from_unix(c.iat.unix() + 5);
        c.ancestors = vec![TokenId::from_bytes([1; 16])];
        c.enforcement = vec![EnforcementProof {
            profile: "unprivileged".into(),
            digest: Digest::of_text("x"),
            proven: false,
            counterexample: Some("no".into()),
            alternatives: vec![AlternativeProof {
                grant: "write \"/tmp/a\"".into(),
                situation: Situation::Absent,
                widened: "write under \"/tmp\"".into(),
                proven: true,
                counterexample: None,
            }],
        }];
        c
    }

    #[test]
    fn every_shape_round_trips() {
        let c = every_shape();
        let back = round_trip(&c);
        assert_eq!(back, c);
        // Spans are not compared: the rule's place survives all the same.
        assert_eq!(back.envelope.limits[0].rule.to_string(), "b.spec:4:2");
    }

    /// The checked-in schema, `docs/token.schema.json`.
    fn schema() -> jsonschema::Validator {
        let text = include_str!("../../docs/token.schema.json");
        let schema: serde_json::Value = serde_json::from_str(text).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    }

    #[test]
    fn what_is_written_follows_the_schema() {
        let schema = schema();
        for c in [crate::claims::example(), every_shape()] {
            let json = serde_json::to_value(&c).unwrap();
            let errors: Vec<String> = schema.iter_errors(&json).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:#?}\n{json}");
        }
    }

    #[test]
    fn unknown_members_and_inexact_numbers_are_refused() {
        let c = crate::claims::example();
        let v = serde_json::to_value(&c).unwrap();
        let schema = schema();
        // What the reader refuses, the schema refuses too, and the other way.
        let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut w = v.clone();
            edit(&mut w);
            let by_reader = Claims::from_slice(&serde_json::to_vec(&w).unwrap()).is_err();
            assert_eq!(
                by_reader,
                !schema.is_valid(&w),
                "the reader and the schema disagree on {w}"
            );
            by_reader
        };
        assert!(!refused(&|_| {}));
        assert!(refused(&|w| w["admin"] = true.into()));
        assert!(refused(&|w| w["envelope"]["admin"] = true.into()));
        assert!(refused(&|w| w["envelope"]["calls"][0]["extra"] = 1.into()));
        assert!(refused(
            &|w| w["envelope"]["params"][0]["where"]["and"][1]["<="][1] = 99.5.into()
        ));
        assert!(refused(
            &|w| w["envelope"]["params"][0]["where"]["and"][1] = serde_json::json!({"≤": [1, 2]})
        ));
        assert!(refused(&|w| w["warden"] = 1.into()));
        // Beyond what a schema says: a grant row's length is its header's.
        let mut w = v.clone();
        w["envelope"]["calls"][0]["grants"][0] = serde_json::json!(["only one"]);
        assert!(schema.is_valid(&w));
        assert!(Claims::from_slice(&serde_json::to_vec(&w).unwrap()).is_err());
        assert!(refused(&|w| w["jti"] = "not an id".into()));
        assert!(refused(
            &|w| w["envelope"]["files"] = serde_json::json!([{"exec": "/bin/sh"}])
        ));
    }
}
