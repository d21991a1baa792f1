//! `warden serve`: the gRPC service for orchestrators (see `service`), and
//! the approvers' web console (see `console`) when the configuration has a
//! `[console]` table.

use crate::exit;
use miette::IntoDiagnostic;
use service::audit::CheckpointSigner;
use service::config::ServeConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (TOML; see `service::config`).
    #[arg(long, default_value = "warden.toml")]
    config: PathBuf,
    /// Listen here instead of the configured address (`127.0.0.1:0`: any free port).
    #[arg(long)]
    listen: Option<String>,
    /// Keep state in this PostgreSQL database instead of the configured
    /// SQLite file (`postgres://user:password@host:port/db`): every replica
    /// given the same URL is one service, with one audit chain.
    #[arg(long, value_name = "URL", env = "WARDEN_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Print the SHA-256 of a secret read from stdin (for `secret_sha256`) and exit.
    #[arg(long)]
    hash_secret: bool,
}

pub fn run(args: Args) -> ExitCode {
    if args.hash_secret {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_line(&mut s) {
            eprintln!("cannot read the secret from stdin: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
        println!(
            "{}",
            service::auth::secret_digest(s.trim_end_matches(['\r', '\n']))
        );
        return ExitCode::SUCCESS;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:?}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

fn serve(args: Args) -> miette::Result<()> {
    let mut cfg = ServeConfig::load(&args.config).into_diagnostic()?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(url) = &args.store {
        cfg.set_store(url).into_diagnostic()?;
    }
    let key = token::keys::load_signing_key(&cfg.key).into_diagnostic()?;
    let trusted = cfg.trusted_keys(key.public_key()).into_diagnostic()?;
    let signer = CheckpointSigner::new(key.clone()).trusting(&trusted);
    let engine = Arc::new(service::warden_engine::WardenEngine::with_keys(
        key,
        trusted,
        &cfg.issuer,
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .map_err(|e| miette::miette!("cannot listen on {}: {e}", cfg.listen))?;
        let mut lines = Vec::new();
        let mut companions = Vec::new();
        if let Some(c) = &cfg.console {
            {
                let l = tokio::net::TcpListener::bind(&c.listen)
                    .await
                    .map_err(|e| miette::miette!("console: cannot listen on {}: {e}", c.listen))?;
                let addr = l.local_addr().into_diagnostic()?;
                let tls = cfg
                    .tls
                    .as_ref()
                    .map(console::tls_acceptor)
                    .transpose()
                    .into_diagnostic()?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                lines.push(format!("console listening on {scheme}://{addr}"));
                let opts = console::Options {
                    sign_in_per_minute: c.sign_in_per_minute,
                    session: std::time::Duration::from_secs(c.session_minutes * 60),
                    tls: tls.is_some(),
                    poll: std::time::Duration::from_secs(1),
                };
                companions.push(console::companion(l, opts, tls));
            }
        }
        if let Some(m) = &cfg.metrics {
            let l = tokio::net::TcpListener::bind(&m.listen)
                .await
                .map_err(|e| miette::miette!("metrics: cannot listen on {}: {e}", m.listen))?;
            let addr = l.local_addr().into_diagnostic()?;
            lines.push(format!("metrics on http://{addr}/metrics"));
            companions.push(service::metrics::companion(l));
        }
        // The first line on stdout, once the store is open and the specs
        // are loaded: scripts and tests read the bound address here (and
        // the console's and the metrics' on the next lines, when configured).
        let ready = |addr: &str| {
            use std::io::Write;
            println!("listening on {addr}");
            for line in lines {
                println!("{line}");
            }
            let _ = std::io::stdout().flush();
        };
        // The handlers are in place before `ready` says the service listens:
        // a SIGTERM sent right after that line stops it gracefully (final
        // records and checkpoint), never by the signal's default action.
        let signals = service::server::shutdown_signals()
            .map_err(|e| miette::miette!("cannot handle SIGTERM and SIGINT: {e}"))?;
        let shutdown = async move {
            signals.await;
            tracing::info!("shutting down: draining requests, signing a final checkpoint");
        };
        service::server::serve_with(&cfg, engine, signer, listener, ready, shutdown, companions)
            .await
            .into_diagnostic()
    })
}
