//! Prometheus metrics: what the service ([`ServiceMetrics`]) and the MCP
//! gateway (crate `warden-mcp`, over the same [`Registry`]) count and time,
//! and [`serve`], the HTTP endpoint a Prometheus server scrapes
//! (`GET /metrics`, the OpenMetrics text format).
//!
//! Labels take a few fixed values only (a verdict, an outcome, a store
//! operation): never an agent, a token id or a tool argument, so a scrape
//! reveals no more than counts and latencies, and the series stay few.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// The content type of a scrape's answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds, from 50 µs to about 1.6 s (doubling).
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_05, 2.0, 16)
}

/// A histogram of latencies in seconds.
pub fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// What the verifier said of a submitted plan; `invalid` when it could not
/// say (the plan does not parse or type-check, or the spec is not loaded).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum VerdictLabel {
    /// Accepted: a token was issued.
    accept,
    /// A human must approve it.
    approve,
    /// Rejected, with counterexamples.
    reject,
    /// No verdict: the plan or its spec could not be used.
    invalid,
}

impl From<crate::engine::Verdict> for VerdictLabel {
    fn from(v: crate::engine::Verdict) -> Self {
        match v {
            crate::engine::Verdict::Accept => VerdictLabel::accept,
            crate::engine::Verdict::Approve => VerdictLabel::approve,
            crate::engine::Verdict::Reject => VerdictLabel::reject,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: VerdictLabel,
}

/// How a tool call's check ended: `allowed`, `refused` (by the token, the
/// run's state or a revocation), or `error` (a malformed request, a token
/// that is not accepted, the store failing: no decision).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CheckOutcome {
    /// The call is allowed, and the run's new state is stored.
    allowed,
    /// The call is refused.
    refused,
    /// No decision: the check failed.
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: CheckOutcome,
}

/// What the store was asked to do when it failed.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum StoreOp {
    /// Commit state changes with their audit records.
    commit,
    /// Check a run's action under its row lock.
    check_run,
    /// Read (approvals, revocations, records).
    read,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    op: StoreOp,
}

/// The service's metrics, registered in one [`Registry`] (names below;
/// Prometheus adds `_total` to counters and `_bucket`/`_sum`/`_count` to
/// histograms).
pub struct ServiceMetrics {
    registry: Registry,
    verification: Family<VerdictLabels, Histogram, fn() -> Histogram>,
    verdicts: Family<VerdictLabels, Counter>,
    call_checks: Family<OutcomeLabels, Counter>,
    approvals_pending: Gauge,
    audit_append: Histogram,
    store_errors: Family<StoreLabels, Counter>,
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        ServiceMetrics::new()
    }
}

