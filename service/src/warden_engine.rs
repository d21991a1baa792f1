//! The production [`Engine`]: plans and specs parsed by `planlang`, proven by
//! the `verifier`, tokens signed and verified by the `token` crate.

use crate::engine::{
    ActionError, Decision, Engine, Issued, PlanError, PreparedSpec, SignError, SpecError,
    TokenRefused, Verified,
};
use crate::proto;
use planlang::Span;
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;
use token::{RefusalReason, RunState, SigningKey, SystemClock, VerifiedToken};
use verifier::issue::{Draft, IssueOptions, Issuer};
use warden_core::action::ConcreteAction;
use warden_core::value::Field;
use warden_core::value::Value;

/// Plans, specs and tokens, for real.
pub struct WardenEngine {
    key: SigningKey,
    /// The keys whose tokens `CheckAction` accepts (`key`'s among them).
    trusted: token::KeySet,
    issuer: String,
}

impl std::fmt::Debug for WardenEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WardenEngine")
            .field("issuer", &self.issuer)
            .field("key_id", &self.key.public_key().key_id())
            .finish()
    }
}

/// A compiled spec and what tokens need from it: the one issuance path
/// (`verifier::issue`).
pub struct Compiled {
    issuer: Issuer,
}

/// An accepted plan, ready for a token.
pub struct Accepted {
    draft: Draft,
}

impl WardenEngine {
    /// An engine that signs tokens with `key`, names `issuer` in them, and
    /// accepts tokens signed by `key` only.
    pub fn with_key(key: SigningKey, issuer: &str) -> WardenEngine {
        let trusted = token::KeySet::from(key.public_key());
        WardenEngine::with_keys(key, trusted, issuer)
    }

    /// An engine that signs tokens with `key` and accepts tokens signed by
    /// the active and verify-only keys of `trusted` (key rotation:
    /// `ServeConfig::trusted_keys`).
    pub fn with_keys(key: SigningKey, trusted: token::KeySet, issuer: &str) -> WardenEngine {
        WardenEngine {
            key,
            trusted,
            issuer: issuer.to_owned(),
        }
    }
}

fn location(span: &Span) -> Option<proto::Location> {
    if span.is_synthetic() {
        return None;
    }
    Some(proto::Location {
        file: span.file.to_string(),
        line: span.line,
        column: span.col,
    })
}

