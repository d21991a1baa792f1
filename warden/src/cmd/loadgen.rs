//! `warden load`: drive a running service with many concurrent clients and
//! report throughput and latency.

use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The service: `http://127.0.0.1:50051` (or https with --tls-ca).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// PEM file of the CA that signed the server's certificate.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// A submitter's bearer secret (or set WARDEN_SECRET).
    #[arg(long, env = "WARDEN_SECRET", hide_env_values = true)]
    secret: String,
    /// The plan file to submit.
    #[arg(long)]
    plan: PathBuf,
    /// The spec name.
    #[arg(long)]
    spec: String,
    /// The agent.
    #[arg(long)]
    agent: String,
    /// Concurrent clients, each on its own connection.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Target plans per second over all clients (open loop, latency from the
    /// scheduled send time); without it every client sends back to back.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop after this many submissions (0: run for --seconds).
    #[arg(long, default_value_t = 0)]
    requests: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> ExitCode {
    let plan = match std::fs::read_to_string(&a.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot read {}: {e}", a.plan.display());
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let tls_ca = match a.tls_ca.as_ref().map(std::fs::read).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot read the CA file: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if !(a.seconds > 0.0 && a.seconds < 86_400.0)
        || a.clients == 0
        || a.rate.is_some_and(|r| !(r > 0.0 && r.is_finite()))
    {
        eprintln!("--seconds must be in (0, 86400), --clients at least 1, --rate positive");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let opts = service::loadgen::LoadOptions {
        endpoint: a.endpoint,
        tls_ca,
        secret: a.secret,
        spec: a.spec,
        agent: a.agent,
        plan,
        clients: a.clients,
        duration: std::time::Duration::from_secs_f64(a.seconds),
        max_requests: a.requests,
        rate: a.rate,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(service::loadgen::run(opts)) {
        Ok(rep) => {
            if a.json {
                println!("{}", rep.to_json());
            } else {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                println!(
                    "{} plans in {:.2} s: {:.0} plans/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    rep.ok,
                    rep.elapsed.as_secs_f64(),
                    rep.throughput(),
                    ms(rep.quantile(0.5)),
                    ms(rep.quantile(0.9)),
                    ms(rep.quantile(0.99)),
                    ms(rep.latencies.last().copied().unwrap_or_default()),
                );
                println!(
                    "verdicts: {:?}; errors: {} {:?}",
                    rep.verdicts, rep.errors, rep.error_codes
                );
            }
            if rep.errors > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
