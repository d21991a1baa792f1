//! The envelope: the least privilege that lets exactly a plan's actions
//! happen, never wider than the spec allows, plus the spec's baseline.
//!
//! The capability token carries it; the enforcer compiles it into kernel
//! layers and the orchestrator checks every tool call against it
//! ([`Envelope::permits`]). Params stay constraints: a grant that names a
//! param refers to [`Envelope::params`], whose `where` condition the value
//! must meet when the action happens.
//!
//! JSON schema (all fields always present; lists may be empty):
//!
//! ```text
//! {
//!   "version": 1,
//!   "files":   [{"access": "read"|"write"|"delete", "target": TARGET}],
//!   "exec":    [{"program": TARGET, "argv": null | [MATCH, ...]}],   // null: any arguments
//!   "connect": [{"host": MATCH, "port": MATCH}],   // host: string name, or cidr value
//!   "listen":  [{"port": MATCH}],
//!   "unix":    [{"op": "connect"|"listen", "target": TARGET}],   // pathname unix sockets
//!   "calls":   [{"name": "send_money", "args": {"amount": MATCH, ...}}],
//!   "params":  [{"name": "amount", "type": "number", "where": COND | null}],
//!   "limits":  [{"limit": 3, "pattern": PATTERN, "rule": SPAN}],
//!   "ordering":[{"kind": "never"|"require", "action": PATTERN, "other": PATTERN, "rule": SPAN}],
//!   "baseline":[PATTERN],
//!   "approvals":[{"pattern": PATTERN, "rule": SPAN}],  // only when not empty
//!   "deny_from":[{"pattern": PATTERN, "rule": SPAN}]   // only when not empty
//! }
//! TARGET  = {"shape": "exact", "path": "/etc/hosts"} | {"shape": "glob", "glob": "/repo/**/*.rs"}
//!         | {"shape": "tree", "dir": "/usr/lib"}     | {"shape": "param", "param": "p"}
//! MATCH   = {"match": "exact", "value": VALUE} | {"match": "param", "param": "amount"}
//!         | {"match": "unknown", "origin": "read_file" | null}
//! VALUE   = {"type": "string"|"number"|"bool"|"cidr"|"duration"|"list", "value": ...}
//! PATTERN = {"kind": "call"|..., "calls": [..], "when": COND}   (see `crate::cond::Pattern`)
//! COND    = see `crate::cond::Cond` (tagged by "kind")
//! ```
//!
//! `ordering.kind == "never"`: `action` may not happen after `other`;
//! `"require"`: `other` may happen only after `action`. A `unix` grant's
//! target is the socket's path, normalized like a file's; `connect` covers
//! a datagram sent to that path too. (An envelope written before `unix`
//! existed reads as one without unix grants.)
//!
//! ```
//! use warden_core::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! use warden_core::action::ConcreteAction;
//! let mut env = Envelope::default();
//! env.files.push(FileGrant { access: FileAccess::Read, target: PathTarget::Glob { glob: "/repo/**".into() } });
//! assert!(env.permits(&ConcreteAction::read("/repo/src/main.rs").unwrap()).is_ok());
//! assert!(env.permits(&ConcreteAction::read("/etc/passwd").unwrap()).is_err());
//! ```

