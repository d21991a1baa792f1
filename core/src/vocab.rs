//! The words both languages and every crate share: the kinds of action,
//! the comparison operators, the types of a param.
//!
//! ```
//! use warden_core::vocab::{ActionKind, CmpOp};
//! assert_eq!(ActionKind::Connect.as_str(), "connect");
//! assert_eq!(CmpOp::StartsWith.to_string(), "startswith");
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// Binary operators, in the words of docs/language.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `==`: equal values (exact decimals; CIDRs as address sets; lists
    /// element by element).
    Eq,
    /// `!=`: the negation of `==`.
    Ne,
    /// `<`, on numbers or durations.
    Lt,
    /// `<=`, on numbers or durations.
    Le,
    /// `>`, on numbers or durations.
    Gt,
    /// `>=`, on numbers or durations.
    Ge,
    /// `in`: equal to an item of a list, or an address inside a CIDR item.
    In,
    /// `under`: a path equal to the directory or below it, both normalized.
    Under,
    /// `startswith`: a string prefix, byte for byte.
    StartsWith,
    /// `endswith`: a string suffix, byte for byte.
    EndsWith,
    /// `contains`: a substring, or, on a list, one element equal to the
    /// operand.
    Contains,
    /// `matches`: a regular expression over the whole value.
    Matches,
}

impl CmpOp {
    /// The operator as the languages spell it (`==`, `startswith`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::Under => "under",
            CmpOp::StartsWith => "startswith",
            CmpOp::EndsWith => "endswith",
            CmpOp::Contains => "contains",
            CmpOp::Matches => "matches",
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of action a plan step performs and a spec pattern matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Read a file (field `path`).
    Read,
    /// Create or change a file (field `path`).
    Write,
    /// Remove a file (field `path`).
    Delete,
    /// Run a program (fields `path`, `argv`).
    Exec,
    /// Open a connection: to a host or an address and a port, or to a unix
    /// socket by path.
    Connect,
    /// Accept connections on a port or a unix socket path.
    Listen,
    /// Call a tool, with its arguments as fields.
    Call,
}

impl ActionKind {
    /// Every kind, in declaration order (the order of [`Ord`]).
    pub const ALL: [ActionKind; 7] = [
        ActionKind::Read,
        ActionKind::Write,
        ActionKind::Delete,
        ActionKind::Exec,
        ActionKind::Connect,
        ActionKind::Listen,
        ActionKind::Call,
    ];

    /// The kind's keyword in the languages and in JSON (`read`, `connect`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Read => "read",
            ActionKind::Write => "write",
            ActionKind::Delete => "delete",
            ActionKind::Exec => "exec",
            ActionKind::Connect => "connect",
            ActionKind::Listen => "listen",
            ActionKind::Call => "call",
        }
    }

    /// The built-in fields an action of this kind has. A call additionally
    /// has one field per argument it passes.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ActionKind::Read | ActionKind::Write | ActionKind::Delete => &["path"],
            ActionKind::Exec => &["path", "argv"],
            // A network connect has `host` or `ip`, and `port`; a unix
            // socket connect has `path`.
            ActionKind::Connect => &["host", "ip", "port", "path"],
            ActionKind::Listen => &["port", "path"],
            ActionKind::Call => &[],
        }
    }
}

/// Every built-in field name; a spec `let` may not shadow one.
pub const BUILTIN_FIELDS: [&str; 5] = ["path", "argv", "host", "ip", "port"];

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a `param`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Any string.
    String,
    /// An exact decimal.
    Number,
    /// `true` or `false`.
    Bool,
    /// An absolute path, normalized before any rule sees it.
    Path,
    /// A host name or an IP address.
    Host,
}

impl ParamType {
    /// The type's keyword in the plan language (`string`, `number`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Bool => "bool",
            ParamType::Path => "path",
            ParamType::Host => "host",
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
