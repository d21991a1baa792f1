//! `warden learn`: run a command with observation only and propose the plan
//! steps that would cover what it did.
//!
//! The command runs in a cgroup of its own with the eBPF layers attached in
//! observe mode (nothing is refused; Landlock and seccomp are not applied):
//! every file it opens or executes comes with the path the kernel resolved
//! ([`Event::File`]), every connect, sendmsg and bind with its address and
//! port ([`Event::Net`]). [`Observed`] gathers them and [`Observed::plan`]
//! writes a plan: `exec`, `read`, `write` per file, or `"DIR/**"` when many
//! files of one directory were used the same way, `connect ADDR:PORT`,
//! `listen PORT`; in a fixed order, in the canonical `warden fmt` style.
//!
//! ```
//! use enforcer::ebpf::{Event, FileOp};
//! use enforcer::learn::{Observed, PlanOptions};
//! let mut seen = Observed::default();
//! seen.record(&Event::File {
//!     pid: 1, op: FileOp::Open, path: "/etc/hostname".into(), complete: true,
//!     read: true, write: false, directory: false, time_ns: 0,
//! });
//! let plan = seen.plan(&PlanOptions::default()).unwrap();
//! assert!(plan.contains("read \"/etc/hostname\""));
//! ```

use crate::ebpf::{Event, EventSink, FileOp, NetOp};
use crate::error::RunError;
use crate::launch::{Run, RunOptions};
use crate::layer::Layer;
use crate::policy::KernelPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Why `warden learn` could not observe a run or write its plan.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("observing needs root (the run's cgroup and the eBPF layers)")]
    NeedsRoot,
    #[error("the eBPF layers could not be loaded: {0}")]
    Ebpf(#[from] crate::ebpf::EbpfError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the proposed plan does not load (a bug in warden learn): {0}")]
    Plan(String),
}

/// What a run did, gathered from its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Files opened for reading (directories listed included).
    pub reads: BTreeSet<String>,
    /// Files opened for writing (created, truncated or appended to).
    pub writes: BTreeSet<String>,
    /// Programs as the run named them to `execve` (absolute names only).
    pub exec_names: BTreeSet<String>,
    /// Files the kernel executed: the programs, resolved, and the
    /// interpreters of `#!` scripts.
    pub exec_files: BTreeSet<String>,
    /// Addresses and ports connected (or sent) to.
    pub connects: BTreeSet<(IpAddr, u16)>,
    /// Local ports bound (port 0, an ephemeral port, is left out).
    pub listens: BTreeSet<u16>,
    /// Files whose path the kernel walk could not resolve to the root.
    pub unresolved: usize,
    /// Syscalls that failed with EPERM or EACCES although nothing was
    /// enforced (the system's own permissions refused them), one line each
    /// (`openat /etc/shadow: EACCES`). Never learned: the run did not get
    /// them, and a plan should not grant what the command could not do.
    pub refused: BTreeSet<String>,
    /// Events seen.
    pub events: u64,
}

/// How [`Observed::plan`] writes the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// The plan's name.
    pub name: String,
    /// The `goal` line (the command that was observed), if any.
    pub goal: Option<String>,
    /// A directory with at least this many files used the same way (read,
    /// or write) becomes one `"DIR/**"` step; 0 never aggregates.
    pub tree_threshold: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            name: "learned".into(),
            goal: None,
            tree_threshold: 4,
        }
    }
}