use crate::action::ConcreteAction;
use crate::cond::{Cond, Pattern, value_eq};
use crate::net::{cidr_contains, is_host_name};
use crate::path::{glob_matches, under_normal};
use crate::value::{Field, Value};
use crate::vocab::{ActionKind, ParamType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The current envelope format.
pub const ENVELOPE_VERSION: u32 = 1;

/// What a plan may do at run time (see the module docs for the JSON schema).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The envelope format, [`ENVELOPE_VERSION`]. The token carries no
    /// such member: its claims version covers the envelope
    /// (docs/token-format.md).
    pub version: u32,
    /// Grants on files: read, write (metadata changes included), delete.
    pub files: Vec<FileGrant>,
    /// Programs the run may execute, with their arguments.
    pub exec: Vec<ExecGrant>,
    /// Network connections, by host or address and port.
    pub connect: Vec<ConnectGrant>,
    /// Network ports the run may accept connections on.
    pub listen: Vec<ListenGrant>,
    /// Pathname unix sockets the run may connect to or listen on.
    #[serde(default)]
    pub unix: Vec<UnixGrant>,
    /// Tool calls, each with exactly its arguments.
    pub calls: Vec<CallGrant>,
    /// The plan's params, which grants name; a param's value must have its
    /// type and meet its `where` condition.
    pub params: Vec<ParamDecl>,
    /// `at most N` limits of the spec that some plan step touches.
    pub limits: Vec<CountLimit>,
    /// `never` / `require` rules of the spec that the plan's steps touch.
    pub ordering: Vec<OrderRule>,
    /// The spec's `baseline` patterns: what every program needs at run
    /// time (loader, libc, locale), granted as patterns and never listed
    /// in plans.
    pub baseline: Vec<Pattern>,
    /// `approve each` rules some plan step may match: every call one of
    /// them matches waits for a human's approval of that exact call
    /// ([`crate::monitor::RefusalReason::NeedsApproval`]). Written only when
    /// there is one, so envelopes without them keep their digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRule>,
    /// `deny ... when ... from call T` rules of the spec that the plan check
    /// could not discharge (a plan step passes a value whose origin is
    /// unknown until the run, such as a param): the monitor refuses every
    /// action one of them matches, a value counting as coming from `T`
    /// when it may ([`crate::flow`]). Written only when there is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_from: Vec<DenyFromRule>,
    /// Assumptions of the plan on tool results (`let X = call T(...) where
    /// COND`): every result of `T` is checked against them when it
    /// arrives, and a call argument [`ValueMatch::Assumed`] against its
    /// field's part ([`crate::assume`]). Written only when there is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<ResultAssumption>,
}

/// A `deny PATTERN when ... from call T ...` rule of the spec carried to
/// run time: it grants nothing, it refuses what it matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenyFromRule {
    /// The rule's pattern and condition: an action it matches is refused.
    /// On the wire, `of` (docs/token-format.md, `deny_from`).
    pub pattern: Pattern,
    /// Where the spec writes the rule, named in the refusal.
    pub rule: Location,
}

/// `approve each PATTERN` of the spec, for a pattern some plan step may
/// match: it grants nothing, it asks a human at run time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    /// The rule's pattern and condition: a call it matches waits for a
    /// human. On the wire, `of` (docs/token-format.md, `approve_each`).
    pub pattern: Pattern,
    /// Where the spec writes the rule, named in the refusal.
    pub rule: Location,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            version: ENVELOPE_VERSION,
            files: Vec::new(),
            exec: Vec::new(),
            connect: Vec::new(),
            listen: Vec::new(),
            unix: Vec::new(),
            calls: Vec::new(),
            params: Vec::new(),
            limits: Vec::new(),
            ordering: Vec::new(),
            baseline: Vec::new(),
            approvals: Vec::new(),
            deny_from: Vec::new(),
            assumptions: Vec::new(),
        }
    }
}

/// What a file grant lets a run do with a file. A metadata change (mode,
/// owner, times, extended attributes) is `write`; `read` never covers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAccess {
    /// Read the file.
    Read,
    /// Create, write or truncate the file, or change its metadata.
    Write,
    /// Remove the file.
    Delete,
}

impl FileAccess {
    /// The action kind this access grants.
    pub fn kind(self) -> ActionKind {
        match self {
            FileAccess::Read => ActionKind::Read,
            FileAccess::Write => ActionKind::Write,
            FileAccess::Delete => ActionKind::Delete,
        }
    }

    /// The access of a file action kind; `None` for other kinds.
    #[inline]
    pub fn of(kind: ActionKind) -> Option<FileAccess> {
        match kind {
            ActionKind::Read => Some(FileAccess::Read),
            ActionKind::Write => Some(FileAccess::Write),
            ActionKind::Delete => Some(FileAccess::Delete),
            _ => None,
        }
    }
}

/// `read|write|delete` of a path, glob, tree or a path param.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileGrant {
    /// What the grant lets the run do.
    pub access: FileAccess,
    /// To which files.
    pub target: PathTarget,
}

/// The files a grant covers. Paths are normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum PathTarget {
    /// Exactly this file.
    Exact {
        /// The normalized path.
        path: String,
    },
    /// The files a plan glob matches (`*`, `**`, `?`).
    Glob {
        /// The plan glob.
        glob: String,
    },
    /// The directory and everything below it.
    Tree {
        /// The normalized directory.
        dir: String,
    },
    /// The value of a `path` param (normalized when the action happens).
    Param {
        /// The param's name, declared in [`Envelope::params`].
        param: String,
    },
    /// A path from a `let` result: any path (the spec allowed every value),
    /// recorded with the tool it comes from.
    Unknown {
        /// The tool whose result gives the path.
        origin: String,
    },
}

