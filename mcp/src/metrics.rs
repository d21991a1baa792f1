//! The gateway's Prometheus metrics (`warden mcp --metrics ADDR`, served
//! by `service::metrics::serve`): requests by kind and outcome, how long a
//! decision and an upstream call take, calls waiting for a human. Labels
//! take fixed values only: never a tool's arguments or the token.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

/// How a request from the agent (or from the server, for sampling and
/// elicitation) ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    /// Allowed, recorded, and forwarded to the server.
    forwarded,
    /// Refused by the token, the run's state, a pin or a human.
    refused,
    /// Refused because something failed (the store, the server): fail closed.
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The MCP method: `tools/call`, `resources/read`, `prompts/get`,
    /// `sampling/createMessage`, `elicitation/create`.
    request: &'static str,
    outcome: Outcome,
}

/// What one gateway counts and times.
pub struct GatewayMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    decision: Histogram,
    upstream: Histogram,
    approvals_waiting: Gauge,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics::new()
    }
}

impl GatewayMetrics {
    /// Fresh metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warden_mcp");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests the gateway decided, by kind and outcome",
            requests.clone(),
        );
        let decision = service::metrics::latency_histogram();
        registry.register(
            "decision_seconds",
            "Time from a tool call's arrival until its allow is durable and it is forwarded (calls a human approved left out)",
            decision.clone(),
        );
        let upstream = service::metrics::latency_histogram();
        registry.register(
            "upstream_seconds",
            "Time the server took to answer a forwarded tool call",
            upstream.clone(),
        );
        let approvals_waiting = Gauge::default();
        registry.register(
            "approvals_waiting",
            "Tool calls waiting for a human's decision",
            approvals_waiting.clone(),
        );
        GatewayMetrics {
            registry,
            requests,
            decision,
            upstream,
            approvals_waiting,
        }
    }

    /// A request of this kind ended so.
    pub fn request(&self, request: &'static str, outcome: Outcome) {
        self.requests
            .get_or_create(&RequestLabels { request, outcome })
            .inc();
    }

    /// A tool call that arrived at `since` is allowed and about to be
    /// forwarded.
    pub fn decided(&self, since: Instant) {
        self.decision.observe(since.elapsed().as_secs_f64());
    }

    /// The server answered a call forwarded at `since`.
    pub fn answered(&self, since: Instant) {
        self.upstream.observe(since.elapsed().as_secs_f64());
    }

    /// A call waits for a human until the guard is dropped.
    pub fn waiting_for_approval(&self) -> WaitingGuard<'_> {
        self.approvals_waiting.inc();
        WaitingGuard(&self.approvals_waiting)
    }

    /// The registry, to encode or to serve.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Counts a call as waiting for a human while it lives.
pub struct WaitingGuard<'a>(&'a Gauge);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
