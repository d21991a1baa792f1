//! `warden attenuate`: narrow a token for a sub-agent, after proving that
//! the sub-plan is inside the token's envelope.

use crate::cmd::check;
use crate::cmd::tokens::{fail, parse_ttl, read_token_arg};
use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;
use token::{SystemClock, paseto};
use verifier::containment::ContainmentError;
use verifier::issue::{IssueError, attenuate};

#[derive(clap::Args)]
pub struct Args {
    /// The parent token: its text, a file holding it, or `-` for standard input.
    #[arg(value_name = "TOKEN")]
    token: String,
    /// The sub-agent's plan.
    #[arg(long, value_name = "SUBPLAN")]
    plan: PathBuf,
    /// The secret key that signs the narrower token (`warden.key`).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The keys the parent token may be signed by (a `warden.pub` file,
    /// `k4.public.…` text or a key set file; repeatable; default: the
    /// public half of --key).
    #[arg(long = "pub", value_name = "PARENT_PUB")]
    parent_pub: Vec<String>,
    /// Refuse a parent token (or ancestor) listed in this revocation file.
    #[arg(long, value_name = "FILE")]
    revocations: Option<PathBuf>,
    /// Lifetime of the narrower token (never past the parent's expiry).
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    ttl: Option<std::time::Duration>,
    /// The issuer named in the token.
    #[arg(long, default_value = verifier::issue::DEFAULT_ISSUER)]
    issuer: String,
}

pub fn run(args: Args) -> ExitCode {
    let key = match token::keys::load_signing_key(&args.key) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let parent_pub = match args.parent_pub.is_empty() {
        false => match token::KeySet::load_all(&args.parent_pub) {
            Ok(k) => k,
            Err(e) => return fail(e),
        },
        true => token::KeySet::from(key.public_key().clone()),
    };
    let text = match read_token_arg(&args.token) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let clock = SystemClock;
    let parent = match &args.revocations {
        Some(path) => match token::FileRevocations::open(path) {
            Ok(list) => paseto::verify_unrevoked(&text, &parent_pub, &clock, &list),
            Err(e) => return fail(e),
        },
        None => paseto::verify(&text, &parent_pub, &clock),
    };
    let parent = match parent {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let (sub, sources) = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match attenuate(&parent, &sub, &args.issuer, args.ttl, &key, &clock) {
        Ok(issued) => {
            println!("{}", issued.token);
            ExitCode::from(exit::ACCEPT)
        }
        Err(IssueError::Containment(ContainmentError::Outside { outcome })) => {
            eprintln!("refused: the sub-plan is not inside the parent token's envelope");
            eprint!("{}", check::human(&outcome, &sources));
            ExitCode::from(exit::REJECT)
        }
        Err(IssueError::Containment(e @ ContainmentError::Wider(_))) => {
            eprintln!("refused: {e}");
            ExitCode::from(exit::REJECT)
        }
        Err(IssueError::NotEnforceable(proofs)) => {
            eprintln!(
                "refused: no enforcement profile keeps the sub-plan's envelope inside the parent token's"
            );
            eprint!("{}", warden_core::claims::describe(&proofs));
            ExitCode::from(exit::REJECT)
        }
        Err(e) => fail(e),
    }
}

/// Load a plan, keeping its text for rendering; bad input is printed.
fn load_plan(
    path: &std::path::Path,
) -> Result<(planlang::ast::Plan, planlang::SourceMap), ExitCode> {
    let bad = |d: planlang::Diagnostics| {
        eprint!("{}", planlang::render::render(&d, false));
        ExitCode::from(exit::BAD_INPUT)
    };
    let text = planlang::read_source(path).map_err(bad)?;
    let file = path.display().to_string();
    let plan = planlang::load_plan_str(&text, &file).map_err(bad)?;
    let mut sources = planlang::SourceMap::new();
    sources.insert(file.as_str(), text.as_str());
    Ok((plan, sources))
}
