//! `warden learn [--profile P] [--spec S] [--emit-spec FILE] -- CMD ARGS...`:
//! run a command with observation only (root; its own cgroup; nothing
//! refused) and print a plan whose steps cover what it did, in the shapes
//! the chosen enforcement profile enforces, as a starting point for a real
//! plan; `--emit-spec` also writes a starter spec.
//!
//! Standard output is the plan and nothing else: the command's own output
//! goes to warden's standard error, or to `--command-output FILE`; what was
//! seen (and the command's status) is on stderr. Exit 0 when a plan was
//! printed, 2 when the command could not be observed.

use crate::cmd::exec::create_events_file;
use crate::cmd::tokens::fail;
use crate::exit;
use enforcer::Output;
use enforcer::ebpf::JsonLines;
use enforcer::learn::{Observed, PlanOptions, Profile};
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan's name.
    #[arg(long, default_value = "learned")]
    name: String,
    /// The enforcement profile whose shapes the steps take: `root`,
    /// `unprivileged` or `root+bpf-lsm` (default: the best this machine
    /// has, as `warden doctor` finds it).
    #[arg(long, value_name = "PROFILE", value_parser = parse_profile)]
    profile: Option<Profile>,
    /// A directory with at least this many files used the same way becomes
    /// one `"DIR/**"` step (0: list every file).
    #[arg(long, default_value_t = 4, value_name = "N")]
    tree_threshold: usize,
    /// A program run with more argument lists than this is proposed with
    /// any arguments.
    #[arg(long, default_value_t = 8, value_name = "N")]
    max_argv_lists: usize,
    /// Leave out the steps this spec's baseline already grants.
    #[arg(long, value_name = "SPEC")]
    spec: Option<PathBuf>,
    /// Also write a starter spec: one rule per learned step, in the same
    /// shapes, and a baseline for the loader, library and locale reads
    /// (which the printed plan then leaves out).
    #[arg(long, value_name = "FILE")]
    emit_spec: Option<PathBuf>,
    /// Where the command's standard output goes (default: warden's
    /// standard error; standard output is the plan's).
    #[arg(long, value_name = "FILE")]
    command_output: Option<PathBuf>,
    /// Also write every event (files, exec, fork, exit, network) as JSON
    /// lines while the command runs.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Print nothing on stderr but errors (and the command's output).
    #[arg(long)]
    quiet: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::ALL
        .into_iter()
        .find(|p| p.name() == s)
        .ok_or_else(|| format!("`{s}` is none of: root, unprivileged, root+bpf-lsm"))
}

/// The best profile this machine can apply: root+bpf-lsm when the BPF LSM
/// programs load here, else root (learning needs root), or unprivileged
/// for a user who is not root.
pub fn best_profile() -> Profile {
    if !enforcer::launch::is_root() {
        Profile::Unprivileged
    } else if enforcer::ebpf::lsm_support().is_ok() {
        Profile::RootBpfLsm
    } else {
        Profile::Root
    }
}

pub fn run(args: Args) -> ExitCode {
    let Some((program, rest)) = args.command.split_first() else {
        return ExitCode::from(exit::BAD_INPUT);
    };
    let baseline = match &args.spec {
        None => Vec::new(),
        Some(path) => {
            let loaded = match planlang::load_spec(path) {
                Ok(l) => l,
                Err(d) => {
                    eprint!("{}", planlang::render::render(&d, false));
                    return ExitCode::from(exit::BAD_INPUT);
                }
            };
            match verifier::CompiledSpec::compile(&loaded) {
                Ok(c) => c.baseline,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(exit::BAD_INPUT);
                }
            }
        }
    };
    let sink = match create_events_file(args.events.as_deref()) {
        Ok(f) => f.map(JsonLines::new),
        Err(code) => return code,
    };
    let stdout = match &args.command_output {
        Some(path) => match File::create(path) {
            Ok(f) => Output::from(f),
            Err(e) => {
                eprintln!("error: cannot create {}: {e}", path.display());
                return ExitCode::from(exit::BAD_INPUT);
            }
        },
        None => match std::io::stderr().as_fd().try_clone_to_owned() {
            Ok(fd) => Output::Fd(fd),
            Err(e) => {
                eprintln!("error: cannot duplicate standard error: {e}");
                return ExitCode::from(exit::BAD_INPUT);
            }
        },
    };
    let profile = args.profile.unwrap_or_else(best_profile);
    let (observation, _) = match enforcer::learn::observe(program, rest, args.quiet, stdout, sink) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let goal = args
        .command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let options = PlanOptions {
        name: args.name.clone(),
        goal: Some(format!("observed: {goal}")),
        tree_threshold: args.tree_threshold,
        profile,
        max_argv_lists: args.max_argv_lists,
    };
    let steps = observation.observed.steps(&options);
    let (mut steps, mut left_out) = enforcer::learn::leave_out_baseline(steps, &baseline);
    if let Some(path) = &args.emit_spec {
        let spec = match enforcer::learn::starter_spec(&args.name, &steps, profile) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        if let Err(e) = std::fs::write(path, &spec) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(exit::BAD_INPUT);
        }
        let (kept, granted): (Vec<_>, Vec<_>) = steps
            .into_iter()
            .partition(|s| !enforcer::learn::is_system_read(&s.step));
        steps = kept;
        left_out.extend(granted);
    }
    let plan = match enforcer::learn::render_plan(&steps, &left_out, &options) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    print!("{plan}");
    if !args.quiet {
        summary(&observation, &steps, profile);
    }
    ExitCode::SUCCESS
}

fn summary(
    o: &enforcer::learn::Observation,
    steps: &[enforcer::learn::LearnedStep],
    profile: Profile,
) {
    let seen: &Observed = &o.observed;
    let widened = steps.iter().filter(|s| s.why.is_some()).count();
    eprintln!(
        "warden learn: the command {}; {} events: {} programs, {} files read, {} directories listed, {} written, {} created, {} removed, {} metadata changes, {} connects, {} unix sockets, {} listens",
        o.status,
        seen.events,
        seen.programs().len(),
        seen.reads.len(),
        seen.read_dirs.len(),
        seen.writes.len(),
        seen.created.len(),
        seen.removed.len(),
        seen.metadata.len(),
        seen.connects.len(),
        seen.unix.len(),
        seen.listens.len()
    );
    eprintln!(
        "warden learn: {} steps in the shapes of the {profile} profile, {widened} widened (each says why)",
        steps.len()
    );
    if seen.unresolved > 0 {
        eprintln!(
            "warden learn: {} paths could not be resolved (too deep, or relative) and are not in the plan",
            seen.unresolved
        );
    }
    if !seen.refused.is_empty() {
        // The system itself refused these (nothing was enforced): not in the
        // plan, which grants nothing the command could not do.
        let n = seen.refused.len();
        eprintln!(
            "warden learn: {n} operation{} the system refused (not in the plan):",
            if n == 1 { "" } else { "s" }
        );
        for line in seen.refused.iter().take(20) {
            eprintln!("  {line}");
        }
        if seen.refused.len() > 20 {
            eprintln!("  ... and {} more", seen.refused.len() - 20);
        }
    }
    if o.lost_events > 0 {
        eprintln!(
            "warden learn: {} events were lost (ring buffer full): the plan may miss steps",
            o.lost_events
        );
    }
    if o.changes_dropped > 0 {
        eprintln!(
            "warden learn: {} file changes were not kept (too many): the plan may miss steps",
            o.changes_dropped
        );
    }
}
