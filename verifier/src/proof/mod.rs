//! The proven envelope is the enforced one: what the kernel layers of an
//! enforcement profile really enforce for an envelope, and the proof that
//! it stays inside the spec.
//!
//! A kernel layer can only express certain shapes: Landlock knows files and
//! directory trees (not `*.tmp` inside a directory), TCP ports (not
//! addresses), and programs (not their arguments).
//! [`enforced_envelope`](warden_core::shape::enforced_envelope) turns an
//! envelope into the envelope a [`Profile`](warden_core::shape::Profile)'s
//! layers enforce, every
//! shape widened the way the layers widen it, and [`prove`] asks the
//! verifier whether any action that the enforced envelope permits but the
//! original one does not is refused by the spec (denied, left unallowed, or
//! in need of a human's approval). If one is, the profile is refused with
//! that action as its counterexample (`write "/tmp/out/evil.sh"`), the rule
//! and its span.
//!
//! The proof reuses the verifier itself: each widened grant becomes a
//! one-step plan whose param ranges over the widened shape minus the
//! original grants (`param p: path where p under "/tmp/out" and not p
//! matches "^/tmp/out/[^/]*\.tmp$"`), built as a syntax tree from typed
//! parts (the private module `query`) and checked with
//! [`CompiledSpec::check`] for every value of the param. Witnesses are
//! re-checked concretely against both envelopes; a spurious one refuses
//! (fail closed).
//!
//! ```
//! use verifier::proof::prove;
//! use warden_core::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! use warden_core::shape::{Profile, enforced_envelope};
//! let mut env = Envelope::default();
//! env.files.push(FileGrant {
//!     access: FileAccess::Write,
//!     target: PathTarget::Glob { glob: "/tmp/out/*.tmp".into() },
//! });
//! let spec = planlang::load_spec_str(
//!     r#"spec "s" { allow write under "/tmp/out/" when path endswith ".tmp" }"#, "s.spec").unwrap();
//! let spec = verifier::CompiledSpec::compile(&spec).unwrap();
//! // Landlock alone widens the glob to the tree `/tmp/out`: refused.
//! let wide = enforced_envelope(&env, Profile::Unprivileged);
//! let refused = prove(&spec, &env, &wide).unwrap().unwrap_err();
//! assert!(refused.action.starts_with("write \"/tmp/out/"));
//! // BPF LSM enforces the suffix exactly: proven.
//! let exact = enforced_envelope(&env, Profile::RootBpfLsm);
//! assert!(prove(&spec, &env, &exact).unwrap().is_ok());
//! ```

use warden_core::action::ConcreteAction;
use warden_core::shape::{
    baseline_targets, describe_match, describe_target, glob_base, loader_targets, parent_dir,
    quote, tree_regex,
};

mod query;

use crate::check::CheckError;
use crate::compile::{ActionVerdict, CompiledSpec, Options};
use crate::report::{Reason, Verdict};
use planlang::Span;
use planlang::ast::{ActionKind, ParamType};
pub use query::QueryError;
use query::{PathCond, Query, Slot, covers};
use serde::{Deserialize, Serialize};
use std::fmt;
use warden_core::cond::Cond;
use warden_core::envelope::Envelope;
use warden_core::envelope::ExecGrant;
use warden_core::envelope::PathTarget;
use warden_core::envelope::ValueMatch;
use warden_core::value::Value;
// The likely counterexamples of a widened path grant, as the run-start
// check picks its witnesses.
use warden_core::within::path_candidates;

/// The least solver bound of each question of a proof, in milliseconds:
/// proving happens when a token is issued, off the hot path, so a loaded
/// machine must not refuse a profile for lack of time (a timeout still
/// refuses it). A spec whose own bound is longer keeps it.
pub const PROOF_TIMEOUT_MS: u32 = 30_000;

/// An action the enforced envelope lets through that the spec refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WideningCounterexample {
    /// The enforced grant that lets it through (`write under "/tmp/out"`).
    pub grant: String,
    /// The action, with the witness substituted (`write "/tmp/out/evil.sh"`).
    pub action: String,
    /// What the spec says of it.
    pub reason: Reason,
    /// Whether a human would have to approve it (not a refusal by a rule).
    pub needs_approval: bool,
    /// The spec rule, when one decides it.
    pub rule: Option<Span>,
    /// The rule as written.
    pub rule_text: Option<String>,
}

impl fmt::Display for WideningCounterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self.reason, Reason::Timeout | Reason::CouldNotProve) && !self.needs_approval {
            return write!(
                f,
                "the kernel would enforce `{}`, which could not be proven inside the spec: {}",
                self.grant,
                self.reason.describe()
            );
        }
        write!(
            f,
            "the kernel would enforce `{}`, which lets `{}` through",
            self.grant, self.action
        )?;
        let why = if self.needs_approval {
            "which needs a human's approval"
        } else {
            self.reason.describe()
        };
        match (&self.rule, &self.rule_text) {
            (Some(span), Some(text)) => write!(f, ": {why} (spec rule {span} `{text}`)"),
            (Some(span), None) => write!(f, ": {why} (spec rule {span})"),
            _ => write!(f, ": {why}"),
        }
    }
}

