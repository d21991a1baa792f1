//! `warden test [PATH...]`: run the `test` blocks of specs (files, or
//! directories searched for `*.spec`; default `specs/`). One line per test,
//! or JUnit XML or JSON (`--format`, see [`report`]); exit 0 when all pass, 1
//! when one fails, 2 when a spec cannot be loaded.

use crate::cmd::report::{self, Case, Format, Status, Suite};
use crate::exit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use verifier::CompiledSpec;
use verifier::report::Verdict;

#[derive(clap::Args)]
pub struct Args {
    /// Spec files or directories (searched recursively for `*.spec`).
    #[arg(value_name = "PATH", default_value = "specs")]
    paths: Vec<PathBuf>,
    /// Also list the rules no `test` block exercises (`file:line:col: uncovered: ...`; see
    /// `verifier::analysis::coverage` for the definition). Does not change the exit code.
    #[arg(long)]
    coverage: bool,
    /// How to report: lines for people, JUnit XML for CI, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let mut files = Vec::new();
    for p in &args.paths {
        if let Err(e) = report::collect(p, "spec", &mut files) {
            eprintln!("error: cannot read `{}`: {e}", p.display());
            return ExitCode::from(exit::BAD_INPUT);
        }
    }
    if args.coverage && args.format != Format::Text && args.output.is_none() {
        eprintln!(
            "error: --coverage prints lines on stdout: with --format junit or json, write the report to a file with --output"
        );
        return ExitCode::from(exit::BAD_INPUT);
    }
    let suites: Vec<Suite> = files.iter().map(|f| suite(f, args.coverage)).collect();
    if let Err(e) = report::write(&suites, args.format, "warden test", args.output.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::BAD_INPUT);
    }
    ExitCode::from(report::exit_code(&suites))
}

/// The tests of one spec file (only the root's: included files run their
/// own).
fn suite(f: &Path, coverage: bool) -> Suite {
    let name = f.display().to_string();
    let loaded = match planlang::load_spec(f) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", planlang::render::render(&d, false));
            return Suite {
                name,
                error: Some("the spec does not load".into()),
                cases: vec![],
            };
        }
    };
    let compiled = match CompiledSpec::compile(&loaded) {
        Ok(c) => c,
        Err(e) => {
            return Suite {
                name,
                error: Some(e.to_string()),
                cases: vec![],
            };
        }
    };
    if coverage {
        crate::cmd::lint::print_coverage(&loaded);
    }
    let cases = loaded
        .root
        .tests()
        .map(|t| {
            let expect = match t.expect.node {
                planlang::ast::Expectation::Accept => Verdict::Accept,
                planlang::ast::Expectation::Reject => Verdict::Reject,
                planlang::ast::Expectation::Approve => Verdict::Approve,
            };
            let at = &t.name.span;
            let start = Instant::now();
            let result = compiled.check(&t.plan);
            let (got, status) = match result {
                Ok(out) if out.verdict == expect => (Some(out.verdict.to_string()), Status::Passed),
                Ok(out) => {
                    let why = out
                        .violations
                        .first()
                        .map(|v| format!(": {}", v.message))
                        .unwrap_or_default();
                    (
                        Some(out.verdict.to_string()),
                        Status::Failed(format!("expected {expect}, got {}{why}", out.verdict)),
                    )
                }
                Err(e) => (None, Status::Failed(e.to_string())),
            };
            Case {
                name: t.name.node.clone(),
                location: at.to_string(),
                file: at.file.to_string(),
                line: at.line,
                expected: Some(expect.to_string()),
                got,
                status,
                time: start.elapsed(),
            }
        })
        .collect();
    Suite {
        name,
        error: None,
        cases,
    }
}
