//! Running the service: open the store, load the specs, serve gRPC (and the
//! health service, and a companion server such as the web console) until
//! shutdown, then drain and sign a final checkpoint.

use super::{Decisions, Limits, WardenService};
use crate::audit::{CheckpointSigner, EventKind, NewEvent};
use crate::auth::Authenticator;
use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::proto;
use crate::specs::SpecRegistry;
use crate::store::{Store, StoreError, Txn};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;

/// Why the service cannot start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store cannot be opened, or failed to record the start, the stop
    /// or the final checkpoint.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configured credentials cannot be used.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    /// The spec directory cannot be read.
    #[error(transparent)]
    SpecDir(#[from] crate::specs::SpecDirError),
    /// A certificate or key file cannot be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("the server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The first load of the specs failed: the directory cannot be read,
    /// the outcome cannot be recorded, or the worker failed.
    #[error(transparent)]
    Service(#[from] crate::error::ServiceError),
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::Tls(format!("cannot read {}: {e}", path.display())))
}

/// What a server beside the gRPC one in the same process (the web
/// console) gets from the service: its decisions, its store, its
/// credentials, and the keys that verify the audit log's checkpoints.
#[derive(Clone)]
pub struct Shared {
    /// Approves and denies as gRPC's `Approve` and `Deny` do.
    pub decisions: Arc<dyn Decisions>,
    /// The service's store (approvals, the audit log and its feed).
    pub store: Arc<dyn Store>,
    /// The service's credentials.
    pub auth: Authenticator,
    /// The keys that verify the audit log's checkpoints and signed head.
    pub audit_keys: token::KeySet,
    /// The service's metrics (what [`crate::metrics::companion`] serves).
    pub metrics: Arc<crate::metrics::ServiceMetrics>,
}

/// A server beside the gRPC one (the web console, the metrics endpoint):
/// started with [`Shared`] once the store is open and the specs are loaded
/// (before `ready`), stopped when the service stops.
pub type Companion =
    Box<dyn FnOnce(Shared) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Resolves on the first SIGTERM or SIGINT. The handlers are installed when
/// this function returns, not when the future is first polled: a process
/// that has said it listens and then gets a signal stops gracefully (its
/// final records and checkpoint), never by the signal's default action.
/// `warden serve` and `warden mcp --listen` both stop on it.
pub fn shutdown_signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Runs the service until `shutdown` resolves: opens the store, loads the
/// specs, calls `ready` with the bound address, serves gRPC (and health) on
/// `listener`, polls the spec directory, and on shutdown drains requests and signs a final checkpoint.
/// The signer carries the keys whose audit history the store accepts
/// ([`CheckpointSigner::trusting`] with [`ServeConfig::trusted_keys`]).
pub async fn serve<E: Engine>(
    cfg: &ServeConfig,
    engine: Arc<E>,
    signer: CheckpointSigner,
    listener: tokio::net::TcpListener,
    ready: impl FnOnce(&str),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(cfg, engine, signer, listener, ready, shutdown, Vec::new()).await
}

/// [`serve`], with companion servers run beside gRPC for as long.
pub async fn serve_with<E: Engine>(
    cfg: &ServeConfig,
    engine: Arc<E>,
    signer: CheckpointSigner,
    listener: tokio::net::TcpListener,
    ready: impl FnOnce(&str),
    shutdown: impl Future<Output = ()> + Send + 'static,
    companions: Vec<Companion>,
) -> Result<(), ServeError> {
    let auth = Authenticator::new(&cfg.credentials)?;
    // The keys the caller read once (`ServeConfig::trusted_keys`) and gave
    // the signer: the engine verifies tokens with the same set.
    let audit_keys = signer.trusted().clone();
    let store = crate::store::open(&cfg.store(), Some(signer))?;
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
    svc.reload_specs(false).await?;

    let follow = {
        let svc = svc.clone();
        tokio::spawn(async move { svc.follow_store().await })
    };

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
                if let Err(e) = svc.reload_specs(true).await {
                    tracing::error!("spec reload: {e}");
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
    let shared = Shared {
        decisions: Arc::new(svc.clone()),
        store: store.clone(),
        auth,
        audit_keys,
        metrics: svc.metrics(),
    };
    let companions: Vec<_> = companions
        .into_iter()
        .map(|start| tokio::spawn(start(shared.clone())))
        .collect();
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
    follow.abort();
    for c in companions {
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
