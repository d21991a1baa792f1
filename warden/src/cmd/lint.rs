//! `warden lint SPEC... [--json]`: rules that cannot do what they say, each
//! with its proof (a covering rule, or the solver's unsat).
//!
//! One line per finding, `file:line:col: kind: message`; kinds are
//! `unsatisfiable`, `overridden`, `approve-shadowed`, `subsumed`,
//! `unused-let` and `no-such-field`. Exit 0 no findings, 1 findings, 2 bad
//! input.

use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;
use verifier::analysis::lint::{LintOptions, lint};

#[derive(clap::Args)]
pub struct Args {
    /// The spec files; each one's `include`s are linted with it (the
    /// pre-commit hook passes every changed spec).
    #[arg(value_name = "SPEC", required = true)]
    specs: Vec<PathBuf>,
    /// Print one JSON object: `findings`.
    #[arg(long)]
    json: bool,
    /// Bound of each solver call, in milliseconds (an unanswered question yields no finding).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u32,
}

pub fn run(args: Args) -> ExitCode {
    let opts = LintOptions {
        timeout_ms: args.timeout_ms,
        ..LintOptions::default()
    };
    let mut findings = Vec::new();
    let mut bad = false;
    for spec in &args.specs {
        let loaded = match planlang::load_spec(spec) {
            Ok(l) => l,
            Err(d) => {
                eprint!("{}", planlang::render::render(&d, false));
                bad = true;
                continue;
            }
        };
        match lint(&loaded, &opts) {
            Ok(f) => findings.extend(f),
            Err(e) => {
                eprintln!("error: {}: {e}", spec.display());
                bad = true;
            }
        }
    }
    if args.json {
        let v = serde_json::json!({ "findings": &findings });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for f in &findings {
            println!("{f}");
        }
    }
    if bad {
        ExitCode::from(exit::BAD_INPUT)
    } else if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::REJECT)
    }
}

/// For `warden test --coverage`: one `uncovered` line per rule no test
/// exercises, then a `coverage:` summary line.
pub fn print_coverage(loaded: &planlang::LoadedSpec) {
    match verifier::analysis::coverage::coverage(loaded) {
        Ok(c) => {
            for f in &c.uncovered {
                println!("{f}");
            }
            println!(
                "coverage: {}: {} of {} rules exercised by tests",
                loaded.root.name.span.file, c.exercised, c.rules
            );
        }
        Err(e) => println!("coverage: {}: {e}", loaded.root.name.span.file),
    }
}
