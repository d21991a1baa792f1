//! The gRPC service: [`WardenService`] implements `warden.v1.Warden`, and
//! [`serve`] runs it with the health service, TLS, spec reloading and a
//! clean shutdown.
//!
//! Every handler authenticates first, validates its input without touching
//! state, does the work (the verifier runs on the blocking pool), then
//! commits the state change together with its audit records and waits until
//! they are durable before it answers. Bad input changes nothing.

use crate::audit::{AuditRecord, CheckpointSigner, EventKind, NewEvent};
use crate::auth::{Authenticator, Identity, Role};
use crate::config::ServeConfig;
use crate::engine::{ActionError, Engine, PlanError, TokenRefused, Verdict, verdict_to_proto};
use crate::proto::{self, warden_server::Warden};
use crate::specs::{SpecChange, SpecRegistry, SpecStatus};
use crate::store::sqlite::{SqliteOptions, SqliteStore, now_ms};
use crate::store::{
    ApprovalRecord, ApprovalState, IssuedToken, RecordQuery, StateOp, Store, StoreError, Txn,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Limits on what a caller may send.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_plan_bytes: usize,
}

/// The service's shared state.
pub struct WardenService<E: Engine> {
    inner: Arc<Inner<E>>,
}

impl<E: Engine> Clone for WardenService<E> {
    fn clone(&self) -> Self {
        WardenService {
            inner: self.inner.clone(),
        }
    }
}

/// Where a run's state is.
enum RunSlot<S> {
    /// Not read from the store yet.
    Unloaded,
    /// In memory; the store holds the same value (it is written before an
    /// allow is answered, under the slot's lock).
    Live(S),
    /// Dropped from the cache while idle: whoever still holds it looks the
    /// token up again, so a token never has two live run states.
    Evicted,
}

/// One verified token and the state of its run.
struct Run<E: Engine> {
    token_id: String,
    /// Unix seconds.
    expires_at: i64,
    token: E::Token,
    /// An async lock: a check holds it until its run state is durable, so
    /// the checks of one token are serialized (those of different tokens
    /// are not).
    slot: tokio::sync::Mutex<RunSlot<E::RunState>>,
}

/// The runs of the tokens seen, by SHA-256 of the token text (no signature
/// check on a hit) and by token id (one run per token).
struct Runs<E: Engine> {
    by_text: HashMap<[u8; 32], Arc<Run<E>>>,
    by_id: HashMap<String, Arc<Run<E>>>,
}

/// The service's revoked token ids as a [`token::RevocationList`].
struct Revoked<'a>(&'a RwLock<HashSet<String>>);

impl token::RevocationList for Revoked<'_> {
    fn is_revoked(&self, id: &token::TokenId) -> Result<bool, token::RevocationError> {
        Ok(self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id.to_string()))
    }
}

struct Inner<E: Engine> {
    engine: Arc<E>,
    store: Arc<dyn Store>,
    auth: Authenticator,
    specs: Arc<SpecRegistry<E>>,
    limits: Limits,
    revoked: RwLock<HashSet<String>>,
    /// Run state per token: bindings, counts and order are tracked across
    /// CheckAction calls (and stored, so they survive a restart).
    runs: Mutex<Runs<E>>,
}

const MAX_RUNS: usize = 100_000;

fn random_id(prefix: &str) -> Result<String, Status> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Status::internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}_{}", hex::encode(b)))
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::ApprovalNotFound(id) => Status::not_found(format!("approval {id} not found")),
        e @ StoreError::NotPending { .. } => Status::failed_precondition(e.to_string()),
        e @ StoreError::AlreadyRevoked(_) => Status::failed_precondition(e.to_string()),
        e => {
            tracing::error!("store: {e}");
            Status::unavailable(format!(
                "the audit store could not record this, so nothing was done: {e}"
            ))
        }
    }
}

