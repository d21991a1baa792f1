//! The service: [`WardenService`] does the work of `warden.v1.Warden`, and
//! [`serve`] runs it with the health service, TLS, spec reloading and a
//! clean shutdown.
//!
//! One module per job (all private): `grpc` is the transport (it
//! authenticates, turns protobuf into calls of the modules below and their
//! typed errors into gRPC statuses through [`crate::error`]); `submit`
//! checks a plan and issues its token or opens its approval; `decide`
//! approves and denies; `check` checks the actions of runs against their
//! tokens; `events` records and streams audit events; `listen` opens the
//! store, loads the specs and serves until shutdown. State lives behind
//! [`crate::store`].
//!
//! Every call authenticates first, validates its input without touching
//! state, does the work (the verifier runs on the blocking pool), then
//! commits the state change together with its audit records and waits until
//! they are durable before it answers. Bad input changes nothing.

mod check;
mod convert;
mod decide;
mod events;
mod grpc;
mod listen;
mod submit;

pub use decide::{DecideError, Decided, Decisions};
pub use events::spec_events;
pub use listen::{Companion, ServeError, Shared, serve, serve_with, shutdown_signals};

use crate::audit::EventKind;
use crate::auth::{Authenticator, Identity, Role};
use crate::engine::Engine;
use crate::error::{InputError, ServiceError};
use crate::metrics::{ServiceMetrics, StoreOp};
use crate::specs::{SpecRegistry, SpecStatus};
use crate::store::{Committed, Store, StoreError, Txn};
use check::Runs;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

/// Limits on what a caller may send.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest plan accepted, in bytes (`max_plan_bytes`).
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

struct Inner<E: Engine> {
    engine: Arc<E>,
    store: Arc<dyn Store>,
    auth: Authenticator,
    specs: Arc<SpecRegistry<E>>,
    limits: Limits,
    /// Token ids known revoked: a cache (a hit refuses at once); a miss is
    /// decided by the store, in the check's transaction.
    revoked: RwLock<HashSet<String>>,
    /// Tokens verified, so a token's signature is checked once. Their runs'
    /// state (bindings, counts, order) is in the store only, read and
    /// written under the run's lock by every check.
    runs: Mutex<Runs<E>>,
    metrics: Arc<ServiceMetrics>,
}

impl<E: Engine> WardenService<E> {
    /// A service over an engine, a store and loaded specs. The revoked token
    /// ids are read from the store once; later revocations come through
    /// `Revoke` (on this replica) or the store's feed
    /// ([`WardenService::follow_store`]).
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
                runs: Mutex::new(Runs::default()),
                metrics: Arc::new(ServiceMetrics::new()),
            }),
        })
    }

    /// Reloads the spec directory now and records what changed.
    pub async fn reload_specs(
        &self,
        only_if_changed: bool,
    ) -> Result<Vec<SpecStatus>, ServiceError> {
        let inner = self.inner.clone();
        let statuses = tokio::task::spawn_blocking(move || {
            if only_if_changed {
                inner.specs.reload_if_changed(&inner.engine)
            } else {
                inner.specs.reload(&inner.engine).map(Some)
            }
        })
        .await??
        .unwrap_or_default();
        let events = spec_events(&statuses);
        if !events.is_empty() {
            self.commit(Txn::events(events)).await?;
        }
        Ok(statuses)
    }

    /// `Reload` as `who`: recorded first, so that every replica sharing the
    /// store reloads too ([`WardenService::follow_store`]), then done here.
    pub async fn reload_everywhere(&self, who: &Identity) -> Result<Vec<SpecStatus>, ServiceError> {
        self.commit(Txn::events(vec![crate::audit::NewEvent::new(
            EventKind::Service,
            serde_json::json!({"event": "reload", "by": who.name}),
        )]))
        .await?;
        self.reload_specs(false).await
    }

    /// Keeps this replica in step with what any replica sharing its store
    /// commits (the store's live feed: every replica's records on
    /// PostgreSQL): a revocation enters the cache of revoked ids, and a
    /// `Reload` made through any replica reloads the specs here too. Runs
    /// until the feed closes.
    pub async fn follow_store(&self) {
        use tokio::sync::broadcast::error::RecvError;
        let mut feed = self.inner.store.subscribe();
        loop {
            match feed.recv().await {
                Ok(r) if r.kind == EventKind::Revocation.as_str() => {
                    if let Some(id) = r.body_json().get("token_id").and_then(|v| v.as_str()) {
                        self.inner
                            .revoked
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id.to_owned());
                    }
                }
                Ok(r)
                    if r.kind == EventKind::Service.as_str()
                        && r.body_json().get("event").and_then(|v| v.as_str())
                            == Some("reload") =>
                {
                    if let Err(e) = self.reload_specs(true).await {
                        tracing::error!("spec reload requested through the fleet: {e}");
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    // Records were missed: read the revocations again.
                    tracing::warn!(
                        "the store's feed skipped {n} records; reading revocations again"
                    );
                    let store = self.inner.store.clone();
                    match tokio::task::spawn_blocking(move || store.revoked()).await {
                        Ok(Ok(all)) => self
                            .inner
                            .revoked
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend(all),
                        Ok(Err(e)) => tracing::error!("cannot read the revocations: {e}"),
                        Err(e) => tracing::error!("cannot read the revocations: {e}"),
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// What this service counts and times (served by `[metrics] listen`).
    pub fn metrics(&self) -> Arc<ServiceMetrics> {
        self.inner.metrics.clone()
    }

    /// Commits a transaction and waits until it is durable.
    async fn commit(&self, txn: Txn) -> Result<Committed, StoreError> {
        let since = std::time::Instant::now();
        let done = self.inner.store.commit(txn).wait().await;
        match &done {
            Ok(_) => self.inner.metrics.audit_appended(since),
            Err(_) => self.inner.metrics.store_failed(StoreOp::commit),
        }
        done
    }

    fn authorize<T>(
        &self,
        req: &tonic::Request<T>,
        roles: &[Role],
    ) -> Result<Identity, ServiceError> {
        Ok(self.inner.auth.authorize(req.metadata(), roles)?)
    }
}

/// A fresh random id: `prefix_` and 32 hex digits.
fn random_id(prefix: &str) -> Result<String, ServiceError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ServiceError::Randomness(e.to_string()))?;
    Ok(format!("{prefix}_{}", hex::encode(b)))
}

/// A required short text field, trimmed: present, and at most 256 bytes.
fn non_empty<'a>(v: &'a str, what: &'static str) -> Result<&'a str, InputError> {
    let t = v.trim();
    if t.is_empty() {
        Err(InputError::Required(what))
    } else if t.len() > 256 {
        Err(InputError::TooLong { what, max: 256 })
    } else {
        Ok(t)
    }
}
