//! A load generator for a running service: N concurrent clients, each on
//! its own connection, submit the same plan in a loop for a while and the
//! latencies of every acknowledged submission are kept.
//!
//! It also remembers which submission ids the server acknowledged, which is
//! what the crash test compares with the audit log afterwards.

use crate::proto::{SubmitPlanRequest, Verdict, warden_client::WardenClient};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

/// What to send and how hard.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `http://host:port` or `https://…`.
    pub endpoint: String,
    /// PEM of the CA that signed the server's certificate, for https.
    pub tls_ca: Option<Vec<u8>>,
    /// The bearer secret of a submitter.
    pub secret: String,
    /// The spec to check the plan against (its name on the service).
    pub spec: String,
    /// The agent the submissions name.
    pub agent: String,
    /// The plan's text, sent unchanged every time.
    pub plan: String,
    /// Concurrent clients, each on its own connection (at least one).
    pub clients: usize,
    /// How long to send.
    pub duration: Duration,
    /// Stop after this many submissions in total (0: only the duration).
    pub max_requests: u64,
    /// Target submissions per second over all clients (open loop: each
    /// client sends on a fixed schedule, and latency is measured from the
    /// scheduled time, so a slow server cannot hide its queueing delay).
    /// `None`: closed loop, each client sends as soon as its answer is back.
    pub rate: Option<f64>,
}

/// What a load run measured.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Submissions the service acknowledged (whatever the verdict).
    pub ok: u64,
    /// Submissions that failed with a gRPC status.
    pub errors: u64,
    /// gRPC status code name -> count.
    pub error_codes: BTreeMap<String, u64>,
    /// verdict name -> count.
    pub verdicts: BTreeMap<String, u64>,
    /// Wall time from when every client was connected until the last one
    /// stopped.
    pub elapsed: Duration,
    /// Latencies of acknowledged submissions, sorted.
    pub latencies: Vec<Duration>,
    /// Submission ids the server acknowledged.
    pub acked: Vec<String>,
}

impl LoadReport {
    /// Acknowledged submissions per second.
    pub fn throughput(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.ok as f64 / s } else { 0.0 }
    }

    /// The q-quantile latency (0.5, 0.99) of acknowledged submissions.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        serde_json::json!({
            "ok": self.ok, "errors": self.errors, "error_codes": self.error_codes,
            "verdicts": self.verdicts, "seconds": self.elapsed.as_secs_f64(),
            "plans_per_second": self.throughput(),
            "p50_ms": ms(self.quantile(0.5)), "p90_ms": ms(self.quantile(0.9)),
            "p99_ms": ms(self.quantile(0.99)),
            "max_ms": ms(self.latencies.last().copied().unwrap_or_default()),
        })
    }
}

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The endpoint is not a URI, or its TLS settings cannot be used
    /// (the endpoint, and why).
    #[error("bad endpoint {0}: {1}")]
    Endpoint(String, String),
    /// The connection failed or took more than 5 seconds (the endpoint,
    /// and why).
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    /// The secret cannot travel in an `authorization` header.
    #[error("the secret is not valid header text")]
    Secret,
}

/// Opens a channel to the service.
pub async fn connect(endpoint: &str, tls_ca: Option<&[u8]>) -> Result<Channel, LoadError> {
    let mut ep = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| LoadError::Endpoint(endpoint.to_owned(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if let Some(ca) = tls_ca {
        ep = ep
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(ca)),
            )
            .map_err(|e| LoadError::Endpoint(endpoint.to_owned(), e.to_string()))?;
    }
    ep.connect()
        .await
        .map_err(|e| LoadError::Connect(endpoint.to_owned(), format!("{e:?}")))
}

#[derive(Default)]
struct Shared {
    report: LoadReport,
    sent: u64,
}

/// Runs the load and reports.
pub async fn run(opts: LoadOptions) -> Result<LoadReport, LoadError> {
    let auth = crate::auth::bearer(&opts.secret).map_err(|_| LoadError::Secret)?;
    let mut channels = Vec::with_capacity(opts.clients);
    for _ in 0..opts.clients.max(1) {
        channels.push(connect(&opts.endpoint, opts.tls_ca.as_deref()).await?);
    }
    let shared = Arc::new(Mutex::new(Shared::default()));
    let start = Instant::now();
    let deadline = start + opts.duration;
    let mut tasks = Vec::new();
    let n = channels.len();
    // Per client: the time between two sends in open-loop mode.
    let interval = opts
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(n as f64 / r));
    for (i, ch) in channels.into_iter().enumerate() {
        let shared = shared.clone();
        let opts = opts.clone();
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = WardenClient::new(ch);
            // Spread the clients' schedules evenly over one interval.
            let mut next = interval.map(|iv| start + iv.mul_f64(i as f64 / n as f64));
            loop {
                if let (Some(at), Some(iv)) = (next, interval) {
                    // No send is due before the deadline: stop now, so the
                    // idle wait does not count in the elapsed time.
                    if at >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    next = Some(at + iv);
                }
                if Instant::now() >= deadline {
                    break;
                }
                {
                    let mut s = shared.lock().await;
                    if opts.max_requests > 0 && s.sent >= opts.max_requests {
                        break;
                    }
                    s.sent += 1;
                }
                let mut req = tonic::Request::new(SubmitPlanRequest {
                    plan: opts.plan.clone(),
                    spec: opts.spec.clone(),
                    agent: opts.agent.clone(),
                });
                req.metadata_mut().insert("authorization", auth.clone());
                req.set_timeout(Duration::from_secs(30));
                // Open loop: from the scheduled time (queueing included).
                let t0 = next
                    .zip(interval)
                    .map(|(n, iv)| n - iv)
                    .unwrap_or_else(Instant::now);
                let r = client.submit_plan(req).await;
                let lat = t0.elapsed();
                let mut s = shared.lock().await;
                match r {
                    Ok(resp) => {
                        let resp = resp.into_inner();
                        s.report.ok += 1;
                        s.report.latencies.push(lat);
                        let v = Verdict::try_from(resp.verdict)
                            .map(|v| v.as_str_name().to_owned())
                            .unwrap_or_else(|_| resp.verdict.to_string());
                        *s.report.verdicts.entry(v).or_default() += 1;
                        s.report.acked.push(resp.submission_id);
                    }
                    Err(st) => {
                        s.report.errors += 1;
                        *s.report
                            .error_codes
                            .entry(format!("{:?}", st.code()))
                            .or_default() += 1;
                        if st.code() == tonic::Code::Unavailable {
                            // The server is gone (the crash test): back off a little.
                            drop(s);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let mut s = std::mem::take(&mut shared.lock().await.report);
    s.elapsed = elapsed;
    s.latencies.sort();
    Ok(s)
}