fn plan_status(e: PlanError) -> Status {
    match e {
        PlanError::Invalid(diag) => {
            Status::invalid_argument(format!("the plan does not parse:\n{diag}"))
        }
        PlanError::Internal(m) => {
            tracing::error!("verifier: {m}");
            Status::internal(format!("the verifier failed: {m}"))
        }
    }
}

fn join_status(e: tokio::task::JoinError) -> Status {
    Status::internal(format!("a worker failed: {e}"))
}

fn approval_to_proto(a: &ApprovalRecord) -> proto::Approval {
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
    }
}

fn record_to_event(r: &AuditRecord) -> proto::Event {
    proto::Event {
        seq: r.seq,
        time_ms: r.time_ms,
        kind: r.kind.clone(),
        body_json: r.body.clone(),
        hash: r.hash.clone(),
        prev_hash: r.prev_hash.clone(),
    }
}

fn counterexample_json(c: &proto::Counterexample) -> serde_json::Value {
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

fn non_empty<'a>(v: &'a str, what: &str) -> Result<&'a str, Status> {
    let t = v.trim();
    if t.is_empty() {
        Err(Status::invalid_argument(format!("{what} is required")))
    } else if t.len() > 256 {
        Err(Status::invalid_argument(format!(
            "{what} is longer than 256 bytes"
        )))
    } else {
        Ok(t)
    }
}

/// Reports spec reload results to the log and the audit log.
pub fn spec_events(statuses: &[SpecStatus]) -> Vec<NewEvent> {
    let mut out = Vec::new();
    for s in statuses {
        let file = s.file.display().to_string();
        let body = match &s.change {
            SpecChange::Unchanged => continue,
            SpecChange::Loaded { spec_hash } => {
                tracing::info!("spec {} loaded from {file} ({spec_hash})", s.name);
                json!({"spec": s.name, "file": file, "status": "loaded", "spec_hash": spec_hash})
            }
            SpecChange::Failed {
                error,
                kept_previous,
            } => {
                tracing::warn!(
                    "spec {} failed to load from {file}; {}:\n{error}",
                    s.name,
                    if *kept_previous {
                        "the previous version stays in force"
                    } else {
                        "it is not in force"
                    }
                );
                json!({"spec": s.name, "file": file, "status": "failed", "error": error,
                       "kept_previous": kept_previous, "spec_hash": s.spec_hash})
            }
            SpecChange::Removed => {
                tracing::warn!("spec {} removed ({file} is gone)", s.name);
                json!({"spec": s.name, "file": file, "status": "removed"})
            }
        };
        out.push(NewEvent::new(EventKind::Spec, body));
    }
    out
}

