//! The runs of tokens: each action checked against its token's envelope and
//! its run's state (which is stored before an allow is answered), and
//! tokens revoked.

use super::{Inner, WardenService, non_empty};
use crate::audit::{EventKind, NewEvent};
use crate::auth::Identity;
use crate::engine::{ActionError, Engine, TokenRefused};
use crate::error::{InputError, ServiceError};
use crate::metrics::{CheckOutcome, StoreOp};
use crate::proto;
use crate::store::{RunCheck, RunRead, StateOp, StoreError, Txn, now_ms};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

/// The longest result `CheckResult` reads.
const MAX_RESULT_JSON: usize = 4 * 1024 * 1024;

/// At most this many runs are cached at once.
const MAX_RUNS: usize = 100_000;

/// One verified token. Its run's state is in the store only: each check
/// reads it under the run's lock there and writes it back before the lock
/// is released, so replicas sharing a store share every run.
pub(super) struct Run<E: Engine> {
    token_id: String,
    /// Unix seconds.
    expires_at: i64,
    token: E::Token,
}

/// The runs of the tokens seen, by SHA-256 of the token text (no signature
/// check on a hit) and by token id (one run per token).
pub(super) struct Runs<E: Engine> {
    by_text: HashMap<[u8; 32], Arc<Run<E>>>,
    by_id: HashMap<String, Arc<Run<E>>>,
}

impl<E: Engine> Default for Runs<E> {
    fn default() -> Self {
        Runs {
            by_text: HashMap::new(),
            by_id: HashMap::new(),
        }
    }
}

/// The revocations a check sees: the service's cache of revoked ids (a
/// hit refuses at once), else the store's, read in the check's transaction
/// (authoritative: a token revoked through any replica is refused).
struct Revoked<'a> {
    cache: &'a RwLock<HashSet<String>>,
    store: Mutex<&'a mut dyn RunRead>,
}

impl token::RevocationList for Revoked<'_> {
    fn is_revoked(&self, id: &token::TokenId) -> Result<bool, token::RevocationError> {
        let id = id.to_string();
        if self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
        {
            return Ok(true);
        }
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_revoked(&id)
            .map_err(|e| token::RevocationError::Store(e.to_string()))
    }
}

fn non_empty_token(t: &str) -> Result<&str, InputError> {
    let t = t.trim();
    if t.is_empty() {
        return Err(InputError::Required("token"));
    }
    if t.len() > 1024 * 1024 {
        return Err(InputError::TokenTooLarge);
    }
    Ok(t)
}

/// Makes room in the cache of verified tokens: drops those that expired,
/// then, if still half full, all of them (a dropped token is verified again
/// on its next check; its run is in the store).
fn evict<E: Engine>(runs: &mut Runs<E>, now_s: i64) {
    runs.by_id.retain(|_, run| run.expires_at > now_s);
    if runs.by_id.len() >= MAX_RUNS / 2 {
        runs.by_id.clear();
    }
    let Runs { by_text, by_id } = runs;
    by_text.retain(|_, run| by_id.contains_key(&run.token_id));
}

/// What one check of a run is about.
enum Subject {
    /// An action the run is about to take (`CheckAction`).
    Action(proto::Action),
    /// A result of a tool the run received (`CheckResult`).
    Result {
        tool: String,
        result: serde_json::Value,
    },
}

impl Subject {
    /// The audit record's layer, and what it says was checked.
    fn audit(&self) -> (&'static str, &'static str, String) {
        match self {
            Subject::Action(a) => ("check_action", "action", format!("{a:?}")),
            Subject::Result { tool, .. } => ("check_result", "result_of", tool.clone()),
        }
    }
}

