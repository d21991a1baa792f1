//! Concrete actions: what a run actually does, with every value known.
//!
//! A [`ConcreteAction`] is the one runtime representation that the token
//! monitor (tool calls), the enforcer's events (files, exec, network) and the
//! reference evaluator share. Conditions of a spec are evaluated on it by
//! [`crate::cond`].
//!
//! Paths are stored **normalized** (absolute, `.`/`..` resolved, repeated `/`
//! folded, no trailing `/`): the kernel acts on resolved paths, so a spec
//! condition such as `path startswith "/tmp/"` is asked of the path the
//! action really touches, never of its raw spelling.
//!
//! ```
//! use warden_core::action::ConcreteAction;
//! use warden_core::value::Value;
//! let a = ConcreteAction::read("/tmp/../etc/passwd").unwrap();
//! assert_eq!(a.field("path").unwrap().value, Value::String("/etc/passwd".into()));
//! ```

use crate::net::{is_host_name, parse_cidr};
use crate::path::{PathError, normalize_path};
use crate::value::{Field, Number, Value};
use crate::vocab::ActionKind;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// An action with every value known.
///
/// `fields` holds the built-in fields of the kind (`path` for read, write and
/// delete; `path` and `argv` for exec; `port` and one of `host` / `ip` for
/// connect; `port` for listen) or, for a call, one field per argument. A
/// `connect` to a name has `host` and no `ip`; to an address or cidr, `ip`
/// and no `host` (docs/language.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConcreteAction {
    /// What the action does.
    pub kind: ActionKind,
    /// The tool's name, for a call (`send_money`, `github.create_pr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// The action's fields by name, as conditions see them (paths
    /// normalized).
    pub fields: BTreeMap<String, Field>,
}

/// Why a concrete action could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The path is not absolute, or not a path at all.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A `connect` target that is neither a host name nor an address.
    #[error("`{0}` is not a host name or an address")]
    BadHost(String),
    /// The action was asked for with a field its kind does not have (a
    /// `call` on a path).
    #[error("a {kind} action has no field `{field}`")]
    NoSuchField {
        /// The action's kind.
        kind: ActionKind,
        /// The field it does not have.
        field: String,
    },
}

impl ConcreteAction {
    fn with(kind: ActionKind, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Self {
        ConcreteAction {
            kind,
            call: None,
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), Field::new(v)))
                .collect(),
        }
    }

    /// An action of `kind` on `path`: a file (`read`, `write`, `delete`),
    /// or a unix socket (`connect`, `listen`). An `exec` built here has no
    /// arguments.
    pub fn path_action(kind: ActionKind, path: &str) -> Result<Self, ActionError> {
        match kind {
            ActionKind::Exec => return Self::exec::<&str>(path, &[]),
            ActionKind::Call => {
                return Err(ActionError::NoSuchField {
                    kind,
                    field: "path".into(),
                });
            }
            _ => {}
        }
        let p = normalize_path(path)?;
        Ok(Self::with(kind, [("path", Value::String(p))]))
    }

    /// `read PATH` (the path is normalized; it must be absolute).
    pub fn read(path: &str) -> Result<Self, ActionError> {
        Self::path_action(ActionKind::Read, path)
    }

    /// `write PATH`: writing, creating or truncating the file, and any
    /// change of its metadata (chmod, chown, utimes, extended attributes).
    /// A `read` never changes metadata.
    pub fn write(path: &str) -> Result<Self, ActionError> {
        Self::path_action(ActionKind::Write, path)
    }

    /// `delete PATH`.
    pub fn delete(path: &str) -> Result<Self, ActionError> {
        Self::path_action(ActionKind::Delete, path)
    }

    /// `exec PATH [ARG, ...]`: `argv` is argv[1..] (the arguments after the
    /// program).
    pub fn exec<S: AsRef<str>>(path: &str, argv: &[S]) -> Result<Self, ActionError> {
        let p = normalize_path(path)?;
        let argv = argv
            .iter()
            .map(|a| Value::String(a.as_ref().to_string()))
            .collect();
        Ok(Self::with(
            ActionKind::Exec,
            [("path", Value::String(p)), ("argv", Value::List(argv))],
        ))
    }

    /// `connect HOST:PORT` where HOST is a name or an address: an address
    /// (`10.0.0.1`, `::1`, `[::1]`) or a cidr gives the action an `ip`, a name
    /// gives it a `host`.
    pub fn connect(host: &str, port: u16) -> Result<Self, ActionError> {
        let port = ("port", Value::Number(Number::from(port)));
        match parse_cidr(host) {
            Some(net) => Ok(Self::with(
                ActionKind::Connect,
                [("ip", Value::Cidr(net)), port],
            )),
            None if is_host_name(host) => Ok(Self::with(
                ActionKind::Connect,
                [("host", Value::String(host.to_string())), port],
            )),
            None => Err(ActionError::BadHost(host.to_string())),
        }
    }

    /// `connect` to a known address.
    pub fn connect_ip(ip: IpAddr, port: u16) -> Self {
        Self::with(
            ActionKind::Connect,
            [
                ("ip", Value::Cidr(IpNet::from(ip))),
                ("port", Value::Number(Number::from(port))),
            ],
        )
    }

    /// `connect PATH`: a connect (or a datagram sent) to the pathname unix
    /// socket at PATH. Its `path` is normalized like a file's; it has no
    /// `host`, `ip` or `port`.
    pub fn connect_unix(path: &str) -> Result<Self, ActionError> {
        Self::path_action(ActionKind::Connect, path)
    }

    /// `listen PATH`: a unix socket bound at PATH (normalized).
    pub fn listen_unix(path: &str) -> Result<Self, ActionError> {
        Self::path_action(ActionKind::Listen, path)
    }

    /// `listen PORT`.
    pub fn listen(port: u16) -> Self {
        Self::with(
            ActionKind::Listen,
            [("port", Value::Number(Number::from(port)))],
        )
    }

    /// `call NAME(ARG = VALUE, ...)`.
    pub fn call<I, K>(name: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = (K, Field)>,
        K: Into<String>,
    {
        ConcreteAction {
            kind: ActionKind::Call,
            call: Some(name.into()),
            fields: args.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }

    /// `call NAME()`: a call that passes no argument.
    pub fn call_no_args(name: impl Into<String>) -> Self {
        Self::call(name, Vec::<(String, Field)>::new())
    }

    /// The field named `name`, if the action has it.
    #[inline]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.get(name)
    }

    /// The (normalized) path of a read, write, delete or exec, or of the
    /// unix socket of a connect or listen.
    #[inline]
    pub fn path(&self) -> Option<&str> {
        match self.kind {
            ActionKind::Call => None,
            _ => self.field("path").and_then(|f| f.value.as_str()),
        }
    }

    /// Whether this is a connect or listen on a pathname unix socket (it
    /// has a `path`, and no host, address or port).
    pub fn is_unix_socket(&self) -> bool {
        matches!(self.kind, ActionKind::Connect | ActionKind::Listen)
            && self.path().is_some()
            && ["host", "ip", "port"]
                .iter()
                .all(|f| !self.fields.contains_key(*f))
    }
}