fn spec_status_proto(s: &SpecStatus) -> proto::SpecStatus {
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

impl<E: Engine> WardenService<E> {
    /// A service over an engine, a store and loaded specs. The revoked token
    /// ids are read from the store once; later revocations go through
    /// [`Warden::revoke`].
    pub fn new(
        engine: Arc<E>,
        store: Arc<dyn Store>,
        auth: Authenticator,
        specs: Arc<SpecRegistry<E>>,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        let revoked = store.revoked()?.into_iter().collect();
        Ok(WardenService {
            inner: Arc::new(Inner {
                engine,
                store,
                auth,
                specs,
                limits,
                revoked: RwLock::new(revoked),
                runs: Mutex::new(Runs {
                    by_text: HashMap::new(),
                    by_id: HashMap::new(),
                }),
            }),
        })
    }

    /// Reloads the spec directory now and records what changed.
    pub async fn reload_specs(&self, only_if_changed: bool) -> Result<Vec<SpecStatus>, Status> {
        let inner = self.inner.clone();
        let statuses = tokio::task::spawn_blocking(move || {
            if only_if_changed {
                inner.specs.reload_if_changed(&inner.engine)
            } else {
                inner.specs.reload(&inner.engine).map(Some)
            }
        })
        .await
        .map_err(join_status)?
        .map_err(|e| {
            tracing::error!("{e}");
            Status::failed_precondition(e.to_string())
        })?
        .unwrap_or_default();
        let events = spec_events(&statuses);
        if !events.is_empty() {
            self.commit(Txn::events(events)).await?;
        }
        Ok(statuses)
    }

    /// The run of a token, verifying the token the first time it is seen.
    fn run(&self, token: &str) -> Result<Arc<Run<E>>, Status> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(run) = self
            .inner
            .runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_text
            .get(&key)
        {
            return Ok(run.clone());
        }
        let v = self.inner.engine.verify_token(token).map_err(|e| match e {
            TokenRefused::Malformed(m) => Status::invalid_argument(format!("malformed token: {m}")),
            TokenRefused::Invalid(m) => {
                Status::permission_denied(format!("token not accepted: {m}"))
            }
        })?;
        let mut runs = self.inner.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = runs.by_id.get(&v.token_id).cloned() {
            runs.by_text.insert(key, run.clone());
            return Ok(run);
        }
        if runs.by_id.len() >= MAX_RUNS {
            evict(&mut runs, now_ms() / 1000);
        }
        if runs.by_id.len() >= MAX_RUNS {
            return Err(Status::resource_exhausted(
                "too many runs are being checked at once; try again later",
            ));
        }
        let run = Arc::new(Run {
            token_id: v.token_id,
            expires_at: v.expires_at,
            token: v.token,
            slot: tokio::sync::Mutex::new(RunSlot::Unloaded),
        });
        runs.by_id.insert(run.token_id.clone(), run.clone());
        runs.by_text.insert(key, run.clone());
        Ok(run)
    }

    /// Reads the stored state of a run (a restart goes on counting), or
    /// starts a new one.
    async fn load_run(&self, run: &Run<E>) -> Result<E::RunState, Status> {
        let store = self.inner.store.clone();
        let id = run.token_id.clone();
        let stored = tokio::task::spawn_blocking(move || store.run_state(&id))
            .await
            .map_err(join_status)?
            .map_err(store_status)?;
        match stored {
            None => Ok(self.inner.engine.new_run(&run.token)),
            // Fail closed: a state that cannot be read is not replaced by a
            // fresh one (that would reset the counts).
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                tracing::error!(
                    "the stored run state of token {} is corrupt: {e}",
                    run.token_id
                );
                Status::internal(format!(
                    "the stored run state of token {} is corrupt; its actions are refused",
                    run.token_id
                ))
            }),
        }
    }

    /// Commits a transaction and waits until it is durable.
    async fn commit(&self, txn: Txn) -> Result<crate::store::Committed, Status> {
        self.inner
            .store
            .commit(txn)
            .wait()
            .await
            .map_err(store_status)
    }

    fn authorize<T>(&self, req: &Request<T>, roles: &[Role]) -> Result<Identity, Status> {
        self.inner.auth.authorize(req.metadata(), roles)
    }
}

