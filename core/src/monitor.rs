//! The runtime check for orchestrators: check every concrete action of one
//! run against the claims of a verified token.
//!
//! A [`Monitor`] holds the state of one run: the values params took (a
//! param has one value per run), how many actions each `at most` limit has
//! counted, and which actions the `never`/`require` rules have seen. Every
//! check consults the revocation list and the clock, so a token revoked or
//! expired mid-run stops the run at its next action. A refused action changes
//! no state, and the [`Refusal`] says why as a value (render it with
//! `Display`); an allowed one formats nothing.
//!
//! The claims come from a token verified once (the `token` crate's
//! `VerifiedToken`, which hands out monitors the same way); here they are
//! read from JSON, as a verified token's payload is.
//!
//! ```
//! use warden_core::action::ConcreteAction;
//! use warden_core::claims::{Claims, FixedClock, Timestamp};
//! use warden_core::monitor::{NoRevocations, RefusalReason};
//! let claims: Claims = warden_core::claims::example();
//! let clock = FixedClock::new(Timestamp::from_unix(1_800_000_100));
//! let mut run = claims.monitor(&clock, NoRevocations);
//! let pay = ConcreteAction::call("send_money", [("recipient", "UK12345678901234567890".into()), ("amount", 40.into())]);
//! assert!(run.check(&pay).is_ok());
//! let refusal = run.check(&ConcreteAction::call("update_password", [("to", "x".into())])).unwrap_err();
//! assert!(matches!(refusal.reason, RefusalReason::Envelope(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::action::ConcreteAction;
use crate::claims::{Claims, Clock, OutsideLifetime, Timestamp, TokenId};
use crate::envelope::{Bindings, Envelope, Location, NotPermitted, OrderKind};
use crate::flow::may_match;
pub use crate::revocation::{MemoryRevocations, NoRevocations, RevocationList};
use std::fmt;

/// The action is inside the envelope; the run's state has recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowed;

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refused: {reason}")]
pub struct Refusal {
    /// Why; its `Display` is the message for the agent or the log.
    pub reason: RefusalReason,
}

/// The reasons a [`Monitor`] refuses an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// The token (or one it was narrowed from) is revoked.
    Revoked {
        /// The revoked id: the token's own, or an ancestor's.
        id: TokenId,
    },
    /// The revocation list could not be consulted (fail closed).
    RevocationUnavailable(String),
    /// The token is past its expiry.
    Expired {
        /// The token's `exp`, excluded from its lifetime.
        exp: Timestamp,
        /// The clock's now at the check.
        now: Timestamp,
    },
    /// The token is not valid yet.
    NotYetValid {
        /// The token's `nbf`.
        nbf: Timestamp,
        /// The clock's now at the check.
        now: Timestamp,
    },
    /// The envelope does not grant the action (or a param value does not
    /// meet its condition, or differs from the value it took earlier).
    Envelope(NotPermitted),
    /// An `at most` limit is reached: the run already had `limit` allowed
    /// actions its pattern matches.
    Limit {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// The limit, N of `at most N`.
        limit: u64,
        /// Where the spec writes the rule.
        rule: Location,
    },
    /// `never ACTION after OTHER`: OTHER has already happened.
    Never {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// Where the spec writes the rule.
        rule: Location,
    },
    /// `require FIRST before ACTION`: FIRST has not happened yet.
    Require {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// Where the spec writes the rule.
        rule: Location,
    },
    /// The run state given does not belong to this token's envelope.
    StateMismatch,
    /// Everything else permits the action, but an `approve each` rule
    /// matches it: it may happen only once a human approves this exact
    /// call ([`Claims::check_run_approved`]). Nothing is recorded.
    NeedsApproval {
        /// The call waiting for approval.
        action: Box<ConcreteAction>,
        /// Where the spec writes the `approve each` rule.
        rule: Location,
    },
    /// A `deny ... when X from call T` rule the token carries matches the
    /// action: a value it passes comes, or may come, from a result of `T`
    /// ([`crate::flow`]).
    DeniedFlow {
        /// The refused action.
        action: Box<ConcreteAction>,
        /// Where the spec writes the `deny` rule.
        rule: Location,
    },
    /// A result of a tool did not meet the plan's assumption about it
    /// ([`Claims::check_result_run`]): the run is stopped, and every later
    /// check of it is refused with the same reason.
    Assumption(crate::assume::Violation),
}