/// One check, inside the store's transaction: what to commit, and the
/// answer once it is committed.
fn decide<E: Engine>(
    inner: &Inner<E>,
    run: &Run<E>,
    stored: Option<String>,
    subject: &Subject,
    store: &mut dyn RunRead,
) -> (Txn, Result<proto::CheckActionResponse, ServiceError>) {
    let token_id = run.token_id.clone();
    let mut state = match stored {
        None => inner.engine.new_run(&run.token),
        // Fail closed: a state that cannot be read is not replaced by a
        // fresh one (that would reset the counts).
        Some(text) => match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("the stored run state of token {token_id} is corrupt: {e}");
                return (Txn::default(), Err(ServiceError::CorruptRunState(token_id)));
            }
        },
    };
    let revoked = Revoked {
        cache: &inner.revoked,
        store: Mutex::new(store),
    };
    let (layer, what, text) = subject.audit();
    let checked = match subject {
        Subject::Action(action) => inner
            .engine
            .check_action(&run.token, &mut state, action, &revoked),
        Subject::Result { tool, result } => inner
            .engine
            .check_result(&run.token, &mut state, tool, result, &revoked),
    };
    let save = |state: &E::RunState| -> Result<StateOp, ServiceError> {
        Ok(StateOp::SaveRun {
            token_id: token_id.clone(),
            state: serde_json::to_string(state)
                .map_err(|e| ServiceError::SaveRunState(e.to_string()))?,
            expires_s: run.expires_at,
            at_ms: now_ms(),
        })
    };
    match checked {
        Ok(()) => {
            let saved = match save(&state) {
                Ok(op) => op,
                Err(e) => return (Txn::default(), Err(e)),
            };
            let txn = Txn {
                ops: vec![saved],
                events: vec![NewEvent::new(
                    EventKind::Enforcement,
                    json!({"token_id": token_id, "layer": layer, "kind": "allowed",
                           what: text}),
                )],
            };
            let ok = proto::CheckActionResponse {
                allowed: true,
                reason: String::new(),
                token_id,
            };
            (txn, Ok(ok))
        }
        Err(ActionError::Malformed(m)) => (Txn::default(), Err(ServiceError::MalformedAction(m))),
        Err(ActionError::TokenNotHonoured(reason)) => (
            Txn::default(),
            Err(ServiceError::TokenNotHonoured { token_id, reason }),
        ),
        Err(ActionError::Refused(reason)) => {
            // A refusal is an enforcement event: recorded before the
            // answer. A refused action leaves the run's state unchanged; a
            // refused result stops the run, which the state records.
            let ev = NewEvent::new(
                EventKind::Enforcement,
                json!({"token_id": token_id, "layer": layer, "kind": "refused",
                       "reason": reason, what: text}),
            );
            let ops = match subject {
                Subject::Action(_) => Vec::new(),
                Subject::Result { .. } => match save(&state) {
                    Ok(op) => vec![op],
                    Err(e) => return (Txn::default(), Err(e)),
                },
            };
            let no = proto::CheckActionResponse {
                allowed: false,
                reason,
                token_id,
            };
            (
                Txn {
                    ops,
                    events: vec![ev],
                },
                Ok(no),
            )
        }
    }
}

