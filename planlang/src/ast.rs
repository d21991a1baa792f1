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
    /// A literal: `"/tmp/out.txt"`, `443`, `true`, `15m`, `10.0.0.0/8`.
    Literal {
        /// The value as written.
        literal: Literal,
    },
    /// `[ITEM, ...]`: `["status", "--short"]`, `[]`.
    List {
        /// The items, in written order.
        items: Vec<Spanned<ValueExpr>>,
    },
    /// A name: a param, a `let` result, a spec constant or a field.
    Ref(Ref),
}

/// A name in a value position, with optional field access (`bill.subject`)
/// and an optional index (`argv[0]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ref {
    /// The name before any field or index (`bill` in `bill.subject`).
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
    Result {
        /// The tool called.
        tool: QName,
    },
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
        /// The operands, in written order.
        all: Vec<Spanned<CondExpr>>,
    },
    /// `a or b or c` (two or more operands).
    Or {
        /// The operands, in written order.
        any: Vec<Spanned<CondExpr>>,
    },
    /// `not COND`.
    Not {
        /// The negated condition.
        cond: Box<Spanned<CondExpr>>,
    },
    /// `lhs OP rhs` for every binary operator of the language.
    Compare {
        /// The operator: `==`, `<=`, `under`, `in`, `matches`, ...
        op: Spanned<CmpOp>,
        /// The left operand (`amount` in `amount <= 100`).
        lhs: Spanned<ValueExpr>,
        /// The right operand (`100` in `amount <= 100`).
        rhs: Spanned<ValueExpr>,
    },
    /// `has NAME`: the call passes that argument (or the action has that field).
    Has {
        /// The argument or field named after `has`.
        field: Ident,
    },
    /// `VALUE from call TOOL`: the value originates from that tool's result.
    FromCall {
        /// The value whose origin is asked about (`body` in `body from call
        /// read_inbox`).
        value: Spanned<ValueExpr>,
        /// The tool it must come from.
        tool: Spanned<QName>,
    },
    /// `true` / `false`, or a bool-valued name used as a condition.
    Value {
        /// The literal or name.
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
    /// `agent "NAME"`: who asks; it goes into the token and the audit log.
    pub agent: Option<Spanned<String>>,
    /// `goal "TEXT"`: the user's intent, for the audit log.
    pub goal: Option<Spanned<String>>,
    /// `ttl DURATION`: the token lifetime asked for (the spec's `max ttl`
    /// may cap it).
    pub ttl: Option<Spanned<Duration>>,
    /// The `param` declarations, in written order.
    pub params: Vec<Param>,
    /// The top-level steps, in written order.
    pub steps: Vec<Step>,
    /// The whole plan, from `plan` to its closing brace.
    pub span: Span,
}

/// `param NAME: TYPE [where CONDITION]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param {
    /// The param's name, unique in the plan.
    pub name: Ident,
    /// Its declared type: `string`, `number`, `path`, `host`, ...
    pub ty: Spanned<ParamType>,
    /// `where CONDITION`: what every value of the param meets, which the
    /// proof may rely on (`p under "/tmp/"`).
    #[serde(rename = "where")]
    pub condition: Option<Spanned<CondExpr>>,
    /// The whole declaration.
    pub span: Span,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Step {
    /// What the step is.
    pub kind: StepKind,
    /// The whole step (a block step's braces included).
    pub span: Span,
}

/// The kinds of plan step (the table "Steps" of `docs/language.md`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepKind {
    /// `read`, `write`, `delete`, `exec`, `connect`, `listen`, `call`.
    Action {
        /// The action.
        action: Action,
    },
    /// `let NAME = call TOOL(...) [where COND]`. The condition is an
    /// assumption about the result (its fields, `NAME.amount`): the proof
    /// may rely on it, and the result is checked against it when it
    /// arrives (see [`crate::assume`]).
    Let {
        /// The name the result is bound to (`bill`).
        name: Ident,
        /// The call whose result it names.
        call: Call,
        /// The assumption after `where`, if any.
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        assume: Option<Spanned<CondExpr>>,
    },
    /// `either { ... } or { ... } [or { ... }]` (two or more branches).
    Either {
        /// The branches, in written order; the agent takes one of them.
        branches: Vec<Block>,
    },
    /// `repeat N { ... }` or `repeat at most N { ... }`.
    Repeat {
        /// `N`: a whole number, 1 or more.
        count: Spanned<u64>,
        /// `repeat at most N`: the body runs 0 to `N` times; otherwise
        /// exactly `N` times.
        at_most: bool,
        /// The repeated block.
        body: Block,
    },
}