impl From<OutsideLifetime> for RefusalReason {
    fn from(e: OutsideLifetime) -> Self {
        match e {
            OutsideLifetime::NotYetValid { nbf, now } => RefusalReason::NotYetValid { nbf, now },
            OutsideLifetime::Expired { exp, now } => RefusalReason::Expired { exp, now },
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::Revoked { id } => write!(f, "the token {id} is revoked"),
            RefusalReason::RevocationUnavailable(e) => {
                write!(f, "the revocation list could not be consulted: {e}")
            }
            RefusalReason::Expired { exp, now } => OutsideLifetime::Expired {
                exp: *exp,
                now: *now,
            }
            .fmt(f),
            RefusalReason::NotYetValid { nbf, now } => OutsideLifetime::NotYetValid {
                nbf: *nbf,
                now: *now,
            }
            .fmt(f),
            RefusalReason::Envelope(r) => write!(f, "{r}"),
            RefusalReason::Limit {
                action,
                limit,
                rule,
            } => write!(
                f,
                "`{action}` would exceed the limit of {limit} set by the rule at {rule}"
            ),
            RefusalReason::Never { action, rule } => write!(
                f,
                "`{action}` may not happen after what already happened in this run (rule at {rule})"
            ),
            RefusalReason::Require { action, rule } => write!(
                f,
                "`{action}` may happen only after an action this run has not done yet (rule at {rule})"
            ),
            RefusalReason::StateMismatch => {
                f.write_str("the run state does not belong to this token's envelope")
            }
            RefusalReason::NeedsApproval { action, rule } => write!(
                f,
                "`{action}` needs approval: the rule at {rule} asks a human to approve each such call"
            ),
            RefusalReason::DeniedFlow { action, rule } => write!(
                f,
                "`{action}` is denied by the rule at {rule}: a value it passes comes, or may come, from the result of a call that rule names"
            ),
            RefusalReason::Assumption(v) => write!(f, "{v}; the run is stopped"),
        }
    }
}

fn refuse(reason: RefusalReason) -> Result<Allowed, Refusal> {
    Err(Refusal { reason })
}

/// The first `deny ... from call` rule of the envelope that matches `a`.
fn denied_flow<'e>(env: &'e Envelope, a: &ConcreteAction) -> Option<&'e Location> {
    env.deny_from
        .iter()
        .find(|r| may_match(&r.pattern, a))
        .map(|r| &r.rule)
}

/// The state of one run under a token: the values params took, how many
/// allowed actions each `at most` limit counted, and which actions the
/// `never`/`require` rules have seen.
///
/// It is a plain value, apart from the token, so that a service can keep one
/// per token across calls and store it (it serializes with serde) to survive
/// a restart: a restored state goes on counting where it stopped. A state
/// that does not fit the token's envelope (another token's, or edited) is
/// refused, never repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    bindings: Bindings,
    /// Per `envelope.limits[i]`: allowed actions it matched so far.
    counts: Vec<u64>,
    /// Per `envelope.ordering[i]`: for `never`, whether `other` happened; for
    /// `require`, whether `action` (the one required first) happened.
    seen: Vec<bool>,
    /// The assumption a result failed: the run is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stopped: Option<crate::assume::Violation>,
}

impl RunState {
    /// The state of a run that has done nothing yet under `envelope`.
    pub fn new(envelope: &Envelope) -> RunState {
        RunState {
            bindings: Bindings::new(),
            counts: vec![0; envelope.limits.len()],
            seen: vec![false; envelope.ordering.len()],
            stopped: None,
        }
    }

    /// The assumption a result of the run failed, if one did (the run is
    /// stopped).
    pub fn stopped(&self) -> Option<&crate::assume::Violation> {
        self.stopped.as_ref()
    }

    /// The values params took so far.
    pub fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    /// Allowed actions counted so far, one per `at most` limit of the
    /// envelope (in its order).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    #[inline]
    fn fits(&self, envelope: &Envelope) -> bool {
        self.counts.len() == envelope.limits.len()
            && self.seen.len() == envelope.ordering.len()
            && self
                .bindings
                .keys()
                .all(|k| envelope.params.iter().any(|p| &p.name == k))
    }
}

