//! Batch `warden check`: many plans, each against its spec, in one process;
//! each spec is loaded and compiled once.

use super::Args;
use crate::cmd::report::{self, Case, Status, Suite};
use crate::exit;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use verifier::issue::{IssueOptions, Issuer};
use verifier::report::Verdict;

/// The verdict a plan of a batch is expected to get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Accept,
    Reject,
    Approve,
}

impl Expect {
    fn verdict(self) -> Verdict {
        match self {
            Expect::Accept => Verdict::Accept,
            Expect::Reject => Verdict::Reject,
            Expect::Approve => Verdict::Approve,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The spec of every check that names none.
    spec: Option<PathBuf>,
    #[serde(default)]
    check: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// A plan file, or a directory of them.
    plan: PathBuf,
    expect: Expect,
    spec: Option<PathBuf>,
}

/// One plan to check: (plan, spec, expected verdict).
type Item = (PathBuf, PathBuf, Expect);

fn items(args: &Args) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    if let Some(m) = &args.manifest {
        let text = std::fs::read_to_string(m)
            .map_err(|e| format!("cannot read the manifest `{}`: {e}", m.display()))?;
        let manifest: Manifest = toml::from_str(&text)
            .map_err(|e| format!("the manifest `{}` is not valid: {e}", m.display()))?;
        let base = m.parent().unwrap_or(Path::new("."));
        if manifest.check.is_empty() {
            return Err(format!("the manifest `{}` has no [[check]]", m.display()));
        }
        for (i, e) in manifest.check.iter().enumerate() {
            let spec = e.spec.as_ref().or(manifest.spec.as_ref()).ok_or_else(|| {
                format!(
                    "check {} of `{}` names no spec, and the manifest has no default `spec`",
                    i + 1,
                    m.display()
                )
            })?;
            expand(&base.join(&e.plan), &base.join(spec), e.expect, &mut out)?;
        }
    } else {
        let spec = args
            .spec
            .as_ref()
            .ok_or("a batch needs --spec or --manifest")?;
        let expect = args.expect.ok_or(
            "several plans are checked as a batch: say the verdict each must get with --expect",
        )?;
        for p in &args.plans {
            expand(p, spec, expect, &mut out)?;
        }
    }
    Ok(out)
}

fn expand(plan: &Path, spec: &Path, expect: Expect, out: &mut Vec<Item>) -> Result<(), String> {
    let mut plans = Vec::new();
    report::collect(plan, "plan", &mut plans)
        .map_err(|e| format!("cannot read `{}`: {e}", plan.display()))?;
    if plan.is_dir() && plans.is_empty() {
        return Err(format!("`{}` holds no *.plan file", plan.display()));
    }
    out.extend(plans.into_iter().map(|p| (p, spec.to_path_buf(), expect)));
    Ok(())
}

pub fn run(args: &Args) -> ExitCode {
    let items = match items(args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let mut issuers: HashMap<PathBuf, Result<Issuer, String>> = HashMap::new();
    let mut suites: Vec<Suite> = Vec::new();
    for (plan, spec, expect) in items {
        let issuer = issuers.entry(spec.clone()).or_insert_with(|| {
            let loaded = planlang::load_spec(&spec).map_err(|d| {
                eprint!("{}", planlang::render::render(&d, false));
                "the spec does not load".to_string()
            })?;
            let mut issuer =
                Issuer::new(&loaded, verifier::issue::DEFAULT_ISSUER).map_err(|e| e.to_string())?;
            issuer.compiled.options.timeout_ms = args.timeout_ms.max(1);
            Ok(issuer)
        });
        let start = Instant::now();
        let (got, status) = match issuer {
            Err(e) => (None, Status::Error(format!("{}: {e}", spec.display()))),
            Ok(issuer) => check_one(issuer, &plan, expect),
        };
        let name = spec.display().to_string();
        let case = Case {
            name: plan.display().to_string(),
            location: plan.display().to_string(),
            file: plan.display().to_string(),
            line: 1,
            expected: Some(expect.verdict().to_string()),
            got,
            status,
            time: start.elapsed(),
        };
        match suites.iter_mut().find(|s| s.name == name) {
            Some(s) => s.cases.push(case),
            None => suites.push(Suite {
                name,
                error: None,
                cases: vec![case],
            }),
        }
    }
    if let Err(e) = report::write(&suites, args.format, "warden check", args.output.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::BAD_INPUT);
    }
    ExitCode::from(report::exit_code(&suites))
}

fn check_one(issuer: &Issuer, plan: &Path, expect: Expect) -> (Option<String>, Status) {
    let file = plan.display().to_string();
    let loaded = planlang::read_source(plan).and_then(|text| planlang::load_plan_str(&text, &file));
    let plan = match loaded {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", planlang::render::render(&d, false));
            return (None, Status::Error("the plan does not load".into()));
        }
    };
    match issuer.decide(&plan, &IssueOptions::default()) {
        Err(e) => (None, Status::Error(e.to_string())),
        Ok(d) if d.verdict == expect.verdict() => (Some(d.verdict.to_string()), Status::Passed),
        Ok(d) => {
            let why = d
                .outcome
                .violations
                .first()
                .map(|v| format!(": {}", v.message))
                .unwrap_or_default();
            (
                Some(d.verdict.to_string()),
                Status::Failed(format!(
                    "expected {}, got {}{why}",
                    expect.verdict(),
                    d.verdict
                )),
            )
        }
    }
}
