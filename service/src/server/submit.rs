//! A plan submitted: prove it against the spec in force, then issue its
//! token (accept), open an approval (approve) or record the
//! counterexamples (reject), with the audit records of each.

use super::convert::counterexample_json;
use super::{WardenService, non_empty, random_id};
use crate::audit::{EventKind, NewEvent};
use crate::auth::Identity;
use crate::engine::{Engine, Verdict, verdict_to_proto};
use crate::error::{InputError, ServiceError};
use crate::metrics::VerdictLabel;
use crate::proto;
use crate::store::{ApprovalRecord, ApprovalState, StateOp, Txn, now_ms};
use serde_json::json;

impl<E: Engine> WardenService<E> {
    /// Checks a submitted plan as `who` and commits the outcome with its
    /// audit records before answering.
    pub(super) async fn submit(
        &self,
        who: &Identity,
        req: proto::SubmitPlanRequest,
    ) -> Result<proto::SubmitPlanResponse, ServiceError> {
        if req.plan.len() > self.inner.limits.max_plan_bytes {
            return Err(InputError::PlanTooLarge {
                size: req.plan.len(),
                limit: self.inner.limits.max_plan_bytes,
            }
            .into());
        }
        let spec_name = non_empty(&req.spec, "spec")?.to_owned();
        let agent = non_empty(&req.agent, "agent")?.to_owned();
        let since = std::time::Instant::now();
        let invalid = |e| {
            self.inner
                .metrics
                .verified(VerdictLabel::invalid, since.elapsed());
            e
        };
        let spec = self
            .inner
            .specs
            .get(&spec_name)
            .ok_or_else(|| ServiceError::SpecNotLoaded {
                loaded: self
                    .inner
                    .specs
                    .names()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect(),
                name: spec_name.clone(),
            })
            .map_err(invalid)?;
        let engine = self.inner.engine.clone();
        let plan = req.plan;
        let (decision, plan) = tokio::task::spawn_blocking(move || {
            let d = engine.check(&spec_name, &spec.prepared, &plan);
            (d.map(|d| (d, spec)), plan)
        })
        .await?;
        let (decision, spec) = decision.map_err(|e| invalid(e.into()))?;
        self.inner
            .metrics
            .verified(decision.verdict.into(), since.elapsed());
        if let Some(pa) = &decision.plan_agent
            && pa != &agent
        {
            return Err(InputError::AgentMismatch {
                request: agent,
                plan: pa.clone(),
            }
            .into());
        }
        let submission_id = random_id("sub")?;
        let mut resp = proto::SubmitPlanResponse {
            submission_id: submission_id.clone(),
            verdict: verdict_to_proto(decision.verdict) as i32,
            counterexamples: decision.counterexamples.clone(),
            envelope_json: decision.envelope_json.clone(),
            ..Default::default()
        };
        let mut txn = Txn::default();
        txn.events.push(NewEvent::new(
            EventKind::Submission,
            json!({"submission_id": submission_id, "agent": agent, "spec": spec.name,
                   "spec_hash": spec.prepared.spec_hash, "plan_hash": decision.plan_hash,
                   "plan": plan, "submitted_by": who.name}),
        ));
        txn.events.push(NewEvent::new(
            EventKind::Verdict,
            json!({"submission_id": submission_id, "agent": agent, "verdict": decision.verdict.as_str(),
                   "counterexamples": decision.counterexamples.iter().map(counterexample_json).collect::<Vec<_>>(),
                   "approval_reasons": decision.approval_reasons}),
        ));
        match decision.verdict {
            Verdict::Reject => {}
            Verdict::Accept => {
                let accepted = decision.accepted.ok_or(ServiceError::NoEnvelope)?;
                let issued = self.inner.engine.issue(&accepted, &agent)?;
                txn.events.push(NewEvent::new(
                    EventKind::Token,
                    json!({"submission_id": submission_id, "agent": agent, "token_id": issued.token_id,
                           "expires_at": issued.expires_at, "plan_hash": decision.plan_hash}),
                ));
                resp.token = issued.token;
                resp.token_id = issued.token_id;
            }
            Verdict::Approve => {
                let approval_id = random_id("apr")?;
                let rec = ApprovalRecord {
                    id: approval_id.clone(),
                    submission_id: submission_id.clone(),
                    agent: agent.clone(),
                    spec: spec.name.clone(),
                    plan: plan.clone(),
                    reasons: decision.approval_reasons.clone(),
                    envelope_json: decision.envelope_json.clone(),
                    state: ApprovalState::Pending,
                    created_ms: now_ms(),
                    decided_by: None,
                    decision_reason: None,
                    decided_ms: None,
                    token_id: None,
                    token: None,
                    submitted_by: Some(who.name.clone()),
                    marks: decision.approval_marks.clone(),
                    call: None,
                };
                txn.ops.push(StateOp::CreateApproval(rec));
                txn.events.push(NewEvent::new(
                    EventKind::Approval,
                    json!({"approval_id": approval_id, "submission_id": submission_id, "agent": agent,
                           "state": "pending", "reasons": decision.approval_reasons}),
                ));
                resp.approval_id = approval_id;
                resp.approval_reasons = decision.approval_reasons;
            }
        }
        let done = self.commit(txn).await?;
        resp.audit_seq = done.last_seq();
        Ok(resp)
    }
}
