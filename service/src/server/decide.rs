//! Approval decisions: approve (re-proving the plan against the spec in
//! force and issuing its token) or deny, through gRPC or the web console
//! ([`Decisions`]), with the same checks, store and audit records.

use super::WardenService;
use super::non_empty;
use crate::audit::{EventKind, NewEvent};
use crate::auth::{Identity, Role};
use crate::engine::{Engine, PlanError, Verdict};
use crate::error::ServiceError;
use crate::store::{ApprovalRecord, ApprovalState, IssuedToken, StateOp, StoreError, Txn, now_ms};
use serde_json::json;
use std::future::Future;

/// Why an approval or a denial was not recorded. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The approval id or the reason is missing or too long.
    #[error(transparent)]
    Invalid(#[from] crate::error::InputError),
    /// The decider is a submitter.
    #[error("{name} has role {role}; deciding approvals needs approver (or admin)")]
    Role {
        /// The decider's credential name.
        name: String,
        /// Its role (`submitter`).
        role: &'static str,
    },
    /// No approval has this id.
    #[error("approval {0} not found")]
    NotFound(String),
    /// The approval was already approved or denied.
    #[error("approval {id} is already {state}")]
    NotPending {
        /// The approval's id.
        id: String,
        /// Its state: `approved` or `denied`.
        state: &'static str,
    },
    /// The decider submitted the plan (an admin included).
    #[error("{who} submitted the plan of approval {id}; nobody may approve their own submission")]
    OwnSubmission {
        /// The approval's id.
        id: String,
        /// The decider, who is also the submitter.
        who: String,
    },
    /// The approval does not record its submitter (it predates that), so
    /// it may only be denied.
    #[error(
        "approval {0} does not record who submitted it, so it cannot be approved (deny it, and submit the plan again)"
    )]
    SubmitterUnknown(String),
    /// The plan's spec is no longer in force, so the plan cannot be proven
    /// again.
    #[error("spec {0:?} is no longer loaded")]
    SpecGone(String),
    /// The spec in force now rejects the plan (with this many
    /// counterexamples).
    #[error("the spec in force now rejects this plan; it cannot be approved ({0} counterexamples)")]
    RejectedNow(usize),
    /// The plan cannot be checked again.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The token could not be signed.
    #[error(transparent)]
    Sign(#[from] crate::engine::SignError),
    /// A task on the blocking pool panicked or was cancelled.
    #[error("a worker failed: {0}")]
    Worker(String),
    /// The store failed; nothing was recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A decision on its way: the approval as decided.
pub type Decided<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<ApprovalRecord, DecideError>> + Send + 'a>>;

/// Approval decisions as a front door other than gRPC needs them (the web
/// console): the same checks, store and audit records as `Approve`/`Deny`.
pub trait Decisions: Send + Sync + 'static {
    /// Approves (issuing the token) or denies a pending approval as `who`
    /// ([`WardenService::decide_as`]).
    fn decide<'a>(
        &'a self,
        who: &'a Identity,
        id: &'a str,
        reason: &'a str,
        approve: bool,
    ) -> Decided<'a>;
}

impl<E: Engine> Decisions for WardenService<E> {
    fn decide<'a>(
        &'a self,
        who: &'a Identity,
        id: &'a str,
        reason: &'a str,
        approve: bool,
    ) -> Decided<'a> {
        Box::pin(self.decide_as(who, id, reason, approve))
    }
}

impl<E: Engine> WardenService<E> {
    /// The approval `id`, for a submitter polling or an approver reading.
    pub(super) async fn approval(&self, id: &str) -> Result<ApprovalRecord, ServiceError> {
        let id = non_empty(id, "approval_id")?.to_owned();
        let store = self.inner.store.clone();
        let lookup = id.clone();
        tokio::task::spawn_blocking(move || store.approval(&lookup))
            .await??
            .ok_or(ServiceError::ApprovalNotFound(id))
    }