impl Observed {
    /// Takes one event of the run into account.
    pub fn record(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::File {
                op,
                path,
                complete,
                read,
                write,
                ..
            } => {
                if !complete || !path.starts_with('/') {
                    self.unresolved += 1;
                    return;
                }
                match op {
                    FileOp::Exec => {
                        self.exec_files.insert(path.clone());
                    }
                    FileOp::Open => {
                        if *read {
                            self.reads.insert(path.clone());
                        }
                        if *write {
                            self.writes.insert(path.clone());
                        }
                    }
                }
            }
            Event::Exec { filename, .. } if filename.starts_with('/') => {
                self.exec_names.insert(normalize(filename));
            }
            Event::SyscallRefused { .. } => {
                if let Some(line) = event.refusal_line() {
                    self.refused.insert(line);
                }
            }
            Event::Net { op, addr, port, .. } => match op {
                NetOp::Connect | NetOp::Sendmsg => {
                    if *port != 0 {
                        self.connects.insert((*addr, *port));
                    }
                }
                NetOp::Bind => {
                    if *port != 0 {
                        self.listens.insert(*port);
                    }
                }
            },
            _ => {}
        }
    }

    /// The programs the plan must let the run execute: every absolute name
    /// it used, and every file the kernel executed that is not one of those
    /// names resolved (a relative name, or a `#!` interpreter).
    pub fn programs(&self) -> BTreeSet<String> {
        let resolved: BTreeSet<PathBuf> = self
            .exec_names
            .iter()
            .map(|n| std::fs::canonicalize(n).unwrap_or_else(|_| PathBuf::from(n)))
            .collect();
        let mut out = self.exec_names.clone();
        for file in &self.exec_files {
            if !resolved.contains(Path::new(file)) {
                out.insert(file.clone());
            }
        }
        out
    }

    /// The proposed plan, in the canonical `warden fmt` style: it loads
    /// with `planlang` and `warden fmt --check` accepts it.
    pub fn plan(&self, options: &PlanOptions) -> Result<String, LearnError> {
        let mut text = String::new();
        text.push_str("// Proposed by `warden learn` from one observed run: review before use.\n");
        text.push_str(&format!("plan {} {{\n", quote(&options.name)));
        if let Some(goal) = &options.goal {
            text.push_str(&format!("  goal {}\n", quote(goal)));
        }
        for program in self.programs() {
            text.push_str(&format!("  exec {}\n", quote(&program)));
        }
        for path in aggregate(&self.reads, options.tree_threshold) {
            text.push_str(&format!("  read {}\n", quote(&path)));
        }
        for path in aggregate(&self.writes, options.tree_threshold) {
            text.push_str(&format!("  write {}\n", quote(&path)));
        }
        for (addr, port) in &self.connects {
            match addr {
                IpAddr::V4(a) => text.push_str(&format!("  connect {a}:{port}\n")),
                IpAddr::V6(a) => text.push_str(&format!("  connect [{a}]:{port}\n")),
            }
        }
        for port in &self.listens {
            text.push_str(&format!("  listen {port}\n"));
        }
        text.push_str("}\n");
        planlang::load_plan_str(&text, "learned.plan")
            .map_err(|d| LearnError::Plan(format!("{d:?}")))?;
        planlang::fmt_plan_source(&text, "learned.plan")
            .map_err(|d| LearnError::Plan(format!("{d:?}")))
    }
}

impl EventSink for Observed {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.record(event);
        Ok(())
    }
}

/// A plan string literal (JSON escapes, as LANGUAGE.md says).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `.` and `..` resolved, repeated `/` folded (no file system access).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent_of(path: &str) -> Option<&str> {
    let cut = path.rfind('/')?;
    Some(if cut == 0 { "/" } else { &path[..cut] })
}

fn tree_glob(dir: &str) -> String {
    if dir == "/" {
        "/**".into()
    } else {
        format!("{dir}/**")
    }
}

fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Files, with every directory holding at least `threshold` of them (not
/// counting deeper levels) replaced by its `"DIR/**"` tree; a tree inside
/// another tree is dropped. Sorted.
pub fn aggregate(files: &BTreeSet<String>, threshold: usize) -> Vec<String> {
    let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for file in files {
        if let Some(dir) = parent_of(file) {
            *per_dir.entry(dir).or_default() += 1;
        }
    }
    let mut trees: Vec<&str> = if threshold == 0 {
        Vec::new()
    } else {
        per_dir
            .into_iter()
            .filter(|(_, n)| *n >= threshold)
            .map(|(d, _)| d)
            .collect()
    };
    // Sorted, so an enclosing tree comes before the trees inside it.
    trees.sort_unstable();
    let mut kept: Vec<&str> = Vec::new();
    for t in trees {
        if !kept.iter().any(|k| is_under(t, k)) {
            kept.push(t);
        }
    }
    let mut out: BTreeSet<String> = kept.iter().map(|d| tree_glob(d)).collect();
    for file in files {
        if !kept.iter().any(|d| is_under(file, d)) {
            out.insert(file.clone());
        }
    }
    out.into_iter().collect()
}

/// The outcome of an observed run.
#[derive(Debug)]
pub struct Observation {
    /// The command's exit status.
    pub status: std::process::ExitStatus,
    /// What it did.
    pub observed: Observed,
    /// Events lost because the ring buffer was full.
    pub lost_events: u64,
}

/// Runs `program` with `args` under observation only: its own cgroup, the
/// eBPF layers in observe mode reporting files (nothing refused, no
/// Landlock, no seccomp), and gathers what it did. `events`, when given,
/// also receives every event as it happens (`--events FILE`).
pub fn observe<S: EventSink>(
    program: impl AsRef<OsStr>,
    args: &[OsString],
    quiet: bool,
    events: S,
) -> Result<(Observation, S), LearnError> {
    if !crate::launch::is_root() {
        return Err(LearnError::NeedsRoot);
    }
    let policy = KernelPolicy::new();
    let layers = crate::ebpf::for_launcher_with(&policy, true, crate::ebpf::Reports::Files)?;
    let options = RunOptions {
        quiet,
        require: [
            Layer::Cgroup,
            Layer::EbpfCgroupSockAddr,
            Layer::EbpfTracepoints,
        ]
        .into_iter()
        .collect(),
        disable: [Layer::Landlock, Layer::Seccomp, Layer::BpfLsm]
            .into_iter()
            .collect(),
        ..RunOptions::default()
    };
    let stream = layers.events.ok_or(crate::ebpf::EbpfError::EventsTaken)?;
    let reader = stream.read_into((Observed::default(), events));
    let tracepoints = layers.tracepoints;
    let outcome = Run::new(&policy)
        .options(options)
        .with_layer(Box::new(layers.sock_addr))
        .with_layer(Box::new(tracepoints.share()))
        .spawn(program, args);
    // Stop the reader whatever happened, so its thread never outlives us.
    let read = reader.finish();
    let outcome = outcome?;
    let (_, (observed, sink)) = read?;
    let lost_events = tracepoints.with_layers(|l| l.lost_events())?;
    Ok((
        Observation {
            status: outcome.status,
            observed,
            lost_events,
        },
        sink,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn file(path: &str, read: bool, write: bool) -> Event {
        Event::File {
            pid: 1,
            op: FileOp::Open,
            path: path.into(),
            complete: true,
            read,
            write,
            directory: false,
            time_ns: 0,
        }
    }

    #[test]
    fn many_files_of_one_directory_become_a_tree() {
        let files = set(&["/a/1", "/a/2", "/a/3", "/b/x", "/a/sub/4"]);
        assert_eq!(aggregate(&files, 3), ["/a/**", "/b/x"]);
        assert_eq!(
            aggregate(&files, 4),
            ["/a/1", "/a/2", "/a/3", "/a/sub/4", "/b/x"]
        );
        assert_eq!(aggregate(&files, 0).len(), 5);
    }

    #[test]
    fn nested_trees_collapse_and_siblings_stay() {
        let files = set(&["/a/1", "/a/2", "/a/b/1", "/a/b/2", "/ab/1", "/ab/2"]);
        assert_eq!(aggregate(&files, 2), ["/a/**", "/ab/**"]);
    }

    #[test]
    fn root_tree() {
        assert_eq!(aggregate(&set(&["/x", "/y"]), 2), ["/**"]);
    }

    #[test]
    fn the_plan_loads_and_is_canonical() {
        let mut seen = Observed::default();
        seen.record(&file("/etc/passwd", true, false));
        seen.record(&file("/tmp/out \"q\".txt", true, true));
        seen.record(&Event::Exec {
            pid: 1,
            ppid: 0,
            filename: "/bin/../bin/sh".into(),
            args: Vec::new(),
            args_cut: false,
            verdict: crate::ebpf::Verdict::Observed,
            refusal: None,
            time_ns: 0,
        });
        seen.record(&Event::Net {
            pid: 1,
            comm: "c".into(),
            op: NetOp::Connect,
            proto: "tcp".into(),
            addr: "::1".parse().unwrap(),
            port: 8080,
            verdict: crate::ebpf::Verdict::Observed,
            time_ns: 0,
        });
        seen.record(&Event::Net {
            pid: 1,
            comm: "c".into(),
            op: NetOp::Bind,
            proto: "tcp".into(),
            addr: "0.0.0.0".parse().unwrap(),
            port: 0,
            verdict: crate::ebpf::Verdict::Observed,
            time_ns: 0,
        });
        let plan = seen
            .plan(&PlanOptions {
                goal: Some("sh -c 'x'".into()),
                ..PlanOptions::default()
            })
            .unwrap();
        assert!(plan.contains("exec \"/bin/sh\""), "{plan}");
        assert!(plan.contains("read \"/etc/passwd\""), "{plan}");
        assert!(plan.contains("write \"/tmp/out \\\"q\\\".txt\""), "{plan}");
        assert!(plan.contains("connect [::1]:8080"), "{plan}");
        assert!(!plan.contains("listen"), "port 0 is no listen step: {plan}");
        let again = planlang::fmt_plan_source(&plan, "x.plan").unwrap();
        assert_eq!(plan, again);
    }

    #[test]
    fn unresolved_paths_are_counted_not_proposed() {
        let mut seen = Observed::default();
        seen.record(&Event::File {
            pid: 1,
            op: FileOp::Open,
            path: "deep/name".into(),
            complete: false,
            read: true,
            write: false,
            directory: false,
            time_ns: 0,
        });
        assert_eq!(seen.unresolved, 1);
        assert!(seen.reads.is_empty());
    }

    #[test]
    fn refusals_are_listed_never_learned() {
        let mut seen = Observed::default();
        seen.record(&Event::SyscallRefused {
            pid: 1,
            comm: "cat".into(),
            nr: 257,
            name: Some("openat".into()),
            errno: libc::EACCES,
            path: Some("/etc/shadow".into()),
            dirfd: None,
            new_path: None,
            new_dirfd: None,
            addr: None,
            port: None,
            truncated: false,
            compat: false,
            time_ns: 0,
        });
        assert_eq!(
            seen.refused.iter().collect::<Vec<_>>(),
            ["openat /etc/shadow: EACCES"]
        );
        assert!(seen.reads.is_empty() && seen.writes.is_empty());
        let plan = seen.plan(&PlanOptions::default()).unwrap();
        assert!(!plan.contains("/etc/shadow"), "{plan}");
    }

    fn covered(steps: &[String], file: &str) -> bool {
        steps.iter().any(|s| {
            s == file
                || s.strip_suffix("/**")
                    .is_some_and(|d| is_under(file, if d.is_empty() { "/" } else { d }))
        })
    }

    proptest! {
        /// Whatever paths a run used, the plan loads, is canonical, and
        /// covers every file (as itself or by a tree above it).
        #[test]
        fn any_observation_gives_a_loadable_covering_plan(
            paths in proptest::collection::vec("(/[a-c\"\\\\ é*]{1,3}){1,4}", 0..12),
            threshold in 0usize..4,
        ) {
            let mut seen = Observed::default();
            for (i, p) in paths.iter().enumerate() {
                seen.record(&file(p, i % 2 == 0, i % 3 == 0));
            }
            let options = PlanOptions { tree_threshold: threshold, ..PlanOptions::default() };
            let plan = seen.plan(&options).unwrap();
            prop_assert_eq!(&planlang::fmt_plan_source(&plan, "p.plan").unwrap(), &plan);
            let reads = aggregate(&seen.reads, threshold);
            for f in &seen.reads {
                prop_assert!(covered(&reads, f), "{} not covered by {:?}", f, reads);
            }
        }
    }
}