impl PathTarget {
    /// Whether a normalized path is covered (a param target is checked by
    /// [`Envelope::permits`], which knows the param's condition).
    #[inline]
    pub fn covers(&self, path: &str) -> bool {
        match self {
            PathTarget::Exact { path: p } => p == path,
            PathTarget::Glob { glob } => glob_matches(glob, path),
            PathTarget::Tree { dir } => under_normal(path, dir),
            PathTarget::Param { .. } => false,
            PathTarget::Unknown { .. } => true,
        }
    }
}

/// `exec PROGRAM [ARG, ...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExecGrant {
    /// The program's path.
    pub program: PathTarget,
    /// argv[1..]; `None`: any arguments.
    pub argv: Option<Vec<ValueMatch>>,
}

impl ExecGrant {
    /// The argument list (argv[1..]) as literal strings, when every element
    /// is one: what a kernel layer can compare as it is (the root profiles'
    /// exec check). `None`: any arguments, or an element that is a param,
    /// a `let` result or not a string.
    pub fn literal_argv(&self) -> Option<Vec<&str>> {
        self.argv
            .as_ref()?
            .iter()
            .map(|m| match m {
                ValueMatch::Exact {
                    value: Value::String(s),
                } => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// `connect HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnectGrant {
    /// A host name (string), an address or network (cidr), or a param.
    pub host: ValueMatch,
    /// The port the connection goes to.
    pub port: ValueMatch,
}

/// `listen PORT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListenGrant {
    /// The port the run may listen on.
    pub port: ValueMatch,
}

/// What a program does with a pathname unix socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixOp {
    /// `connect PATH`: connect to the socket (or send it a datagram).
    Connect,
    /// `listen PATH`: bind a socket at the path and accept connections.
    Listen,
}

impl UnixOp {
    /// The action kind of this operation on a socket.
    pub fn kind(self) -> ActionKind {
        match self {
            UnixOp::Connect => ActionKind::Connect,
            UnixOp::Listen => ActionKind::Listen,
        }
    }

    /// The operation of an action kind; `None` for kinds other than
    /// `connect` and `listen`.
    pub fn of(kind: ActionKind) -> Option<UnixOp> {
        match kind {
            ActionKind::Connect => Some(UnixOp::Connect),
            ActionKind::Listen => Some(UnixOp::Listen),
            _ => None,
        }
    }
}

/// `connect PATH` / `listen PATH` on pathname unix sockets: the target is
/// the socket's path (exact, glob, tree, param, or a `let` result's).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnixGrant {
    /// Connect to the socket, or listen on it.
    pub op: UnixOp,
    /// The socket's path.
    pub target: PathTarget,
}

/// `call NAME(ARG = VALUE, ...)`: exactly these arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallGrant {
    /// The tool's name (`send_money`, `github.create_pr`). On the wire,
    /// `tool` (docs/token-format.md, `calls`).
    pub name: String,
    /// Every argument the call passes, by name, with what its value may
    /// be; a call with an argument more or fewer is not covered.
    pub args: BTreeMap<String, ValueMatch>,
}

/// What one value of a granted action may be.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "match", rename_all = "snake_case")]
pub enum ValueMatch {
    /// Exactly this value (a cidr covers the addresses inside it).
    Exact {
        /// The value.
        value: Value,
    },
    /// The value of a param; it must meet the param's `where`.
    Param {
        /// The param's name, declared in [`Envelope::params`].
        param: String,
    },
    /// A `let` result: content unknown; it must originate from `origin`
    /// when that is known.
    Unknown {
        /// The tool whose result it must come from; `None`: any value.
        origin: Option<String>,
    },
    /// A field of a `let` result the plan makes an assumption about
    /// (`bill.amount`, named as in [`Envelope::assumptions`]): the value
    /// must come from the assumption's tool and meet the field's part of
    /// it ([`crate::assume::ResultAssumption::value_ok`]). Only a call
    /// argument is granted so.
    Assumed {
        /// The field's flat name (`bill.amount`).
        field: String,
    },
}