impl ServiceMetrics {
    /// Fresh metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warden");
        let verification =
            Family::<VerdictLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        registry.register(
            "verification_seconds",
            "Time to check a submitted plan against its spec (parse, proof, envelope), by verdict",
            verification.clone(),
        );
        let verdicts = Family::<VerdictLabels, Counter>::default();
        registry.register(
            "verdicts",
            "Submitted plans, by verdict (invalid: no verdict, the plan or its spec could not be used)",
            verdicts.clone(),
        );
        let call_checks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "call_checks",
            "Tool calls checked against their run's token (CheckAction), by outcome",
            call_checks.clone(),
        );
        let approvals_pending = Gauge::default();
        registry.register(
            "approvals_pending",
            "Approvals waiting for a human in the store (plans and single calls), read at each scrape",
            approvals_pending.clone(),
        );
        let audit_append = latency_histogram();
        registry.register(
            "audit_append_seconds",
            "Time from handing state changes and audit records to the store until they are durable",
            audit_append.clone(),
        );
        let store_errors = Family::<StoreLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Store operations that failed, by operation",
            store_errors.clone(),
        );
        ServiceMetrics {
            registry,
            verification,
            verdicts,
            call_checks,
            approvals_pending,
            audit_append,
            store_errors,
        }
    }

    /// A plan was checked in `took`, with this verdict.
    pub fn verified(&self, verdict: VerdictLabel, took: std::time::Duration) {
        let labels = VerdictLabels { verdict };
        self.verification
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.verdicts.get_or_create(&labels).inc();
    }

    /// A tool call's check ended so.
    pub fn call_checked(&self, outcome: CheckOutcome) {
        self.call_checks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// An append to the audit log that started at `since` is durable.
    pub fn audit_appended(&self, since: Instant) {
        self.audit_append.observe(since.elapsed().as_secs_f64());
    }

    /// The store failed at `op`.
    pub fn store_failed(&self, op: StoreOp) {
        self.store_errors.get_or_create(&StoreLabels { op }).inc();
    }

    /// Sets the number of approvals pending (read from the store).
    pub fn set_approvals_pending(&self, n: u64) {
        self.approvals_pending
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The registry, to encode or to serve.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Encodes a registry in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// Work to do before each scrape is encoded (reading a gauge's value from
/// the store, for instance).
pub type Refresh = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What [`serve`] answers with: the registry to encode and what to refresh
/// first.
#[derive(Clone)]
pub struct Scrape {
    /// Encodes the metrics (a registry owned elsewhere).
    pub encode: Arc<dyn Fn() -> String + Send + Sync>,
    /// Run before each encoding.
    pub refresh: Option<Refresh>,
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves. Anything
/// else is 404.
pub async fn serve(
    listener: tokio::net::TcpListener,
    scrape: Scrape,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let scrape = scrape.clone();
            async move {
                if let Some(r) = &scrape.refresh {
                    r().await;
                }
                ([(header::CONTENT_TYPE, CONTENT_TYPE)], (scrape.encode)())
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The service's metrics endpoint as a companion of `serve_with`, on
/// `listener`: each scrape first reads the approvals pending from the store.
pub fn companion(listener: tokio::net::TcpListener) -> crate::server::Companion {
    Box::new(move |shared: crate::server::Shared| {
        Box::pin(async move {
            let metrics = shared.metrics.clone();
            let store = shared.store.clone();
            let counted = metrics.clone();
            let scrape = Scrape {
                encode: Arc::new(move || encode(metrics.registry())),
                refresh: Some(Arc::new(move || {
                    let (store, metrics) = (store.clone(), counted.clone());
                    Box::pin(async move {
                        let n = tokio::task::spawn_blocking(move || {
                            store.count_approvals(crate::store::ApprovalState::Pending)
                        })
                        .await;
                        match n {
                            Ok(Ok(n)) => metrics.set_approvals_pending(n),
                            Ok(Err(e)) => {
                                metrics.store_failed(StoreOp::read);
                                tracing::error!("metrics: cannot count the pending approvals: {e}");
                            }
                            Err(e) => {
                                tracing::error!("metrics: cannot count the pending approvals: {e}")
                            }
                        }
                    })
                })),
            };
            // Stopped by the service aborting its companions.
            if let Err(e) = serve(listener, scrape, std::future::pending()).await {
                tracing::error!("the metrics endpoint failed: {e}");
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_in_the_exposition_with_its_help() {
        let m = ServiceMetrics::new();
        m.verified(VerdictLabel::accept, std::time::Duration::from_micros(300));
        m.call_checked(CheckOutcome::refused);
        m.store_failed(StoreOp::commit);
        m.set_approvals_pending(3);
        m.audit_appended(Instant::now());
        let text = encode(m.registry());
        for line in [
            "# TYPE warden_verification_seconds histogram",
            "warden_verification_seconds_count{verdict=\"accept\"} 1",
            "warden_verdicts_total{verdict=\"accept\"} 1",
            "warden_call_checks_total{outcome=\"refused\"} 1",
            "warden_approvals_pending 3",
            "warden_audit_append_seconds_count 1",
            "warden_store_errors_total{op=\"commit\"} 1",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
