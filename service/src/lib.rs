//! Warden's gRPC service: orchestrators submit plans, approvers approve,
//! deny and revoke, and every decision lands in a tamper-evident audit log.
//!
//! The pieces, one module each: [`proto`] (the generated API of
//! `proto/warden.proto`), [`server`] (the service's calls, by job, and the
//! gRPC transport), [`error`] (its typed errors and their one mapping to
//! gRPC statuses), [`auth`] (bearer credentials and roles), [`engine`] (the
//! seam to Warden's deciding parts; [`warden_engine`] is the real one),
//! [`specs`] (the spec directory, reloaded), [`audit`] (the hash chain and
//! its signed checkpoints), [`store`] (approvals, revocations and the audit
//! log behind the [`store::Store`] trait, SQLite by default), [`metrics`]
//! (Prometheus metrics and their endpoint), [`loadgen`] (a load generator
//! for the service).
//!
//! ```no_run
//! use service::audit::{EventKind, NewEvent};
//! use service::store::{Store, Txn, sqlite::{SqliteStore, SqliteOptions}};
//! let store = SqliteStore::open("warden.db".as_ref(), None, SqliteOptions::default()).unwrap();
//! let done = store
//!     .commit(Txn::events(vec![NewEvent::new(EventKind::Service, serde_json::json!({"event": "start"}))]))
//!     .wait_blocking()
//!     .unwrap();
//! assert_eq!(done.records[0].kind, "service");
//! ```

pub mod audit;
pub mod auth;
pub mod codec;
pub mod config;
pub mod engine;
pub mod error;
pub mod loadgen;
pub mod metrics;
pub mod server;
pub mod specs;
pub mod store;
pub mod warden_engine;
pub mod watch;

/// The code generated from `proto/warden.proto`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("warden.v1");
}