    /// Approves or denies a pending approval as `who`, whichever door the
    /// decision came through: an approver or admin, never the principal
    /// that submitted the plan. An approval re-proves the plan against the
    /// spec in force now and issues its token; the decision and its audit
    /// records are durable before this returns.
    pub async fn decide_as(
        &self,
        who: &Identity,
        approval_id: &str,
        reason: &str,
        approve: bool,
    ) -> Result<ApprovalRecord, DecideError> {
        if !matches!(who.role, Role::Approver | Role::Admin) {
            return Err(DecideError::Role {
                name: who.name.clone(),
                role: who.role.as_str(),
            });
        }
        let id = non_empty(approval_id, "approval_id")?.to_owned();
        let reason = non_empty(reason, "reason")?.to_owned();
        let store = self.inner.store.clone();
        let lookup = id.clone();
        let rec = tokio::task::spawn_blocking(move || store.approval(&lookup))
            .await
            .map_err(|e| DecideError::Worker(e.to_string()))??
            .ok_or_else(|| DecideError::NotFound(id.clone()))?;
        if rec.state != ApprovalState::Pending {
            return Err(DecideError::NotPending {
                id,
                state: rec.state.as_str(),
            });
        }
        // Nobody approves their own submission, admin included; an approval
        // whose submitter is unknown cannot be approved (fail closed).
        if approve {
            match &rec.submitted_by {
                None => return Err(DecideError::SubmitterUnknown(id)),
                Some(s) if *s == who.name => {
                    return Err(DecideError::OwnSubmission {
                        id,
                        who: who.name.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        let at_ms = now_ms();
        let mut events = Vec::new();
        let mut issued = None;
        if approve && let Some(call) = &rec.call {
            // One tool call's approval: nothing to prove again and no token
            // to issue; the gateway that asked lets that exact call through.
            events.push(NewEvent::new(
                EventKind::Approval,
                json!({"approval_id": id, "state": "approved", "token_id": call.token_id,
                       "call_digest": call.call_digest, "decided_by": who.name, "reason": reason}),
            ));
        } else if approve {
            // Prove the plan again against the spec in force now: a spec
            // tightened since the submission wins.
            let spec = self
                .inner
                .specs
                .get(&rec.spec)
                .ok_or_else(|| DecideError::SpecGone(rec.spec.clone()))?;
            let engine = self.inner.engine.clone();
            let plan = rec.plan.clone();
            let decision = tokio::task::spawn_blocking(move || {
                engine.check(&spec.name, &spec.prepared, &plan)
            })
            .await
            .map_err(|e| DecideError::Worker(e.to_string()))??;
            let accepted = match (decision.verdict, decision.accepted) {
                (Verdict::Reject, _) | (_, None) => {
                    return Err(DecideError::RejectedNow(decision.counterexamples.len()));
                }
                (_, Some(a)) => a,
            };
            let tok = self.inner.engine.issue(&accepted, &rec.agent)?;
            events.push(NewEvent::new(
                EventKind::Approval,
                json!({"approval_id": id, "submission_id": rec.submission_id, "agent": rec.agent,
                       "state": "approved", "decided_by": who.name, "reason": reason}),
            ));
            events.push(NewEvent::new(
                EventKind::Token,
                json!({"submission_id": rec.submission_id, "approval_id": id, "agent": rec.agent,
                       "token_id": tok.token_id, "expires_at": tok.expires_at, "plan_hash": decision.plan_hash}),
            ));
            issued = Some(IssuedToken {
                token_id: tok.token_id,
                token: tok.token,
            });
        } else {
            events.push(NewEvent::new(
                EventKind::Approval,
                json!({"approval_id": id, "submission_id": rec.submission_id, "agent": rec.agent,
                       "state": "denied", "decided_by": who.name, "reason": reason}),
            ));
        }
        let state = if approve {
            ApprovalState::Approved
        } else {
            ApprovalState::Denied
        };
        let txn = Txn {
            ops: vec![StateOp::DecideApproval {
                id: id.clone(),
                state,
                by: who.name.clone(),
                reason: reason.clone(),
                at_ms,
                token: issued.clone(),
            }],
            events,
        };
        // Decided meanwhile through another door: the same answer as above.
        self.inner
            .store
            .commit(txn)
            .wait()
            .await
            .map_err(|e| match e {
                StoreError::NotPending { id, state } => DecideError::NotPending { id, state },
                e => DecideError::Store(e),
            })?;
        Ok(ApprovalRecord {
            state,
            decided_by: Some(who.name.clone()),
            decision_reason: Some(reason),
            decided_ms: Some(at_ms),
            token_id: issued.as_ref().map(|t| t.token_id.clone()),
            token: issued.map(|t| t.token),
            ..rec
        })
    }
}