impl Claims {
    /// Start monitoring one run under these claims (of a verified token).
    pub fn monitor<C: Clock, R: RevocationList>(
        &self,
        clock: C,
        revocations: R,
    ) -> Monitor<'_, C, R> {
        Monitor {
            claims: self,
            clock,
            revocations,
            state: RunState::new(&self.envelope),
        }
    }

    /// Check one action of the run whose state is `state`, with the clock and
    /// the revocation list of this check. On `Ok`, the action is recorded in
    /// `state` (it counts for the limits and the ordering, and binds params);
    /// on `Err`, `state` is unchanged.
    ///
    /// An action an `approve each` rule of the envelope matches is refused
    /// with [`RefusalReason::NeedsApproval`] once everything else permits
    /// it; a caller that can ask a human checks it again, once approved,
    /// with [`Claims::check_run_approved`].
    pub fn check_run(
        &self,
        state: &mut RunState,
        a: &ConcreteAction,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.check_run_inner(state, a, clock, revocations, false)
    }

    /// [`Claims::check_run`] for an action a human approved (exactly this
    /// action: the caller keeps the approval tied to it). Every other check
    /// runs again (the run may have moved on, the token may have been
    /// revoked or expired while the human looked); only the `approve each`
    /// rules are taken as met.
    pub fn check_run_approved(
        &self,
        state: &mut RunState,
        a: &ConcreteAction,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.check_run_inner(state, a, clock, revocations, true)
    }

    fn check_run_inner(
        &self,
        state: &mut RunState,
        a: &ConcreteAction,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
        approved: bool,
    ) -> Result<Allowed, Refusal> {
        let claims = self;
        claims.run_goes_on(state, clock, revocations)?;
        let env = &claims.envelope;
        // Deny beats everything else the token grants.
        if let Some(rule) = denied_flow(env, a) {
            return refuse(RefusalReason::DeniedFlow {
                action: Box::new(a.clone()),
                rule: rule.clone(),
            });
        }
        // Limits and ordering do not depend on param values: decide them
        // before the envelope check, which binds params on success.
        for (i, lim) in env.limits.iter().enumerate() {
            if state.counts[i] >= lim.limit && lim.pattern.matches(a) {
                return refuse(RefusalReason::Limit {
                    action: Box::new(a.clone()),
                    limit: lim.limit,
                    rule: lim.rule.clone(),
                });
            }
        }
        for (i, o) in env.ordering.iter().enumerate() {
            match o.kind {
                OrderKind::Never if state.seen[i] && o.action.matches(a) => {
                    return refuse(RefusalReason::Never {
                        action: Box::new(a.clone()),
                        rule: o.rule.clone(),
                    });
                }
                OrderKind::Require if !state.seen[i] && o.other.matches(a) => {
                    return refuse(RefusalReason::Require {
                        action: Box::new(a.clone()),
                        rule: o.rule.clone(),
                    });
                }
                _ => {}
            }
        }
        let waits = if approved {
            None
        } else {
            env.approvals.iter().find(|r| may_match(&r.pattern, a))
        };
        match waits {
            None => {
                if let Err(r) = env.permits_with(a, &mut state.bindings) {
                    return refuse(RefusalReason::Envelope(r));
                }
            }
            Some(rule) => {
                // Permitted but for a human: params bind on a copy, so a
                // call that waits binds nothing yet.
                let mut bindings = state.bindings.clone();
                if let Err(r) = env.permits_with(a, &mut bindings) {
                    return refuse(RefusalReason::Envelope(r));
                }
                return refuse(RefusalReason::NeedsApproval {
                    action: Box::new(a.clone()),
                    rule: rule.rule.clone(),
                });
            }
        }
        // Allowed: record it.
        for (i, lim) in env.limits.iter().enumerate() {
            if lim.pattern.matches(a) {
                state.counts[i] = state.counts[i].saturating_add(1);
            }
        }
        for (i, o) in env.ordering.iter().enumerate() {
            let trigger = match o.kind {
                OrderKind::Never => &o.other,
                OrderKind::Require => &o.action,
            };
            if !state.seen[i] && trigger.matches(a) {
                state.seen[i] = true;
            }
        }
        Ok(Allowed)
    }
}

