//! The launcher: prepares every layer before the command's process exists,
//! creates that process inside the run's cgroup, applies the rest in it
//! just before `exec`, runs the command and returns its exit status.
//!
//! Order in the child (async-signal-safe, no allocation; see
//! [`crate::spawn`]): created in the run's cgroup, die with the launcher,
//! Landlock `restrict_self`, then the metadata supervisor's filter (its
//! listener sent to the launcher, [`crate::supervisor`]), then the seccomp
//! filters, then `exec`. If any step fails the command is never executed
//! and [`Run::spawn`] returns the error: the launcher fails closed. The
//! supervisor is part of the seccomp layer: it runs whenever that layer
//! does, for root and unprivileged runs alike.

use crate::cgroup::{CgroupReport, RunCgroup};
use crate::error::{LayerError, RunError};
use crate::landlock::LandlockReport;
use crate::layer::{Layer, LayerSet};
use crate::lifecycle::{Ending, StopEvent, StopHandle};
use crate::policy::{KernelPolicy, Widening};
use crate::seccomp::SeccompReport;
use crate::spawn::{Confinement, Output};
use crate::supervisor::{MetadataReport, Supervisor, SupervisorStats, WriteRules};
use serde::Serialize;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, SystemTime};

/// A layer that works on the run's cgroup and is provided from outside this
/// module (the eBPF programs): attached after the cgroup exists and before
/// the command starts, detached when the value is dropped after the run.
pub trait CgroupLayer {
    /// Which layer this is.
    fn layer(&self) -> Layer;
    /// Attaches to the run's cgroup; returns a one-line description of what
    /// it enforces.
    fn attach(&mut self, cgroup: &Path, policy: &KernelPolicy) -> Result<String, LayerError>;
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Layers without which the command must not start. Defaults to Landlock
    /// and seccomp, which need no privilege.
    pub require: LayerSet,
    /// Print nothing on stderr.
    pub quiet: bool,
    /// Names the run's cgroup (`run-<id>`); generated when absent.
    pub run_id: Option<String>,
    /// `pids.max` for the run's cgroup (where the pids controller is on
    /// cgroup v2).
    pub pids_max: Option<u64>,
    /// Working directory of the command.
    pub cwd: Option<PathBuf>,
    /// Layers not to apply (observation-only runs, overhead measurements).
    /// A layer both required and disabled stops the run.
    pub disable: LayerSet,
    /// This process is the run's init (`warden exec`; one run at a time):
    /// termination signals are forwarded to the command (once the process
    /// called [`crate::lifecycle::forward_termination_signals`]), every
    /// child is reaped when it is PID 1, and a run without a cgroup has it
    /// as subreaper, so its whole process tree is killed at the end.
    pub init: bool,
    /// How long the command has to end after a forwarded termination
    /// signal, or after the SIGTERM before its token expires (then at most
    /// [`crate::lifecycle::EXPIRY_GRACE_CAP`]), before the run is killed.
    pub grace: Duration,
    /// When the run's authority ends (the token's `exp`): SIGTERM to the
    /// command a grace before, the run killed then.
    pub expires: Option<SystemTime>,
    /// Stops the run at once (a revocation); a run stopped before it
    /// started never starts.
    pub stop: Option<StopHandle>,
    /// A command the cgroup's watchdog executes after the launcher died
    /// (it has killed and removed the run's cgroup): `warden doctor
    /// --clean`, which takes the run's entries out of the eBPF maps.
    pub crash_cleanup: Option<Vec<OsString>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            require: [Layer::Landlock, Layer::Seccomp].into_iter().collect(),
            quiet: false,
            run_id: None,
            pids_max: Some(4096),
            cwd: None,
            disable: LayerSet::new(),
            init: false,
            grace: crate::lifecycle::DEFAULT_GRACE,
            expires: None,
            stop: None,
            crash_cleanup: None,
        }
    }
}

/// One layer in use for a run.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AppliedLayer {
    /// The layer.
    pub layer: Layer,
    /// What it enforces, in one line.
    pub detail: String,
}

