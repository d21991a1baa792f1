//! The typed syntax trees of plans and specs.
//!
//! Every node that a message may point at carries a [`Span`]. Spans do not
//! take part in equality (see [`Span`]), so `parse(fmt(ast)) == ast`.
//!
//! Names are written as [`Ref`]s. The parser leaves them
//! [`RefKind::Unresolved`]; loading (`crate::load_plan`, `crate::load_spec`)
//! resolves each one or reports an error, so a loaded tree never holds an
//! unresolved name.

// Syntax trees are built once and read many times; boxing the large
// variants would only make matching on them noisier.
#![allow(clippy::large_enum_variant)]

use crate::span::{Ident, Span, Spanned};
use crate::value::{Duration, Literal};
use serde::{Deserialize, Serialize};
use std::fmt;
pub use warden_core::vocab::{ActionKind, BUILTIN_FIELDS, CmpOp, ParamType};

/// A dotted tool name: `send_money`, `github.create_pr`.
pub type QName = String;

// ───────────────────────────── values ─────────────────────────────

/// Anything that can stand in a value position: a literal, a list, or a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueExpr {
    Literal { literal: Literal },
    List { items: Vec<Spanned<ValueExpr>> },
    Ref(Ref),
}

/// A name in a value position, with optional field access (`bill.subject`)
/// and an optional index (`argv[0]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ref {
    pub name: Ident,
    /// `bill.subject.line` has fields `["subject", "line"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Ident>,
    /// `argv[0]` has index 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Spanned<u32>>,
    /// What the name refers to, filled in by name resolution.
    pub resolved: RefKind,
}

/// What a [`Ref`] refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum RefKind {
    /// Not yet resolved (only ever seen between parsing and loading).
    Unresolved,
    /// In a plan: a `param`.
    Param,
    /// In a plan: the result of `let NAME = call TOOL(...)`; its content is
    /// unknown, its origin is `tool`.
    Result { tool: QName },
    /// In a spec: a `let` constant.
    Const,
    /// In a spec condition: a field of the action (`path`, `argv`, `host`,
    /// `ip`, `port`) or an argument of a call (`recipient`).
    Field,
}

// ───────────────────────────── conditions ─────────────────────────────

/// A boolean condition: a rule's `when`, a param's `where`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CondExpr {
    /// `a and b and c` (two or more operands; parentheses nest).
    And {
        all: Vec<Spanned<CondExpr>>,
    },
    /// `a or b or c` (two or more operands).
    Or {
        any: Vec<Spanned<CondExpr>>,
    },
    Not {
        cond: Box<Spanned<CondExpr>>,
    },
    /// `lhs OP rhs` for every binary operator of the language.
    Compare {
        op: Spanned<CmpOp>,
        lhs: Spanned<ValueExpr>,
        rhs: Spanned<ValueExpr>,
    },
    /// `has NAME`: the call passes that argument (or the action has that field).
    Has {
        field: Ident,
    },
    /// `VALUE from call TOOL`: the value originates from that tool's result.
    FromCall {
        value: Spanned<ValueExpr>,
        tool: Spanned<QName>,
    },
    /// `true` / `false`, or a bool-valued name used as a condition.
    Value {
        value: Spanned<ValueExpr>,
    },
}

// ───────────────────────────── actions ─────────────────────────────

// ───────────────────────────── plans ─────────────────────────────

/// A plan: what one agent intends to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plan {
    /// `plan "NAME" { ... }`; absent for the anonymous `plan { ... }` of a
    /// spec's `test` block.
    pub name: Option<Spanned<String>>,
    pub agent: Option<Spanned<String>>,
    pub goal: Option<Spanned<String>>,
    pub ttl: Option<Spanned<Duration>>,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    pub span: Span,
}

/// `param NAME: TYPE [where CONDITION]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param {
    pub name: Ident,
    pub ty: Spanned<ParamType>,
    #[serde(rename = "where")]
    pub condition: Option<Spanned<CondExpr>>,
    pub span: Span,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepKind {
    /// `read`, `write`, `delete`, `exec`, `connect`, `listen`, `call`.
    Action { action: Action },
    /// `let NAME = call TOOL(...) [where COND]`. The condition is an
    /// assumption about the result (its fields, `NAME.amount`): the proof
    /// may rely on it, and the result is checked against it when it
    /// arrives (see [`crate::assume`]).
    Let {
        name: Ident,
        call: Call,
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        assume: Option<Spanned<CondExpr>>,
    },
    /// `either { ... } or { ... } [or { ... }]` (two or more branches).
    Either { branches: Vec<Block> },
    /// `repeat N { ... }` or `repeat at most N { ... }`.
    Repeat {
        count: Spanned<u64>,
        at_most: bool,
        body: Block,
    },
}