impl Claims {
    /// What every check of an action or a result asks first, in this order:
    /// the token is not revoked (and the list can be read), it is within
    /// its lifetime, the run's state is this envelope's, and the run was not
    /// stopped by a result that failed its assumption.
    fn run_goes_on(
        &self,
        state: &RunState,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<(), Refusal> {
        let stop = |reason| Err(Refusal { reason });
        match self.revoked_by(revocations) {
            Ok(None) => {}
            Ok(Some(id)) => return stop(RefusalReason::Revoked { id }),
            Err(e) => return stop(RefusalReason::RevocationUnavailable(e.to_string())),
        }
        if let Err(outside) = self.lifetime_at(clock.now()) {
            return stop(outside.into());
        }
        if !state.fits(&self.envelope) {
            return stop(RefusalReason::StateMismatch);
        }
        if let Some(v) = &state.stopped {
            return stop(RefusalReason::Assumption(v.clone()));
        }
        Ok(())
    }

    /// Check a result of the tool `tool` as it arrives, before any later
    /// step can use it: against every assumption the plan makes about that
    /// tool's results ([`crate::assume`]). A result that fails one stops the
    /// run: it is refused with [`RefusalReason::Assumption`], and so is
    /// every later check of the run. A revoked or expired token, or a run
    /// already stopped, refuses the result too.
    pub fn check_result_run(
        &self,
        state: &mut RunState,
        tool: &str,
        result: &serde_json::Value,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.run_goes_on(state, clock, revocations)?;
        match crate::assume::check_result(&self.envelope.assumptions, tool, result) {
            Ok(()) => Ok(Allowed),
            Err(v) => {
                state.stopped = Some(v.clone());
                refuse(RefusalReason::Assumption(v))
            }
        }
    }
}

/// One run under the [`Claims`] of a verified token, which it borrows, with
/// its clock and revocation list: a [`RunState`] and what checking it needs.
pub struct Monitor<'t, C, R> {
    claims: &'t Claims,
    clock: C,
    revocations: R,
    state: RunState,
}