impl<E: Engine> WardenService<E> {
    /// The run of a token, verifying the token the first time it is seen.
    fn run(&self, token: &str) -> Result<Arc<Run<E>>, ServiceError> {
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
            TokenRefused::Malformed(m) => ServiceError::MalformedToken(m),
            TokenRefused::Invalid(m) => ServiceError::TokenNotAccepted(m),
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
            return Err(ServiceError::TooManyRuns);
        }
        let run = Arc::new(Run {
            token_id: v.token_id,
            expires_at: v.expires_at,
            token: v.token,
        });
        runs.by_id.insert(run.token_id.clone(), run.clone());
        runs.by_text.insert(key, run.clone());
        Ok(run)
    }

    /// Checks one action of the run under `token`, in the store's
    /// transaction that holds the run's lock: the run's state and the
    /// token's revocation are read there, and an allow's new state and its
    /// audit record (or a refusal's record) are durable before the answer.
    pub(super) async fn check_action(
        &self,
        req: proto::CheckActionRequest,
    ) -> Result<proto::CheckActionResponse, ServiceError> {
        let result = self.check_action_in_run(req).await;
        self.inner.metrics.call_checked(match &result {
            Ok(r) if r.allowed => CheckOutcome::allowed,
            Ok(_) => CheckOutcome::refused,
            Err(_) => CheckOutcome::error,
        });
        result
    }

    async fn check_action_in_run(
        &self,
        req: proto::CheckActionRequest,
    ) -> Result<proto::CheckActionResponse, ServiceError> {
        let token = non_empty_token(&req.token)?;
        let action = req.action.ok_or(InputError::Required("action"))?;
        self.check(token, Subject::Action(action)).await
    }

    /// Checks a result a tool returned to the run under `token` against
    /// the plan's assumptions about that tool's results, as
    /// [`WardenService::check_action`] checks an action: a refusal stops
    /// the run, durably, before the answer.
    pub(super) async fn check_result(
        &self,
        req: proto::CheckResultRequest,
    ) -> Result<proto::CheckActionResponse, ServiceError> {
        let token = non_empty_token(&req.token)?;
        let tool = non_empty(&req.tool, "tool")?.to_owned();
        if req.result_json.len() > MAX_RESULT_JSON {
            return Err(InputError::TooLong {
                what: "result_json",
                max: MAX_RESULT_JSON,
            }
            .into());
        }
        let result: serde_json::Value = serde_json::from_str(&req.result_json).map_err(|e| {
            ServiceError::MalformedAction(format!("`result_json` is not JSON: {e}"))
        })?;
        self.check(token, Subject::Result { tool, result }).await
    }

    /// One check of the run under `token`, in the store's transaction.
    async fn check(
        &self,
        token: &str,
        subject: Subject,
    ) -> Result<proto::CheckActionResponse, ServiceError> {
        let run = self.run(token)?;
        let token_id = run.token_id.clone();
        let outcome: Arc<Mutex<Option<Result<proto::CheckActionResponse, ServiceError>>>> =
            Arc::default();
        let inner = self.inner.clone();
        let answer = outcome.clone();
        let expires_s = run.expires_at;
        let check: RunCheck = Box::new(move |stored, store| {
            let (txn, result) = decide(&inner, &run, stored, &subject, store);
            *answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            txn
        });
        let since = std::time::Instant::now();
        if let Err(e) = self
            .inner
            .store
            .check_run(token_id, expires_s, check)
            .wait()
            .await
        {
            self.inner.metrics.store_failed(StoreOp::check_run);
            return Err(e.into());
        }
        // The check's records (and the run's new state) are durable.
        self.inner.metrics.audit_appended(since);
        let result = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
        result.unwrap_or_else(|| Err(StoreError::WriterGone.into()))
    }

    /// Revokes a token as `who`: durable and recorded before the answer,
    /// and refused by every later check of this service.
    pub(super) async fn revoke(
        &self,
        who: &Identity,
        req: proto::RevokeRequest,
    ) -> Result<proto::RevokeResponse, ServiceError> {
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
        match self.commit(txn).await {
            Ok(done) => {
                self.inner
                    .revoked
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(token_id.clone());
                Ok(proto::RevokeResponse {
                    token_id,
                    revoked_at_ms: at_ms,
                    already_revoked: false,
                    audit_seq: done.last_seq(),
                })
            }
            Err(StoreError::AlreadyRevoked(_)) => Ok(proto::RevokeResponse {
                token_id,
                revoked_at_ms: 0,
                already_revoked: true,
                audit_seq: 0,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Every revoked token id, then each new one as the store's feed
    /// brings it (every replica's, on PostgreSQL), until the caller hangs
    /// up. Subscribed before the list is read, so none falls in between.
    pub(super) fn watch_revocations(
        &self,
    ) -> tokio_stream::wrappers::ReceiverStream<Result<proto::Revocations, tonic::Status>> {
        use tokio::sync::broadcast::error::RecvError;
        let mut live = self.inner.store.subscribe();
        let store = self.inner.store.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let first = match tokio::task::spawn_blocking(move || store.revoked()).await {
                Ok(Ok(ids)) => Ok(proto::Revocations { token_ids: ids }),
                Ok(Err(e)) => Err(ServiceError::from(e).into()),
                Err(e) => Err(ServiceError::from(e).into()),
            };
            let failed = first.is_err();
            if tx.send(first).await.is_err() || failed {
                return;
            }
            loop {
                let rec = tokio::select! {
                    r = live.recv() => r,
                    () = tx.closed() => return,
                };
                let next = match rec {
                    Ok(r) if r.kind == EventKind::Revocation.as_str() => {
                        match r.body_json().get("token_id").and_then(|v| v.as_str()) {
                            Some(id) => Ok(proto::Revocations {
                                token_ids: vec![id.to_owned()],
                            }),
                            None => continue,
                        }
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => Err(tonic::Status::unavailable(format!(
                        "the watch fell {n} records behind: watch again"
                    ))),
                    Err(RecvError::Closed) => return,
                };
                let end = next.is_err();
                if tx.send(next).await.is_err() || end {
                    return;
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// The longest call text a call approval records.
const MAX_CALL_TEXT: usize = 64 * 1024;

impl<E: Engine> WardenService<E> {
    /// Records a pending approval of one tool call under `req.token` (which
    /// must verify and not be revoked), for an approver to decide with
    /// `Approve` or `Deny`; the record and its audit entry are durable
    /// before this returns. The caller (the MCP gateway) waits for the
    /// decision with `GetApproval`, and ties it to the exact call by its
    /// digest.
    pub(super) async fn request_call_approval(
        &self,
        who: &Identity,
        req: proto::CallApprovalRequest,
    ) -> Result<crate::store::ApprovalRecord, ServiceError> {
        let token = non_empty_token(&req.token)?;
        let action = req.action.trim();
        if action.is_empty() {
            return Err(InputError::Required("action").into());
        }
        if action.len() > MAX_CALL_TEXT {
            return Err(InputError::TooLong {
                what: "action",
                max: MAX_CALL_TEXT,
            }
            .into());
        }
        let digest = non_empty(&req.call_digest, "call_digest")?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InputError::CallDigest.into());
        }
        let run = self.run(token)?;
        if self
            .inner
            .revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&run.token_id)
        {
            return Err(ServiceError::TokenNotHonoured {
                token_id: run.token_id.clone(),
                reason: "the token is revoked".into(),
            });
        }
        let mut reasons = Vec::with_capacity(req.reasons.len());
        for r in &req.reasons {
            reasons.push(non_empty(r, "reasons")?.to_owned());
        }
        let id = super::random_id("apr")?;
        let rec = crate::store::ApprovalRecord {
            id: id.clone(),
            submission_id: String::new(),
            agent: who.name.clone(),
            spec: String::new(),
            plan: action.to_owned(),
            reasons: reasons.clone(),
            envelope_json: String::new(),
            state: crate::store::ApprovalState::Pending,
            created_ms: now_ms(),
            decided_by: None,
            decision_reason: None,
            decided_ms: None,
            token_id: None,
            token: None,
            submitted_by: Some(who.name.clone()),
            marks: Vec::new(),
            call: Some(crate::store::CallApproval {
                token_id: run.token_id.clone(),
                call_digest: digest.to_ascii_lowercase(),
            }),
        };
        let txn = Txn {
            ops: vec![StateOp::CreateApproval(rec.clone())],
            events: vec![NewEvent::new(
                EventKind::Approval,
                json!({"approval_id": id, "state": "pending", "token_id": run.token_id,
                       "call": action, "call_digest": rec.call.as_ref().map(|c| &c.call_digest),
                       "reasons": reasons, "submitted_by": who.name}),
            )],
        };
        self.commit(txn).await?;
        Ok(rec)
    }
}
