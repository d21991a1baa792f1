//! `warden approve ID --reason R` and `warden deny ID --reason R`: an
//! approver decides a pending approval of a running service (a plan's, or
//! one tool call's that `warden mcp` parked), through the same `Approve` and
//! `Deny` RPCs as the console and every gRPC client.

use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The approval's id (`apr_...`).
    id: String,
    /// Why: recorded with the decision in the audit log.
    #[arg(long)]
    reason: String,
    /// The service: `http://127.0.0.1:50051` (or https with --tls-ca).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// PEM file of the CA that signed the server's certificate.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// An approver's bearer secret (or set WARDEN_SECRET).
    #[arg(long, env = "WARDEN_SECRET", hide_env_values = true)]
    secret: String,
}

/// Approve (`approve`) or deny the approval; print what was decided.
pub fn run(a: Args, approve: bool) -> ExitCode {
    let tls_ca = match a.tls_ca.as_ref().map(std::fs::read).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot read the CA file: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(decide(&a, tls_ca.as_deref(), approve)) {
        Ok(d) => {
            let what = if d.call_digest.is_empty() {
                format!("plan of {}", d.agent)
            } else {
                format!("call `{}` (token {})", d.plan, d.call_token_id)
            };
            println!(
                "{} {}: {what}, by {}",
                if approve { "approved" } else { "denied" },
                d.approval_id,
                d.decided_by
            );
            if !d.token.is_empty() {
                println!("{}", d.token);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden {}: {e}", if approve { "approve" } else { "deny" });
            ExitCode::FAILURE
        }
    }
}

async fn decide(
    a: &Args,
    tls_ca: Option<&[u8]>,
    approve: bool,
) -> Result<service::proto::Approval, String> {
    use service::proto::{DecideRequest, warden_client::WardenClient};
    let channel = service::loadgen::connect(&a.endpoint, tls_ca)
        .await
        .map_err(|e| e.to_string())?;
    let r = service::auth::authorized(
        DecideRequest {
            approval_id: a.id.clone(),
            reason: a.reason.clone(),
        },
        &a.secret,
    )
    .map_err(|e| e.to_string())?;
    let mut client = WardenClient::new(channel);
    let answer = if approve {
        client.approve(r).await
    } else {
        client.deny(r).await
    };
    answer
        .map(|r| r.into_inner())
        .map_err(|s| s.message().to_owned())
}
