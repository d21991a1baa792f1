//! The service's records in their protobuf and audit-JSON forms.

use crate::audit::AuditRecord;
use crate::proto;
use crate::specs::{SpecChange, SpecStatus};
use crate::store::{ApprovalRecord, ApprovalState};
use serde_json::json;

pub(super) fn approval_to_proto(a: &ApprovalRecord) -> proto::Approval {
    proto::Approval {
        approval_id: a.id.clone(),
        submission_id: a.submission_id.clone(),
        agent: a.agent.clone(),
        spec: a.spec.clone(),
        state: match a.state {
            ApprovalState::Pending => proto::ApprovalState::Pending,
            ApprovalState::Approved => proto::ApprovalState::Approved,
            ApprovalState::Denied => proto::ApprovalState::Denied,
        } as i32,
        plan: a.plan.clone(),
        reasons: a.reasons.clone(),
        decided_by: a.decided_by.clone().unwrap_or_default(),
        decision_reason: a.decision_reason.clone().unwrap_or_default(),
        token: a.token.clone().unwrap_or_default(),
        token_id: a.token_id.clone().unwrap_or_default(),
        created_at_ms: a.created_ms,
        decided_at_ms: a.decided_ms.unwrap_or(0),
        envelope_json: a.envelope_json.clone(),
        call_token_id: a
            .call
            .as_ref()
            .map(|c| c.token_id.clone())
            .unwrap_or_default(),
        call_digest: a
            .call
            .as_ref()
            .map(|c| c.call_digest.clone())
            .unwrap_or_default(),
    }
}

pub(super) fn record_to_event(r: &AuditRecord) -> proto::Event {
    proto::Event {
        seq: r.seq,
        time_ms: r.time_ms,
        kind: r.kind.clone(),
        body_json: r.body.clone(),
        hash: r.hash.clone(),
        prev_hash: r.prev_hash.clone(),
    }
}

pub(super) fn head_to_proto(h: &crate::audit::SignedHead) -> proto::SignedTreeHead {
    proto::SignedTreeHead {
        size: h.seq,
        chain_hash: h.hash.clone(),
        root: h.root.clone().unwrap_or_default(),
        signature: h.signature.clone(),
        kid: h.kid.clone().unwrap_or_default(),
    }
}

pub(super) fn inclusion_to_proto(p: &crate::store::InclusionProof) -> proto::InclusionProof {
    proto::InclusionProof {
        record: Some(record_to_event(&p.record)),
        head: Some(head_to_proto(&p.head)),
        proof: p.proof.clone(),
    }
}

pub(super) fn consistency_to_proto(p: &crate::store::ConsistencyProof) -> proto::ConsistencyProof {
    proto::ConsistencyProof {
        old_size: p.old_size,
        old_root: p.old_root.clone(),
        new_size: p.new_size,
        new_root: p.new_root.clone(),
        head: p.head.as_ref().map(head_to_proto),
        proof: p.proof.clone(),
    }
}

pub(super) fn counterexample_json(c: &proto::Counterexample) -> serde_json::Value {
    let loc = |l: &Option<proto::Location>| {
        l.as_ref()
            .map(|l| format!("{}:{}:{}", l.file, l.line, l.column))
    };
    json!({
        "reason": c.reason, "message": c.message, "rule": c.rule, "rule_at": loc(&c.rule_location),
        "step": c.step, "step_at": loc(&c.step_location),
        "witness": c.witnesses.iter().map(|w| (w.name.clone(), json!(w.value))).collect::<serde_json::Map<_, _>>(),
    })
}

pub(super) fn spec_status_proto(s: &SpecStatus) -> proto::SpecStatus {
    proto::SpecStatus {
        name: s.name.clone(),
        file: s.file.display().to_string(),
        loaded: s.in_force,
        error: match &s.change {
            SpecChange::Failed { error, .. } => error.clone(),
            _ => String::new(),
        },
        spec_hash: s.spec_hash.clone(),
    }
}
