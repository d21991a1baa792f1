//! `warden exec --token T --pub KEY -- CMD ARGS...`: run a command inside
//! the token's envelope. Exits with the command's own status; refuses to
//! start (exit 2) on a bad, expired or foreign-signed token, when a required
//! layer is missing, or when no enforcement profile this machine can apply
//! has its enforced envelope proven in the token (the envelope the kernel
//! layers really enforce, widenings included; see `enforcer::proven`).
//!
//! It is the run's init (`enforcer::lifecycle`): SIGTERM, SIGINT and SIGHUP
//! are forwarded to the command, which has `--grace` to end before the run
//! is killed; the run gets SIGTERM before its token expires and is killed
//! at the expiry; a token revoked in `--revocations`, or through the
//! service named by `--service` (any replica of a fleet), while the run
//! runs kills it at once.

use crate::cmd::tokens::{TokenArgs, fail};
use crate::exit;
use enforcer::lifecycle::{RevocationWatch, StopHandle, StopReason};
use enforcer::{KernelPolicy, Layer, LayerSet, Run, RunError, RunOptions};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use token::{SystemClock, paseto};
use warden_core::envelope::Envelope;
use warden_core::shape::Profile;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    held: TokenArgs,
    #[command(flatten)]
    follow: crate::cmd::follow::ServiceArgs,
    /// Refuse to start unless this layer is in use (landlock, seccomp, cgroup,
    /// ebpf-cgroup-sock-addr, ebpf-tracepoints, bpf-lsm). Repeatable.
    #[arg(long, value_name = "LAYER")]
    require: Vec<Layer>,
    /// Write the run's events as JSON lines while it runs: exec, fork, exit,
    /// files opened, network verdicts, and every refusal (EPERM/EACCES).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Print nothing but the command's own output.
    #[arg(long)]
    quiet: bool,
    /// Seconds the command has to end after SIGTERM, SIGINT or SIGHUP
    /// (forwarded to it) before the run is killed; before the token
    /// expires, it gets SIGTERM this long (at most 10 s) ahead.
    #[arg(long, value_name = "SECONDS", default_value_t = 25)]
    grace: u64,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    // First: a SIGTERM from here on reaches the run instead of ending us.
    if let Err(e) = enforcer::lifecycle::forward_termination_signals() {
        return fail(e);
    }
    let held = match args.held.load() {
        Ok(h) => h,
        Err(code) => return code,
    };
    let (text, key) = (held.text, held.key);
    let clock = SystemClock;
    let revocations = held.revocations;
    let claims = match &revocations {
        Some(list) => paseto::verify_unrevoked(&text, &key, &clock, list),
        None => paseto::verify(&text, &key, &clock),
    };
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // Revocation stops the run at once: every source holds a clone.
    let stop = match StopHandle::new() {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let _watch = match (&args.held.revocations, revocations) {
        (Some(path), Some(list)) => {
            let checked = claims.clone();
            let check = move || match paseto::check_revocation(&checked, &list) {
                Ok(()) => None,
                Err(paseto::TokenError::Revoked { id }) => {
                    Some(StopReason::Revoked { id: id.to_string() })
                }
                Err(paseto::TokenError::Revocation(e)) => {
                    Some(StopReason::RevocationUnavailable { why: e.to_string() })
                }
                Err(e) => Some(StopReason::RevocationUnavailable { why: e.to_string() }),
            };
            match RevocationWatch::start(path, check, stop.clone()) {
                Ok(w) => Some(w),
                Err(e) => return fail(e),
            }
        }
        _ => None,
    };
    let _service_watch = match watch_service(&args.follow, &claims, &stop) {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    // The token's envelope carries the spec's baseline (`envelope.baseline`).
    let envelope: &Envelope = &claims.envelope;

    let root = enforcer::launch::is_root();
    let mut layers: LayerSet = [Layer::Landlock, Layer::Seccomp].into_iter().collect();
    if root {
        layers.extend([
            Layer::Cgroup,
            Layer::EbpfCgroupSockAddr,
            Layer::EbpfTracepoints,
            // Used when the profile the run starts under needs it.
            Layer::BpfLsm,
        ]);
    }
    let mut policy = match KernelPolicy::from_envelope(envelope, &layers) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (program, rest) = match args.command.split_first() {
        Some(split) => split,
        None => return ExitCode::from(exit::BAD_INPUT),
    };
    let mut ebpf = None;
    let mut ebpf_missing = "not root (the eBPF layers need it)".to_owned();
    if root {
        // Without --events nobody reads the stream: no program observes
        // every syscall.
        let reports = match args.events {
            Some(_) => enforcer::ebpf::Reports::Files,
            None => enforcer::ebpf::Reports::Nothing,
        };
        match enforcer::ebpf::for_launcher_with(&policy, false, reports) {
            Ok(l) => ebpf = Some(l),
            Err(e) => ebpf_missing = format!("the eBPF layers did not load: {e}"),
        }
    } else if args.events.is_some() && !args.quiet {
        eprintln!("warden: no events without root (the eBPF layers need it)");
    }
    // Start only under a profile whose enforced envelope the token proves.
    let have_ebpf = ebpf.is_some();
    let selected = enforcer::proven::select(&claims, &args.require, |profile| match profile {
        Profile::Unprivileged => Ok(()),
        Profile::Root if have_ebpf => Ok(()),
        Profile::RootBpfLsm if have_ebpf => {
            enforcer::ebpf::lsm_support().map_err(|why| format!("no bpf-lsm: {why}"))
        }
        _ => Err(ebpf_missing.clone()),
    });
    let selected = match selected {
        Ok(s) => s,
        Err(refusal) => {
            eprintln!("warden: {refusal}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    // And only if what its kernel layers let through lies inside that proof.
    let kernel = match enforcer::proven::check(&policy, &claims, &selected) {
        Ok(k) => k,
        Err(refusal) => {
            eprintln!("warden: {refusal}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if !args.quiet {
        for e in &kernel.exceptions {
            eprintln!("warden: outside the proof by design: {e}");
        }
    }
    let lsm = selected.profile.exact_files();
    if !lsm {
        policy.not_narrowed_by(Layer::BpfLsm);
    }
    if !args.quiet {
        eprintln!(
            "warden: enforced envelope proven for profile {} ({})",
            selected.profile, selected.digest
        );
    }
    // The events file is opened once the run is sure to start and before it
    // does (a bad path changes nothing), and written while the run runs (streamed, flushed per batch).
    let events_file = match create_events_file(args.events.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let grace = Duration::from_secs(args.grace);
    let expires =
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(claims.exp.unix()).unwrap_or(0));
    if !args.quiet {
        let term = enforcer::lifecycle::expiry_term_at(expires, grace);
        let ahead = expires.duration_since(term).unwrap_or_default();
        eprintln!(
            "warden: the token expires at {}: the run gets SIGTERM {} s before and is killed then",
            claims.exp,
            ahead.as_secs()
        );
    }
    let mut options = RunOptions {
        quiet: args.quiet,
        init: true,
        grace,
        expires: Some(expires),
        stop: Some(stop),
        // After a crash of this process, its watchdog takes the run's
        // entries out of the eBPF maps with this same binary.
        crash_cleanup: root
            .then(|| vec!["/proc/self/exe".into(), "doctor".into(), "--clean".into()]),
        ..RunOptions::default()
    };
    options
        .require
        .extend(enforcer::proven::required_layers(selected.profile));
    options.require.extend(args.require.iter().copied());
    let mut run = Run::new(&policy).options(options);
    let mut writer = None;
    let mut counts = None;
    if let Some(l) = ebpf {
        counts = Some(l.tracepoints.share());
        run = run
            .with_layer(Box::new(l.sock_addr))
            .with_layer(Box::new(l.tracepoints));
        if lsm {
            run = run.with_layer(Box::new(l.bpf_lsm));
        }
        writer = match (events_file, l.events) {
            (Some(f), Some(stream)) => Some(stream.write_json_lines(f)),
            _ => None,
        };
    } else if root && !args.quiet {
        eprintln!("warden: {ebpf_missing}");
    }
    let outcome = run.spawn(program, rest);
    if let Some(w) = writer
        && let Err(e) = w.finish()
    {
        eprintln!("warden: {e}");
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e @ RunError::Stopped(_)) => {
            eprintln!("warden: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
        Err(e) => return fail(e),
    };
    if !args.quiet && outcome.killed_leftovers > 0 {
        eprintln!(
            "warden: {} process(es) the command left behind were killed at the end of the run",
            outcome.killed_leftovers
        );
    }
    // Without --events nobody saw what the eBPF layers refused: say how many.
    if let Some(layers) = counts
        && !args.quiet
        && args.events.is_none()
        && let Ok(n) = layers.with_layers(|l| l.refusals())
        && n > 0
    {
        eprintln!(
            "warden: the eBPF layers refused {n} operation(s) of the run (--events FILE names each)"
        );
    }
    exit_code_of(outcome.status)
}

/// Creates the `--events` file, if one is asked for (`warden exec`, `warden
/// learn`); a path that cannot be written is bad input, said on stderr.
pub(crate) fn create_events_file(path: Option<&Path>) -> Result<Option<std::fs::File>, ExitCode> {
    path.map(|path| {
        std::fs::File::create(path).map_err(|e| {
            eprintln!("warden: cannot write the events to {}: {e}", path.display());
            ExitCode::from(exit::BAD_INPUT)
        })
    })
    .transpose()
}

/// The command's status as ours: its code, or 128 + the signal that ended it.
fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        (None, None) => ExitCode::from(1),
    }
}

/// Follows the service's revocations (with --service): stops the run
/// through `stop` when the token or an ancestor is revoked, or when the
/// service stays out of reach. Fails, before the run starts, if the token
/// was revoked already.
fn watch_service(
    follow: &crate::cmd::follow::ServiceArgs,
    claims: &warden_core::claims::Claims,
    stop: &StopHandle,
) -> Result<Option<service::watch::RevocationWatcher>, crate::cmd::follow::FollowError> {
    let checked = claims.clone();
    let stop = stop.clone();
    let followed = follow.follow(move |list| {
        // The token, or one it was narrowed from; a lost watch fails closed.
        let reason = match paseto::check_revocation(&checked, list) {
            Ok(()) => return,
            Err(paseto::TokenError::Revoked { id }) => StopReason::Revoked { id: id.to_string() },
            Err(e) => StopReason::RevocationUnavailable { why: e.to_string() },
        };
        stop.stop(reason);
    })?;
    let Some((list, watcher)) = followed else {
        return Ok(None);
    };
    if let Err(paseto::TokenError::Revoked { id }) = paseto::check_revocation(claims, &list) {
        return Err(crate::cmd::follow::FollowError::Revoked(id.to_string()));
    }
    Ok(Some(watcher))
}
