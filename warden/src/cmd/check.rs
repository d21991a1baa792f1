//! `warden check PLAN --spec SPEC [--json]`: prove a plan against a spec.
//!
//! Exit 0 accept, 1 reject, 3 needs approval, 2 bad input; stdout holds only
//! the result (human text, or one JSON object with `--json`).
//!
//! Batch, in one process (each spec compiled once): `warden check --spec
//! SPEC --expect VERDICT PLAN|DIR...`, or `warden check --manifest FILE`
//! (TOML: `[[check]]` tables of `plan`, `expect` and `spec`, paths relative
//! to the manifest). Exit 0 when every plan got its expected verdict, 1
//! otherwise, 2 when the manifest, a spec or a plan cannot be read; the
//! report is text, JUnit XML or JSON (`--format`, [`super::report`]).

use crate::exit;
use planlang::{Diagnostic, Diagnostics, SourceMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use verifier::issue::{Decision, IssueError, IssueOptions, Issuer};
use verifier::report::{Outcome, Verdict};

use super::report::Format;

mod batch;
pub use batch::Expect;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (`*.plan`); for a batch, plan files and directories
    /// (searched recursively for `*.plan`).
    #[arg(value_name = "PLAN", required_unless_present = "manifest")]
    plans: Vec<PathBuf>,
    /// The spec file (`*.spec`); its `include`s are followed.
    #[arg(long, value_name = "SPEC", required_unless_present = "manifest")]
    spec: Option<PathBuf>,
    /// Batch: the verdict every plan given is expected to get.
    #[arg(long, value_name = "VERDICT", conflicts_with_all = ["manifest", "json"])]
    expect: Option<Expect>,
    /// Batch: a TOML manifest of `[[check]]` tables (`plan`, `expect`,
    /// `spec`; a top-level `spec` is the default).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["plans", "json"])]
    manifest: Option<PathBuf>,
    /// Batch: how to report (lines, JUnit XML, or one JSON object).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Batch: write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print one JSON object: `verdict`, `violations`, `approvals`, `envelope`.
    #[arg(long)]
    json: bool,
    /// Bound of each solver call, in milliseconds (a timeout refuses).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    timeout_ms: u32,
}

/// A plan and a spec, loaded, with every source text for rendering.
pub struct Loaded {
    pub plan: planlang::ast::Plan,
    pub spec: planlang::LoadedSpec,
    pub sources: SourceMap,
}

/// Loads and compiles; on bad input prints the diagnostics to stderr and
/// returns the exit code to use.
pub fn load(plan: &Path, spec: &Path) -> Result<Loaded, ExitCode> {
    let spec = planlang::load_spec(spec).map_err(|d| bad(&d))?;
    let text = planlang::read_source(plan).map_err(|d| bad(&d))?;
    let file = plan.display().to_string();
    let plan = planlang::load_plan_str(&text, &file).map_err(|d| bad(&d))?;
    let mut sources = spec.sources.clone();
    sources.insert(file.as_str(), text.as_str());
    Ok(Loaded {
        plan,
        spec,
        sources,
    })
}

fn bad(d: &Diagnostics) -> ExitCode {
    eprint!("{}", planlang::render::render(d, false));
    ExitCode::from(exit::BAD_INPUT)
}

/// The exit code of a verdict.
pub fn exit_code(v: Verdict) -> ExitCode {
    ExitCode::from(match v {
        Verdict::Accept => exit::ACCEPT,
        Verdict::Reject => exit::REJECT,
        Verdict::Approve => exit::NEEDS_APPROVAL,
    })
}

/// Reports a plan that cannot be decided (exit 2).
pub fn decide_error(e: &IssueError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(exit::BAD_INPUT)
}

/// A decision for people: the check's outcome, or, when the check accepted
/// the plan but every enforcement profile's layers would widen its
/// envelope beyond the spec, each profile's counterexample.
pub fn human_decision(d: &Decision, sources: &SourceMap) -> String {
    if d.refused_by_widening() {
        return format!(
            "reject: the plan is accepted, but no enforcement profile is proven: the kernel layers would widen its envelope beyond the spec\n{}",
            warden_core::claims::describe(&d.enforcement)
        );
    }
    let mut s = human(&d.outcome, sources);
    if d.verdict != Verdict::Reject
        && let Some(env) = &d.outcome.envelope
    {
        s.push_str(&run_time_checks(env, sources));
    }
    s
}