/// One layer not in use for a run, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MissingLayer {
    /// The layer.
    pub layer: Layer,
    /// Why it is not in use: disabled by the operator, needs root, or the
    /// error that preparing or attaching it returned.
    pub reason: String,
}

/// Which layers a run has, in detail.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LayerReport {
    /// The layers in use, in the order they were prepared.
    pub applied: Vec<AppliedLayer>,
    /// The layers not in use. A required one among them stops the run
    /// before the command starts.
    pub missing: Vec<MissingLayer>,
    /// What the Landlock ruleset handles and grants, when it is in use.
    pub landlock: Option<LandlockReport>,
    /// The seccomp program's allowlist, when it is in use.
    pub seccomp: Option<SeccompReport>,
    /// The metadata supervisor (part of the seccomp layer).
    pub metadata: Option<MetadataReport>,
    /// The run's cgroup, when it has one.
    pub cgroup: Option<CgroupReport>,

    /// Shapes enforced more widely than the policy (from every layer).
    pub widenings: Vec<Widening>,
    /// A remark about the run as a whole (running without root).
    pub note: Option<String>,
}

impl LayerReport {
    /// Whether `layer` is in use.
    pub fn has(&self, layer: Layer) -> bool {
        self.applied.iter().any(|a| a.layer == layer)
    }

    fn miss(&mut self, layer: Layer, reason: impl Into<String>) {
        self.missing.push(MissingLayer {
            layer,
            reason: reason.into(),
        });
    }

    /// The human summary printed on stderr before the command starts.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(note) = &self.note {
            out.push_str(&format!("warden: {note}\n"));
        }
        for a in &self.applied {
            out.push_str(&format!("warden: layer {}: {}\n", a.layer, a.detail));
        }
        for m in &self.missing {
            out.push_str(&format!(
                "warden: layer {} not in use: {}\n",
                m.layer, m.reason
            ));
        }
        for w in &self.widenings {
            let by = match &w.narrowed_by {
                Some(l) => format!(" (narrowed by {l})"),
                None => String::new(),
            };
            out.push_str(&format!(
                "warden: {} widens {} to {}{by}\n",
                w.layer, w.shape, w.enforced
            ));
        }
        out
    }
}

/// The end of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The command's own exit status.
    pub status: ExitStatus,
    /// The layers it ran under.
    pub layers: LayerReport,
    /// Processes of the run still alive when the command exited (killed).
    pub killed_leftovers: usize,
    /// What the metadata supervisor did: changes made, refusals.
    pub metadata: SupervisorStats,
    /// What ended the run early, in order: signals forwarded, the SIGTERM
    /// before the token's expiry, the kill (empty: the command ended by
    /// itself).
    pub stops: Vec<StopEvent>,
}

/// A run being prepared: a policy, options, and cgroup layers from outside.
pub struct Run<'a> {
    policy: &'a KernelPolicy,
    options: RunOptions,
    extra: Vec<Box<dyn CgroupLayer + 'a>>,
    stdout: Output,
    stderr: Output,
    metadata_rules: Option<WriteRules>,
    observe_changes: bool,
}

impl<'a> Run<'a> {
    /// A run of `policy` with default options.
    pub fn new(policy: &'a KernelPolicy) -> Self {
        Self {
            policy,
            options: RunOptions::default(),
            extra: Vec::new(),
            stdout: Output::Inherit,
            stderr: Output::Inherit,
            metadata_rules: None,
            observe_changes: false,
        }
    }

    /// Observe mode, for a run without the seccomp layer (`warden learn`):
    /// the metadata supervisor runs in observe mode
    /// ([`Supervisor::observe`]), making every metadata change and letting
    /// every entry be created or removed, and records them in
    /// [`RunOutcome::metadata`] (`observed`). Ignored when the seccomp
    /// layer is applied (its supervisor enforces the write rules).
    pub fn observe_changes(mut self) -> Self {
        self.observe_changes = true;
        self
    }

