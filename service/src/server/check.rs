//! The runs of tokens: each action checked against its token's envelope and
//! its run's state (which is stored before an allow is answered), and
//! tokens revoked.

use super::{WardenService, non_empty};
use crate::audit::{EventKind, NewEvent};
use crate::auth::Identity;
use crate::engine::{ActionError, Engine, TokenRefused};
use crate::error::{InputError, ServiceError};
use crate::proto;
use crate::store::{StateOp, StoreError, Txn, now_ms};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// At most this many runs are cached at once.
const MAX_RUNS: usize = 100_000;

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
pub(super) struct Run<E: Engine> {
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
            slot: tokio::sync::Mutex::new(RunSlot::Unloaded),
        });
        runs.by_id.insert(run.token_id.clone(), run.clone());
        runs.by_text.insert(key, run.clone());
        Ok(run)
    }

    /// Reads the stored state of a run (a restart goes on counting), or
    /// starts a new one.
    async fn load_run(&self, run: &Run<E>) -> Result<E::RunState, ServiceError> {
        let store = self.inner.store.clone();
        let id = run.token_id.clone();
        let stored = tokio::task::spawn_blocking(move || store.run_state(&id)).await??;
        match stored {
            None => Ok(self.inner.engine.new_run(&run.token)),
            // Fail closed: a state that cannot be read is not replaced by a
            // fresh one (that would reset the counts).
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                tracing::error!(
                    "the stored run state of token {} is corrupt: {e}",
                    run.token_id
                );
                ServiceError::CorruptRunState(run.token_id.clone())
            }),
        }
    }

    /// Checks one action of the run under `token`: an allow is answered
    /// after the run's new state and its audit record are durable, a
    /// refusal after its audit record is.
    pub(super) async fn check_action(
        &self,
        req: proto::CheckActionRequest,
    ) -> Result<proto::CheckActionResponse, ServiceError> {
        let token = non_empty_token(&req.token)?;
        let action = req.action.ok_or(InputError::Required("action"))?;
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
                    let saved = serde_json::to_string(&state)
                        .map_err(|e| ServiceError::SaveRunState(e.to_string()))?;
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
                    Ok(proto::CheckActionResponse {
                        allowed: true,
                        reason: String::new(),
                        token_id,
                    })
                }
                Err(ActionError::Malformed(m)) => Err(ServiceError::MalformedAction(m)),
                Err(ActionError::TokenNotHonoured(reason)) => {
                    Err(ServiceError::TokenNotHonoured { token_id, reason })
                }
                Err(ActionError::Refused(reason)) => {
                    // A refusal is an enforcement event: record it before
                    // answering. The run's state is unchanged.
                    let ev = NewEvent::new(
                        EventKind::Enforcement,
                        json!({"token_id": token_id, "layer": "check_action", "kind": "refused",
                               "reason": reason, "action": action_text}),
                    );
                    self.commit(Txn::events(vec![ev])).await?;
                    Ok(proto::CheckActionResponse {
                        allowed: false,
                        reason,
                        token_id,
                    })
                }
            };
        }
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
