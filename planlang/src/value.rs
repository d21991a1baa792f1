//! Literal values of both languages: strings, exact decimals, booleans,
//! durations and CIDRs. Lists are [`crate::ast::ValueExpr::List`].

use serde::{Deserialize, Serialize};
use std::fmt;

pub use warden_core::value::{Cidr, Duration, Number};

/// A literal as written. Numbers are exact decimals: `0.1 + 0.2 == 0.3` holds
/// in every check. A bare address (`192.168.1.7`, `::1`) is a /32 or /128
/// CIDR.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Literal {
    /// `"a\tb"`, with its escapes decoded.
    String(String),
    /// `443`, `98.7`, `-1`.
    Number(Number),
    /// `true`, `false`.
    Bool(bool),
    /// `90s`, `15m`, `2h`, `1d`.
    Duration(Duration),
    /// `10.0.0.0/8`, `::1/128`, `192.168.1.7`.
    Cidr(Cidr),
}

impl Literal {
    /// The kind of value, for type errors ("expected a number, found a cidr").
    pub fn value_type(&self) -> ValueType {
        match self {
            Literal::String(_) => ValueType::String,
            Literal::Number(_) => ValueType::Number,
            Literal::Bool(_) => ValueType::Bool,
            Literal::Duration(_) => ValueType::Duration,
            Literal::Cidr(_) => ValueType::Cidr,
        }
    }
}

/// The types a value can have, as named in error messages and param
/// declarations. `path` and `host` are strings with a meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Text.
    String,
    /// An exact decimal.
    Number,
    /// `true` or `false`.
    Bool,
    /// A span of time in whole seconds.
    Duration,
    /// An address or network.
    Cidr,
    /// A string that starts with `/`, compared normalized.
    Path,
    /// A host name or address, as `connect` takes it.
    Host,
    /// A list of values.
    List,
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Bool => "bool",
            ValueType::Duration => "duration",
            ValueType::Cidr => "cidr",
            ValueType::Path => "path",
            ValueType::Host => "host",
            ValueType::List => "list",
        })
    }
}