/// A `{ ... }` sequence of steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    pub steps: Vec<Step>,
    pub span: Span,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `read PATH`: open for reading. Never a change of the file's metadata.
    Read {
        path: Spanned<ValueExpr>,
    },
    /// `write PATH`: open for writing, create or truncate, and change the
    /// file's metadata (mode, owner, times, extended attributes).
    Write {
        path: Spanned<ValueExpr>,
    },
    /// `delete PATH`: unlink or rmdir.
    Delete {
        path: Spanned<ValueExpr>,
    },
    /// `exec PATH [ARG, ...]`; `args` absent means any arguments.
    Exec {
        program: Spanned<ValueExpr>,
        args: Option<Vec<Spanned<ValueExpr>>>,
    },
    /// `connect HOST:PORT`; HOST is a name (string), an address or CIDR, or a
    /// param of type `host`.
    Connect {
        host: Spanned<ValueExpr>,
        port: Spanned<ValueExpr>,
    },
    /// `connect PATH`: connect (or send a datagram) to the pathname unix
    /// socket at PATH (a literal path or glob, a `path` param, a `let`
    /// result).
    ConnectUnix {
        path: Spanned<ValueExpr>,
    },
    /// `listen PORT`.
    Listen {
        port: Spanned<ValueExpr>,
    },
    /// `listen PATH`: accept connections on a unix socket bound at PATH.
    /// The parser gives this to a string literal; loading gives it to a
    /// param of type `path` or `string` (`listen p`), which parses as
    /// [`Action::Listen`].
    ListenUnix {
        path: Spanned<ValueExpr>,
    },
    Call(Call),
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Read { .. } => ActionKind::Read,
            Action::Write { .. } => ActionKind::Write,
            Action::Delete { .. } => ActionKind::Delete,
            Action::Exec { .. } => ActionKind::Exec,
            Action::Connect { .. } | Action::ConnectUnix { .. } => ActionKind::Connect,
            Action::Listen { .. } | Action::ListenUnix { .. } => ActionKind::Listen,
            Action::Call(_) => ActionKind::Call,
        }
    }
}

/// `NAME(ARG = VALUE, ...)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Call {
    pub name: Spanned<QName>,
    pub args: Vec<Arg>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Arg {
    pub name: Ident,
    pub value: Spanned<ValueExpr>,
}

// ───────────────────────────── specs ─────────────────────────────

/// A spec: what a security team allows, denies, or wants approved.
/// Items keep their written order (for `fmt`); use the accessors to iterate
/// one kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Spec {
    pub name: Spanned<String>,
    pub items: Vec<SpecItem>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum SpecItem {
    Version { version: Spanned<u64> },
    MaxTtl { ttl: Spanned<Duration> },
    Let(LetConst),
    Include { path: Spanned<String> },
    Rule(Rule),
    Baseline(Baseline),
    Test(TestCase),
}

impl Spec {
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Rule(r) => Some(r),
            _ => None,
        })
    }
    pub fn lets(&self) -> impl Iterator<Item = &LetConst> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Let(l) => Some(l),
            _ => None,
        })
    }
    pub fn includes(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Include { path } => Some(path),
            _ => None,
        })
    }
    pub fn baselines(&self) -> impl Iterator<Item = &Baseline> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Baseline(b) => Some(b),
            _ => None,
        })
    }
    pub fn tests(&self) -> impl Iterator<Item = &TestCase> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Test(t) => Some(t),
            _ => None,
        })
    }
    pub fn version(&self) -> Option<&Spanned<u64>> {
        self.items.iter().find_map(|i| match i {
            SpecItem::Version { version } => Some(version),
            _ => None,
        })
    }
    pub fn max_ttl(&self) -> Option<&Spanned<Duration>> {
        self.items.iter().find_map(|i| match i {
            SpecItem::MaxTtl { ttl } => Some(ttl),
            _ => None,
        })
    }
}