#[tonic::async_trait]
impl<E: Engine> Warden for WardenService<E> {
    async fn submit_plan(
        &self,
        request: Request<proto::SubmitPlanRequest>,
    ) -> Result<Response<proto::SubmitPlanResponse>, Status> {
        let who = self.authorize(&request, &[Role::Submitter])?;
        let req = request.into_inner();
        if req.plan.len() > self.inner.limits.max_plan_bytes {
            return Err(Status::invalid_argument(format!(
                "the plan is {} bytes; the limit is {} bytes",
                req.plan.len(),
                self.inner.limits.max_plan_bytes
            )));
        }
        let spec_name = non_empty(&req.spec, "spec")?.to_owned();
        let agent = non_empty(&req.agent, "agent")?.to_owned();
        let spec = self.inner.specs.get(&spec_name).ok_or_else(|| {
            let known: Vec<_> = self
                .inner
                .specs
                .names()
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            Status::not_found(format!(
                "no spec named {spec_name:?} is loaded (loaded: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let engine = self.inner.engine.clone();
        let plan = req.plan;
        let (decision, plan) = tokio::task::spawn_blocking(move || {
            let d = engine.check(&spec_name, &spec.loaded, &plan);
            (d.map(|d| (d, spec)), plan)
        })
        .await
        .map_err(join_status)?;
        let (decision, spec) = decision.map_err(plan_status)?;
        if let Some(pa) = &decision.plan_agent
            && pa != &agent
        {
            return Err(Status::invalid_argument(format!(
                "the request says agent {agent:?} but the plan says agent {pa:?}"
            )));
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
                   "spec_hash": spec.loaded.spec_hash, "plan_hash": decision.plan_hash,
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
                let accepted = decision
                    .accepted
                    .ok_or_else(|| Status::internal("an accepted plan came without an envelope"))?;
                let issued = self
                    .inner
                    .engine
                    .issue(&accepted, &agent)
                    .map_err(|e| Status::internal(format!("cannot sign the token: {e}")))?;
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
        let done = self
            .inner
            .store
            .commit(txn)
            .wait()
            .await
            .map_err(store_status)?;
        resp.audit_seq = done.last_seq();
        Ok(Response::new(resp))
    }

    async fn get_approval(
        &self,
        request: Request<proto::GetApprovalRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        let id = non_empty(&request.get_ref().approval_id, "approval_id")?.to_owned();
        let store = self.inner.store.clone();
        let rec = tokio::task::spawn_blocking(move || store.approval(&id).map(|r| (r, id)))
            .await
            .map_err(join_status)?
            .map_err(store_status)?;
        match rec {
            (Some(a), _) => Ok(Response::new(approval_to_proto(&a))),
            (None, id) => Err(Status::not_found(format!("approval {id} not found"))),
        }
    }

    async fn approve(
        &self,
        request: Request<proto::DecideRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.decide(request, true).await
    }

    async fn deny(
        &self,
        request: Request<proto::DecideRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.decide(request, false).await
    }

    async fn revoke(
        &self,
        request: Request<proto::RevokeRequest>,
    ) -> Result<Response<proto::RevokeResponse>, Status> {
        let who = self.authorize(&request, &[Role::Approver])?;
        let req = request.into_inner();
        let token_id = non_empty(&req.token_id, "token_id")?.to_owned();
        let reason = non_empty(&req.reason, "reason")?.to_owned();
        let at_ms = now_ms();
        let txn = Txn {
            ops: vec![StateOp::Revoke {
                token_id: token_id.clone(),
                by: who.name.clone(),
                reason: reason.clone(),
                at_ms,
            }],
            events: vec![NewEvent::new(
                EventKind::Revocation,
                json!({"token_id": token_id, "revoked_by": who.name, "reason": reason}),
            )],
        };
        match self.inner.store.commit(txn).wait().await {
            Ok(done) => {
                self.inner
                    .revoked
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(token_id.clone());
                Ok(Response::new(proto::RevokeResponse {
                    token_id,
                    revoked_at_ms: at_ms,
                    already_revoked: false,
                    audit_seq: done.last_seq(),
                }))
            }
            Err(StoreError::AlreadyRevoked(_)) => Ok(Response::new(proto::RevokeResponse {
                token_id,
                revoked_at_ms: 0,
                already_revoked: true,
                audit_seq: 0,
            })),
            Err(e) => Err(store_status(e)),
        }
    }

    async fn check_action(
        &self,
        request: Request<proto::CheckActionRequest>,
    ) -> Result<Response<proto::CheckActionResponse>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        let req = request.into_inner();
        let token = non_empty_token(&req.token)?;
        let action = req
            .action
            .ok_or_else(|| Status::invalid_argument("action is required"))?;
        let action_text = format!("{action:?}");
        loop {
            let run = self.run(token)?;
            let mut slot = run.slot.lock().await;
            let mut state = match &*slot {
                RunSlot::Evicted => continue,
                RunSlot::Live(s) => s.clone(),
                RunSlot::Unloaded => self.load_run(&run).await?,
            };
            let token_id = run.token_id.clone();
            let verdict = self.inner.engine.check_action(
                &run.token,
                &mut state,
                &action,
                &Revoked(&self.inner.revoked),
            );
            return match verdict {
                Ok(()) => {
                    // The run's new state and the allow are durable before
                    // the answer: a restart goes on counting from here.
                    let saved = serde_json::to_string(&state).map_err(|e| {
                        Status::internal(format!("cannot store the run state: {e}"))
                    })?;
                    let txn = Txn {
                        ops: vec![StateOp::SaveRun {
                            token_id: token_id.clone(),
                            state: saved,
                            expires_s: run.expires_at,
                            at_ms: now_ms(),
                        }],
                        events: vec![NewEvent::new(
                            EventKind::Enforcement,
                            json!({"token_id": token_id, "layer": "check_action", "kind": "allowed",
                                   "action": action_text}),
                        )],
                    };
                    self.commit(txn).await?;
                    *slot = RunSlot::Live(state);
                    Ok(Response::new(proto::CheckActionResponse {
                        allowed: true,
                        reason: String::new(),
                        token_id,
                    }))
                }
                Err(ActionError::Malformed(m)) => {
                    Err(Status::invalid_argument(format!("malformed action: {m}")))
                }
                Err(ActionError::TokenNotHonoured(m)) => Err(Status::permission_denied(format!(
                    "token {token_id} not accepted: {m}"
                ))),
                Err(ActionError::Refused(reason)) => {
                    // A refusal is an enforcement event: record it before
                    // answering. The run's state is unchanged.
                    let ev = NewEvent::new(
                        EventKind::Enforcement,
                        json!({"token_id": token_id, "layer": "check_action", "kind": "refused",
                               "reason": reason, "action": action_text}),
                    );
                    self.commit(Txn::events(vec![ev])).await?;
                    Ok(Response::new(proto::CheckActionResponse {
                        allowed: false,
                        reason,
                        token_id,
                    }))
                }
            };
        }
    }

    async fn record_enforcement(
        &self,
        request: Request<proto::EnforcementEvent>,
    ) -> Result<Response<proto::RecordEnforcementResponse>, Status> {
        let who = self.authorize(&request, &[Role::Submitter])?;
        let req = request.into_inner();
        let detail: serde_json::Value = if req.detail_json.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&req.detail_json)
                .map_err(|e| Status::invalid_argument(format!("detail_json is not JSON: {e}")))?
        };
        if !detail.is_object() {
            return Err(Status::invalid_argument(
                "detail_json must be a JSON object",
            ));
        }
        if req.detail_json.len() > 64 * 1024 {
            return Err(Status::invalid_argument(
                "detail_json is larger than 64 KiB",
            ));
        }
        let kind = non_empty(&req.kind, "kind")?;
        let ev = NewEvent::new(
            EventKind::Enforcement,
            json!({"token_id": req.token_id, "run_id": req.run_id, "layer": req.layer,
                   "kind": kind, "detail": detail, "reported_by": who.name}),
        );
        let done = self
            .inner
            .store
            .commit(Txn::events(vec![ev]))
            .wait()
            .await
            .map_err(store_status)?;
        Ok(Response::new(proto::RecordEnforcementResponse {
            audit_seq: done.last_seq(),
        }))
    }

    type StreamEventsStream = ReceiverStream<Result<proto::Event, Status>>;

    async fn stream_events(
        &self,
        request: Request<proto::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        self.authorize(&request, &[Role::Approver])?;
        let req = request.into_inner();
        let mut kinds = Vec::new();
        for k in &req.kinds {
            kinds
                .push(EventKind::parse(k).ok_or_else(|| {
                    Status::invalid_argument(format!("unknown event kind {k:?}"))
                })?);
        }
        // Subscribe before reading the log so nothing falls in between.
        let mut live = self.inner.store.subscribe();
        let store = self.inner.store.clone();
        let q = RecordQuery {
            kinds: kinds.clone(),
            after_seq: req.after_seq,
            ..Default::default()
        };
        let replay = req.after_seq > 0 || req.replay;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut last = req.after_seq;
            // Sends the matching records after `after` from the log: the seq
            // of the last one sent, or None once the stream is over.
            let catch_up = |after: u64| {
                let store = store.clone();
                let tx = tx.clone();
                let q = RecordQuery {
                    after_seq: after,
                    ..q.clone()
                };
                async move {
                    let recs = tokio::task::spawn_blocking(move || store.records(&q))
                        .await
                        .map_err(join_status)
                        .and_then(|r| r.map_err(store_status));
                    match recs {
                        Ok(recs) => {
                            let mut last = after;
                            for r in recs {
                                last = r.seq;
                                tx.send(Ok(record_to_event(&r))).await.ok()?;
                            }
                            Some(last)
                        }
                        Err(s) => {
                            let _ = tx.send(Err(s)).await;
                            None
                        }
                    }
                }
            };
            if replay {
                match catch_up(last).await {
                    Some(l) => last = l,
                    None => return,
                }
            }
            loop {
                match live.recv().await {
                    Ok(r) => {
                        if r.seq <= last {
                            continue;
                        }
                        last = r.seq;
                        if (kinds.is_empty() || kinds.iter().any(|k| k.as_str() == r.kind))
                            && tx.send(Ok(record_to_event(&r))).await.is_err()
                        {
                            return;
                        }
                    }
                    // Fell behind the live feed: catch up from the log.
                    Err(RecvError::Lagged(_)) => match catch_up(last).await {
                        Some(l) => last = l,
                        None => return,
                    },
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn reload(
        &self,
        request: Request<proto::ReloadRequest>,
    ) -> Result<Response<proto::ReloadResponse>, Status> {
        self.authorize(&request, &[Role::Admin])?;
        let statuses = self.reload_specs(false).await?;
        Ok(Response::new(proto::ReloadResponse {
            specs: statuses.iter().map(spec_status_proto).collect(),
        }))
    }
}

fn non_empty_token(t: &str) -> Result<&str, Status> {
    let t = t.trim();
    if t.is_empty() {
        return Err(Status::invalid_argument("token is required"));
    }
    if t.len() > 1024 * 1024 {
        return Err(Status::invalid_argument("token is larger than 1 MiB"));
    }
    Ok(t)
}

/// Makes room in the run cache: drops the runs of expired tokens, then, if
/// still half full, every idle run (its state is in the store and is read
/// back on the token's next check). A run being checked is never dropped.
fn evict<E: Engine>(runs: &mut Runs<E>, now_s: i64) {
    let drop_idle = |run: &Arc<Run<E>>, live_too: bool| match run.slot.try_lock() {
        Ok(mut slot) if live_too || run.expires_at <= now_s => {
            *slot = RunSlot::Evicted;
            false
        }
        _ => true,
    };
    runs.by_id.retain(|_, run| drop_idle(run, false));
    if runs.by_id.len() >= MAX_RUNS / 2 {
        runs.by_id.retain(|_, run| drop_idle(run, true));
    }
    let Runs { by_text, by_id } = runs;
    by_text.retain(|_, run| by_id.contains_key(&run.token_id));
}

/// Why an approval or a denial was not recorded. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{0}")]
    Invalid(String),
    #[error("{name} has role {role}; deciding approvals needs approver (or admin)")]
    Role { name: String, role: &'static str },
    #[error("approval {0} not found")]
    NotFound(String),
    #[error("approval {id} is already {state}")]
    NotPending { id: String, state: &'static str },
    #[error("{who} submitted the plan of approval {id}; nobody may approve their own submission")]
    OwnSubmission { id: String, who: String },
    #[error(
        "approval {0} does not record who submitted it, so it cannot be approved (deny it, and submit the plan again)"
    )]
    SubmitterUnknown(String),
    #[error("spec {0:?} is no longer loaded")]
    SpecGone(String),
    #[error("the spec in force now rejects this plan; it cannot be approved ({0} counterexamples)")]
    RejectedNow(usize),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot sign the token: {0}")]
    Sign(String),
    #[error("a worker failed: {0}")]
    Worker(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DecideError> for Status {
    fn from(e: DecideError) -> Status {
        match e {
            DecideError::Invalid(m) => Status::invalid_argument(m),
            e @ DecideError::Role { .. } => Status::permission_denied(e.to_string()),
            e @ DecideError::OwnSubmission { .. } => Status::permission_denied(e.to_string()),
            e @ DecideError::NotFound(_) => Status::not_found(e.to_string()),
            e @ (DecideError::NotPending { .. }
            | DecideError::SubmitterUnknown(_)
            | DecideError::SpecGone(_)
            | DecideError::RejectedNow(_)) => Status::failed_precondition(e.to_string()),
            DecideError::Plan(p) => plan_status(p),
            e @ (DecideError::Sign(_) | DecideError::Worker(_)) => Status::internal(e.to_string()),
            DecideError::Store(e) => store_status(e),
        }
    }
}

fn decide_text<'a>(v: &'a str, what: &str) -> Result<&'a str, DecideError> {
    non_empty(v, what).map_err(|s| DecideError::Invalid(s.message().to_owned()))
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
    async fn decide(
        &self,
        request: Request<proto::DecideRequest>,
        approve: bool,
    ) -> Result<Response<proto::Approval>, Status> {
        let who = self.authorize(&request, &[Role::Approver])?;
        let req = request.into_inner();
        let decided = self
            .decide_as(&who, &req.approval_id, &req.reason, approve)
            .await?;
        Ok(Response::new(approval_to_proto(&decided)))
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
        let id = decide_text(approval_id, "approval_id")?.to_owned();
        let reason = decide_text(reason, "reason")?.to_owned();
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
        if approve {
            // Prove the plan again against the spec in force now: a spec
            // tightened since the submission wins.
            let spec = self
                .inner
                .specs
                .get(&rec.spec)
                .ok_or_else(|| DecideError::SpecGone(rec.spec.clone()))?;
            let engine = self.inner.engine.clone();
            let plan = rec.plan.clone();
            let decision =
                tokio::task::spawn_blocking(move || engine.check(&spec.name, &spec.loaded, &plan))
                    .await
                    .map_err(|e| DecideError::Worker(e.to_string()))??;
            let accepted = match (decision.verdict, decision.accepted) {
                (Verdict::Reject, _) | (_, None) => {
                    return Err(DecideError::RejectedNow(decision.counterexamples.len()));
                }
                (_, Some(a)) => a,
            };
            let tok = self
                .inner
                .engine
                .issue(&accepted, &rec.agent)
                .map_err(DecideError::Sign)?;
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

/// Why the service cannot start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    #[error(transparent)]
    SpecDir(#[from] crate::specs::SpecDirError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("{0}")]
    Status(String),
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::Tls(format!("cannot read {}: {e}", path.display())))
}

/// What a server beside the gRPC one in the same process (the web
/// console) gets from the service: its decisions, its store, its
/// credentials, and the key that verifies the audit log's checkpoints.
#[derive(Clone)]
pub struct Shared {
    pub decisions: Arc<dyn Decisions>,
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub checkpoint_key: ed25519_compact::PublicKey,
}

/// A server beside the gRPC one: started with [`Shared`] once the store is
/// open and the specs are loaded (before `ready`), stopped when the service
/// stops.
pub type Companion =
    Box<dyn FnOnce(Shared) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Runs the service until `shutdown` resolves: opens the store, loads the
/// specs, calls `ready` with the bound address, serves gRPC (and health) on
/// `listener`, polls the spec directory, and on shutdown drains requests
/// and signs a final checkpoint.
pub async fn serve<E: Engine>(
    cfg: &ServeConfig,
    engine: Arc<E>,
    signer: CheckpointSigner,
    listener: tokio::net::TcpListener,
    ready: impl FnOnce(&str),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(cfg, engine, signer, listener, ready, shutdown, None).await
}

/// [`serve`], with a companion server run beside gRPC for as long.
pub async fn serve_with<E: Engine>(
    cfg: &ServeConfig,
    engine: Arc<E>,
    signer: CheckpointSigner,
    listener: tokio::net::TcpListener,
    ready: impl FnOnce(&str),
    shutdown: impl Future<Output = ()> + Send + 'static,
    companion: Option<Companion>,
) -> Result<(), ServeError> {
    let auth = Authenticator::new(&cfg.credentials)?;
    let checkpoint_key = signer.public_key();
    let store = Arc::new(SqliteStore::open(
        &cfg.db,
        Some(signer),
        SqliteOptions {
            checkpoint_every: cfg.checkpoint_every,
            ..Default::default()
        },
    )?);
    let specs = Arc::new(SpecRegistry::new(&cfg.specs));
    let svc = WardenService::new(
        engine,
        store.clone(),
        auth.clone(),
        specs,
        Limits {
            max_plan_bytes: cfg.max_plan_bytes,
        },
    )?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    store
        .commit(Txn::events(vec![NewEvent::new(
            EventKind::Service,
            json!({"event": "start", "listen": addr, "version": env!("CARGO_PKG_VERSION")}),
        )]))
        .wait()
        .await?;
    svc.reload_specs(false)
        .await
        .map_err(|s| ServeError::Status(s.message().to_owned()))?;

    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_serving::<proto::warden_server::WardenServer<WardenService<E>>>()
        .await;

    let poll = if cfg.reload_poll_ms > 0 {
        let svc = svc.clone();
        let every = std::time::Duration::from_millis(cfg.reload_poll_ms);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if let Err(s) = svc.reload_specs(true).await {
                    tracing::error!("spec reload: {}", s.message());
                }
            }
        }))
    } else {
        None
    };

    let max_msg = cfg.max_message_bytes();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &cfg.tls {
        let identity =
            tonic::transport::Identity::from_pem(read_pem(&tls.cert)?, read_pem(&tls.key)?);
        let mut t = tonic::transport::ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &tls.client_ca {
            t = t.client_ca_root(tonic::transport::Certificate::from_pem(read_pem(ca)?));
        }
        builder = builder
            .tls_config(t)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    let companion = companion.map(|start| {
        tokio::spawn(start(Shared {
            decisions: Arc::new(svc.clone()),
            store: store.clone(),
            auth,
            checkpoint_key,
        }))
    });
    let warden = proto::warden_server::WardenServer::new(svc)
        .max_decoding_message_size(max_msg)
        .max_encoding_message_size(max_msg);
    tracing::info!("warden serving on {addr}");
    ready(&addr);
    // Every accepted connection without Nagle's algorithm: a response is
    // several small writes (headers, data, trailers), and with Nagle the
    // last of them waited for the client's delayed ACK, 40 ms, on about one
    // request in fifty (the p99 of `warden load` sat at 42 ms).
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |conn| {
            let conn = conn?;
            conn.set_nodelay(true)?;
            Ok::<_, std::io::Error>(conn)
        },
    );
    let result = builder
        .add_service(health_svc)
        .add_service(warden)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    if let Some(p) = poll {
        p.abort();
    }
    if let Some(c) = companion {
        c.abort();
    }
    let stop = store
        .commit(Txn::events(vec![NewEvent::new(
            EventKind::Service,
            json!({"event": "stop"}),
        )]))
        .wait()
        .await;
    let cp = store.checkpoint().wait().await;
    store.close();
    result?;
    stop?;
    cp?;
    Ok(())
}
