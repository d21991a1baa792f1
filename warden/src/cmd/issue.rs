//! `warden issue`: check a plan against a spec and, when it is accepted,
//! print a signed token (and nothing else) on stdout.
//!
//! Exit codes as `warden check`: 0 accepted (the token is printed), 1
//! rejected, 3 needs approval (the verdict on stderr, no token), 2 bad input.
//! An accepted plan whose envelope no enforcement profile keeps inside the
//! spec (every profile's layers would widen it into something the spec
//! refuses) is rejected too, with each profile's counterexample.

use crate::cmd::check;
use crate::cmd::tokens::{fail, parse_ttl};
use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;
use token::SystemClock;
use verifier::Verdict;
use verifier::issue::{IssueOptions, Issuer};

#[derive(clap::Args)]
pub struct Args {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    plan: PathBuf,
    /// The spec to check it against.
    #[arg(long, value_name = "SPEC")]
    spec: PathBuf,
    /// The secret key that signs the token (`warden.key`).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Token lifetime (`90s`, `15m`, `2h`); replaces the plan's `ttl`, capped by the spec's `max ttl`.
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    ttl: Option<std::time::Duration>,
    /// The issuer named in the token.
    #[arg(long, default_value = verifier::issue::DEFAULT_ISSUER)]
    issuer: String,
}

pub fn run(args: Args) -> ExitCode {
    // A bad key is bad input whatever the verdict.
    let key = match token::keys::load_signing_key(&args.key) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let loaded = match check::load(&args.plan, &args.spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let issuer = match Issuer::new(&loaded.spec, &args.issuer) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let opts = IssueOptions {
        ttl: args.ttl,
        agent: None,
    };
    let decision = match issuer.decide(&loaded.plan, &opts) {
        Ok(d) => d,
        Err(e) => return check::decide_error(&e),
    };
    match (&decision.draft, decision.verdict) {
        (Some(draft), Verdict::Accept) => match issuer.sign(draft, &key, &SystemClock) {
            Ok(issued) => {
                println!("{}", issued.token);
                ExitCode::from(exit::ACCEPT)
            }
            Err(e) => fail(e),
        },
        (_, verdict) => {
            // The verdict is for people; stdout stays empty: no token.
            eprint!("{}", check::human_decision(&decision, &loaded.sources));
            eprintln!("no token issued");
            check::exit_code(verdict)
        }
    }
}