/// `let NAME = VALUE` in a spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LetConst {
    pub name: Ident,
    pub value: Spanned<ValueExpr>,
    pub span: Span,
}

/// One rule of a spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub kind: RuleKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RuleKind {
    /// `allow | deny | approve PATTERN [when COND]`.
    Effect {
        effect: Spanned<Effect>,
        pattern: PatternExpr,
    },
    /// `never PATTERN after PATTERN`.
    Never {
        action: PatternExpr,
        after: PatternExpr,
    },
    /// `require PATTERN before PATTERN`: on every path, `then` happens only
    /// after `first`.
    Require {
        first: PatternExpr,
        then: PatternExpr,
    },
    /// `at most N PATTERN`.
    AtMost {
        limit: Spanned<u64>,
        pattern: PatternExpr,
    },
    /// `approve each PATTERN`: at run time, every call it matches waits for
    /// a human's approval of that exact call (it grants nothing itself).
    ApproveEach { pattern: PatternExpr },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    Approve,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::Approve => "approve",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule matches: an action kind with an optional shorthand target and
/// an optional `when` condition. `write under "/tmp/"` is shorthand for
/// `write when path under "/tmp/"`; `exec "/usr/bin/git"` for
/// `exec when path == "/usr/bin/git"`; `connect under "/run/app/"` for
/// `connect when path under "/run/app/"` (unix sockets only: a network
/// connect has no `path`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatternExpr {
    pub matcher: PatternKind,
    #[serde(rename = "when")]
    pub condition: Option<Spanned<CondExpr>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatternKind {
    /// `any`: every action.
    Any,
    /// `read`, `write`, `delete`, `exec`, with an optional path target.
    Path {
        action: ActionKind,
        target: Option<PathTargetExpr>,
    },
    /// `connect`, with an optional unix socket target (`connect under
    /// "/run/app/"`, `connect "/run/x.sock"`: the socket's `path`).
    Connect {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<PathTargetExpr>,
    },
    /// `listen`, with an optional unix socket target.
    Listen {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<PathTargetExpr>,
    },
    /// `call *` or `call a, b.c`.
    Call { calls: CallNames },
}

impl PatternKind {
    /// The action kind the pattern is about (`None`: `any`).
    pub fn action(&self) -> Option<ActionKind> {
        match self {
            PatternKind::Any => None,
            PatternKind::Path { action, .. } => Some(*action),
            PatternKind::Connect { .. } => Some(ActionKind::Connect),
            PatternKind::Listen { .. } => Some(ActionKind::Listen),
            PatternKind::Call { .. } => Some(ActionKind::Call),
        }
    }

    /// The shorthand path target, for the kinds that take one.
    pub fn target(&self) -> Option<&PathTargetExpr> {
        match self {
            PatternKind::Path { target, .. }
            | PatternKind::Connect { target }
            | PatternKind::Listen { target } => target.as_ref(),
            PatternKind::Any | PatternKind::Call { .. } => None,
        }
    }
}

/// The shorthand target of a path pattern (or of a unix socket's path).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum PathTargetExpr {
    /// `read "/etc/ld.so.cache"`: exactly that path.
    Exact { path: Spanned<ValueExpr> },
    /// `read under "/usr/lib/"`: that directory or below it.
    Under { path: Spanned<ValueExpr> },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "calls", rename_all = "snake_case")]
pub enum CallNames {
    /// `call *`
    Any,
    /// `call a, b, c`
    Names { names: Vec<Spanned<QName>> },
}

/// `baseline { PATTERN ... }`: runtime-only grants for every process.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Baseline {
    pub patterns: Vec<PatternExpr>,
    pub span: Span,
}

/// `test "NAME" { plan { STEPS } expect accept | reject | approve }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestCase {
    pub name: Spanned<String>,
    pub plan: Plan,
    pub expect: Spanned<Expectation>,
    pub span: Span,
}

/// The verdict a `test` block expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Accept,
    Reject,
    Approve,
}

impl Expectation {
    pub fn as_str(self) -> &'static str {
        match self {
            Expectation::Accept => "accept",
            Expectation::Reject => "reject",
            Expectation::Approve => "approve",
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
