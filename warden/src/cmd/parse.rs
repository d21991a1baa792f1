//! `warden parse FILE [--json]`: load a plan or spec (parse, follow
//! includes, resolve names, check types) and print it: a summary, or the
//! syntax tree as JSON for tools and orchestrators. Errors go to stderr with
//! source snippets; exit 2.

use crate::diagnostics;
use crate::exit;
use planlang::FileKind;
use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan (`.plan`) or spec (`.spec`) to read.
    pub file: PathBuf,
    /// Print the loaded syntax tree as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The JSON printed by `--json`: the kind of file and its tree (a spec with
/// every spec it includes).
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Output<'a> {
    Plan {
        plan: &'a planlang::ast::Plan,
    },
    Spec {
        spec: &'a planlang::ast::Spec,
        includes: &'a [planlang::ast::Spec],
    },
}

pub fn run(args: Args) -> ExitCode {
    let text = match planlang::read_source(&args.file) {
        Ok(t) => t,
        Err(e) => {
            diagnostics::eprint(&e);
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let name = args.file.display().to_string();
    let Some(kind) = FileKind::detect(&args.file, &text) else {
        eprintln!(
            "error: cannot tell whether `{name}` is a plan or a spec: name it `.plan` or `.spec`, or start it with `plan` or `spec`"
        );
        return ExitCode::from(exit::BAD_INPUT);
    };
    let printed = match kind {
        FileKind::Plan => planlang::load_plan_str(&text, &name).map(|plan| {
            if args.json {
                to_json(&Output::Plan { plan: &plan })
            } else {
                format!(
                    "plan {}: {} params, {} steps ({} actions in all)",
                    plan.name
                        .as_ref()
                        .map_or("(unnamed)".to_string(), |n| format!("{:?}", n.node)),
                    plan.params.len(),
                    plan.steps.len(),
                    count_actions(&plan.steps),
                )
            }
        }),
        FileKind::Spec => planlang::load_spec_str(&text, &name).map(|spec| {
            if args.json {
                to_json(&Output::Spec {
                    spec: &spec.root,
                    includes: &spec.includes,
                })
            } else {
                format!(
                    "spec {:?}: {} rules, {} baseline blocks, {} tests, {} included specs",
                    spec.root.name.node,
                    spec.rules().count(),
                    spec.baselines().count(),
                    spec.tests().count(),
                    spec.includes.len(),
                )
            }
        }),
    };
    match printed {
        Ok(text) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::from(exit::ACCEPT)
        }
        Err(e) => {
            diagnostics::eprint(&e);
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // The syntax tree holds only strings, numbers and maps with string keys:
    // serializing it cannot fail.
    serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

fn count_actions(steps: &[planlang::ast::Step]) -> usize {
    use planlang::ast::StepKind;
    steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Action { .. } | StepKind::Let { .. } => 1,
            StepKind::Either { branches } => branches.iter().map(|b| count_actions(&b.steps)).sum(),
            StepKind::Repeat { body, .. } => count_actions(&body.steps),
        })
        .sum()
}