/// What the proof leaves to the run, for people: each `deny … from call`
/// rule the plan check could not decide (a step passes a value whose
/// origin only the run knows) and each assumption on a tool's results. The
/// token carries both, and the monitor and the gateway check every call
/// and result of the run against them.
fn run_time_checks(env: &warden_core::envelope::Envelope, sources: &SourceMap) -> String {
    let mut s = String::new();
    for d in &env.deny_from {
        let text = sources
            .get(&d.rule.file)
            .and_then(|t| t.lines().nth((d.rule.line as usize).checked_sub(1)?))
            .map(|l| format!(" `{}`", l.trim()))
            .unwrap_or_default();
        s.push_str(&format!(
            "note: checked at run time, not by this proof: the rule{text} at {}: a value this plan passes may come from that call's result, and a call whose value does is refused\n",
            d.rule
        ));
    }
    for a in &env.assumptions {
        s.push_str(&format!(
            "note: assumed, checked at run time: `{}` at {}: a result of `{}` that does not meet it stops the run\n",
            a.text, a.at, a.tool
        ));
    }
    s
}

/// The outcome for people: the verdict, then each violation and approval
/// as a compiler-style report with the plan step and the spec rule.
pub fn human(out: &Outcome, sources: &SourceMap) -> String {
    let mut s = format!("verdict: {}\n", out.verdict);
    let mut diags = Vec::new();
    for v in &out.violations {
        let mut msg = format!("{}: {}", v.reason.describe(), v.message);
        if !v.witness.is_empty() {
            let w: Vec<String> = v
                .witness
                .iter()
                .map(|(k, x)| format!("{k} = {x}"))
                .collect();
            msg.push_str(&format!(" (witness: {})", w.join(", ")));
        }
        let label = v.action.clone().unwrap_or_default();
        let d = match (&v.step, &v.rule) {
            (Some(step), rule) => {
                let mut d = Diagnostic::error(step.clone(), msg).with_label(label);
                if let Some(r) = rule {
                    d = d.with_related(
                        r.clone(),
                        v.rule_text.clone().unwrap_or_else(|| "this rule".into()),
                    );
                }
                d
            }
            (None, Some(rule)) => Diagnostic::error(rule.clone(), msg),
            (None, None) => {
                s.push_str(&format!("error: {msg}\n"));
                continue;
            }
        };
        let path: Vec<String> = v
            .path
            .iter()
            .filter(|p| p.note.starts_with("either") || p.note.starts_with("repeat"))
            .map(|p| format!("{} ({})", p.note, p.span))
            .collect();
        diags.push(if path.is_empty() {
            d
        } else {
            d.with_help(format!("path: {}", path.join(" → ")))
        });
    }
    for a in &out.approvals {
        diags.push(
            Diagnostic::warning(
                a.step.clone(),
                format!("needs a human's approval: `{}`", a.action),
            )
            .with_label(a.action.clone())
            .with_related(
                a.rule.clone(),
                a.rule_text.clone().unwrap_or_else(|| "this rule".into()),
            ),
        );
    }
    s.push_str(&planlang::render::render_with(diags.iter(), sources, false));
    s
}

pub fn run(args: Args) -> ExitCode {
    let batch = args.manifest.is_some()
        || args.expect.is_some()
        || args.plans.len() != 1
        || args.plans.iter().any(|p| p.is_dir());
    if batch {
        if args.json {
            eprintln!("error: a batch reports JSON with --format json, not --json");
            return ExitCode::from(exit::BAD_INPUT);
        }
        return batch::run(&args);
    }
    let (Some(plan), Some(spec)) = (args.plans.first(), args.spec.as_ref()) else {
        eprintln!("error: a plan and --spec are required");
        return ExitCode::from(exit::BAD_INPUT);
    };
    let loaded = match load(plan, spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // Comparisons always true or always false (`port <= 70000`): the spec
    // loads and means what it says, but its author likely meant something
    // else. On stderr, so stdout holds only the result.
    for f in verifier::analysis::lint::port_ranges(&loaded.spec) {
        eprintln!("warning: {f}");
    }
    let mut issuer = match Issuer::new(&loaded.spec, verifier::issue::DEFAULT_ISSUER) {
        Ok(i) => i,
        Err(e) => return decide_error(&e),
    };
    issuer.compiled.options.timeout_ms = args.timeout_ms.max(1);
    let decision = match issuer.decide(&loaded.plan, &IssueOptions::default()) {
        Ok(d) => d,
        Err(e) => return decide_error(&e),
    };
    let text = if args.json {
        let json = serde_json::to_value(&decision.outcome).map(|mut v| {
            v["verdict"] = serde_json::json!(decision.verdict);
            v["enforcement"] = serde_json::json!(decision.enforcement);
            v
        });
        match json.and_then(|v| serde_json::to_string(&v)) {
            Ok(j) => j + "\n",
            Err(e) => {
                eprintln!("error: cannot write JSON: {e}");
                return ExitCode::from(exit::BAD_INPUT);
            }
        }
    } else {
        human_decision(&decision, &loaded.sources)
    };
    // A closed pipe (`| head`) is not an error of the check.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    exit_code(decision.verdict)
}