/// `let NAME = call TOOL(...) where COND` of the plan, in the envelope
/// (checked by [`crate::assume`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResultAssumption {
    /// The tool whose results it is about.
    pub tool: String,
    /// The result's name in the plan (`bill`).
    pub result: String,
    /// The fields it names, by flat name (`bill.amount`).
    pub fields: BTreeMap<String, AssumedField>,
    /// The condition, over the flat names.
    pub cond: Cond,
    /// The condition as the plan writes it.
    pub text: String,
    /// Where the plan writes it.
    pub at: Location,
}

/// A field of a result an assumption names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssumedField {
    /// Members of the result's JSON object, outermost first (empty: the
    /// result itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// An index into the list the path leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The type the assumption's comparisons give it.
    #[serde(rename = "type")]
    pub ty: ParamType,
}

/// A param of the plan, carried with its condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParamDecl {
    /// The param's name in the plan.
    pub name: String,
    /// The type its value must have.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// The `where` condition its value must meet, over the param's name;
    /// `None`: any value of its type.
    #[serde(rename = "where")]
    pub condition: Option<Cond>,
}

/// `at most N PATTERN` of the spec, for a pattern some plan step matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountLimit {
    /// N: how many allowed actions of the run may match the pattern. On
    /// the wire, `at_most` (docs/token-format.md, `limits`).
    pub limit: u64,
    /// The actions counted. On the wire, `of`.
    pub pattern: Pattern,
    /// Where the spec writes the rule, named in the refusal.
    pub rule: Location,
}

/// Which temporal rule an ordering constraint comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// `never ACTION after OTHER`.
    Never,
    /// `require ACTION before OTHER`.
    Require,
}

/// A `never`/`require` rule that the plan's steps touch, kept so the run is
/// monitored in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRule {
    /// `never` or `require`.
    pub kind: OrderKind,
    /// ACTION: for `never`, what may not happen after `other`; for
    /// `require`, what must happen before `other`.
    pub action: Pattern,
    /// OTHER: for `never`, what rules `action` out once it has happened;
    /// for `require`, what may happen only once `action` has.
    pub other: Pattern,
    /// Where the spec writes the rule, named in the refusal.
    pub rule: Location,
}

/// Why the envelope does not permit an action: a value that names the
/// action and, for a param, which one; `Display` renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPermitted {
    /// No grant (nor baseline pattern) covers the action.
    #[error("`{action}` is outside the envelope")]
    Outside {
        /// The refused action.
        action: Box<ConcreteAction>,
    },
    /// A grant covers it, but the value of `param` does not meet the
    /// param's `where` condition (or its type).
    #[error("`{action}`: param `{param}` does not meet its condition")]
    ParamCondition {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// The param whose value fails.
        param: String,
    },
    /// A grant covers it, but `param` took another value earlier in the run.
    #[error("`{action}`: param `{param}` already has the value {bound}")]
    ParamRebound {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// The param.
        param: String,
        /// The value the param took first, which it keeps for the run.
        bound: Value,
    },
}

/// Where a spec rule was written (`banking.spec:12:3`), for messages. Like
/// a syntax tree's span it takes no part in equality or hashing: two
/// envelopes are equal when they grant the same.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Location {
    /// The file as the user named it (`<generated>` for rules built by
    /// programs).
    pub file: String,
    /// The line, from 1 (0 when unknown).
    pub line: u32,
    /// The column in characters, from 1 (0 when unknown).
    pub col: u32,
}

impl Location {
    /// A location for rules built by programs rather than read from a file.
    pub fn synthetic() -> Location {
        Location {
            file: "<generated>".into(),
            line: 0,
            col: 0,
        }
    }
}