/// A `{ ... }` sequence of steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// The steps, in written order.
    pub steps: Vec<Step>,
    /// From the opening brace to the closing one.
    pub span: Span,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `read PATH`: open for reading. Never a change of the file's metadata.
    Read {
        /// The file: a literal path or glob, a param or a `let` result.
        path: Spanned<ValueExpr>,
    },
    /// `write PATH`: open for writing, create or truncate, and change the
    /// file's metadata (mode, owner, times, extended attributes).
    Write {
        /// The file: a literal path or glob, a param or a `let` result.
        path: Spanned<ValueExpr>,
    },
    /// `delete PATH`: unlink or rmdir.
    Delete {
        /// The file or directory: a literal path or glob, a param or a
        /// `let` result.
        path: Spanned<ValueExpr>,
    },
    /// `exec PATH [ARG, ...]`; `args` absent means any arguments.
    Exec {
        /// The program's path.
        program: Spanned<ValueExpr>,
        /// `argv[1..]`, exactly; `Some(vec![])` is `[]`, no arguments.
        args: Option<Vec<Spanned<ValueExpr>>>,
    },
    /// `connect HOST:PORT`; HOST is a name (string), an address or CIDR, or a
    /// param of type `host`.
    Connect {
        /// The host: a name, an address or CIDR, a `host` param or a `let`
        /// result.
        host: Spanned<ValueExpr>,
        /// The port: a whole number from 0 to 65535, or a name standing for
        /// one.
        port: Spanned<ValueExpr>,
    },
    /// `connect PATH`: connect (or send a datagram) to the pathname unix
    /// socket at PATH (a literal path or glob, a `path` param, a `let`
    /// result).
    ConnectUnix {
        /// The socket's path.
        path: Spanned<ValueExpr>,
    },
    /// `listen PORT`.
    Listen {
        /// The local port: a whole number from 0 to 65535, or a name
        /// standing for one.
        port: Spanned<ValueExpr>,
    },
    /// `listen PATH`: accept connections on a unix socket bound at PATH.
    /// The parser gives this to a string literal; loading gives it to a
    /// param of type `path` or `string` (`listen p`), which parses as
    /// [`Action::Listen`].
    ListenUnix {
        /// The socket's path.
        path: Spanned<ValueExpr>,
    },
    /// `call NAME(ARG = VALUE, ...)`: a tool call made through the
    /// orchestrator.
    Call(Call),
}

impl Action {
    /// The kind rules match the action by: a unix socket `connect` or
    /// `listen` is of the same kind as the network one.
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
    /// The tool: `send_money`, `github.create_pr`.
    pub name: Spanned<QName>,
    /// The arguments, in written order (each name at most once).
    pub args: Vec<Arg>,
}

/// `ARG = VALUE`: one argument of a [`Call`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Arg {
    /// The argument's name, as spec conditions name it (`recipient`).
    pub name: Ident,
    /// Its value: a literal, a list, a param or a `let` result.
    pub value: Spanned<ValueExpr>,
}

// ───────────────────────────── specs ─────────────────────────────

/// A spec: what a security team allows, denies, or wants approved.
/// Items keep their written order (for `fmt`); use the accessors to iterate
/// one kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Spec {
    /// `spec "NAME"`.
    pub name: Spanned<String>,
    /// The items of its block, in written order.
    pub items: Vec<SpecItem>,
    /// The whole spec, from `spec` to its closing brace.
    pub span: Span,
}

/// One item of a spec's block (the table "Specs" of `docs/language.md`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum SpecItem {
    /// `version N`: the spec's own version number, for people and the
    /// audit log.
    Version {
        /// `N`.
        version: Spanned<u64>,
    },
    /// `max ttl DURATION`: caps the lifetime of the tokens issued under
    /// the spec.
    MaxTtl {
        /// The cap (never zero once loaded).
        ttl: Spanned<Duration>,
    },
    /// `let NAME = VALUE`: a constant of this file.
    Let(LetConst),
    /// `include "FILE"`: the rules of another spec file, relative to this
    /// one.
    Include {
        /// The file as written.
        path: Spanned<String>,
    },
    /// An `allow`, `deny`, `approve`, `never`, `require` or `at most` rule.
    Rule(Rule),
    /// `baseline { PATTERN ... }`.
    Baseline(Baseline),
    /// `test "NAME" { ... }`.
    Test(TestCase),
}

impl Spec {
    /// The rules of this file, in written order (its includes' are
    /// [`LoadedSpec::rules`](crate::LoadedSpec::rules)).
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Rule(r) => Some(r),
            _ => None,
        })
    }
    /// The `let` constants of this file, in written order.
    pub fn lets(&self) -> impl Iterator<Item = &LetConst> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Let(l) => Some(l),
            _ => None,
        })
    }
    /// The `include` paths of this file, as written.
    pub fn includes(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Include { path } => Some(path),
            _ => None,
        })
    }
    /// The `baseline` blocks of this file.
    pub fn baselines(&self) -> impl Iterator<Item = &Baseline> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Baseline(b) => Some(b),
            _ => None,
        })
    }
    /// The `test` blocks of this file.
    pub fn tests(&self) -> impl Iterator<Item = &TestCase> {
        self.items.iter().filter_map(|i| match i {
            SpecItem::Test(t) => Some(t),
            _ => None,
        })
    }
    /// `version N`, if given (parsing refuses a second one).
    pub fn version(&self) -> Option<&Spanned<u64>> {
        self.items.iter().find_map(|i| match i {
            SpecItem::Version { version } => Some(version),
            _ => None,
        })
    }
    /// This file's `max ttl`, if given (parsing refuses a second one).
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
    /// The constant's name, unique in its file.
    pub name: Ident,
    /// Its value: a literal, a list, or other constants of the file.
    pub value: Spanned<ValueExpr>,
    /// The whole item.
    pub span: Span,
}

