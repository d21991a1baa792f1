//! `warden mcp --token T --pub KEY -- CMD ARGS...`: the MCP gateway
//! (crate `warden-mcp`). It starts the MCP server CMD as its child, inside
//! the token's kernel envelope (through `warden exec`, unless
//! `--unconfined`), and serves the agent on standard input and output (or
//! streamable HTTP with `--listen`): every tool call is decided against the
//! token before a server sees it. `--config` adds servers (commands or
//! URLs with their credentials) behind the same gateway.

use crate::cmd::tokens::{TokenArgs, fail};
use crate::exit;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use token::{SystemClock, VerifiedToken};
use warden_core::revocation::{NoRevocations, RevocationList};
use warden_mcp::config::{GatewayFile, Server};
use warden_mcp::{AgentTransport, UpstreamSpec};

#[derive(clap::Args)]
pub struct Args {
    /// The run's token (`--token` must be its text or a file: standard
    /// input is the agent's channel), its key and revocation list.
    #[command(flatten)]
    held: TokenArgs,
    #[command(flatten)]
    follow: crate::cmd::follow::ServiceArgs,
    /// The gateway's store (SQLite): the run's state, kept across restarts,
    /// and the audit log of every decision (`warden audit show --db`).
    #[arg(long, value_name = "FILE", default_value = "warden-mcp.db")]
    db: PathBuf,
    /// Sign the audit log's checkpoints and head with this secret key (a
    /// `warden keygen` key of the gateway's own, not the one that issues
    /// tokens); `warden audit verify --db DB --pub` checks them.
    #[arg(long, value_name = "KEY")]
    audit_key: Option<PathBuf>,
    /// Show the server's tools to the agent as `PREFIX.NAME` (the names the plan uses).
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// More servers behind the gateway, from a TOML file: `[[upstream]]` with
    /// `prefix`, and `command = [...]` or `url` (with `headers`, the server's
    /// credentials, never shown to the agent).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve the agent over streamable HTTP at http://ADDR/mcp instead of stdio.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// With --listen: a Host the gateway answers besides loopback names (repeatable).
    #[arg(long, value_name = "HOST")]
    allowed_host: Vec<String>,
    /// Messages from the agent longer than this many bytes are discarded.
    #[arg(long, value_name = "BYTES", default_value_t = warden_mcp::DEFAULT_MAX_MESSAGE)]
    max_message: usize,
    /// Calls an `approve each` rule holds wait for a human of this service
    /// (`warden serve`, e.g. http://127.0.0.1:50051): the gateway records
    /// each one there and forwards it once an approver approves it. Without
    /// it such calls are refused ("needs approval").
    #[arg(long, value_name = "URL")]
    approvals: Option<String>,
    /// With --approvals over https: the CA certificate (PEM) of the service.
    #[arg(long, value_name = "FILE", requires = "approvals")]
    approvals_ca: Option<PathBuf>,
    /// How long a call waits for its approval before it is refused.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::cmd::tokens::parse_ttl)]
    approval_timeout: std::time::Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (requests by kind and
    /// outcome, decision and server latency, calls waiting for a human).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Start the server without the kernel envelope (only the gateway's
    /// checks stand between the agent and what the server can touch).
    #[arg(long)]
    unconfined: bool,
    /// The MCP server's command and its arguments.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    if args.held.token == "-" {
        // Standard input is the agent's channel (and the confined server
        // reads the token again).
        eprintln!("warden mcp: --token must be the token or a file, not `-`");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let held = match args.held.load() {
        Ok(h) => h,
        Err(code) => return code,
    };
    let (text, key) = (held.text, held.key);
    let file: Box<dyn RevocationList + Send + Sync> = match held.revocations {
        Some(list) => Box::new(list),
        None => Box::new(NoRevocations),
    };
    let (revocations, _service_watch): (Box<dyn RevocationList + Send + Sync>, _) =
        match args.follow.follow(|_| {}) {
            Ok(None) => (file, None),
            Ok(Some((list, watcher))) => (Box::new(Either(file, list)), Some(watcher)),
            Err(e) => return fail(e),
        };
    let verified = match VerifiedToken::verify(&text, &key, &SystemClock, revocations.as_ref()) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut upstreams = Vec::new();
    if let Some((program, rest)) = args.command.split_first() {
        let command = match server_command(&args, program, rest) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        upstreams.push(UpstreamSpec::Command {
            prefix: args.prefix.clone(),
            command,
        });
    }
    if let Some(path) = &args.config {
        let file = match GatewayFile::load(path) {
            Ok(f) => f,
            Err(e) => return fail(e),
        };
        for u in &file.upstream {
            // `GatewayFile::load` refused entries without exactly one server.
            let server = match u.server() {
                Ok(s) => s,
                Err(why) => {
                    eprintln!("warden mcp: {}: {why}", path.display());
                    return ExitCode::from(exit::BAD_INPUT);
                }
            };
            match server {
                Server::Command {
                    program,
                    args: rest,
                } => {
                    let rest: Vec<OsString> = rest.iter().map(OsString::from).collect();
                    let command = match server_command(&args, &OsString::from(program), &rest) {
                        Ok(c) => c,
                        Err(e) => return fail(e),
                    };
                    upstreams.push(UpstreamSpec::Command {
                        prefix: u.prefix.clone(),
                        command,
                    });
                }
                Server::Url { url, headers } => upstreams.push(UpstreamSpec::Http {
                    prefix: u.prefix.clone(),
                    url: url.to_owned(),
                    headers: headers.clone(),
                }),
            }
        }
    }
    if upstreams.is_empty() {
        eprintln!("warden mcp: no server: give its command after `--`, or --config");
        return ExitCode::from(exit::BAD_INPUT);
    }
    let agent = match args.listen {
        Some(listen) => AgentTransport::Http {
            listen,
            allowed_hosts: args.allowed_host.clone(),
            on_listen: Some(Box::new(|addr| {
                eprintln!("warden mcp: listening on http://{addr}/mcp");
            })),
        },
        None => AgentTransport::Stdio {
            max_message: args.max_message,
        },
    };
    let audit_signer = match &args.audit_key {
        Some(path) => match token::keys::load_signing_key(path) {
            Ok(key) => Some(service::audit::CheckpointSigner::new(key)),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let approvals = match &args.approvals {
        None => None,
        Some(endpoint) => {
            let Some(secret) = args.follow.secret.clone() else {
                eprintln!("warden mcp: --approvals needs --secret (or WARDEN_SECRET)");
                return ExitCode::from(exit::BAD_INPUT);
            };
            let tls_ca = match args.approvals_ca.as_ref().map(std::fs::read).transpose() {
                Ok(ca) => ca,
                Err(e) => return fail(e),
            };
            Some(warden_mcp::Approvals {
                endpoint: endpoint.clone(),
                tls_ca,
                secret,
                token_text: text.clone(),
                timeout: args.approval_timeout,
                poll: std::time::Duration::from_millis(200),
            })
        }
    };
    let config = warden_mcp::Config {
        token: verified,
        store: args.db.clone(),
        revocations,
        audit_signer,
        approvals,
    };
    let metrics = match args.metrics.map(std::net::TcpListener::bind).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden mcp: --metrics: cannot listen: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if let Some(addr) = metrics.as_ref().and_then(|l| l.local_addr().ok()) {
        eprintln!("warden mcp: metrics on http://{addr}/metrics");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match runtime.block_on(warden_mcp::serve(config, upstreams, agent, metrics)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A server's command: inside `warden exec` with the same token (the
/// enforcer's launch path), or as it is with `--unconfined`.
fn server_command(
    args: &Args,
    program: &OsString,
    rest: &[OsString],
) -> std::io::Result<tokio::process::Command> {
    if args.unconfined {
        eprintln!("warden mcp: --unconfined: the server runs outside the kernel envelope");
        let mut c = tokio::process::Command::new(program);
        c.args(rest);
        return Ok(c);
    }
    let mut c = tokio::process::Command::new(std::env::current_exe()?);
    c.arg("exec").arg("--quiet");
    c.args(args.held.to_args());
    args.follow.pass_on(&mut c);
    c.arg("--").arg(program).args(rest);
    Ok(c)
}

/// Revoked if either list says so; an error of either refuses.
struct Either(
    Box<dyn RevocationList + Send + Sync>,
    service::watch::WatchedRevocations,
);

impl RevocationList for Either {
    fn is_revoked(&self, id: &token::TokenId) -> Result<bool, token::RevocationError> {
        Ok(self.0.is_revoked(id)? || self.1.is_revoked(id)?)
    }
}
