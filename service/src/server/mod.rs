//! The service: [`WardenService`] does the work of `warden.v1.Warden`, and
//! [`serve`] runs it with the health service, TLS, spec reloading and a
//! clean shutdown.
//!
//! One module per job: [`grpc`] is the transport (it authenticates, turns
//! protobuf into calls of the modules below and their typed errors into
//! gRPC statuses through [`crate::error`]); [`submit`] checks a plan and
//! issues its token or opens its approval; [`decide`] approves and denies;
//! [`check`] checks the actions of runs against their tokens; [`events`]
//! records and streams audit events; [`listen`] opens the store, loads the
//! specs and serves until shutdown. State lives behind [`crate::store`].
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
pub use listen::{Companion, ServeError, Shared, serve, serve_with};

use crate::auth::{Authenticator, Identity, Role};
use crate::engine::Engine;
use crate::error::{InputError, ServiceError};
use crate::specs::{SpecRegistry, SpecStatus};
use crate::store::{Committed, Store, StoreError, Txn};
use check::Runs;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

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

impl<E: Engine> WardenService<E> {
    /// A service over an engine, a store and loaded specs. The revoked token
    /// ids are read from the store once; later revocations go through
    /// [`WardenService::revoke`].
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

    /// Commits a transaction and waits until it is durable.
    async fn commit(&self, txn: Txn) -> Result<Committed, StoreError> {
        self.inner.store.commit(txn).wait().await
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
