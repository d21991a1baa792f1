//! Concrete values: what a field of an action holds, and what conditions
//! compare.
//!
//! Numbers are exact decimals ([`Number`], `rust_decimal`): `0.1 + 0.2 ==
//! 0.3` holds in every check. An address is a [`Cidr`] (a bare address is a
//! /32 or /128).
//!
//! ```
//! use warden_core::value::{Field, Number, Value};
//! let amount = Field::new(Value::Number(Number::from(42)));
//! assert_eq!(amount.value.to_string(), "42");
//! let subject = Field::from_call(Value::from("December bill"), "read_file");
//! assert_eq!(subject.origin.as_deref(), Some("read_file"));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// An IP address or network (`10.0.0.0/8`, `::1/128`).
pub use ipnet::IpNet as Cidr;
/// An exact decimal number.
pub use rust_decimal::Decimal as Number;

/// A concrete value: what a field of an action holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// A string; in an action, a path is a string, normalized.
    String(String),
    /// An exact decimal (`98.7`, `-1`, `443`).
    Number(Number),
    /// `true` or `false`.
    Bool(bool),
    /// An address or a network; a bare address is a /32 or /128.
    Cidr(Cidr),
    /// A duration in whole seconds.
    Duration(u64),
    /// A list (`argv`, an argument holding several values); see
    /// [`crate::cond::compare`] for how operators treat it.
    List(Vec<Value>),
}

impl Value {
    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A name for the kind of value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Cidr(_) => "cidr",
            Value::Duration(_) => "duration",
            Value::List(_) => "list",
        }
    }
}

impl fmt::Display for Value {
    /// The spelling of the value in the languages (strings quoted, JSON-style).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::Number(n) => write!(f, "{}", n.normalize()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Cidr(c) => {
                if c.prefix_len() == c.max_prefix_len() {
                    write!(f, "{}", c.addr())
                } else {
                    write!(f, "{c}")
                }
            }
            Value::Duration(d) => write!(f, "{}", Duration::from_secs(*d)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One field of an action: its value and, when it came from a tool's result,
/// the tool it originates from (for `from call NAME`).
///
/// `origin` is the one tool the value is known to come from: what `allow
/// ... when X from call T` and a `let` result's origin ask for. `sources`
/// are further tools it **may** come from (an older result held it too, or
/// it holds a verbatim fragment of one): rules that refuse or stop a call
/// (`deny ... when X from call T`, `approve each ...`) count those as well,
/// so a value of several possible origins is never let through by the
/// rule that names one of them (`crate::flow`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// The value.
    pub value: Value,
    /// The one tool whose result the value is known to come from; `None`
    /// for a literal, a param or a value of unknown origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Further tools whose results the value may come from, besides
    /// `origin`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sources: BTreeSet<String>,
}

impl Field {
    /// A value of no known origin and no possible sources.
    pub fn new(value: Value) -> Field {
        Field {
            value,
            origin: None,
            sources: BTreeSet::new(),
        }
    }

    /// A value that originates from the result of the tool `origin`.
    pub fn from_call(value: Value, origin: impl Into<String>) -> Field {
        Field {
            value,
            origin: Some(origin.into()),
            sources: BTreeSet::new(),
        }
    }

    /// Whether the value may come from a result of `tool`: its origin, or
    /// one of its further sources.
    pub fn may_come_from(&self, tool: &str) -> bool {
        self.origin.as_deref() == Some(tool) || self.sources.contains(tool)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number::from(n))
    }
}

macro_rules! field_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Field {
            /// A value of no known origin.
            fn from(v: $t) -> Field {
                Field::new(Value::from(v))
            }
        }
    )*};
}
field_from!(&str, String, bool, Number, i64);

impl From<Value> for Field {
    fn from(v: Value) -> Field {
        Field::new(v)
    }
}

/// A length of time, in whole seconds (`90s`, `15m`, `2h`, `1d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration {
    /// The length in seconds.
    pub secs: u64,
}

impl Duration {
    /// A duration of `secs` seconds.
    pub fn from_secs(secs: u64) -> Duration {
        Duration { secs }
    }
    /// The same length as a [`std::time::Duration`].
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs)
    }
}

impl fmt::Display for Duration {
    /// The canonical spelling: the largest unit that divides it exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        if s != 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}
