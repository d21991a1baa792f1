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
use token::issue::{IssueOptions, issue};
use verifier::Verdict;

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
    #[arg(long, default_value = token::issue::DEFAULT_ISSUER)]
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
    let outcome = match loaded.compiled.check(&loaded.plan) {
        Ok(o) => o,
        Err(e) => return check::check_error(&e),
    };
    let envelope = match (outcome.verdict, outcome.envelope.clone()) {
        (Verdict::Accept, Some(env)) => env,
        (verdict, _) => {
            // The verdict is for people; stdout stays empty: no token.
            eprint!("{}", check::human(&outcome, &loaded.sources));
            eprintln!("no token issued");
            return if verdict == Verdict::Accept {
                // An accepted plan without an envelope is a verifier bug:
                // fail closed.
                ExitCode::from(exit::REJECT)
            } else {
                check::exit_code(verdict)
            };
        }
    };
    // The envelope the kernel layers will really enforce, per profile,
    // proven against the spec; no token when no profile is.
    // Issuing happens once per token, off the hot path: the proof gets more
    // solver time than a check, so a loaded machine does not refuse it.
    let mut compiled = loaded.compiled;
    compiled.options.timeout_ms = compiled
        .options
        .timeout_ms
        .max(token::enforcement::PROOF_TIMEOUT_MS);
    let enforcement = match token::enforcement::prove_profiles(&compiled, &envelope) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if token::enforcement::proven(&enforcement).next().is_none() {
        eprintln!(
            "reject: the plan is accepted, but no enforcement profile is proven: the kernel layers would widen its envelope beyond the spec"
        );
        eprint!("{}", token::enforcement::describe(&enforcement));
        eprintln!("no token issued");
        return ExitCode::from(exit::REJECT);
    }
    let opts = IssueOptions {
        issuer: args.issuer,
        ttl: args.ttl,
        enforcement,
    };
    match issue(
        &loaded.plan,
        &loaded.spec,
        envelope,
        &key,
        &SystemClock,
        &opts,
    ) {
        Ok(issued) => {
            println!("{}", issued.token);
            ExitCode::from(exit::ACCEPT)
        }
        Err(e) => fail(e),
    }
}