impl PartialEq for Location {
    fn eq(&self, _: &Location) -> bool {
        true
    }
}
impl Eq for Location {}
impl std::hash::Hash for Location {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl std::str::FromStr for Location {
    type Err = std::convert::Infallible;
    /// `FILE:LINE:COL`; text that is not is kept whole as the file.
    fn from_str(s: &str) -> Result<Location, Self::Err> {
        let mut parts = s.rsplitn(3, ':');
        let (col, line, file) = (parts.next(), parts.next(), parts.next());
        Ok(
            match (
                file,
                line.and_then(|l| l.parse().ok()),
                col.and_then(|c| c.parse().ok()),
            ) {
                (Some(file), Some(line), Some(col)) => Location {
                    file: file.to_owned(),
                    line,
                    col,
                },
                _ => Location {
                    file: s.to_owned(),
                    line: 0,
                    col: 0,
                },
            },
        )
    }
}

/// Values of params seen so far in a run (a param has one value per run).
pub type Bindings = BTreeMap<String, Field>;

impl Envelope {
    /// Sorts the file, exec, connect and listen grants and drops repeats
    /// (one spelling per set of grants, for digests and comparisons).
    pub fn sort_grants(&mut self) {
        self.files.sort();
        self.files.dedup();
        self.exec.sort();
        self.exec.dedup();
        self.connect.sort();
        self.connect.dedup();
        self.listen.sort();
        self.listen.dedup();
        self.unix.sort();
        self.unix.dedup();
    }

    /// Whether the envelope grants one action, ignoring order and counts
    /// (the token monitor tracks those for a run). Params bound by earlier
    /// actions must keep their value; a first use binds the param when its
    /// condition holds. Baseline patterns grant too.
    pub fn permits(&self, a: &ConcreteAction) -> Result<(), NotPermitted> {
        let mut b = Bindings::new();
        self.permits_with(a, &mut b)
    }

    /// [`Envelope::permits`] with the run's param bindings.
    pub fn permits_with(
        &self,
        a: &ConcreteAction,
        bindings: &mut Bindings,
    ) -> Result<(), NotPermitted> {
        let mut first_err = None;
        let mut try_bind = |pairs: Vec<(&str, &Field)>| -> bool {
            let mut trial = bindings.clone();
            for (param, f) in pairs {
                match self.bind(param, f, &mut trial) {
                    Ok(()) => {}
                    Err(e) => {
                        if first_err.is_none() {
                            first_err = Some(e);
                        }
                        return false;
                    }
                }
            }
            *bindings = trial;
            true
        };
        let path = a.path();
        // A path target: covered, or a param bound to the path.
        let mut path_ok = |target: &PathTarget| match target {
            PathTarget::Param { param } => a
                .field("path")
                .is_some_and(|f| try_bind(vec![(param.as_str(), f)])),
            t => path.is_some_and(|p| t.covers(p)),
        };
        match a.kind {
            ActionKind::Read | ActionKind::Write | ActionKind::Delete => {
                // Paths first and inline (the hot case: a read under a
                // tree); a param target needs the closure that binds it.
                let access = FileAccess::of(a.kind);
                for g in self.files.iter().filter(|g| Some(g.access) == access) {
                    let ok = match &g.target {
                        PathTarget::Param { .. } => path_ok(&g.target),
                        t => path.is_some_and(|p| t.covers(p)),
                    };
                    if ok {
                        return Ok(());
                    }
                }
            }
            ActionKind::Connect | ActionKind::Listen if a.is_unix_socket() => {
                let op = UnixOp::of(a.kind);
                for g in self.unix.iter().filter(|g| Some(g.op) == op) {
                    if path_ok(&g.target) {
                        return Ok(());
                    }
                }
            }
            ActionKind::Exec => {
                let argv: Vec<Field> = match a.field("argv").map(|f| &f.value) {
                    Some(Value::List(vs)) => vs.iter().cloned().map(Field::new).collect(),
                    _ => Vec::new(),
                };
                for g in &self.exec {
                    let mut pairs = Vec::new();
                    let prog_ok = match &g.program {
                        PathTarget::Param { param } => match a.field("path") {
                            Some(f) => {
                                pairs.push((param.as_str(), f));
                                true
                            }
                            None => false,
                        },
                        t => path.is_some_and(|p| t.covers(p)),
                    };
                    if !prog_ok {
                        continue;
                    }
                    let argv_ok = match &g.argv {
                        None => true,
                        Some(ms) if ms.len() == argv.len() => ms
                            .iter()
                            .zip(&argv)
                            .all(|(m, v)| value_ok(m, v, &mut pairs)),
                        Some(_) => false,
                    };
                    if argv_ok && try_bind(pairs) {
                        return Ok(());
                    }
                }
            }
            ActionKind::Connect => {
                let target = a.field("ip").or_else(|| a.field("host"));
                let port = a.field("port");
                for g in &self.connect {
                    let mut pairs = Vec::new();
                    let ok = match (target, port) {
                        (Some(t), Some(p)) => {
                            value_ok(&g.host, t, &mut pairs) && value_ok(&g.port, p, &mut pairs)
                        }
                        _ => false,
                    };
                    if ok && try_bind(pairs) {
                        return Ok(());
                    }
                }
            }
            ActionKind::Listen => {
                for g in &self.listen {
                    let mut pairs = Vec::new();
                    if let Some(p) = a.field("port")
                        && value_ok(&g.port, p, &mut pairs)
                        && try_bind(pairs)
                    {
                        return Ok(());
                    }
                }
            }
            ActionKind::Call => {
                for g in self
                    .calls
                    .iter()
                    .filter(|g| Some(g.name.as_str()) == a.call.as_deref())
                {
                    if g.args.len() != a.fields.len() {
                        continue;
                    }
                    let mut pairs = Vec::new();
                    let ok = g.args.iter().all(|(k, m)| {
                        a.fields.get(k).is_some_and(|f| match m {
                            ValueMatch::Assumed { field } => self.assumed_ok(field, f),
                            m => value_ok(m, f, &mut pairs),
                        })
                    });
                    if ok && try_bind(pairs) {
                        return Ok(());
                    }
                }
            }
        }
        if self.baseline.iter().any(|p| p.matches(a)) {
            return Ok(());
        }
        Err(match first_err {
            Some(e) => e.refusal(a),
            None => NotPermitted::Outside {
                action: Box::new(a.clone()),
            },
        })
    }

