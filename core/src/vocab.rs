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
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Under,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
}

impl CmpOp {
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
    Read,
    Write,
    Delete,
    Exec,
    Connect,
    Listen,
    Call,
}

impl ActionKind {
    pub const ALL: [ActionKind; 7] = [
        ActionKind::Read,
        ActionKind::Write,
        ActionKind::Delete,
        ActionKind::Exec,
        ActionKind::Connect,
        ActionKind::Listen,
        ActionKind::Call,
    ];

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
    String,
    Number,
    Bool,
    Path,
    Host,
}

impl ParamType {
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
