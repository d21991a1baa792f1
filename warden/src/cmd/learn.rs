//! `warden learn [--name N] [--events FILE] -- CMD ARGS...`: run a command
//! with observation only (root; its own cgroup; nothing refused) and print a
//! plan whose steps cover what it did, as a starting point for a real plan.
//! The plan is on stdout, in the canonical `warden fmt` style; what was seen
//! (and the command's status) on stderr. Exit 0 when a plan was printed, 2
//! when the command could not be observed.

use crate::cmd::exec::create_events_file;
use crate::cmd::tokens::fail;
use crate::exit;
use enforcer::ebpf::JsonLines;
use enforcer::learn::{Observed, PlanOptions};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan's name.
    #[arg(long, default_value = "learned")]
    name: String,
    /// A directory with at least this many files used the same way becomes
    /// one `"DIR/**"` step (0: list every file).
    #[arg(long, default_value_t = 4, value_name = "N")]
    tree_threshold: usize,
    /// Also write every event (files, exec, fork, exit, network) as JSON
    /// lines while the command runs.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Print nothing on stderr but errors.
    #[arg(long)]
    quiet: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    let Some((program, rest)) = args.command.split_first() else {
        return ExitCode::from(exit::BAD_INPUT);
    };
    let sink = match create_events_file(args.events.as_deref()) {
        Ok(f) => f.map(JsonLines::new),
        Err(code) => return code,
    };
    let (observation, _) = match enforcer::learn::observe(program, rest, args.quiet, sink) {
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
    };
    let plan = match observation.observed.plan(&options) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    print!("{plan}");
    if !args.quiet {
        summary(
            &observation.observed,
            observation.lost_events,
            observation.status,
        );
    }
    ExitCode::SUCCESS
}

fn summary(seen: &Observed, lost: u64, status: std::process::ExitStatus) {
    eprintln!(
        "warden learn: the command {status}; {} events: {} programs, {} files read, {} written, {} connects, {} listens",
        seen.events,
        seen.programs().len(),
        seen.reads.len(),
        seen.writes.len(),
        seen.connects.len(),
        seen.listens.len()
    );
    if seen.unresolved > 0 {
        eprintln!(
            "warden learn: {} opened files had paths too deep to resolve and are not in the plan",
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
    if lost > 0 {
        eprintln!(
            "warden learn: {lost} events were lost (ring buffer full): the plan may miss steps"
        );
    }
}
