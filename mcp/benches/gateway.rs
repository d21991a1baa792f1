//! What the gateway adds to a tool call: server-everything's `echo` called
//! straight (an rmcp client over stdio to `node .../server-everything
//! stdio`) against the same call through an in-process gateway (agent side
//! over an in-memory pipe, the server as its stdio child), in one run.
//!
//! The gateway's store is on the disk given by `WARDEN_MCP_BENCH_DIR`
//! (default: the system temp dir): every allowed call commits its state and
//! audit record with fsync before it is forwarded, so the figure includes
//! that fsync. Needs the servers installed by mcp/tests/py/env.sh
//! (`MCP_NODE_DIR`); prints p50 and p99 of an open loop at 1,000 calls/s
//! (3 s) and of 2,000 sequential calls each way, then criterion's
//! estimates.
//!
//! ```sh
//! source mcp/tests/py/env.sh && cargo bench -p warden-mcp --bench gateway
//! ```

use criterion::Criterion;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use token::{NoRevocations, SigningKey, SystemClock, Timestamp, VerifiedToken};
use warden_core::envelope::{CallGrant, Envelope, ValueMatch};
use warden_mcp::{Config, Gateway};

fn everything() -> Option<tokio::process::Command> {
    let dir = std::env::var_os("MCP_NODE_DIR")?;
    let js = PathBuf::from(dir)
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if !js.exists() {
        return None;
    }
    let mut c = tokio::process::Command::new("node");
    c.arg(js).arg("stdio").stderr(std::process::Stdio::null());
    Some(c)
}

fn token() -> VerifiedToken {
    let key = SigningKey::generate().expect("a key");
    let mut claims = warden_core::claims::example();
    let mut envelope = Envelope::default();
    envelope.calls.push(CallGrant {
        name: "echo".into(),
        args: [(
            "message".to_owned(),
            ValueMatch::Exact { value: "hi".into() },
        )]
        .into_iter()
        .collect(),
    });
    claims.envelope = envelope;
    let now = Timestamp::now();
    claims.iat = now;
    claims.nbf = now;
    claims.exp = Timestamp::from_unix(now.unix() + 3600);
    let tok = token::paseto::sign(&claims, &key).expect("sign");
    VerifiedToken::verify(&tok, key.public_key(), &SystemClock, &NoRevocations).expect("verify")
}

fn echo() -> CallToolRequestParams {
    CallToolRequestParams::new("echo").with_arguments(
        json!({"message": "hi"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

struct Pair {
    direct: RunningService<RoleClient, ()>,
    through: RunningService<RoleClient, ()>,
    _keep: (
        Gateway,
        RunningService<RoleClient, warden_mcp::UpstreamSide>,
        tempfile::TempDir,
    ),
}

async fn setup(server: fn() -> Option<tokio::process::Command>) -> Pair {
    let direct =
        ().serve(TokioChildProcess::new(server().expect("server")).expect("spawn"))
            .await
            .expect("connect straight");
    let base =
        std::env::var_os("WARDEN_MCP_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let gateway = Gateway::open(Config {
        token: token(),
        store: dir.path().join("gw.db"),
        revocations: Box::new(NoRevocations),
        audit_signer: None,
        approvals: None,
    })
    .expect("gateway");
    let upstream = gateway
        .connect(
            None,
            TokioChildProcess::new(server().expect("server")).expect("spawn"),
        )
        .await
        .expect("gateway connects");
    let (a, b) = tokio::io::duplex(1 << 16);
    let side = gateway.agent_side();
    tokio::spawn(async move {
        if let Ok(s) = side.serve(tokio::io::split(b)).await {
            let _ = s.waiting().await;
        }
    });
    let through = ().serve(tokio::io::split(a)).await.expect("connect through");
    Pair {
        direct,
        through,
        _keep: (gateway, upstream, dir),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn bench(c: &mut Criterion) {
    if everything().is_none() {
        eprintln!("gateway bench: skipped (source mcp/tests/py/env.sh first: MCP_NODE_DIR)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let pair = rt.block_on(setup(everything));
    let sample = |client: &RunningService<RoleClient, ()>| {
        rt.block_on(async {
            for _ in 0..200 {
                client.call_tool(echo()).await.expect("warm up");
            }
            let mut t = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let start = Instant::now();
                let r = client.call_tool(echo()).await.expect("echo");
                t.push(start.elapsed());
                assert_ne!(r.is_error, Some(true));
            }
            t.sort();
            t
        })
    };
    // Open loop: a call every millisecond (1,000 calls/s) for 3 s, each one
    // sent at its scheduled time whether or not the earlier ones returned,
    // its latency counted from that time (no coordinated omission).
    let open_loop = |client: &RunningService<RoleClient, ()>| {
        rt.block_on(async {
            let peer = client.peer().clone();
            let n = 3000u32;
            let every = Duration::from_millis(1);
            let start = tokio::time::Instant::now() + Duration::from_millis(10);
            let mut tasks = Vec::with_capacity(n as usize);
            for i in 0..n {
                let due = start + every * i;
                tokio::time::sleep_until(due).await;
                let peer = peer.clone();
                tasks.push(tokio::spawn(async move {
                    let r = peer.call_tool(echo()).await.expect("echo");
                    assert_ne!(r.is_error, Some(true));
                    tokio::time::Instant::now() - due
                }));
            }
            let mut t = Vec::with_capacity(n as usize);
            for task in tasks {
                t.push(task.await.expect("a call"));
            }
            t.sort();
            t
        })
    };
    let direct_open = open_loop(&pair.direct);
    let through_open = open_loop(&pair.through);
    let (d50, d99) = (
        percentile(&direct_open, 0.5),
        percentile(&direct_open, 0.99),
    );
    let (g50, g99) = (
        percentile(&through_open, 0.5),
        percentile(&through_open, 0.99),
    );
    println!(
        "open loop, 1000 calls/s for 3 s: echo straight: p50 {d50:?} p99 {d99:?}; through the gateway: \
         p50 {g50:?} p99 {g99:?}; added: p50 {:?} p99 {:?}",
        g50.saturating_sub(d50),
        g99.saturating_sub(d99)
    );
    let direct = sample(&pair.direct);
    let through = sample(&pair.through);
    let (d50, d99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let (g50, g99) = (percentile(&through, 0.5), percentile(&through, 0.99));
    println!(
        "echo straight: p50 {d50:?} p99 {d99:?}; through the gateway: p50 {g50:?} p99 {g99:?}; \
         added: p50 {:?} p99 {:?} (2000 calls each)",
        g50.saturating_sub(d50),
        g99.saturating_sub(d99)
    );
    let mut g = c.benchmark_group("echo");
    g.bench_function("straight", |b| {
        b.iter(|| rt.block_on(pair.direct.call_tool(echo())).expect("echo"))
    });
    g.bench_function("through_gateway", |b| {
        b.iter(|| rt.block_on(pair.through.call_tool(echo())).expect("echo"))
    });
    g.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