/// Why an enforced envelope could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// A question's one-step plan could not be checked.
    #[error("the proof of the enforced envelope could not be checked: {0}")]
    Check(#[from] CheckError),
    /// A value of the enforced envelope cannot be written as a question.
    #[error("the proof of the enforced envelope could not build its question: {0}")]
    Query(#[from] QueryError),
}

/// A baseline pattern of `kind` as a condition on `p`: its plain
/// `path == "..."` / `path under "..."` parts ([`baseline_grants`]).
fn baseline_cond(cond: &Cond) -> Option<PathCond> {
    let mut targets = Vec::new();
    baseline_targets(cond, &mut targets);
    let parts: Vec<PathCond> = targets
        .iter()
        .filter_map(|t| match t {
            PathTarget::Tree { dir } if dir == "/" => Some(PathCond::True),
            PathTarget::Tree { dir } => Some(PathCond::Under(dir.clone())),
            PathTarget::Exact { path } => Some(PathCond::Eq(path.clone())),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| PathCond::any(parts))
}

/// The original envelope's grants of `kind` on paths (files, programs with
/// any arguments, unix sockets), as a condition on `p`.
fn original_cond(original: &Envelope, kind: ActionKind) -> PathCond {
    let mut parts: Vec<PathCond> = Vec::new();
    match kind {
        ActionKind::Exec => {
            for g in original.exec.iter().filter(|g| g.argv.is_none()) {
                parts.extend(covers(&g.program));
            }
        }
        ActionKind::Connect | ActionKind::Listen => {
            for g in original.unix.iter().filter(|g| g.op.kind() == kind) {
                parts.extend(covers(&g.target));
            }
        }
        _ => {
            for g in original.files.iter().filter(|g| g.access.kind() == kind) {
                parts.extend(covers(&g.target));
            }
        }
    }
    for b in original.baseline.iter().filter(|b| b.kind == Some(kind)) {
        parts.extend(baseline_cond(&b.when));
    }
    PathCond::any(parts)
}

/// One question of the proof: a one-step plan over a widened grant.
struct Question {
    /// The enforced grant, for people.
    grant: String,
    /// The one-step plan.
    plan: Query,
    /// The same plan over plainly spelled paths only, asked for a readable
    /// counterexample once `plan` is refused.
    plain: Option<Query>,
    /// Only an explicit `deny` refuses (a program's read, implied by exec).
    deny_only: bool,
    /// Concrete actions of the widened grant, judged first: a refusal found
    /// among them is a counterexample at once, without the solver (which
    /// still proves every grant no candidate refutes).
    candidates: Vec<ConcreteAction>,
    /// How to rebuild the concrete action from the witness of `p`.
    kind: ActionKind,
}

fn path_question(
    original: &Envelope,
    kind: ActionKind,
    target: &PathTarget,
    deny_only: bool,
) -> Option<Question> {
    let word = kind.as_str();
    let grant = format!("{word} {}", describe_target(target));
    let inside = match (target, kind) {
        // Rights on a tree let the run write, create and remove what is
        // inside it; the directory itself is created and removed in its
        // parent, and never opened for writing.
        (PathTarget::Tree { dir }, ActionKind::Write | ActionKind::Delete) => {
            PathCond::Matches(tree_regex(dir, true))
        }
        _ => covers(target)?,
    };
    let orig = original_cond(original, kind);
    let plan = |plain: bool| {
        let mut all = vec![inside.clone(), PathCond::normal()];
        if plain {
            all.push(PathCond::plain());
        }
        all.push(PathCond::Not(Box::new(orig.clone())));
        Query::Path {
            kind,
            cond: PathCond::And(all),
        }
    };
    Some(Question {
        grant,
        plan: plan(false),
        plain: Some(plan(true)),
        candidates: path_candidates(kind, target),
        deny_only,
        kind,
    })
}

/// The action of `kind` on `path` (an exec without arguments); `None` for a
/// kind without a path or a path that is not absolute.
fn path_action(kind: ActionKind, path: &str) -> Option<ConcreteAction> {
    ConcreteAction::path_action(kind, path).ok()
}

/// Argument lists of a program granted with any arguments, the likely
/// counterexamples.
const ANY_ARGV: &[&[&str]] = &[&[], &["--help"], &["-c", "id"]];

/// Arguments of the ELF loader run directly: it then runs that file.
const LOADER_ARGV: &[&[&str]] = &[&["/tmp/x"], &[]];

/// The questions whose answers prove `enforced` inside the spec, given that
/// `original` was proven (or approved) already.
fn questions(original: &Envelope, enforced: &Envelope) -> Vec<Question> {
    let mut qs = Vec::new();
    let loaders = loader_targets();
    for g in &enforced.files {
        if original.files.contains(g) {
            continue;
        }
        let kind = g.access.kind();
        // A program's read, implied by exec (the loader's included):
        // refused only by a `deny`.
        let deny_only = kind == ActionKind::Read
            && (loaders.contains(&g.target)
                || original.exec.iter().any(|e| match (&e.program, &g.target) {
                    (PathTarget::Exact { path: a }, PathTarget::Exact { path: b }) => a == b,
                    (a, b) => a == b || widened_from(a, b),
                }));
        qs.extend(path_question(original, kind, &g.target, deny_only));
    }
    // The plan's own programs first: their counterexample reads better.
    let mut execs: Vec<&ExecGrant> = enforced.exec.iter().collect();
    execs.sort_by_key(|g| loaders.contains(&g.program));
    for g in execs {
        if original.exec.contains(g) {
            continue;
        }
        let loader = loaders.contains(&g.program);
        match &g.program {
            PathTarget::Exact { path } => qs.push(Question {
                grant: if loader {
                    format!(
                        "exec {} with any arguments (the ELF loader, which every dynamic program runs: it runs any file it can read)",
                        quote(path)
                    )
                } else {
                    format!("exec {} with any arguments", quote(path))
                },
                plan: Query::Exec {
                    program: path.clone(),
                },
                plain: None,
                candidates: if loader { LOADER_ARGV } else { ANY_ARGV }
                    .iter()
                .filter_map(|argv| ConcreteAction::exec(path, argv).ok())
                .collect(),
                deny_only: false,
                kind: ActionKind::Exec,
            }),
            t => qs.extend(path_question(original, ActionKind::Exec, t, false)),
        }
    }
    for g in &enforced.unix {
        if !original.unix.contains(g) {
            qs.extend(path_question(original, g.op.kind(), &g.target, false));
        }
    }
    for g in &enforced.connect {
        if original.connect.contains(g) {
            continue;
        }
        let port = match &g.port {
            ValueMatch::Exact { value } => Slot::Value(value.clone()),
            _ => Slot::Param("port", ParamType::Number),
        };
        let host = match &g.host {
            ValueMatch::Exact {
                value: Value::Cidr(net),
            } if net.prefix_len() == 0 => Slot::Param("h", ParamType::Host),
            ValueMatch::Exact { value } => {
                // An exact host the original lacks cannot come from the
                // widening; ask about it as it is.
                let shown = match &port {
                    Slot::Value(v) => v.to_string(),
                    Slot::Param(name, _) => (*name).to_owned(),
                };
                qs.push(Question {
                    grant: format!("connect {value}:{shown}"),
                    plan: Query::Connect {
                        host: Slot::Value(value.clone()),
                        port,
                    },
                    plain: None,
                    candidates: Vec::new(),
                    deny_only: false,
                    kind: ActionKind::Connect,
                });
                continue;
            }
            _ => Slot::Param("h", ParamType::Host),
        };
        qs.push(Question {
            grant: format!(
                "connect {}:{}",
                describe_match(&g.host),
                describe_match(&g.port)
            ),
            plan: Query::Connect { host, port },
            plain: None,
            candidates: ["192.0.2.1", "2001:db8::1"]
                .iter()
                .filter_map(|ip| {
                    let port = match &g.port {
                        ValueMatch::Exact {
                            value: Value::Number(n),
                        } => n.to_string().parse::<u16>().ok()?,
                        _ => 443,
                    };
                    ConcreteAction::connect(ip, port).ok()
                })
                .collect(),
            deny_only: false,
            kind: ActionKind::Connect,
        });
    }
    for g in &enforced.listen {
        if original.listen.contains(g) {
            continue;
        }
        let plan = Query::Listen {
            port: match &g.port {
                ValueMatch::Exact { value } => Slot::Value(value.clone()),
                _ => Slot::Param("port", ParamType::Number),
            },
        };
        qs.push(Question {
            grant: format!("listen {}", describe_match(&g.port)),
            plan,
            plain: None,
            candidates: Vec::new(),
            deny_only: false,
            kind: ActionKind::Listen,
        });
    }
    qs
}

/// Whether `wide` is the tree a glob or exact `narrow` widens to.
fn widened_from(narrow: &PathTarget, wide: &PathTarget) -> bool {
    let PathTarget::Tree { dir } = wide else {
        return false;
    };
    match narrow {
        PathTarget::Glob { glob } => glob_base(glob) == *dir,
        PathTarget::Exact { path } => parent_dir(path) == *dir,
        _ => false,
    }
}

/// Proves `enforced` (what a profile's layers enforce for `original`)
/// inside the spec: `Ok(Ok(()))` when every action it permits beyond
/// `original` is allowed by the spec, `Ok(Err(counterexample))` when one is
/// not. `original` is the token's envelope, already proven (or approved).
pub fn prove(
    spec: &CompiledSpec,
    original: &Envelope,
    enforced: &Envelope,
) -> Result<Result<(), WideningCounterexample>, ProveError> {
    for q in questions(original, enforced) {
        if let Some(cx) = concrete_refusal(spec, original, enforced, &q) {
            return Ok(Err(cx));
        }
        let Some(cx) = ask(spec, original, &q, &q.plan)? else {
            continue;
        };
        // A readable witness when there is one (same grant, same spec).
        let plain = match &q.plain {
            Some(plain) => ask(spec, original, &q, plain).unwrap_or(None),
            None => None,
        };
        return Ok(Err(plain
            .filter(|p| p.reason != Reason::Timeout && p.reason != Reason::CouldNotProve)
            .unwrap_or(cx)));
    }
    Ok(Ok(()))
}

/// The first candidate of `q` that the enforced envelope permits, the
/// original does not, and the spec does not allow.
fn concrete_refusal(
    spec: &CompiledSpec,
    original: &Envelope,
    enforced: &Envelope,
    q: &Question,
) -> Option<WideningCounterexample> {
    for a in &q.candidates {
        if enforced.permits(a).is_err() || original.permits(a).is_ok() {
            continue;
        }
        let rule = |i: usize| {
            spec.effects
                .get(i)
                .map(|r| (r.span.clone(), r.text.clone()))
        };
        let (reason, needs_approval, rule) = match spec.verdict_of(a) {
            ActionVerdict::Allow(_) => continue,
            ActionVerdict::Deny(Some(i)) => (Reason::Denied, false, rule(i)),
            ActionVerdict::Deny(None) if !q.deny_only => (Reason::NothingAllows, false, None),
            ActionVerdict::Approve(i) if !q.deny_only => (Reason::NothingAllows, true, rule(i)),
            _ => continue,
        };
        return Some(WideningCounterexample {
            grant: q.grant.clone(),
            action: a.to_string(),
            reason,
            needs_approval,
            rule: rule.as_ref().map(|r| r.0.clone()),
            rule_text: rule.map(|r| r.1),
        });
    }
    None
}

/// One question: `None` when the spec allows every action of the plan.
fn ask(
    spec: &CompiledSpec,
    original: &Envelope,
    q: &Question,
    query: &Query,
) -> Result<Option<WideningCounterexample>, ProveError> {
    let plan = query.plan()?;
    let options = Options {
        timeout_ms: spec.options.timeout_ms.max(PROOF_TIMEOUT_MS),
        ..spec.options.clone()
    };
    let outcome = match spec.check_with(&plan, &options) {
        Ok(o) => o,
        // The widened shape holds nothing beyond the original grants.
        Err(CheckError::UnsatisfiableWhere { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if outcome.verdict == Verdict::Accept {
        return Ok(None);
    }
    let refusing = outcome
        .violations
        .iter()
        .find(|v| !q.deny_only || !matches!(v.reason, Reason::NothingAllows));
    if let Some(v) = refusing {
        // Re-checked concretely: a witness the original envelope grants is
        // not a widening (a flaw of the question): refused all the same.
        let spurious = witness_action(q.kind, v.witness.get("p"))
            .is_some_and(|a| original.permits(&a).is_ok());
        return Ok(Some(WideningCounterexample {
            grant: q.grant.clone(),
            action: v.action.clone().unwrap_or_else(|| q.grant.clone()),
            reason: if spurious {
                Reason::CouldNotProve
            } else {
                v.reason
            },
            needs_approval: false,
            rule: v.rule.clone(),
            rule_text: v.rule_text.clone(),
        }));
    }
    match outcome.approvals.first() {
        Some(a) if outcome.verdict == Verdict::Approve && !q.deny_only => {
            Ok(Some(WideningCounterexample {
                grant: q.grant.clone(),
                action: a.action.clone(),
                reason: Reason::NothingAllows,
                needs_approval: true,
                rule: Some(a.rule.clone()),
                rule_text: a.rule_text.clone(),
            }))
        }
        _ => Ok(None),
    }
}

/// The concrete action of a witness for the path param `p`.
fn witness_action(kind: ActionKind, p: Option<&String>) -> Option<ConcreteAction> {
    let path: String = serde_json::from_str(p?).ok()?;
    path_action(kind, &path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use planlang::ast::CmpOp;
    use warden_core::cond::Operand;
    use warden_core::envelope::{FileAccess, FileGrant, UnixGrant, UnixOp};
    use warden_core::shape::*;

    fn spec(src: &str) -> CompiledSpec {
        let loaded = planlang::load_spec_str(src, "t.spec").expect("test spec loads");
        let mut compiled = CompiledSpec::compile(&loaded).expect("test spec compiles");
        // A loaded machine must not turn a proof into a timeout.
        compiled.options.timeout_ms = 60_000;
        compiled
    }

    /// An envelope with the grants of `json` (the rest empty).
    pub(crate) fn env(json: serde_json::Value) -> Envelope {
        let mut base = serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        });
        for (k, v) in json.as_object().expect("an object") {
            base[k] = v.clone();
        }
        serde_json::from_value(base).expect("test envelope follows the schema")
    }

    /// Rules allowing the ELF loaders of this build to run (with any
    /// arguments).
    pub(crate) fn allow_loaders() -> String {
        let rules: Vec<String> = ELF_LOADERS
            .iter()
            .map(|l| format!("allow exec {}", quote(l)))
            .collect();
        rules.join("\n")
    }

    fn tmp_glob() -> Envelope {
        env(serde_json::json!({"files": [
            {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}
        ]}))
    }

    #[test]
    fn globs_widen_to_their_directory_without_the_lsm() {
        let e = tmp_glob();
        let wide = enforced_envelope(&e, Profile::Unprivileged);
        assert_eq!(
            wide.files[0].target,
            PathTarget::Tree {
                dir: "/tmp/out".into()
            }
        );
        assert_eq!(enforced_envelope(&e, Profile::Root), wide);
        let exact = enforced_envelope(&e, Profile::RootBpfLsm);
        assert_eq!(exact.files, e.files);
        // Same input, same output: the digest is stable.
        assert_eq!(
            canonical_json(&wide),
            canonical_json(&enforced_envelope(&e, Profile::Unprivileged))
        );
        assert_ne!(canonical_json(&wide), canonical_json(&exact));
    }

    #[test]
    fn new_files_exec_and_connect_widen_as_the_layers_do() {
        let e = env(serde_json::json!({
            "files": [
                {"access": "write", "target": {"shape": "exact", "path": "/srv/out/r.txt"}},
                {"access": "read", "target": {"shape": "param", "param": "p"}}
            ],
            "exec": [{"program": {"shape": "exact", "path": "/usr/bin/git"},
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "status"}}]}],
            "connect": [{"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                         "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}]
        }));
        let u = enforced_envelope(&e, Profile::Unprivileged);
        let targets: Vec<_> = u
            .files
            .iter()
            .map(|g| (g.access, g.target.clone()))
            .collect();
        assert!(targets.contains(&(
            FileAccess::Write,
            PathTarget::Tree {
                dir: "/srv/out".into()
            }
        )));
        assert!(targets.contains(&(
            FileAccess::Read,
            PathTarget::Exact {
                path: "/usr/bin/git".into()
            }
        )));
        // The param grant reaches no layer; the ELF loader is read to run.
        assert_eq!(targets.len(), 2 + ELF_LOADERS.len(), "{targets:?}");
        assert!(u.exec.iter().all(|g| g.argv.is_none()));
        assert_eq!(u.connect.len(), 2, "any IPv4 and any IPv6 address");
        let r = enforced_envelope(&e, Profile::Root);
        assert_eq!(r.connect, e.connect);
        assert_eq!(r.exec, e.exec, "literal arguments are enforced as they are");
        assert!(r.calls.is_empty() && r.params.is_empty());
    }

    #[test]
    fn a_widening_inside_what_the_spec_allows_is_proven() {
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" }"#);
        let e = tmp_glob();
        for p in Profile::ALL {
            let enforced = enforced_envelope(&e, p);
            assert_eq!(prove(&s, &e, &enforced).unwrap(), Ok(()), "{p}");
        }
    }

    #[test]
    fn a_widening_the_spec_refuses_gives_a_witness_and_the_rule() {
        let s = spec(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  deny write under "/tmp/out/" when path endswith ".sh"
}"#,
        );
        let e = tmp_glob();
        let wide = enforced_envelope(&e, Profile::Unprivileged);
        let cx = prove(&s, &e, &wide).unwrap().unwrap_err();
        assert_eq!(cx.grant, "write under \"/tmp/out\"");
        assert!(cx.action.starts_with("write \"/tmp/out"), "{cx:?}");
        let path: String = cx.action["write ".len()..].trim_matches('"').to_owned();
        // The witness is in the widened tree, outside the original glob.
        assert!(wide.permits(&ConcreteAction::write(&path).unwrap()).is_ok());
        assert!(e.permits(&ConcreteAction::write(&path).unwrap()).is_err());
        assert!(matches!(cx.reason, Reason::Denied | Reason::NothingAllows));
        if cx.reason == Reason::Denied {
            assert_eq!(cx.rule.as_ref().map(|r| r.line), Some(3));
        }
        let shown = cx.to_string();
        assert!(shown.contains("lets `write \"/tmp/out/"), "{shown}");
        // With the LSM, the glob is enforced as it is: proven.
        let exact = enforced_envelope(&e, Profile::RootBpfLsm);
        assert_eq!(prove(&s, &e, &exact).unwrap(), Ok(()));
    }

    #[test]
    fn the_solver_finds_what_no_candidate_shows() {
        // Every likely candidate (`evil.sh`, `x`, `sub/x`) is allowed: the
        // refusal comes from the symbolic proof, with a re-checked witness.
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" when not path endswith ".key" }"#);
        let e = tmp_glob();
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.reason, Reason::NothingAllows, "{cx:?}");
        assert!(cx.action.ends_with(".key\""), "{cx:?}");
    }

    #[test]
    fn exec_with_fixed_arguments_widens_to_any_and_is_refused_when_the_spec_pins_them() {
        let s = spec(
            r#"spec "s" {
  allow exec "/usr/bin/git" when argv[0] in ["status"]
  allow read "/usr/bin/git"
}"#,
        );
        let e = env(serde_json::json!({
            "exec": [{"program": {"shape": "exact", "path": "/usr/bin/git"},
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "status"}}]}]
        }));
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.grant.contains("any arguments"), "{cx:?}");
        assert_eq!(
            cx.grant, "exec \"/usr/bin/git\" with any arguments",
            "{cx:?}"
        );
        // The root profiles check the exact argument list: proven.
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(
                prove(&s, &e, &enforced_envelope(&e, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
        let any = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/git"  {} }}"#,
            allow_loaders()
        ));
        // The program's read (and the loader's) is refused only by an
        // explicit deny.
        assert_eq!(
            prove(&any, &e, &enforced_envelope(&e, Profile::Unprivileged)).unwrap(),
            Ok(())
        );
        let denied = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/git"  {}  deny read under "/usr/bin/" }}"#,
            allow_loaders()
        ));
        let cx = prove(&denied, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.action, "read \"/usr/bin/git\"");
        assert_eq!(cx.reason, Reason::Denied);
    }

    #[test]
    fn connects_by_port_only_are_refused_unless_the_spec_allows_any_address() {
        let e = env(serde_json::json!({
            "connect": [{"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                         "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}]
        }));
        let s = spec(r#"spec "s" { allow connect host == "api.example" and port == 443 }"#);
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.action.starts_with("connect "), "{cx:?}");
        assert_eq!(
            prove(&s, &e, &enforced_envelope(&e, Profile::Root)).unwrap(),
            Ok(())
        );
        let any = spec(r#"spec "s" { allow connect port == 443 }"#);
        assert_eq!(
            prove(&any, &e, &enforced_envelope(&e, Profile::Unprivileged)).unwrap(),
            Ok(())
        );
    }

    fn unix(op: &str, target: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"op": op, "target": target})
    }

    fn exact(p: &str) -> serde_json::Value {
        serde_json::json!({"shape": "exact", "path": p})
    }

    fn tree(d: &str) -> serde_json::Value {
        serde_json::json!({"shape": "tree", "dir": d})
    }

    fn unix_grant(op: UnixOp, target: PathTarget) -> UnixGrant {
        UnixGrant { op, target }
    }

    fn under(d: &str) -> PathTarget {
        PathTarget::Tree { dir: d.into() }
    }

    #[test]
    fn unix_sockets_widen_as_each_profile_enforces_them() {
        let e = env(serde_json::json!({"unix": [
            unix("connect", exact("/run/pg/.s.PGSQL.5432")),
            unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*.sock"})),
            unix("connect", serde_json::json!({"shape": "param", "param": "p"})),
            unix("listen", exact("/run/mine/api.sock")),
            unix("listen", tree("/run/own")),
        ]}));
        // Without eBPF nothing tells one socket from another.
        let u = enforced_envelope(&e, Profile::Unprivileged);
        let want = vec![
            unix_grant(UnixOp::Connect, under("/")),
            unix_grant(UnixOp::Listen, under("/run/mine")),
            unix_grant(UnixOp::Listen, under("/run/own")),
        ];
        assert_eq!(u.unix, want);
        // With eBPF: exact paths and trees; a glob is its directory's
        // tree, a param reaches no layer; binding is per directory.
        let r = enforced_envelope(&e, Profile::Root);
        let want = vec![
            unix_grant(
                UnixOp::Connect,
                PathTarget::Exact {
                    path: "/run/pg/.s.PGSQL.5432".into(),
                },
            ),
            unix_grant(UnixOp::Connect, under("/run/app")),
            unix_grant(UnixOp::Listen, under("/run/mine")),
            unix_grant(UnixOp::Listen, under("/run/own")),
        ];
        assert_eq!(r.unix, want);
        assert_eq!(enforced_envelope(&e, Profile::RootBpfLsm).unix, want);
        // A `let` result is every path.
        let any = env(serde_json::json!({"unix": [
            unix("connect", serde_json::json!({"shape": "unknown", "origin": "read_file"}))
        ]}));
        assert_eq!(
            enforced_envelope(&any, Profile::Root).unix,
            vec![unix_grant(UnixOp::Connect, under("/"))]
        );
        // No unix grant: no unix connect at all (seccomp refuses the socket).
        assert!(
            enforced_envelope(&tmp_glob(), Profile::Unprivileged)
                .unix
                .is_empty()
        );
        // A listen needs the socket too: without eBPF it connects anywhere.
        let listen = env(serde_json::json!({"unix": [unix("listen", exact("/run/a.sock"))]}));
        assert!(
            enforced_envelope(&listen, Profile::Unprivileged)
                .unix
                .contains(&unix_grant(UnixOp::Connect, under("/")))
        );
        assert!(
            enforced_envelope(&listen, Profile::Root)
                .unix
                .iter()
                .all(|g| g.op == UnixOp::Listen)
        );
    }

    #[test]
    fn a_connect_the_run_could_redirect_with_a_symlink_is_every_path() {
        let connect = |files: serde_json::Value, target: serde_json::Value| {
            env(serde_json::json!({"files": files, "unix": [unix("connect", target)]}))
        };
        let write = |t: serde_json::Value| serde_json::json!([{"access": "write", "target": t}]);
        let delete = |t: serde_json::Value| serde_json::json!([{"access": "delete", "target": t}]);
        let widened = |e: &Envelope, p: Profile| {
            enforced_envelope(e, p)
                .unix
                .contains(&unix_grant(UnixOp::Connect, under("/")))
        };
        // Writing a file next to the socket: Landlock's right is on the
        // directory, so the run can replace the socket with a symlink.
        let e = connect(write(exact("/run/app/state.json")), exact("/run/app/sock"));
        assert!(widened(&e, Profile::Root));
        assert!(!widened(&e, Profile::RootBpfLsm), "the LSM names the file");
        // The path itself, an ancestor directory, anything inside a tree.
        for (files, target) in [
            (write(exact("/run/app/sock")), exact("/run/app/sock")),
            (delete(exact("/run/app")), exact("/run/app/sock")),
            (write(tree("/run")), exact("/run/app/sock")),
            (write(exact("/run/app/sub/x")), tree("/run/app")),
            (
                write(serde_json::json!({"shape": "glob", "glob": "/run/app/**/*.log"})),
                tree("/run/app"),
            ),
            (
                write(serde_json::json!({"shape": "unknown", "origin": "f"})),
                exact("/run/app/sock"),
            ),
        ] {
            let e = connect(files.clone(), target.clone());
            assert!(widened(&e, Profile::RootBpfLsm), "{files} {target}");
        }
        // Elsewhere, or `/` itself (never written as an entry): kept.
        for files in [
            write(exact("/tmp/out")),
            write(tree("/run/other")),
            delete(exact("/run2")),
        ] {
            let e = connect(files.clone(), exact("/run/app/sock"));
            assert!(!widened(&e, Profile::RootBpfLsm), "{files}");
        }
        // The baseline's writes count too.
        let mut e = connect(serde_json::json!([]), exact("/run/app/sock"));
        e.baseline.push(warden_core::cond::Pattern {
            kind: Some(ActionKind::Write),
            calls: None,
            when: Cond::Cmp {
                op: CmpOp::Under,
                lhs: Operand::field("path"),
                rhs: Operand::Value {
                    value: Value::String("/run/".into()),
                },
            },
        });
        assert!(widened(&e, Profile::RootBpfLsm));
        assert!(symlink_plantable(
            &PathTarget::Exact {
                path: "/a/b".into()
            },
            &[&under("/a")]
        ));
        assert!(!symlink_plantable(
            &PathTarget::Exact {
                path: "/a/b".into()
            },
            &[
                &under("/a2"),
                &PathTarget::Exact {
                    path: "/a/c".into()
                }
            ]
        ));
    }

    #[test]
    fn a_unix_connect_is_proven_only_where_the_kernel_matches_its_path() {
        let s = spec(
            r#"spec "s" {
  allow write under "/run/app/"
  allow connect "/run/app/sock"
}"#,
        );
        let only = env(serde_json::json!({"unix": [unix("connect", exact("/run/app/sock"))]}));
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(
                prove(&s, &only, &enforced_envelope(&only, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
        let cx = prove(&s, &only, &enforced_envelope(&only, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.grant, "connect under \"/\"");
        assert_eq!(cx.action, "connect \"/var/run/docker.sock\"");
        assert_eq!(cx.reason, Reason::NothingAllows);
        // Writing beside the socket lets the run plant a symlink there.
        let both = env(serde_json::json!({
            "files": [{"access": "write", "target": exact("/run/app/state.json")}],
            "unix": [unix("connect", exact("/run/app/sock"))]
        }));
        let cx = prove(&s, &both, &enforced_envelope(&both, Profile::Root))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.action, "connect \"/var/run/docker.sock\"", "{cx:?}");
        assert!(cx.to_string().contains("`connect under \"/\"`"), "{cx}");
        assert_eq!(
            prove(&s, &both, &enforced_envelope(&both, Profile::RootBpfLsm)).unwrap(),
            Ok(())
        );
        // A spec that allows every socket but a few: the solver finds one.
        let most = spec(r#"spec "s" { allow connect when not path endswith ".secret" }"#);
        let cx = prove(
            &most,
            &only,
            &enforced_envelope(&only, Profile::Unprivileged),
        )
        .unwrap()
        .unwrap_err();
        assert!(cx.action.ends_with(".secret\""), "{cx:?}");
        let wide = ConcreteAction::connect_unix(cx.action["connect ".len()..].trim_matches('"'));
        assert!(
            only.permits(&wide.unwrap()).is_err(),
            "a widening, re-checked"
        );
    }

    #[test]
    fn a_unix_listen_widens_to_its_directory() {
        let e = env(serde_json::json!({"unix": [unix("listen", exact("/run/app/api.sock"))]}));
        let narrow = spec(r#"spec "s" { allow listen "/run/app/api.sock"  allow connect }"#);
        let cx = prove(&narrow, &e, &enforced_envelope(&e, Profile::RootBpfLsm))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.grant, "listen under \"/run/app\"");
        assert!(cx.action.starts_with("listen \"/run/app/"), "{cx:?}");
        let dir = spec(r#"spec "s" { allow listen under "/run/app/"  allow connect }"#);
        for p in Profile::ALL {
            assert_eq!(
                prove(&dir, &e, &enforced_envelope(&e, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
    }

    #[test]
    fn the_unprivileged_profile_runs_the_elf_loader() {
        let e = env(serde_json::json!({
            "exec": [{"program": exact("/usr/bin/cargo"),
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "build"}}]}]
        }));
        let u = enforced_envelope(&e, Profile::Unprivileged);
        for loader in loader_targets() {
            assert!(u.exec.contains(&ExecGrant {
                program: loader.clone(),
                argv: None
            }));
            assert!(u.files.contains(&FileGrant {
                access: FileAccess::Read,
                target: loader
            }));
        }
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(enforced_envelope(&e, p).exec, e.exec, "{p}: no loader");
        }
        // A spec that allows the program with any arguments, not the loader.
        let s = spec(r#"spec "s" { allow exec "/usr/bin/cargo" }"#);
        let cx = prove(&s, &e, &u).unwrap().unwrap_err();
        assert!(cx.grant.contains("the ELF loader"), "{cx:?}");
        if let Some(l) = ELF_LOADERS.first() {
            assert_eq!(cx.action, format!("exec {} [\"/tmp/x\"]", quote(l)));
        }
        let with = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/cargo"  {} }}"#,
            allow_loaders()
        ));
        assert_eq!(prove(&with, &e, &u).unwrap(), Ok(()));
        // A baseline exec counts as much as the plan's.
        let mut b = Envelope::default();
        b.baseline.push(warden_core::cond::Pattern {
            kind: Some(ActionKind::Exec),
            calls: None,
            when: Cond::Cmp {
                op: CmpOp::Eq,
                lhs: Operand::field("path"),
                rhs: Operand::Value {
                    value: Value::String("/bin/true".into()),
                },
            },
        });
        assert_eq!(
            enforced_envelope(&b, Profile::Unprivileged).exec.len(),
            loader_targets().len()
        );
        assert!(
            enforced_envelope(&Envelope::default(), Profile::Unprivileged)
                .exec
                .is_empty()
        );
    }

    #[test]
    fn baseline_unix_patterns_are_grants() {
        let spec = planlang::load_spec_str(
            r#"spec "s" { baseline {
  connect under "/run/dbus/"
  listen "/run/app.sock"
  connect
  connect host == "x"
} }"#,
            "s.spec",
        )
        .unwrap();
        let compiled = CompiledSpec::compile(&spec).unwrap();
        let (grants, unexpressed) = baseline_grants(&compiled.baseline);
        assert_eq!(
            grants.unix,
            vec![
                unix_grant(UnixOp::Connect, under("/run/dbus")),
                unix_grant(
                    UnixOp::Listen,
                    PathTarget::Exact {
                        path: "/run/app.sock".into()
                    }
                ),
                unix_grant(UnixOp::Connect, under("/")),
            ]
        );
        // A bare `connect` also matches network connects; a host condition
        // has no unix grant.
        assert_eq!(unexpressed.len(), 2);
    }

    #[test]
    fn a_widening_into_an_approval_rule_is_not_proven() {
        let s = spec(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  approve write under "/tmp/out/"
}"#,
        );
        let e = tmp_glob();
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.needs_approval, "{cx:?}");
        assert_eq!(cx.rule.as_ref().map(|r| r.line), Some(3));
    }

    #[test]
    fn profiles_follow_the_layers_in_use() {
        assert_eq!(Profile::of_layers(["landlock"]), None);
        assert_eq!(
            Profile::of_layers(["landlock", "seccomp"]),
            Some(Profile::Unprivileged)
        );
        for p in Profile::ALL {
            assert_eq!(Profile::of_layers(p.layers().iter().copied()), Some(p));
        }
        assert!(lsm_expresses("/tmp/out/*.tmp"));
        assert!(lsm_expresses("/a/**/*.log"));
        assert!(lsm_expresses("/a/b/**"));
        assert!(!lsm_expresses("/a/*/c"));
        assert!(!lsm_expresses("/a/x*.tmp"));
        assert_eq!(glob_base("/repo/**/*.rs"), "/repo");
        assert_eq!(glob_base("/*"), "/");
    }
}