fn counterexample(v: &verifier::report::Counterexample, plan_src: &str) -> proto::Counterexample {
    let step_text = v
        .step
        .as_ref()
        .and_then(|s| plan_src.get(s.start as usize..s.end as usize))
        .map(str::to_owned)
        .or_else(|| v.action.clone())
        .unwrap_or_default();
    proto::Counterexample {
        reason: v.reason.describe().to_owned(),
        message: v.message.clone(),
        rule: v.rule_text.clone().unwrap_or_default(),
        rule_location: v.rule.as_ref().and_then(location),
        step: step_text,
        step_location: v.step.as_ref().and_then(location),
        witnesses: v
            .witness
            .iter()
            .map(|(name, value)| proto::Witness {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        path: v.path.iter().map(|p| p.note.clone()).collect(),
    }
}

/// A refused enforcement profile as a counterexample: what the kernel
/// layers of that profile would let through that the spec refuses.
fn widening_counterexample(p: &token::EnforcementProof) -> proto::Counterexample {
    proto::Counterexample {
        reason: "enforced envelope wider than the spec".to_owned(),
        message: format!(
            "the {} layers ({}) would widen the envelope: {}",
            p.profile,
            p.layers().join(", "),
            p.counterexample.as_deref().unwrap_or("not proven")
        ),
        ..Default::default()
    }
}

fn arg_value(v: &proto::ArgValue) -> Result<Value, String> {
    use proto::arg_value::Value as V;
    match &v.value {
        Some(V::Text(s)) => Ok(Value::String(s.clone())),
        Some(V::Number(n)) => Decimal::from_str_exact(n.trim())
            .or_else(|_| Decimal::from_str(n.trim()))
            .map(Value::Number)
            .map_err(|_| format!("{n:?} is not a decimal number")),
        Some(V::Flag(b)) => Ok(Value::Bool(*b)),
        Some(V::List(l)) => l
            .items
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        None => Err("an argument has no value".into()),
    }
}

fn port(p: u32) -> Result<u16, String> {
    u16::try_from(p).map_err(|_| format!("port {p} is out of range"))
}

/// The concrete action a protobuf [`proto::Action`] describes.
pub fn concrete_action(a: &proto::Action) -> Result<ConcreteAction, String> {
    use proto::action::Kind;
    use proto::file_action::Op;
    let err = |e: warden_core::action::ActionError| e.to_string();
    match &a.kind {
        Some(Kind::File(f)) => match Op::try_from(f.op) {
            Ok(Op::Read) => ConcreteAction::read(&f.path).map_err(err),
            Ok(Op::Write) => ConcreteAction::write(&f.path).map_err(err),
            Ok(Op::Delete) => ConcreteAction::delete(&f.path).map_err(err),
            _ => Err("a file action needs op read, write or delete".into()),
        },
        Some(Kind::Exec(e)) => ConcreteAction::exec(&e.path, &e.argv).map_err(err),
        Some(Kind::Connect(c)) => {
            let target = if c.ip.is_empty() { &c.host } else { &c.ip };
            if target.is_empty() {
                return Err("a connect action needs a host or an ip".into());
            }
            ConcreteAction::connect(target, port(c.port)?).map_err(err)
        }
        Some(Kind::Listen(l)) => Ok(ConcreteAction::listen(port(l.port)?)),
        Some(Kind::Call(c)) => {
            if c.name.trim().is_empty() {
                return Err("a call action needs a name".into());
            }
            let mut args = Vec::with_capacity(c.args.len());
            for (k, v) in &c.args {
                let value = arg_value(v)?;
                args.push((
                    k.clone(),
                    match v.from_call.trim() {
                        "" => Field::new(value),
                        tool => Field::from_call(value, tool),
                    },
                ));
            }
            Ok(ConcreteAction::call(c.name.clone(), args))
        }
        None => Err("the action has no kind".into()),
    }
}

impl Engine for WardenEngine {
    type Spec = Compiled;
    type Accepted = Accepted;
    type Token = VerifiedToken;
    type RunState = RunState;

    fn load_spec(&self, path: &Path) -> Result<PreparedSpec<Compiled>, SpecError> {
        let loaded = planlang::load_spec(path).map_err(|d| SpecError(d.to_string()))?;
        let issuer = Issuer::new(&loaded, &self.issuer).map_err(|e| SpecError(e.to_string()))?;
        Ok(PreparedSpec {
            spec_hash: hex::encode(issuer.spec_hash.as_bytes()),
            compiled: Compiled { issuer },
        })
    }

    fn check(
        &self,
        _spec_name: &str,
        spec: &PreparedSpec<Compiled>,
        plan_src: &str,
    ) -> Result<Decision<Accepted>, PlanError> {
        let plan = planlang::load_plan_str(plan_src, "<plan>")
            .map_err(|d| PlanError::Invalid(d.to_string()))?;
        let decision = spec
            .compiled
            .issuer
            .decide(&plan, &IssueOptions::default())
            .map_err(|e| PlanError::Invalid(e.to_string()))?;
        let outcome = &decision.outcome;
        // Counterexamples of the kernel layers' widenings, when no enforcement
        // profile keeps the envelope inside the spec: then the plan is refused.
        let widenings: Vec<proto::Counterexample> = if decision.refused_by_widening() {
            decision
                .enforcement
                .iter()
                .map(widening_counterexample)
                .collect()
        } else {
            Vec::new()
        };
        let envelope_json = outcome
            .envelope
            .as_ref()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .unwrap_or_default();
        Ok(Decision {
            verdict: decision.verdict,
            counterexamples: outcome
                .violations
                .iter()
                .map(|v| counterexample(v, plan_src))
                .chain(widenings)
                .collect(),
            approval_reasons: outcome
                .approvals
                .iter()
                .map(|a| match &a.rule_text {
                    Some(r) => format!("{} needs approval ({r})", a.action),
                    None => format!("{} needs approval", a.action),
                })
                .collect(),
            approval_marks: outcome
                .approvals
                .iter()
                .map(|a| crate::store::ApprovalMark {
                    action: a.action.clone(),
                    rule: a.rule_text.clone().unwrap_or_default(),
                    rule_at: location(&a.rule)
                        .map(|l| format!("{}:{}:{}", l.file, l.line, l.column)),
                    step_line: location(&a.step).map(|l| l.line),
                })
                .collect(),
            envelope_json,
            plan_hash: hex::encode(verifier::issue::plan_hash(&plan).as_bytes()),
            plan_agent: plan.agent.as_ref().map(|a| a.node.clone()),
            accepted: decision.draft.map(|draft| Accepted { draft }),
        })
    }

    fn issue(&self, a: &Accepted, agent: &str) -> Result<Issued, SignError> {
        let mut draft = a.draft.clone();
        if draft.sub.is_none() {
            draft.sub = Some(agent.to_owned());
        }
        let issued = draft
            .sign(&self.issuer, &self.key, &SystemClock)
            .map_err(|e| SignError(e.to_string()))?;
        Ok(Issued {
            token: issued.token,
            token_id: issued.claims.jti.to_string(),
            expires_at: issued.claims.exp.unix(),
        })
    }

    fn verify_token(&self, tok: &str) -> Result<Verified<VerifiedToken>, TokenRefused> {
        // Revocation is checked on every action, with the service's list.
        let v = VerifiedToken::verify(tok, &self.trusted, &SystemClock, &token::NoRevocations)
            .map_err(|e| match e {
                token::TokenError::Malformed(m) => TokenRefused::Malformed(m),
                e => TokenRefused::Invalid(e.to_string()),
            })?;
        Ok(Verified {
            token_id: v.claims().jti.to_string(),
            expires_at: v.claims().exp.unix(),
            token: v,
        })
    }

    fn new_run(&self, token: &VerifiedToken) -> RunState {
        token.new_run()
    }

    fn check_action(
        &self,
        token: &VerifiedToken,
        run: &mut RunState,
        action: &proto::Action,
        revocations: &dyn token::RevocationList,
    ) -> Result<(), ActionError> {
        let a = concrete_action(action).map_err(ActionError::Malformed)?;
        let mut next = run.clone();
        token
            .check_run(&mut next, &a, &SystemClock, revocations)
            .map_err(action_error)?;
        // A value's `from_call` is the caller's word, and an empty one does
        // not show that a value came from no call: a `deny ... from call`
        // rule the token carries is taken to see a value from the call it
        // names. Refused (fail closed), and the run's state left as it was.
        if let Some(rule) = token
            .envelope()
            .deny_from
            .iter()
            .find(|r| warden_core::flow::may_match_unseen(&r.pattern, &a))
        {
            return Err(ActionError::Refused(format!(
                "`{a}` is refused: the rule at {} denies it when a value it passes comes from a call's result, \
                 and a CheckAction cannot show where a value came from (send such calls through `warden mcp`)",
                rule.rule
            )));
        }
        *run = next;
        Ok(())
    }

    fn check_result(
        &self,
        token: &VerifiedToken,
        run: &mut RunState,
        tool: &str,
        result: &serde_json::Value,
        revocations: &dyn token::RevocationList,
    ) -> Result<(), ActionError> {
        token
            .check_result_run(run, tool, result, &SystemClock, revocations)
            .map(|_| ())
            .map_err(action_error)
    }
}

/// A refusal of the monitor as the service answers it: the token not
/// honoured (revoked, expired), or the action (or result) refused.
fn action_error(r: warden_core::monitor::Refusal) -> ActionError {
    match r.reason {
        RefusalReason::Revoked { .. }
        | RefusalReason::RevocationUnavailable(_)
        | RefusalReason::Expired { .. }
        | RefusalReason::NotYetValid { .. } => ActionError::TokenNotHonoured(r.reason.to_string()),
        reason => ActionError::Refused(reason.to_string()),
    }
}