    /// Binds `param` to `f` in `b` when its condition holds and it is not
    /// bound to another value.
    fn bind(&self, param: &str, f: &Field, b: &mut Bindings) -> Result<(), BindError> {
        if let Some(prev) = b.get(param) {
            if value_eq(&prev.value, &f.value) {
                return Ok(());
            }
            return Err(BindError::Rebound(param.to_string(), prev.value.clone()));
        }
        let decl = self.params.iter().find(|p| p.name == param);
        b.insert(param.to_string(), f.clone());
        let ok = decl.is_some_and(|d| {
            type_ok(d.ty, &f.value) && d.condition.as_ref().is_none_or(|c| c.eval(&*b))
        });
        if ok {
            Ok(())
        } else {
            b.remove(param);
            Err(BindError::Condition(param.to_string()))
        }
    }
}

enum BindError {
    Condition(String),
    Rebound(String, Value),
}

impl BindError {
    fn refusal(self, a: &ConcreteAction) -> NotPermitted {
        let action = Box::new(a.clone());
        match self {
            BindError::Condition(param) => NotPermitted::ParamCondition { action, param },
            BindError::Rebound(param, bound) => NotPermitted::ParamRebound {
                action,
                param,
                bound,
            },
        }
    }
}

/// Whether a concrete value has a param's type. A `path` must be absolute.
pub fn type_ok(ty: ParamType, v: &Value) -> bool {
    match (ty, v) {
        (ParamType::String, Value::String(_)) => true,
        (ParamType::Path, Value::String(s)) => s.starts_with('/'),
        (ParamType::Host, Value::String(s)) => is_host_name(s),
        (ParamType::Host, Value::Cidr(_)) => true,
        (ParamType::Number, Value::Number(_)) => true,
        (ParamType::Bool, Value::Bool(_)) => true,
        _ => false,
    }
}

fn value_ok<'a>(m: &'a ValueMatch, f: &'a Field, pairs: &mut Vec<(&'a str, &'a Field)>) -> bool {
    match m {
        ValueMatch::Exact { value } => match (value, &f.value) {
            (Value::Cidr(net), Value::Cidr(ip)) => cidr_contains(net, ip),
            (v, w) => value_eq(v, w),
        },
        ValueMatch::Param { param } => {
            pairs.push((param.as_str(), f));
            true
        }
        ValueMatch::Unknown { origin } => match origin {
            None => true,
            Some(o) => f.origin.as_deref() == Some(o.as_str()),
        },
        // Granted only as a call argument (checked there); anywhere else
        // it grants nothing.
        ValueMatch::Assumed { .. } => false,
    }
}

impl Envelope {
    /// Whether `f`, in the place of the assumed field `field`, is a value
    /// the proof covered ([`crate::assume`]).
    fn assumed_ok(&self, field: &str, f: &Field) -> bool {
        self.assumptions
            .iter()
            .find(|a| a.fields.contains_key(field))
            .is_some_and(|a| a.value_ok(field, f))
    }
}

