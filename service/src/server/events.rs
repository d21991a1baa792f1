//! Audit events: enforcement reports recorded, the log streamed live (with
//! catch-up from the store), and spec reloads described.

use super::WardenService;
use super::convert::record_to_event;
use super::non_empty;
use crate::audit::{EventKind, NewEvent};
use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::{InputError, ServiceError};
use crate::proto;
use crate::specs::{SpecChange, SpecStatus};
use crate::store::{RecordQuery, Txn};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

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

impl<E: Engine> WardenService<E> {
    /// Records an enforcement event reported by `who` (an enforcer, the
    /// gateway).
    pub(super) async fn record_enforcement(
        &self,
        who: &Identity,
        req: proto::EnforcementEvent,
    ) -> Result<proto::RecordEnforcementResponse, ServiceError> {
        let detail: serde_json::Value = if req.detail_json.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&req.detail_json)
                .map_err(|e| InputError::DetailNotJson(e.to_string()))?
        };
        if !detail.is_object() {
            return Err(InputError::DetailNotObject.into());
        }
        if req.detail_json.len() > 64 * 1024 {
            return Err(InputError::DetailTooLarge.into());
        }
        let kind = non_empty(&req.kind, "kind")?;
        let ev = NewEvent::new(
            EventKind::Enforcement,
            json!({"token_id": req.token_id, "run_id": req.run_id, "layer": req.layer,
                   "kind": kind, "detail": detail, "reported_by": who.name}),
        );
        let done = self.commit(Txn::events(vec![ev])).await?;
        Ok(proto::RecordEnforcementResponse {
            audit_seq: done.last_seq(),
        })
    }

    /// The audit log as a stream: the records after `after_seq` (or all,
    /// with `replay`), then every new one as it is committed.
    pub(super) fn stream_events(
        &self,
        req: proto::StreamEventsRequest,
    ) -> Result<ReceiverStream<Result<proto::Event, Status>>, ServiceError> {
        let mut kinds = Vec::new();
        for k in &req.kinds {
            kinds.push(EventKind::parse(k).ok_or_else(|| InputError::UnknownEventKind(k.clone()))?);
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
                        .map_err(ServiceError::from)
                        .and_then(|r| r.map_err(ServiceError::from))
                        .map_err(Status::from);
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
        Ok(ReceiverStream::new(rx))
    }
}