    /// Where the command's standard output goes (inherited by default).
    pub fn stdout(mut self, to: impl Into<Output>) -> Self {
        self.stdout = to.into();
        self
    }

    /// Where the command's standard error goes (inherited by default).
    pub fn stderr(mut self, to: impl Into<Output>) -> Self {
        self.stderr = to.into();
        self
    }

    /// Replaces the options.
    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// The write rules the metadata supervisor decides with. By default
    /// [`WriteRules::bpf_lsm`] when the BPF LSM layer is attached to the
    /// run, else [`WriteRules::landlock`].
    pub fn metadata_rules(mut self, rules: WriteRules) -> Self {
        self.metadata_rules = Some(rules);
        self
    }

    /// Adds a layer that attaches to the run's cgroup (eBPF).
    pub fn with_layer(mut self, layer: Box<dyn CgroupLayer + 'a>) -> Self {
        self.extra.push(layer);
        self
    }

    /// Prepares the layers, starts `program` with `args` inside them, waits
    /// for it, kills what is left of the run and returns the exit status.
    pub fn spawn(
        self,
        program: impl AsRef<OsStr>,
        args: &[OsString],
    ) -> Result<RunOutcome, RunError> {
        let Run {
            policy,
            options,
            mut extra,
            stdout,
            stderr,
            metadata_rules,
            observe_changes,
        } = self;
        let program = program.as_ref();
        let mut report = LayerReport::default();
        let root = is_root();

        let off = |layer: Layer| options.disable.contains(&layer);

        // Landlock.
        let landlock = match if off(Layer::Landlock) {
            Err(LayerError::Disabled)
        } else {
            crate::landlock::prepare(policy)
        } {
            Ok(l) => {
                let r = &l.report;
                report.applied.push(AppliedLayer {
                    layer: Layer::Landlock,
                    detail: format!(
                        "ABI {}: {} path rules, {} port rules; handles {} file and {} network accesses; scoped: {}",
                        r.abi,
                        r.path_rules,
                        r.port_rules,
                        r.handled_fs.len(),
                        r.handled_net.len(),
                        if r.scoped.is_empty() { "nothing".into() } else { r.scoped.join(", ") },
                    ),
                });
                report.widenings.extend(l.widenings.iter().cloned());
                report.landlock = Some(l.report.clone());
                Some(l)
            }
            Err(e) => {
                report.miss(Layer::Landlock, e.to_string());
                None
            }
        };

        // seccomp, and the metadata supervisor that is part of it.
        let seccomp = match if off(Layer::Seccomp) {
            Err(LayerError::Disabled)
        } else {
            crate::seccomp::prepare(policy).and_then(|s| {
                let m = crate::supervisor::Prepared::new()
                    .map_err(|e| LayerError::Seccomp(e.to_string()))?;
                Ok((s, m))
            })
        } {
            Ok((s, m)) => {
                report.applied.push(AppliedLayer {
                    layer: Layer::Seccomp,
                    detail: format!(
                        "{} syscalls allowed, others EPERM (refused: {}); sockets: {}",
                        s.report.allowed,
                        abbreviate(&s.report.refused, 8),
                        s.report.sockets.join(", ")
                    ),
                });
                report.seccomp = Some(s.report.clone());
                Some((s, m))
            }
            Err(e) => {
                report.miss(Layer::Seccomp, e.to_string());
                None
            }
        };

        // The run's cgroup, and the layers that attach to it.
        let run_id = options.run_id.clone().unwrap_or_else(new_run_id);
        let mut cgroup = None;
        if off(Layer::Cgroup) {
            report.miss(Layer::Cgroup, LayerError::Disabled.to_string());
        } else if !root {
            report.miss(Layer::Cgroup, "needs root");
        } else {
            match RunCgroup::create_with(
                &run_id,
                options.pids_max,
                options.crash_cleanup.as_deref(),
            ) {
                Ok(cg) => {
                    let mut detail = match (&cg.report.pids_max, &cg.report.pids_note) {
                        (Some(m), _) => format!("{} (pids.max {m})", cg.path().display()),
                        (None, Some(note)) => {
                            format!("{} (no pids.max: {note})", cg.path().display())
                        }
                        (None, None) => cg.path().display().to_string(),
                    };
                    if !cg.report.purged.is_empty() {
                        detail.push_str(&format!(
                            "; removed {} cgroup(s) of runs whose launcher was gone",
                            cg.report.purged.len()
                        ));
                    }
                    report.applied.push(AppliedLayer {
                        layer: Layer::Cgroup,
                        detail,
                    });
                    report.cgroup = Some(cg.report.clone());
                    cgroup = Some(cg);
                }
                Err(e) => report.miss(Layer::Cgroup, e.to_string()),
            }
        }
        for layer in &mut extra {
            let which = layer.layer();
            if off(which) {
                report.miss(which, LayerError::Disabled.to_string());
                continue;
            }
            match &cgroup {
                None => report.miss(which, "needs the run's cgroup"),
                Some(cg) => match layer.attach(cg.path(), policy) {
                    Ok(detail) => report.applied.push(AppliedLayer {
                        layer: which,
                        detail,
                    }),
                    Err(e) => report.miss(which, e.to_string()),
                },
            }
        }
        for layer in Layer::ALL {
            if !report.has(layer) && !report.missing.iter().any(|m| m.layer == layer) {
                report.miss(
                    layer,
                    if root {
                        "not provided to this run"
                    } else {
                        "needs root"
                    },
                );
            }
        }
        if !root {
            report.note = Some("not root: the run has Landlock and seccomp only".into());
        }
        // The metadata supervisor decides with the write rules of the
        // layers the run has: their exact shapes under BPF LSM.
        let metadata = match &seccomp {
            Some((_, prepared)) => {
                let rules = match metadata_rules {
                    Some(r) => r,
                    None if report.has(Layer::BpfLsm) => WriteRules::bpf_lsm(policy)
                        .map_err(crate::supervisor::SupervisorError::from)?,
                    None => WriteRules::landlock(policy),
                };
                let r = prepared.report(rules.shape());
                if let Some(a) = report
                    .applied
                    .iter_mut()
                    .find(|a| a.layer == Layer::Seccomp)
                {
                    a.detail = format!("{}; {}", a.detail, r.summary());
                }
                report.metadata = Some(r);
                Some(rules)
            }
            None => None,
        };

        // Fail closed: every required layer must be in use.
        for layer in &options.require {
            if !report.has(*layer) {
                let reason = report
                    .missing
                    .iter()
                    .find(|m| m.layer == *layer)
                    .map(|m| m.reason.clone())
                    .unwrap_or_else(|| "not in use".into());
                return Err(RunError::RequiredLayerMissing {
                    layer: layer.to_string(),
                    reason,
                });
            }
        }
        if !options.quiet {
            eprint!("{}", report.render());
        }

        // The run's init: a run without a cgroup keeps its orphans below
        // the launcher, and PID 1 reaps whatever is re-parented to it.
        let subreaper = options.init && cgroup.is_none();
        if subreaper {
            crate::lifecycle::become_subreaper().map_err(RunError::Init)?;
        }
        // SAFETY: getpid has no arguments.
        let reap = options.init && (subreaper || unsafe { libc::getpid() } == 1);
        if reap {
            crate::lifecycle::reap_on_sigchld().map_err(RunError::Init)?;
        }
        if let Some(reason) = options.stop.as_ref().and_then(StopHandle::reason) {
            return Err(RunError::Stopped(reason));
        }

        // Observe mode: the supervisor's filter alone, nothing refused.
        let observer = match (&seccomp, observe_changes) {
            (None, true) => Some(crate::supervisor::Prepared::observing()?),
            _ => None,
        };
        let confine = Confinement {
            cgroup_dir: cgroup.as_ref().map(|c| c.dir()),
            cgroup_procs: cgroup.as_ref().map(|c| c.procs_fd()),
            landlock_ruleset: landlock.as_ref().map(|l| l.raw_fd()),
            metadata: seccomp.as_ref().map(|(_, m)| m).or(observer.as_ref()),
            seccomp: seccomp.as_ref().map(|(s, _)| s),
        };
        let mut child = crate::spawn::spawn(
            program,
            args,
            options.cwd.as_deref(),
            &stdout,
            &stderr,
            &confine,
        )
        .map_err(|source| RunError::Spawn {
            program: PathBuf::from(program),
            source,
        })?;
        drop(landlock);
        // The command runs: its metadata calls wait for the supervisor. If
        // it cannot start, the child is killed (dropped) and its listener
        // closes with the socket: fail closed.
        let supervisor = match (&seccomp, metadata) {
            (Some((_, prepared)), Some(rules)) => {
                let listener = prepared.receive()?;
                Some(Supervisor::start(
                    listener,
                    rules.into_decision(),
                    !options.quiet,
                )?)
            }
            _ => match &observer {
                Some(prepared) => Some(Supervisor::observe(prepared.receive()?)?),
                None => None,
            },
        };
        drop(seccomp);
        drop(observer);
        let ending = Ending {
            grace: options.grace,
            expires: options.expires,
            stop: options.stop.as_ref(),
            signals: options.init,
            reap,
            quiet: options.quiet,
        };
        let watchdog = cgroup.as_ref().and_then(RunCgroup::watchdog_pid);
        let mut watchdog_reaped = false;
        let pid = child.pid();
        let waited = {
            let run_cgroup = cgroup.as_ref();
            let mut kill = || match run_cgroup {
                Some(cg) => cg.kill(),
                None if subreaper => {
                    crate::lifecycle::kill_descendants();
                }
                // SAFETY: our child, not reaped yet.
                None => unsafe {
                    libc::kill(pid, libc::SIGKILL);
                },
            };
            let mut reaped_other = |p: libc::pid_t| watchdog_reaped |= Some(p) == watchdog;
            crate::lifecycle::wait(&mut child, &ending, &mut kill, &mut reaped_other)
        };
        if watchdog_reaped && let Some(cg) = &mut cgroup {
            // It ended before the run did: the run lost its guard against
            // a crash of this launcher, not its end.
            cg.watchdog_reaped();
            if !options.quiet {
                eprintln!("warden: the run's watchdog ended before the run");
            }
        }
        let (status, stops) = waited.map_err(RunError::Wait)?;
        let killed_leftovers = match &mut cgroup {
            Some(cg) => cg.finish()?,
            None if subreaper => crate::lifecycle::kill_descendants(),
            None => 0,
        };
        if reap {
            crate::lifecycle::reap_all();
        }
        let metadata = supervisor.map(Supervisor::stop).unwrap_or_default();
        drop(extra);
        Ok(RunOutcome {
            status,
            layers: report,
            killed_leftovers,
            metadata,
            stops,
        })
    }
}

/// Runs `program` with `args` under `policy`: [`Run::spawn`] with `options`.
pub fn launch(
    policy: &KernelPolicy,
    options: &RunOptions,
    program: impl AsRef<OsStr>,
    args: &[OsString],
) -> Result<RunOutcome, RunError> {
    Run::new(policy)
        .options(options.clone())
        .spawn(program, args)
}

/// Whether this process runs as root (the cgroup and eBPF layers need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn abbreviate(items: &[String], n: usize) -> String {
    if items.len() <= n {
        items.join(", ")
    } else {
        format!("{}, and {} more", items[..n].join(", "), items.len() - n)
    }
}

fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Launchers in other PID namespaces (containers: all PID 1) share the
    // runs' cgroup on a host: a few random bits keep their names apart.
    let mut random = [0u8; 4];
    // SAFETY: getrandom fills at most the 4 bytes of `random`.
    unsafe {
        libc::getrandom(
            random.as_mut_ptr().cast(),
            random.len(),
            libc::GRND_NONBLOCK,
        )
    };
    format!(
        "{}-{:x}-{}-{:x}",
        std::process::id(),
        nanos,
        SEQ.fetch_add(1, Ordering::Relaxed),
        u32::from_ne_bytes(random)
    )
}