impl<C: Clock, R: RevocationList> Monitor<'_, C, R> {
    /// Check one action. On `Ok`, the action counts for the run's limits
    /// and ordering; on `Err`, nothing changes.
    pub fn check(&mut self, a: &ConcreteAction) -> Result<Allowed, Refusal> {
        self.claims
            .check_run(&mut self.state, a, &self.clock, &self.revocations)
    }

    /// Check a result of the tool `tool` as it arrives
    /// ([`Claims::check_result_run`]): a result that fails the plan's
    /// assumption about it stops the run.
    pub fn check_result(
        &mut self,
        tool: &str,
        result: &serde_json::Value,
    ) -> Result<Allowed, Refusal> {
        self.claims.check_result_run(
            &mut self.state,
            tool,
            result,
            &self.clock,
            &self.revocations,
        )
    }

    /// The claims this run is under.
    pub fn claims(&self) -> &Claims {
        self.claims
    }

    /// The run's state so far.
    pub fn state(&self) -> &RunState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{CLAIMS_VERSION, Digest, FixedClock};
    use crate::cond::{Cond, Operand, Pattern};
    use crate::envelope::{CallGrant, CountLimit, OrderRule, ParamDecl, ValueMatch};
    use crate::value::{Field, Number as Decimal, Value};
    use crate::vocab::{ActionKind, CmpOp, ParamType};
    use std::time::Duration;

    #[test]
    fn a_lifetime_refusal_reads_as_the_lifetime_error() {
        let t = Timestamp::from_unix(1_800_000_000);
        for e in [
            OutsideLifetime::NotYetValid { nbf: t, now: t },
            OutsideLifetime::Expired { exp: t, now: t },
        ] {
            assert_eq!(RefusalReason::from(e).to_string(), e.to_string());
        }
    }

    fn call_pattern(name: &str) -> Pattern {
        Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec![name.into()]),
            when: Cond::True,
        }
    }

    fn bank() -> Envelope {
        let mut env = Envelope::default();
        env.params.push(ParamDecl {
            name: "amount".into(),
            ty: ParamType::Number,
            condition: Some(Cond::Cmp {
                op: CmpOp::Le,
                lhs: Operand::field("amount"),
                rhs: Operand::Value {
                    value: Value::Number(Decimal::from(100)),
                },
            }),
        });
        env.calls.push(CallGrant {
            name: "send_money".into(),
            args: [(
                "amount".to_string(),
                ValueMatch::Param {
                    param: "amount".into(),
                },
            )]
            .into_iter()
            .collect(),
        });
        for name in ["get_balance", "get_scheduled_transactions", "confirm"] {
            env.calls.push(CallGrant {
                name: name.into(),
                args: Default::default(),
            });
        }
        env.limits.push(CountLimit {
            limit: 1,
            pattern: call_pattern("send_money"),
            rule: Location::synthetic(),
        });
        env.ordering.push(OrderRule {
            kind: OrderKind::Never,
            action: call_pattern("send_money"),
            other: call_pattern("get_scheduled_transactions"),
            rule: Location::synthetic(),
        });
        env.ordering.push(OrderRule {
            kind: OrderKind::Require,
            action: call_pattern("get_balance"),
            other: call_pattern("confirm"),
            rule: Location::synthetic(),
        });
        env
    }

    fn token(env: Envelope) -> (Claims, FixedClock) {
        let now = Timestamp::from_unix(1_800_000_000);
        let claims = Claims {
            warden: CLAIMS_VERSION,
            iss: "warden".into(),
            sub: None,
            jti: TokenId::from_bytes([1; 16]),
            iat: now,
            nbf: now,
            exp: Timestamp::from_unix(now.unix() + 600),
            plan: None,
            plan_hash: Digest::of_text("p"),
            spec: None,
            spec_hash: Digest::of_text("s"),
            ancestors: vec![TokenId::from_bytes([2; 16])],
            envelope: env,
            enforcement: vec![],
        };
        (claims, FixedClock::new(now))
    }

    fn send(amount: i64) -> ConcreteAction {
        ConcreteAction::call(
            "send_money",
            [("amount", Field::new(Value::Number(Decimal::from(amount))))],
        )
    }

    fn plain(name: &str) -> ConcreteAction {
        ConcreteAction::call(name, Vec::<(String, Field)>::new())
    }

    #[test]
    fn a_second_send_money_beyond_at_most_1_is_refused() {
        let (v, clock) = token(bank());
        let mut run = v.monitor(&clock, NoRevocations);
        run.check(&send(50)).unwrap();
        let e = run.check(&send(50)).unwrap_err();
        assert!(
            matches!(e.reason, RefusalReason::Limit { limit: 1, .. }),
            "{e}"
        );
        // A new run starts its own count.
        let mut run2 = v.monitor(&clock, NoRevocations);
        run2.check(&send(50)).unwrap();
    }

    #[test]
    fn a_stored_run_state_goes_on_counting() {
        let (v, clock) = token(bank());
        let mut state = RunState::new(&v.envelope);
        v.check_run(&mut state, &plain("get_balance"), &clock, &NoRevocations)
            .unwrap();
        v.check_run(&mut state, &send(50), &clock, &NoRevocations)
            .unwrap();
        assert_eq!(state.counts(), &[1]);
        // What a service writes to its store and reads back after a restart.
        let text = serde_json::to_string(&state).unwrap();
        let mut back: RunState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        let e = v
            .check_run(&mut back, &send(50), &clock, &NoRevocations)
            .unwrap_err();
        assert!(
            matches!(e.reason, RefusalReason::Limit { limit: 1, .. }),
            "{e}"
        );
        // `require get_balance before confirm` remembers get_balance.
        v.check_run(&mut back, &plain("confirm"), &clock, &NoRevocations)
            .unwrap();
    }

    #[test]
    fn a_run_state_of_another_envelope_is_refused() {
        let (v, clock) = token(bank());
        let mut other = Envelope::default();
        other.calls.push(CallGrant {
            name: "get_balance".into(),
            args: Default::default(),
        });
        // No limits or ordering: counts do not fit `bank()`'s `at most`.
        let mut state = RunState::new(&other);
        let refusal = |state: &mut RunState| {
            v.check_run(state, &plain("get_balance"), &clock, &NoRevocations)
                .unwrap_err()
                .reason
        };
        assert_eq!(refusal(&mut state), RefusalReason::StateMismatch);
        // A binding of a param the envelope does not declare is refused too.
        let mut state = RunState::new(&v.envelope);
        let mut forged: serde_json::Value = serde_json::to_value(&state).unwrap();
        forged["bindings"]["nope"] = serde_json::to_value(Field::new(Value::Bool(true))).unwrap();
        state = serde_json::from_value(forged).unwrap();
        assert_eq!(refusal(&mut state), RefusalReason::StateMismatch);
        // Unknown fields do not deserialize.
        assert!(
            serde_json::from_str::<RunState>(
                r#"{"bindings":{},"counts":[0],"seen":[false,false],"x":1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn approve_each_waits_for_a_human_and_then_counts() {
        let mut env = bank();
        env.approvals.push(crate::envelope::ApprovalRule {
            pattern: Pattern {
                when: Cond::Cmp {
                    op: CmpOp::Gt,
                    lhs: Operand::field("amount"),
                    rhs: Operand::Value {
                        value: Value::Number(Decimal::from(50)),
                    },
                },
                ..call_pattern("send_money")
            },
            rule: "t.spec:4:3".parse().unwrap(),
        });
        let (v, clock) = token(env);
        let mut state = RunState::new(&v.envelope);
        let before = state.clone();
        // Permitted but for the human: refused with the rule, nothing recorded
        // (no count, no param bound).
        let e = v
            .check_run(&mut state, &send(80), &clock, &NoRevocations)
            .unwrap_err();
        assert!(
            matches!(&e.reason, RefusalReason::NeedsApproval { rule, .. } if rule.line == 4),
            "{e}"
        );
        assert!(e.to_string().contains("needs approval"), "{e}");
        assert_eq!(state, before);
        // Something else refuses first: the human is not asked for it.
        let e = v
            .check_run(&mut state, &send(500), &clock, &NoRevocations)
            .unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Envelope(_)), "{e}");
        // Approved: every other check still runs, and the call counts.
        v.check_run_approved(&mut state, &send(80), &clock, &NoRevocations)
            .unwrap();
        assert_eq!(state.counts(), &[1]);
        let e = v
            .check_run_approved(&mut state, &send(80), &clock, &NoRevocations)
            .unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Limit { .. }), "{e}");
        // Below the rule's condition no human is asked.
        let mut fresh = RunState::new(&v.envelope);
        v.check_run(&mut fresh, &send(20), &clock, &NoRevocations)
            .unwrap();
        // The rule travels in the token's claims.
        let text = serde_json::to_string(&v).unwrap();
        assert!(text.contains("approve_each"), "{text}");
        let back: Claims = serde_json::from_str(&text).unwrap();
        assert_eq!(back.envelope.approvals, v.envelope.approvals);
        assert_eq!(back.envelope.approvals[0].rule.line, 4);
    }

    /// `param body: string` passed as `send_mail(body = body)`, under
    /// `deny call send_mail when body from call read_inbox` carried in the
    /// token: a body that came (or may have come) from read_inbox is
    /// refused, any other is allowed and binds the param.
    #[test]
    fn a_deny_from_rule_in_the_token_refuses_a_param_value_from_that_call() {
        let mut env = Envelope::default();
        env.params.push(ParamDecl {
            name: "body".into(),
            ty: ParamType::String,
            condition: None,
        });
        env.calls.push(CallGrant {
            name: "send_mail".into(),
            args: [(
                "body".to_string(),
                ValueMatch::Param {
                    param: "body".into(),
                },
            )]
            .into_iter()
            .collect(),
        });
        env.deny_from.push(crate::envelope::DenyFromRule {
            pattern: Pattern {
                when: Cond::FromCall {
                    value: Operand::field("body"),
                    tool: "read_inbox".into(),
                },
                ..call_pattern("send_mail")
            },
            rule: "m.spec:3:3".parse().unwrap(),
        });
        let (v, clock) = token(env);
        let mail = |body: Field| ConcreteAction::call("send_mail", [("body", body)]);
        let text = || Value::from("wire 500 to UK12");
        let mut state = RunState::new(&v.envelope);
        let before = state.clone();
        // Known to come from read_inbox: refused, nothing bound.
        let e = v
            .check_run(
                &mut state,
                &mail(Field::from_call(text(), "read_inbox")),
                &clock,
                &NoRevocations,
            )
            .unwrap_err();
        assert!(
            matches!(&e.reason, RefusalReason::DeniedFlow { rule, .. } if rule.line == 3),
            "{e}"
        );
        assert!(e.to_string().contains("m.spec:3:3"), "{e}");
        assert_eq!(state, before);
        // Only may come from it (a fragment, an older result): refused too.
        let mut maybe = Field::from_call(text(), "read_file");
        maybe.sources.insert("read_inbox".into());
        let e = v
            .check_run(&mut state, &mail(maybe), &clock, &NoRevocations)
            .unwrap_err();
        assert!(matches!(e.reason, RefusalReason::DeniedFlow { .. }), "{e}");
        // Without the rule the same call is allowed: the rule refused it.
        let mut open = v.clone();
        open.envelope.deny_from.clear();
        open.check_run(
            &mut RunState::new(&open.envelope),
            &mail(Field::from_call(text(), "read_inbox")),
            &clock,
            &NoRevocations,
        )
        .unwrap();
        // From elsewhere, or from no call: allowed, and the param binds.
        v.check_run(
            &mut state,
            &mail(Field::from_call(text(), "read_file")),
            &clock,
            &NoRevocations,
        )
        .unwrap();
        assert!(state.bindings().contains_key("body"));
        v.check_run(
            &mut state,
            &mail(Field::new(text())),
            &clock,
            &NoRevocations,
        )
        .unwrap();
        // The rule travels in the token; claims without it read as before.
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["envelope"]["deny_from"][0]["rule"], "m.spec:3:3");
        let back: Claims = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.envelope.deny_from, v.envelope.deny_from);
        let mut old = json;
        old["envelope"].as_object_mut().unwrap().remove("deny_from");
        let back: Claims = serde_json::from_value(old).unwrap();
        assert!(back.envelope.deny_from.is_empty());
    }

    #[test]
    fn an_approve_each_rule_on_provenance_counts_possible_sources() {
        let mut env = bank();
        env.limits.clear();
        env.approvals.push(crate::envelope::ApprovalRule {
            pattern: Pattern {
                when: Cond::FromCall {
                    value: Operand::field("amount"),
                    tool: "read_inbox".into(),
                },
                ..call_pattern("send_money")
            },
            rule: "t.spec:5:3".parse().unwrap(),
        });
        let (v, clock) = token(env);
        let mut state = RunState::new(&v.envelope);
        let mut amount = Field::new(Value::Number(Decimal::from(9)));
        amount.sources.insert("read_inbox".into());
        let pay = ConcreteAction::call("send_money", [("amount", amount)]);
        let e = v
            .check_run(&mut state, &pay, &clock, &NoRevocations)
            .unwrap_err();
        assert!(
            matches!(e.reason, RefusalReason::NeedsApproval { .. }),
            "{e}"
        );
        v.check_run(&mut state, &send(9), &clock, &NoRevocations)
            .unwrap();
    }

    #[test]
    fn a_refused_action_changes_no_state() {
        let (v, clock) = token(bank());
        let mut run = v.monitor(&clock, NoRevocations);
        // Over the param's condition: refused, and it neither counts nor binds.
        let e = run.check(&send(500)).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Envelope(_)), "{e}");
        run.check(&send(7)).unwrap();
    }

    #[test]
    fn params_take_one_value_per_run() {
        let mut env = bank();
        env.limits.clear();
        let (v, clock) = token(env);
        let mut run = v.monitor(&clock, NoRevocations);
        run.check(&send(7)).unwrap();
        run.check(&send(7)).unwrap();
        let e = run.check(&send(8)).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Envelope(_)), "{e}");
    }

    #[test]
    fn never_after_and_require_before_follow_the_run() {
        let (v, clock) = token(bank());
        let mut run = v.monitor(&clock, NoRevocations);
        let e = run.check(&plain("confirm")).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Require { .. }), "{e}");
        run.check(&plain("get_balance")).unwrap();
        run.check(&plain("confirm")).unwrap();
        run.check(&plain("get_scheduled_transactions")).unwrap();
        let e = run.check(&send(5)).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Never { .. }), "{e}");
    }

    #[test]
    fn outside_actions_are_refused_with_the_reason() {
        let (v, clock) = token(bank());
        let mut run = v.monitor(&clock, NoRevocations);
        let e = run.check(&plain("update_password")).unwrap_err();
        assert!(e.to_string().contains("update_password"), "{e}");
        let e = run
            .check(&ConcreteAction::read("/etc/shadow").unwrap())
            .unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Envelope(_)), "{e}");
    }

    #[test]
    fn revocation_and_expiry_stop_a_run_mid_way() {
        let (v, clock) = token(bank());
        let list = MemoryRevocations::default();
        let mut run = v.monitor(&clock, &list);
        run.check(&plain("get_balance")).unwrap();
        // Revoking the token's ancestor revokes it.
        list.revoke(TokenId::from_bytes([2; 16]));
        let e = run.check(&plain("get_balance")).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Revoked { .. }), "{e}");

        let mut run = v.monitor(&clock, NoRevocations);
        run.check(&plain("get_balance")).unwrap();
        clock.advance(Duration::from_secs(600));
        let e = run.check(&plain("get_balance")).unwrap_err();
        assert!(matches!(e.reason, RefusalReason::Expired { .. }), "{e}");
    }
}
