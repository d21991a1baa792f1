//! `warden diff OLD.spec NEW.spec [--json]`: what a spec change lets through
//! and takes away, each effect change with a concrete witness action.
//!
//! One line per change, `file:line:col: kind: message`; kinds are
//! `widened`, `narrowed`, `approval-added`, `approval-removed`,
//! `rule-added`, `rule-removed`, `baseline-added`, `baseline-removed`,
//! `max-ttl`, and the two that say "not proved": `undecided` (the solver
//! gave up) and `incomplete` (the specs use what the analysis does not
//! model). Exit 0 equivalent (proved), 1 they differ (some change shown),
//! 2 bad input, 4 unknown (no change found, equivalence not proved).

use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;
use verifier::analysis::diff::{DiffOptions, Outcome, diff};

#[derive(clap::Args)]
pub struct Args {
    /// The spec before the change.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The spec after the change.
    #[arg(value_name = "NEW")]
    new: PathBuf,
    /// Print one JSON object: `equivalent`, `findings`, `witnesses`.
    #[arg(long)]
    json: bool,
    /// Bound of each solver call, in milliseconds (a timeout is reported as `undecided`).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u32,
}

pub fn run(args: Args) -> ExitCode {
    let load = |p: &PathBuf| {
        planlang::load_spec(p).map_err(|d| {
            eprint!("{}", planlang::render::render(&d, false));
            ExitCode::from(exit::BAD_INPUT)
        })
    };
    let (old, new) = match (load(&args.old), load(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let opts = DiffOptions {
        timeout_ms: args.timeout_ms,
        ..DiffOptions::default()
    };
    let report = match diff(&old, &new, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let outcome = report.outcome();
    if args.json {
        let v = serde_json::json!({
            "equivalent": report.equivalent(),
            "outcome": outcome,
            "findings": &report.findings,
            "witnesses": &report.witnesses,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for f in &report.findings {
            println!("{f}");
        }
        match outcome {
            Outcome::Equivalent => {
                println!("equivalent: no action is decided differently and no rule changed")
            }
            Outcome::Unknown => println!(
                "unknown: no difference found, but equivalence is not proved (see the lines above)"
            ),
            Outcome::Differ => {}
        }
    }
    match outcome {
        Outcome::Equivalent => ExitCode::SUCCESS,
        Outcome::Differ => ExitCode::from(exit::REJECT),
        Outcome::Unknown => ExitCode::from(exit::UNKNOWN),
    }
}