/// The banking example's `amount` param, for examples, tests and benches:
/// `param amount: number where amount > 0 and amount <= 100`.
#[doc(hidden)]
pub fn example_amount_param() -> ParamDecl {
    use crate::cond::{Cond, Operand};
    use crate::vocab::{CmpOp, ParamType};
    let cmp = |op, bound: i64| Cond::Cmp {
        op,
        lhs: Operand::field("amount"),
        rhs: Operand::value(bound),
    };
    ParamDecl {
        name: "amount".into(),
        ty: ParamType::Number,
        condition: Some(Cond::And {
            all: vec![cmp(CmpOp::Gt, 0), cmp(CmpOp::Le, 100)],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::CmpOp;
    use rust_decimal::Decimal;

    fn num(n: i64) -> Value {
        Value::Number(Decimal::from(n))
    }

    fn bank() -> Envelope {
        let mut env = Envelope::default();
        env.params.push(example_amount_param());
        env.calls.push(CallGrant {
            name: "send_money".into(),
            args: [
                (
                    "recipient".to_string(),
                    ValueMatch::Exact {
                        value: Value::String("UK1".into()),
                    },
                ),
                (
                    "amount".to_string(),
                    ValueMatch::Param {
                        param: "amount".into(),
                    },
                ),
                (
                    "subject".to_string(),
                    ValueMatch::Unknown {
                        origin: Some("read_file".into()),
                    },
                ),
            ]
            .into_iter()
            .collect(),
        });
        env
    }

    fn send(recipient: &str, amount: i64, origin: &str) -> ConcreteAction {
        ConcreteAction::call(
            "send_money",
            [
                ("recipient", Field::new(Value::String(recipient.into()))),
                ("amount", Field::new(num(amount))),
                (
                    "subject",
                    Field::from_call(Value::String("x".into()), origin),
                ),
            ],
        )
    }

    #[test]
    fn calls_with_params_and_origins() {
        let env = bank();
        assert!(env.permits(&send("UK1", 50, "read_file")).is_ok());
        assert!(matches!(
            env.permits(&send("UK1", 500, "read_file")),
            Err(NotPermitted::ParamCondition { .. })
        ));
        assert!(env.permits(&send("US9", 50, "read_file")).is_err());
        assert!(env.permits(&send("UK1", 50, "web_page")).is_err());
        let mut b = Bindings::new();
        assert!(
            env.permits_with(&send("UK1", 50, "read_file"), &mut b)
                .is_ok()
        );
        assert!(matches!(
            env.permits_with(&send("UK1", 60, "read_file"), &mut b),
            Err(NotPermitted::ParamRebound { .. })
        ));
    }

    #[test]
    fn files_network_and_baseline() {
        let mut env = Envelope::default();
        env.files.push(FileGrant {
            access: FileAccess::Write,
            target: PathTarget::Exact {
                path: "/tmp/out".into(),
            },
        });
        env.connect.push(ConnectGrant {
            host: ValueMatch::Exact {
                value: Value::Cidr("140.82.112.0/20".parse().unwrap()),
            },
            port: ValueMatch::Exact { value: num(443) },
        });
        env.baseline.push(Pattern {
            kind: Some(ActionKind::Read),
            calls: None,
            when: Cond::Cmp {
                op: CmpOp::Under,
                lhs: crate::cond::Operand::field("path"),
                rhs: crate::cond::Operand::Value {
                    value: Value::String("/usr/lib/".into()),
                },
            },
        });
        assert!(
            env.permits(&ConcreteAction::write("/tmp/x/../out").unwrap())
                .is_ok()
        );
        assert!(
            env.permits(&ConcreteAction::read("/tmp/out").unwrap())
                .is_err()
        );
        assert!(
            env.permits(&ConcreteAction::read("/usr/lib/libc.so").unwrap())
                .is_ok()
        );
        assert!(
            env.permits(&ConcreteAction::connect("140.82.113.4", 443).unwrap())
                .is_ok()
        );
        assert!(
            env.permits(&ConcreteAction::connect("::ffff:140.82.113.4", 443).unwrap())
                .is_ok()
        );
        assert!(
            env.permits(&ConcreteAction::connect("140.82.113.4", 80).unwrap())
                .is_err()
        );
        assert!(
            env.permits(&ConcreteAction::connect("github.com", 443).unwrap())
                .is_err()
        );
    }

    #[test]
    fn unix_sockets_by_path() {
        let mut env = Envelope::default();
        env.unix.push(UnixGrant {
            op: UnixOp::Connect,
            target: PathTarget::Tree {
                dir: "/run/app".into(),
            },
        });
        env.unix.push(UnixGrant {
            op: UnixOp::Listen,
            target: PathTarget::Param { param: "s".into() },
        });
        env.params.push(ParamDecl {
            name: "s".into(),
            ty: ParamType::Path,
            condition: Some(Cond::Cmp {
                op: CmpOp::Under,
                lhs: crate::cond::Operand::field("s"),
                rhs: crate::cond::Operand::Value {
                    value: Value::String("/run/mine/".into()),
                },
            }),
        });
        let connect = |p: &str| env.permits(&ConcreteAction::connect_unix(p).unwrap());
        let listen = |p: &str| env.permits(&ConcreteAction::listen_unix(p).unwrap());
        assert!(connect("/run/app/db.sock").is_ok());
        assert!(connect("/run/app/x/../y.sock").is_ok());
        assert!(connect("/run/app/../docker.sock").is_err());
        assert!(connect("/var/run/docker.sock").is_err());
        // A connect grant is not a listen grant, nor a file grant.
        assert!(listen("/run/app/db.sock").is_err());
        assert!(
            env.permits(&ConcreteAction::write("/run/app/db.sock").unwrap())
                .is_err()
        );
        // The param binds to the socket path and must meet its condition.
        let mut b = Bindings::new();
        let own = ConcreteAction::listen_unix("/run/mine/api.sock").unwrap();
        assert!(env.permits_with(&own, &mut b).is_ok());
        assert!(matches!(
            listen("/tmp/api.sock"),
            Err(NotPermitted::ParamCondition { .. })
        ));
        let other = ConcreteAction::listen_unix("/run/mine/other.sock").unwrap();
        assert!(matches!(
            env.permits_with(&other, &mut b),
            Err(NotPermitted::ParamRebound { .. })
        ));
        // A network connect or listen is not a unix one.
        assert!(
            env.permits(&ConcreteAction::connect("10.0.0.1", 80).unwrap())
                .is_err()
        );
        assert!(env.permits(&ConcreteAction::listen(80)).is_err());
        // An action with a path and a port is neither: refused.
        let mut both = ConcreteAction::connect_unix("/run/app/db.sock").unwrap();
        both.fields
            .insert("port".into(), Field::new(Value::Number(Decimal::from(22))));
        assert!(env.permits(&both).is_err());
        // JSON: the `unix` list, and an older envelope without it.
        let j = serde_json::to_value(&env).unwrap();
        assert_eq!(j["unix"][0]["op"], "connect");
        assert_eq!(j["unix"][0]["target"]["shape"], "tree");
        let mut old = j.clone();
        old.as_object_mut().unwrap().remove("unix");
        let back: Envelope = serde_json::from_value(old).unwrap();
        assert!(back.unix.is_empty());
    }

    #[test]
    fn literal_argv_is_all_strings_or_nothing() {
        let s = |v: &str| ValueMatch::Exact {
            value: Value::String(v.into()),
        };
        let grant = |argv: Option<Vec<ValueMatch>>| ExecGrant {
            program: PathTarget::Exact {
                path: "/usr/bin/cargo".into(),
            },
            argv,
        };
        assert_eq!(
            grant(Some(vec![s("build"), s("--release")])).literal_argv(),
            Some(vec!["build", "--release"])
        );
        assert_eq!(grant(Some(vec![])).literal_argv(), Some(vec![]));
        assert_eq!(grant(None).literal_argv(), None);
        let param = ValueMatch::Param { param: "a".into() };
        assert_eq!(grant(Some(vec![s("-c"), param])).literal_argv(), None);
        let number = ValueMatch::Exact { value: num(1) };
        assert_eq!(grant(Some(vec![number])).literal_argv(), None);
    }

    #[test]
    fn json_round_trip() {
        let env = bank();
        let j = serde_json::to_string(&env).unwrap();
        let back: Envelope = serde_json::from_str(&j).unwrap();
        assert_eq!(env, back);
        assert!(j.contains(r#""match":"param""#));
    }
}
