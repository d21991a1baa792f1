//! `warden test [PATH...]`: run the `test` blocks of specs (files, or
//! directories searched for `*.spec`; default `specs/`). One line per test;
//! exit 0 when all pass, 1 when one fails, 2 when a spec cannot be loaded.

use crate::exit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "spec") {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

pub fn run(args: Args) -> ExitCode {
    let mut files = Vec::new();
    for p in &args.paths {
        if let Err(e) = collect(p, &mut files) {
            eprintln!("error: cannot read `{}`: {e}", p.display());
            return ExitCode::from(exit::BAD_INPUT);
        }
    }
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for f in &files {
        let loaded = match planlang::load_spec(f) {
            Ok(l) => l,
            Err(d) => {
                eprint!("{}", planlang::render::render(&d, false));
                println!("ERROR {}: the spec does not load", f.display());
                broken += 1;
                continue;
            }
        };
        let compiled = match CompiledSpec::compile(&loaded) {
            Ok(c) => c,
            Err(e) => {
                println!("ERROR {}: {e}", f.display());
                broken += 1;
                continue;
            }
        };
        if args.coverage {
            crate::cmd::lint::print_coverage(&loaded);
        }
        // Only the root's tests: included files run their own.
        for t in loaded.root.tests() {
            let expect = match t.expect.node {
                planlang::ast::Expectation::Accept => Verdict::Accept,
                planlang::ast::Expectation::Reject => Verdict::Reject,
                planlang::ast::Expectation::Approve => Verdict::Approve,
            };
            let at = &t.name.span;
            match compiled.check(&t.plan) {
                Ok(out) if out.verdict == expect => {
                    passed += 1;
                    println!("PASS {at} {:?}", t.name.node);
                }
                Ok(out) => {
                    failed += 1;
                    let why = out
                        .violations
                        .first()
                        .map(|v| format!(": {}", v.message))
                        .unwrap_or_default();
                    println!(
                        "FAIL {at} {:?}: expected {expect}, got {}{why}",
                        t.name.node, out.verdict
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL {at} {:?}: {e}", t.name.node);
                }
            }
        }
    }
    println!(
        "{passed} passed, {failed} failed, {broken} spec{} not loaded",
        if broken == 1 { "" } else { "s" }
    );
    if broken > 0 {
        ExitCode::from(exit::BAD_INPUT)
    } else if failed > 0 {
        ExitCode::from(exit::REJECT)
    } else {
        ExitCode::SUCCESS
    }
}