impl fmt::Display for ConcreteAction {
    /// The action as a plan step would spell it: `read "/etc/passwd"`,
    /// `exec "/usr/bin/git" ["status"]`, `connect "/run/x.sock"`,
    /// `call send_money(amount = 5, recipient = "X")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let get = |k: &str| self.fields.get(k).map(|fl| &fl.value);
        match self.kind {
            ActionKind::Call => {
                write!(f, "call {}(", self.call.as_deref().unwrap_or("?"))?;
                for (i, (k, v)) in self.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {}", v.value)?;
                }
                f.write_str(")")
            }
            ActionKind::Connect if get("path").is_none() => {
                f.write_str("connect ")?;
                match (get("host"), get("ip")) {
                    (Some(Value::String(h)), _) => write!(f, "{h:?}")?,
                    (_, Some(Value::Cidr(c))) if c.addr().is_ipv6() => {
                        write!(f, "[{}]", Value::Cidr(*c))?
                    }
                    (_, Some(ip)) => write!(f, "{ip}")?,
                    _ => f.write_str("?")?,
                }
                match get("port") {
                    Some(p) => write!(f, ":{p}"),
                    None => f.write_str(":?"),
                }
            }
            kind => {
                write!(f, "{kind}")?;
                if let Some(p) = get("path") {
                    write!(f, " {p}")?;
                } else if let Some(p) = get("port") {
                    write!(f, " {p}")?;
                }
                if let Some(argv @ Value::List(_)) = get("argv") {
                    write!(f, " {argv}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_absolute() {
        let a = ConcreteAction::write("/tmp//x/./y/../z/").unwrap();
        assert_eq!(a.path(), Some("/tmp/x/z"));
        assert!(ConcreteAction::read("relative/file").is_err());
        assert!(ConcreteAction::read("").is_err());
    }

    #[test]
    fn connect_to_name_has_host_and_no_ip() {
        let a = ConcreteAction::connect("api.bank.example", 443).unwrap();
        assert!(a.field("host").is_some());
        assert!(a.field("ip").is_none());
        let b = ConcreteAction::connect("10.1.2.3", 80).unwrap();
        assert!(b.field("host").is_none());
        assert!(b.field("ip").is_some());
        let c = ConcreteAction::connect("[::1]", 80).unwrap();
        assert_eq!(c.to_string(), "connect [::1]:80");
        assert!(ConcreteAction::connect("bad host!", 1).is_err());
    }

    #[test]
    fn display_spells_steps() {
        let a = ConcreteAction::call(
            "send_money",
            [
                ("recipient", Field::new(Value::String("X".into()))),
                ("amount", Field::new(Value::Number(Number::from(5)))),
            ],
        );
        assert_eq!(
            a.to_string(),
            r#"call send_money(amount = 5, recipient = "X")"#
        );
        let e = ConcreteAction::exec("/usr/bin/git", &["status"]).unwrap();
        assert_eq!(e.to_string(), r#"exec "/usr/bin/git" ["status"]"#);
        let u = ConcreteAction::connect_unix("/run//app/../x.sock").unwrap();
        assert_eq!(u.to_string(), r#"connect "/run/x.sock""#);
        assert!(u.is_unix_socket() && u.field("port").is_none() && u.field("host").is_none());
        assert!(ConcreteAction::connect_unix("run/x.sock").is_err());
        let l = ConcreteAction::listen_unix("/run/app.sock").unwrap();
        assert_eq!(l.to_string(), r#"listen "/run/app.sock""#);
        assert!(!ConcreteAction::listen(80).is_unix_socket());
    }

    #[test]
    fn serde_round_trip() {
        let a = ConcreteAction::call(
            "send_money",
            [(
                "recipient",
                Field::from_call(Value::String("X".into()), "read_file"),
            )],
        );
        let j = serde_json::to_string(&a).unwrap();
        let b: ConcreteAction = serde_json::from_str(&j).unwrap();
        assert_eq!(a, b);
    }
}