/// One rule of a spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// What the rule says.
    pub kind: RuleKind,
    /// The whole rule: what messages and the envelope point at.
    pub span: Span,
}

/// The kinds of rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RuleKind {
    /// `allow | deny | approve PATTERN [when COND]`.
    Effect {
        /// `allow`, `deny` or `approve`.
        effect: Spanned<Effect>,
        /// What it applies to, its `when` included.
        pattern: PatternExpr,
    },
    /// `never PATTERN after PATTERN`.
    Never {
        /// The first pattern: what may not happen.
        action: PatternExpr,
        /// The second: once it has happened.
        after: PatternExpr,
    },
    /// `require PATTERN before PATTERN`: on every path, `then` happens only
    /// after `first`.
    Require {
        /// What must have happened.
        first: PatternExpr,
        /// What may only happen after it.
        then: PatternExpr,
    },
    /// `at most N PATTERN`.
    AtMost {
        /// `N`; a loop counts every iteration.
        limit: Spanned<u64>,
        /// The actions counted.
        pattern: PatternExpr,
    },
    /// `approve each PATTERN`: at run time, every call it matches waits for
    /// a human's approval of that exact call (it grants nothing itself).
    ApproveEach {
        /// The calls that wait.
        pattern: PatternExpr,
    },
}

/// The effect of an `allow`, `deny` or `approve` rule. Deny beats approve,
/// which beats allow; an action no rule matches is denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// `allow`: the actions it matches are permitted.
    Allow,
    /// `deny`: the actions it matches are refused.
    Deny,
    /// `approve`: permitted once a human approves the plan.
    Approve,
}

impl Effect {
    /// The keyword: `allow`, `deny`, `approve`.
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
    /// The action kind and shorthand target, or the tools.
    pub matcher: PatternKind,
    /// `when COND` (for `connect` and `listen`, also written without
    /// `when`).
    #[serde(rename = "when")]
    pub condition: Option<Spanned<CondExpr>>,
    /// The whole pattern, its condition included.
    pub span: Span,
}

/// What a pattern matches before its `when` condition (the table
/// "Patterns" of `docs/language.md`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatternKind {
    /// `any`: every action.
    Any,
    /// `read`, `write`, `delete`, `exec`, with an optional path target.
    Path {
        /// `read`, `write`, `delete` or `exec`.
        action: ActionKind,
        /// `"/etc/passwd"` or `under "/tmp/"`, if given.
        target: Option<PathTargetExpr>,
    },
    /// `connect`, with an optional unix socket target (`connect under
    /// "/run/app/"`, `connect "/run/x.sock"`: the socket's `path`).
    Connect {
        /// The socket path target, if given (then no network connect
        /// matches).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<PathTargetExpr>,
    },
    /// `listen`, with an optional unix socket target.
    Listen {
        /// The socket path target, if given (then no port listen matches).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<PathTargetExpr>,
    },
    /// `call *` or `call a, b.c`.
    Call {
        /// The tools matched.
        calls: CallNames,
    },
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
    Exact {
        /// The path: a string literal or a constant.
        path: Spanned<ValueExpr>,
    },
    /// `read under "/usr/lib/"`: that directory or below it.
    Under {
        /// The directory: a string literal or a constant.
        path: Spanned<ValueExpr>,
    },
}

/// The tools a `call` pattern names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "calls", rename_all = "snake_case")]
pub enum CallNames {
    /// `call *`
    Any,
    /// `call a, b, c`
    Names {
        /// The tools, in written order.
        names: Vec<Spanned<QName>>,
    },
}

/// `baseline { PATTERN ... }`: runtime-only grants for every process.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Baseline {
    /// The patterns granted, in written order.
    pub patterns: Vec<PatternExpr>,
    /// The whole block.
    pub span: Span,
}

/// `test "NAME" { plan { STEPS } expect accept | reject | approve }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestCase {
    /// The test's name, as `warden test` reports it.
    pub name: Spanned<String>,
    /// The plan checked against the spec (usually anonymous).
    pub plan: Plan,
    /// The verdict the spec must give it.
    pub expect: Spanned<Expectation>,
    /// The whole block.
    pub span: Span,
}

/// The verdict a `test` block expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// `expect accept`: the plan is accepted as it is.
    Accept,
    /// `expect reject`: the plan is refused.
    Reject,
    /// `expect approve`: the plan needs a human's approval.
    Approve,
}

impl Expectation {
    /// The keyword after `expect`.
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
