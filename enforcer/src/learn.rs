//! `warden learn`: run a command with observation only and propose the plan
//! steps that would cover what it did, in the shapes an enforcement profile
//! enforces, and a starter spec.
//!
//! The command runs in a cgroup of its own with the eBPF layers attached in
//! observe mode (nothing is refused; Landlock and seccomp are not applied):
//! every file it opens or executes comes with the path the kernel resolved
//! ([`Event::File`], `created` when the open made the file), every exec
//! with its arguments ([`Event::Exec`]), every connect, sendmsg and bind
//! with its address and port ([`Event::Net`]), every unix socket connect
//! with its path ([`Event::Unix`]). The metadata supervisor runs in observe
//! mode ([`crate::supervisor::Supervisor::observe`]): it makes every
//! metadata change (chmod, chown, utimes, xattrs) as the caller and records
//! the file it was made on, and records every entry created or removed
//! (`mkdir`, `unlink`, `rename`...) with its resolved path.
//!
//! [`Observed`] gathers all of it and [`Observed::steps`] proposes steps in
//! the shapes of a [`Profile`] (a listed directory is its tree; without
//! BPF LSM a created or removed file is its directory's tree; exec keeps
//! its argument lists where the profile checks them), each widened step
//! with the reason. [`Observed::plan`] writes them as a plan in the
//! canonical `warden fmt` style, [`starter_spec`] as a spec.
//!
//! ```
//! use enforcer::ebpf::{Event, FileOp};
//! use enforcer::learn::{Observed, PlanOptions};
//! let mut seen = Observed::default();
//! seen.record(&Event::File {
//!     pid: 1, op: FileOp::Open, path: "/etc/hostname".into(), complete: true,
//!     read: true, write: false, directory: false, created: false, time_ns: 0,
//! });
//! let plan = seen.plan(&PlanOptions::default()).unwrap();
//! assert!(plan.contains("read \"/etc/hostname\""));
//! ```

use crate::ebpf::{Event, EventSink, FileOp, NetOp};
use crate::error::RunError;
use crate::launch::{Run, RunOptions};
use crate::layer::Layer;
use crate::policy::KernelPolicy;
use crate::supervisor::{ChangeKind, ObservedChange};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use warden_core::envelope::{FileAccess, PathTarget};
pub use warden_core::shape::Profile;

/// Why `warden learn` could not observe a run or write its plan.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// The process is not root: observing needs the run's cgroup and the
    /// eBPF layers.
    #[error("observing needs root (the run's cgroup and the eBPF layers)")]
    NeedsRoot,
    /// The eBPF layers could not be set up, or their events read.
    #[error("the eBPF layers could not be loaded: {0}")]
    Ebpf(#[from] crate::ebpf::EbpfError),
    /// The observed run did not start, or could not be supervised.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The written plan does not parse or format: a bug in `warden learn`,
    /// with the parser's diagnostics (and the text).
    #[error("the proposed plan does not load (a bug in warden learn): {0}")]
    Plan(String),
    /// The written starter spec does not parse or format: a bug in
    /// `warden learn`, with the parser's diagnostics (and the text).
    #[error("the starter spec does not load (a bug in warden learn): {0}")]
    Spec(String),
}

/// What a run did, gathered from its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Files opened for reading.
    pub reads: BTreeSet<String>,
    /// Directories opened for reading (listed).
    pub read_dirs: BTreeSet<String>,
    /// Files opened for writing (created, truncated or appended to).
    pub writes: BTreeSet<String>,
    /// Entries the run made: files its opens created, directories, links,
    /// nodes, a rename's new name.
    pub created: BTreeSet<String>,
    /// Entries the run removed: unlinked, directories removed, renamed
    /// away, replaced by a rename.
    pub removed: BTreeSet<String>,
    /// Files whose metadata the run changed (mode, owner, times, xattrs,
    /// inode flags), with the syscalls.
    pub metadata: BTreeMap<String, BTreeSet<String>>,
    /// Programs as the run named them to `execve` (absolute names only).
    pub exec_names: BTreeSet<String>,
    /// Files the kernel executed: the programs, resolved, and the
    /// interpreters of `#!` scripts.
    pub exec_files: BTreeSet<String>,
    /// The argument lists (`argv[1..]`) each program was run with, by its
    /// absolute name (a relative name: the file the kernel ran).
    pub argv: BTreeMap<String, BTreeSet<Vec<String>>>,
    /// Programs run at least once with arguments longer than the events
    /// carry.
    pub argv_cut: BTreeSet<String>,
    /// Addresses and ports connected (or sent) to.
    pub connects: BTreeSet<(IpAddr, u16)>,
    /// Pathname unix sockets connected (or sent) to.
    pub unix: BTreeSet<String>,
    /// Local ports bound (port 0, an ephemeral port, is left out).
    pub listens: BTreeSet<u16>,
    /// Files whose path the kernel walk could not resolve to the root, and
    /// unix socket paths given relative to a working directory.
    pub unresolved: usize,
    /// Syscalls that failed with EPERM or EACCES although nothing was
    /// enforced (the system's own permissions refused them), one line each
    /// (`openat /etc/shadow: EACCES`). Never learned: the run did not get
    /// them, and a plan should not grant what the command could not do.
    pub refused: BTreeSet<String>,
    /// Opens of files of internal file systems (pipes, sockets reopened
    /// through `/proc/self/fd`), which name no path: not learned.
    pub pseudo: usize,
    /// Events seen.
    pub events: u64,
    /// Exec events whose program name was relative, by pid, waiting for
    /// the file the kernel ran.
    pending_argv: BTreeMap<u32, Option<Vec<String>>>,
}

/// How [`Observed::plan`] writes the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// The plan's name.
    pub name: String,
    /// The `goal` line (the command that was observed), if any.
    pub goal: Option<String>,
    /// A directory with at least this many files used the same way (read,
    /// or written) becomes one `"DIR/**"` step; 0 never aggregates.
    pub tree_threshold: usize,
    /// The profile whose shapes the steps take.
    pub profile: Profile,
    /// More argument lists than this for one program give the program with
    /// any arguments.
    pub max_argv_lists: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            name: "learned".into(),
            goal: None,
            tree_threshold: 4,
            profile: Profile::Root,
            max_argv_lists: 8,
        }
    }
}

/// A file target of a step: one file, or a directory's tree (`"D/**"`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    /// One file, by its absolute path.
    File(String),
    /// A directory and everything below it, by the directory's absolute
    /// path (no trailing `/`, except for `/` itself).
    Tree(String),
}

impl Shape {
    /// As a plan path (`"/d/f"`, `"/d/**"`).
    pub fn glob(&self) -> String {
        match self {
            Shape::File(f) => f.clone(),
            Shape::Tree(d) => tree_glob(d),
        }
    }

    /// As a spec target (`"/d/f"`, `under "/d/"`).
    pub fn rule_target(&self) -> String {
        match self {
            Shape::File(f) => quote(f),
            Shape::Tree(d) if d == "/" => "under \"/\"".into(),
            Shape::Tree(d) => format!("under {}", quote(&format!("{d}/"))),
        }
    }

    /// As an envelope target.
    pub fn target(&self) -> PathTarget {
        match self {
            Shape::File(f) => PathTarget::Exact { path: f.clone() },
            Shape::Tree(d) => PathTarget::Tree { dir: d.clone() },
        }
    }

    /// Whether this shape covers `path` (a normalized absolute path).
    pub fn covers(&self, path: &str) -> bool {
        match self {
            Shape::File(f) => f == path,
            Shape::Tree(d) => path == d || is_under(path, d),
        }
    }
}

/// One proposed step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `exec PROGRAM [ARGS]` (`None`: any arguments).
    Exec {
        /// The program's path.
        program: String,
        /// The arguments after `argv[0]`.
        argv: Option<Vec<String>>,
    },
    /// `read PATH`.
    Read(Shape),
    /// `write PATH`.
    Write(Shape),
    /// `delete PATH`.
    Delete(Shape),

    /// `connect PATH`: a pathname unix socket.
    ConnectUnix(String),
    /// `connect ADDR:PORT`.
    Connect(IpAddr, u16),
    /// `listen PORT`.
    Listen(u16),
}

impl Step {
    /// The step as a plan line (without indentation).
    pub fn plan_text(&self) -> String {
        match self {
            Step::Exec {
                program,
                argv: None,
            } => format!("exec {}", quote(program)),
            Step::Exec {
                program,
                argv: Some(argv),
            } => format!("exec {} {}", quote(program), list(argv)),
            Step::Read(s) => format!("read {}", quote(&s.glob())),
            Step::Write(s) => format!("write {}", quote(&s.glob())),
            Step::Delete(s) => format!("delete {}", quote(&s.glob())),
            Step::ConnectUnix(p) => format!("connect {}", quote(p)),
            Step::Connect(IpAddr::V4(a), port) => format!("connect {a}:{port}"),
            Step::Connect(IpAddr::V6(a), port) => format!("connect [{a}]:{port}"),
            Step::Listen(port) => format!("listen {port}"),
        }
    }

    /// The file access and shape of a file step.
    pub fn file(&self) -> Option<(FileAccess, &Shape)> {
        match self {
            Step::Read(s) => Some((FileAccess::Read, s)),
            Step::Write(s) => Some((FileAccess::Write, s)),
            Step::Delete(s) => Some((FileAccess::Delete, s)),
            _ => None,
        }
    }
}

/// A proposed step and, when it is wider than what was observed, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnedStep {
    /// The proposed step.
    pub step: Step,
    /// Why the step grants more than the run was seen to do (a directory
    /// tree instead of the files read in it, any address where the
    /// profile's layers check only the port); [`render_plan`] writes it as
    /// a comment above the step. `None` when the step is what was seen.
    pub why: Option<String>,
}

impl LearnedStep {
    fn exact(step: Step) -> Self {
        Self { step, why: None }
    }

    fn widened(step: Step, why: impl Into<String>) -> Self {
        Self {
            step,
            why: Some(why.into()),
        }
    }
}

impl Observed {
    /// Takes one event of the run into account.
    pub fn record(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::File {
                pid,
                op,
                path,
                complete,
                read,
                write,
                directory,
                created,
                ..
            } => {
                if !complete || !path.starts_with('/') {
                    self.unresolved += 1;
                    return;
                }
                // A file of an internal file system (a pipe reopened through
                // /proc/self/fd, as jobservers do) walks up to its own root
                // and shows as "/"; the root directory itself is opened as a
                // directory. Landlock does not check internal files.
                if path == "/" && *op == FileOp::Open && !directory {
                    self.pseudo += 1;
                    return;
                }
                match op {
                    FileOp::Exec => {
                        if let Some(argv) = self.pending_argv.remove(pid) {
                            self.add_argv(path.clone(), argv);
                        }
                        self.exec_files.insert(path.clone());
                    }
                    FileOp::Open => {
                        if *read && *directory {
                            self.read_dirs.insert(path.clone());
                        } else if *read {
                            self.reads.insert(path.clone());
                        }
                        if *write {
                            self.writes.insert(path.clone());
                        }
                        if *created {
                            self.created.insert(path.clone());
                        }
                    }
                }
            }
            Event::Exec {
                pid,
                filename,
                args,
                args_cut,
                ..
            } => {
                let argv = (!args_cut).then(|| args.clone());
                if filename.starts_with('/') {
                    let name = normalize(filename);
                    self.exec_names.insert(name.clone());
                    self.add_argv(name, argv);
                } else {
                    self.pending_argv.insert(*pid, argv);
                }
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
            Event::Unix { op, path, .. } => match op {
                NetOp::Connect | NetOp::Sendmsg if path.starts_with('/') => {
                    self.unix.insert(normalize(path));
                }
                NetOp::Connect | NetOp::Sendmsg => self.unresolved += 1,
                NetOp::Bind => {}
            },
            _ => {}
        }
    }

    fn add_argv(&mut self, program: String, argv: Option<Vec<String>>) {
        match argv {
            Some(argv) => {
                self.argv.entry(program).or_default().insert(argv);
            }
            None => {
                self.argv.entry(program.clone()).or_default();
                self.argv_cut.insert(program);
            }
        }
    }

    /// Takes in what the metadata supervisor observed: metadata changes,
    /// entries created and removed.
    pub fn record_changes<'a>(&mut self, changes: impl IntoIterator<Item = &'a ObservedChange>) {
        for c in changes {
            if !c.path.starts_with('/') {
                self.unresolved += 1;
                continue;
            }
            let path = normalize(&c.path);
            match c.kind {
                ChangeKind::Metadata => {
                    self.metadata
                        .entry(path)
                        .or_default()
                        .insert(c.syscall.clone());
                }
                ChangeKind::Created => {
                    self.created.insert(path);
                }
                ChangeKind::Removed => {
                    self.removed.insert(path);
                }
            }
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

    /// The nearest directory above `path` that the run did not create (it
    /// existed when the run started).
    fn existing_dir(&self, path: &str) -> String {
        let mut dir = parent_of(path).unwrap_or("/").to_owned();
        while dir != "/" && self.created.contains(&dir) {
            dir = parent_of(&dir).unwrap_or("/").to_owned();
        }
        dir
    }

    /// Whether `arg` names a file the run made and that is gone now (a
    /// temporary name: the next run's will differ).
    fn names_a_temporary(&self, arg: &str) -> bool {
        let starts = arg.char_indices().filter(|(i, c)| {
            *c == '/' && (*i == 0 || arg[..*i].ends_with(['=', ',', ':', '@', ' ']))
        });
        for (i, _) in starts {
            let end = arg[i..]
                .find([',', ':', '=', ' '])
                .map_or(arg.len(), |e| i + e);
            let mut p = normalize(&arg[i..end]);
            loop {
                if self.created.contains(&p) && !Path::new(&p).exists() {
                    return true;
                }
                match parent_of(&p) {
                    Some(d) if d != p => p = d.to_owned(),
                    _ => break,
                }
            }
        }
        false
    }

    /// The proposed steps, in the shapes `options.profile` enforces, each
    /// widened one with the reason; in a fixed order (exec, read, write,
    /// delete, connect, listen; each sorted).
    pub fn steps(&self, options: &PlanOptions) -> Vec<LearnedStep> {
        let mut out = Vec::new();
        self.exec_steps(options, &mut out);
        self.read_steps(options, &mut out);
        self.write_steps(options, &mut out);
        self.delete_steps(options, &mut out);
        for path in &self.unix {
            let step = Step::ConnectUnix(path.clone());
            out.push(if options.profile.unix_paths() {
                LearnedStep::exact(step)
            } else {
                LearnedStep::widened(
                    step,
                    "without eBPF nothing tells one unix socket from another: a unix grant lets the run connect to every socket",
                )
            });
        }
        for (addr, port) in &self.connects {
            let step = Step::Connect(*addr, *port);
            out.push(if options.profile.addresses() {
                LearnedStep::exact(step)
            } else {
                LearnedStep::widened(
                    step,
                    format!(
                        "without eBPF Landlock checks the port only: any address on port {port}"
                    ),
                )
            });
        }
        for port in &self.listens {
            out.push(LearnedStep::exact(Step::Listen(*port)));
        }
        out
    }

    fn exec_steps(&self, options: &PlanOptions, out: &mut Vec<LearnedStep>) {
        let any = |program: &str, why: String| {
            LearnedStep::widened(
                Step::Exec {
                    program: program.to_owned(),
                    argv: None,
                },
                why,
            )
        };
        for program in self.programs() {
            let Some(lists) = self.argv.get(&program) else {
                // Ran as a `#!` interpreter, or under a relative name whose
                // file is named instead.
                out.push(any(
                    &program,
                    "run as a script's interpreter: any arguments".into(),
                ));
                continue;
            };
            if !options.profile.exec_argv() {
                out.push(any(
                    &program,
                    format!(
                        "the {} profile cannot check arguments (Landlock knows programs only): any arguments",
                        options.profile
                    ),
                ));
            } else if self.argv_cut.contains(&program) {
                out.push(any(
                    &program,
                    "an argument list longer than the events carry: any arguments".into(),
                ));
            } else if lists.len() > options.max_argv_lists {
                out.push(any(
                    &program,
                    format!(
                        "run with {} argument lists, more than {}: any arguments",
                        lists.len(),
                        options.max_argv_lists
                    ),
                ));
            } else if lists
                .iter()
                .any(|l| l.iter().any(|a| self.names_a_temporary(a)))
            {
                out.push(any(
                    &program,
                    "its arguments name temporary files this run made and removed (another run's names differ): any arguments".into(),
                ));
            } else {
                for argv in lists {
                    out.push(LearnedStep::exact(Step::Exec {
                        program: program.clone(),
                        argv: Some(argv.clone()),
                    }));
                }
            }
        }
    }

    fn read_steps(&self, options: &PlanOptions, out: &mut Vec<LearnedStep>) {
        let mut trees: BTreeMap<String, String> = BTreeMap::new();
        for dir in &self.read_dirs {
            trees.insert(
                dir.clone(),
                format!(
                    "listed {}: reading a directory is Landlock's read-dir right, which covers everything below it",
                    last_name(dir)
                ),
            );
        }
        let mut files = BTreeSet::new();
        for f in &self.reads {
            if self.created.contains(f) && !options.profile.exact_files() {
                // A rule on a file that does not exist when the run starts
                // names nothing: Landlock's read right is the directory's.
                let dir = self.existing_dir(f);
                let why = format!(
                    "read {}, which this run created: without BPF LSM a file that does not exist at the start is read through its directory's tree",
                    relative_to(f, &dir)
                );
                trees.entry(dir).or_insert(why);
                continue;
            }
            match proc_pid_path(f) {
                Some(_) => {
                    trees.insert(
                        "/proc".into(),
                        "read /proc/PID/...: the run's process numbers change from run to run"
                            .into(),
                    );
                }
                None => {
                    files.insert(f.clone());
                }
            }
        }
        // A program the run executes is read by the kernel anyway.
        let files: BTreeSet<String> = files
            .into_iter()
            .filter(|f| !self.exec_files.contains(f))
            .collect();
        for (path, count) in aggregate_counted(&files, options.tree_threshold, &world_readable_tree)
        {
            if let Some(n) = count {
                trees.entry(path).or_insert_with(|| {
                    format!(
                        "{n} files of this directory were read (--tree-threshold {}): its tree",
                        options.tree_threshold
                    )
                });
            } else {
                files_push(out, &trees, Step::Read(Shape::File(path)));
            }
        }
        let trees = outermost(trees);
        out.retain(|s| !matches!(&s.step, Step::Read(Shape::File(f)) if trees.keys().any(|d| is_under(f, d))));
        for (dir, why) in trees {
            out.push(LearnedStep::widened(Step::Read(Shape::Tree(dir)), why));
        }
    }

    fn write_steps(&self, options: &PlanOptions, out: &mut Vec<LearnedStep>) {
        let exact = options.profile.exact_files();
        let mut trees: BTreeMap<String, String> = BTreeMap::new();
        let mut files: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut made: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let written: BTreeSet<&String> = self
            .writes
            .iter()
            .chain(self.created.iter())
            .chain(self.metadata.keys())
            .collect();
        for path in written {
            let created = self.created.contains(path);
            if created && !exact {
                let dir = self.existing_dir(path);
                made.entry(dir.clone())
                    .or_default()
                    .push(relative_to(path, &dir).to_owned());
                continue;
            }
            if !created && !exact && Path::new(path).is_dir() {
                // A directory's rule is its tree, and the kernel grants a
                // write of a directory on its parent (creation rights).
                let dir = parent_of(path).unwrap_or("/").to_owned();
                trees.entry(dir).or_insert_with(|| {
                    format!(
                        "changed directory {}: without BPF LSM a directory's write is granted on its parent's tree",
                        last_name(path)
                    )
                });
                continue;
            }
            let why = self
                .metadata
                .get(path)
                .filter(|_| !self.writes.contains(path))
                .map(|calls| {
                    format!(
                        "its metadata changed ({}): a write",
                        calls.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                });
            files.insert(path.clone(), why);
        }
        for (dir, names) in made {
            trees.entry(dir).or_insert_with(|| {
                format!(
                    "created {}: without BPF LSM creation is granted on the whole directory tree",
                    some_names(&names)
                )
            });
        }
        let plain: BTreeSet<String> = files
            .iter()
            .filter(|(_, why)| why.is_none())
            .map(|(f, _)| f.clone())
            .collect();
        for (path, count) in aggregate_counted(&plain, options.tree_threshold, &world_readable_tree)
        {
            if let Some(n) = count {
                trees.entry(path).or_insert_with(|| {
                    format!(
                        "{n} files of this directory were written (--tree-threshold {}): its tree",
                        options.tree_threshold
                    )
                });
            }
        }
        let trees = outermost(trees);
        for (f, why) in files {
            if trees.keys().any(|d| is_under(&f, d)) {
                continue;
            }
            out.push(LearnedStep {
                step: Step::Write(Shape::File(f)),
                why,
            });
        }
        for (dir, why) in trees {
            out.push(LearnedStep::widened(Step::Write(Shape::Tree(dir)), why));
        }
    }

    fn delete_steps(&self, options: &PlanOptions, out: &mut Vec<LearnedStep>) {
        if options.profile.exact_files() {
            for f in &self.removed {
                out.push(LearnedStep::exact(Step::Delete(Shape::File(f.clone()))));
            }
            return;
        }
        let mut gone: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &self.removed {
            let dir = self.existing_dir(f);
            let name = relative_to(f, &dir).to_owned();
            gone.entry(dir).or_default().push(name);
        }
        let trees = gone
            .into_iter()
            .map(|(dir, names)| {
                let why = format!(
                    "removed {}: without BPF LSM removal is granted on the whole directory tree",
                    some_names(&names)
                );
                (dir, why)
            })
            .collect();
        for (dir, why) in outermost(trees) {
            out.push(LearnedStep::widened(Step::Delete(Shape::Tree(dir)), why));
        }
    }

    /// The proposed plan, in the canonical `warden fmt` style: it loads
    /// with `planlang` and `warden fmt --check` accepts it. Every widened
    /// step has its reason as a comment above it; `left_out` (steps a
    /// spec's baseline grants) are listed in a comment at the end.
    pub fn plan(&self, options: &PlanOptions) -> Result<String, LearnError> {
        render_plan(&self.steps(options), &[], options)
    }
}

/// Writes `steps` as a plan (see [`Observed::plan`]); `left_out` are listed
/// in a comment at the end, as steps the baseline grants.
pub fn render_plan(
    steps: &[LearnedStep],
    left_out: &[LearnedStep],
    options: &PlanOptions,
) -> Result<String, LearnError> {
    let mut text = String::new();
    text.push_str(&format!(
        "// Proposed by `warden learn` from one observed run, in the shapes of the {} profile: review before use.\n",
        options.profile
    ));
    text.push_str(&format!("plan {} {{\n", quote(&options.name)));
    if let Some(goal) = &options.goal {
        text.push_str(&format!("  goal {}\n", quote(goal)));
    }
    for s in steps {
        if let Some(why) = &s.why {
            text.push_str(&format!("  // {}\n", one_line(why)));
        }
        text.push_str(&format!("  {}\n", s.step.plan_text()));
    }
    if !left_out.is_empty() {
        text.push_str("  // Observed too, granted by the spec's baseline (not plan steps):\n");
        for s in left_out {
            text.push_str(&format!("  //   {}\n", s.step.plan_text()));
        }
    }
    text.push_str("}\n");
    planlang::load_plan_str(&text, "learned.plan")
        .map_err(|d| LearnError::Plan(format!("{d:?}\n{text}")))?;
    planlang::fmt_plan_source(&text, "learned.plan").map_err(|d| LearnError::Plan(format!("{d:?}")))
}

/// Splits `steps` into those a baseline does not grant and those it does
/// (`read "/usr/lib/x/libc.so.6"` under a baseline `read under
/// "/usr/lib/"`): the plain path patterns of the baseline
/// ([`warden_core::shape::baseline_grants`]), as the kernel grants them.
pub fn leave_out_baseline(
    steps: Vec<LearnedStep>,
    baseline: &[warden_core::cond::Pattern],
) -> (Vec<LearnedStep>, Vec<LearnedStep>) {
    let (grants, _) = warden_core::shape::baseline_grants(baseline);
    let covered = |access: FileAccess, shape: &Shape| {
        grants.files.iter().any(|g| {
            g.access == access
                && match (&g.target, shape) {
                    (PathTarget::Tree { dir }, Shape::Tree(d)) => d == dir || is_under(d, dir),
                    (t, Shape::File(f)) => t.covers(f),
                    _ => false,
                }
        })
    };
    steps.into_iter().partition(|s| match s.step.file() {
        Some((access, shape)) => !covered(access, shape),
        None => true,
    })
}

/// Whether a read step is one every program needs (the loader's cache,
/// shared libraries, locale data): the starter spec's baseline.
pub fn is_system_read(step: &Step) -> bool {
    const LIB_DIRS: &[&str] = &[
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ];
    const LOCALE: &[&str] = &[
        "/usr/lib/locale",
        "/usr/share/locale",
        "/usr/lib/x86_64-linux-gnu/gconv",
        "/usr/lib/aarch64-linux-gnu/gconv",
    ];
    const FILES: &[&str] = &[
        "/etc/ld.so.cache",
        "/etc/ld.so.preload",
        "/etc/locale.alias",
        "/etc/localtime",
    ];
    let under_locale = |p: &str| LOCALE.iter().any(|d| p == *d || is_under(p, d));
    match step {
        Step::Read(Shape::File(f)) => {
            let (dir, name) = (parent_of(f).unwrap_or("/"), last_name(f));
            FILES.contains(&f.as_str())
                || under_locale(f)
                || (LIB_DIRS.contains(&dir) && is_shared_library(name))
        }
        Step::Read(Shape::Tree(d)) => under_locale(d) || LIB_DIRS.contains(&d.as_str()),
        _ => false,
    }
}

/// `libc.so.6`, `libz.so`, `ld-linux-x86-64.so.2`.
fn is_shared_library(name: &str) -> bool {
    name.match_indices(".so").any(|(i, _)| {
        let rest = &name[i + 3..];
        rest.is_empty() || rest.starts_with('.')
    })
}

/// A starter spec for `steps` learned in the shapes of `profile`: one
/// `allow` rule per step, no wider than that step's enforced shape (`read
/// "/d/**"` is `allow read under "/d/"`; an exec with argument lists is
/// `allow exec "/p" when argv == [...] or ...`), the steps
/// [`is_system_read`] accepts as a `baseline`, and `deny read under
/// "/etc/shadow"`-style rules for the secrets no learned step needs. The
/// plan to issue against it is `steps` without the baseline's
/// ([`leave_out_baseline`]).
pub fn starter_spec(
    name: &str,
    steps: &[LearnedStep],
    profile: Profile,
) -> Result<String, LearnError> {
    let mut rules: Vec<String> = Vec::new();
    let mut baseline: Vec<String> = Vec::new();
    let mut argv: BTreeMap<&str, Vec<&Vec<String>>> = BTreeMap::new();
    let mut any_argv: BTreeSet<&str> = BTreeSet::new();
    let mut has_exec = false;
    for s in steps {
        match &s.step {
            Step::Exec { program, argv: a } => {
                has_exec = true;
                match a {
                    Some(a) => argv.entry(program).or_default().push(a),
                    None => {
                        any_argv.insert(program);
                    }
                }
            }
            step if is_system_read(step) => {
                if let Some((_, shape)) = step.file() {
                    baseline.push(format!("read {}", shape.rule_target()));
                }
            }
            Step::Read(shape) => rules.push(format!("allow read {}", shape.rule_target())),
            Step::Write(shape) => rules.push(format!("allow write {}", shape.rule_target())),
            Step::Delete(shape) => rules.push(format!("allow delete {}", shape.rule_target())),
            Step::ConnectUnix(p) => rules.push(format!("allow connect {}", quote(p))),
            Step::Connect(addr, port) if profile.addresses() => {
                rules.push(format!("allow connect ip in {addr} and port == {port}"))
            }
            Step::Connect(_, port) => rules.push(format!("allow connect port == {port}")),
            Step::Listen(port) => rules.push(format!("allow listen port == {port}")),
        }
    }
    let mut execs: Vec<String> = Vec::new();
    for program in &any_argv {
        execs.push(format!("allow exec {}", quote(program)));
    }
    for (program, lists) in &argv {
        if any_argv.contains(program) {
            continue;
        }
        let conds: Vec<String> = lists
            .iter()
            .map(|l| format!("argv == {}", list(l)))
            .collect();
        execs.push(format!(
            "allow exec {} when {}",
            quote(program),
            conds.join(" or ")
        ));
    }
    if has_exec && profile == Profile::Unprivileged {
        for loader in warden_core::shape::ELF_LOADERS {
            execs.push(format!(
                "// The unprivileged profile runs every dynamic program's loader with any arguments.\n  allow exec {}",
                quote(loader)
            ));
        }
    }
    let mut text = String::new();
    text.push_str(
        "// Starter spec proposed by `warden learn` from one observed run: every rule is\n",
    );
    text.push_str(&format!(
        "// one learned step in the shape the {profile} profile enforces. Review before use.\n"
    ));
    text.push_str(&format!("spec {} {{\n", quote(name)));
    for r in execs.iter().chain(rules.iter()) {
        text.push_str(&format!("  {r}\n"));
    }
    // Secrets no learned step needs stay refused whatever is added later.
    for secret in ["/etc/shadow", "/etc/gshadow"] {
        let needed = steps
            .iter()
            .any(|s| s.step.file().is_some_and(|(_, shape)| shape.covers(secret)));
        if !needed {
            text.push_str(&format!("  deny read {}\n", quote(secret)));
        }
    }
    if !baseline.is_empty() {
        text.push_str("\n  baseline {\n");
        for b in &baseline {
            text.push_str(&format!("    {b}\n"));
        }
        text.push_str("  }\n");
    }
    text.push_str("}\n");
    planlang::load_spec_str(&text, "learned.spec")
        .map_err(|d| LearnError::Spec(format!("{d:?}\n{text}")))?;
    planlang::fmt_spec_source(&text, "learned.spec").map_err(|d| LearnError::Spec(format!("{d:?}")))
}

impl EventSink for Observed {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.record(event);
        Ok(())
    }
}

/// A plan string literal (JSON escapes, as docs/language.md says).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A list of string literals.
fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|a| quote(a)).collect();
    format!("[{}]", items.join(", "))
}

/// A reason as one comment line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
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

fn last_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `path` below `dir`, for a comment (`out/x.tgz`).
fn relative_to<'a>(path: &'a str, dir: &str) -> &'a str {
    if dir == "/" {
        return path.trim_start_matches('/');
    }
    path.strip_prefix(dir)
        .map(|r| r.trim_start_matches('/'))
        .filter(|r| !r.is_empty())
        .unwrap_or(path)
}

/// At most three names, for a comment (`a, b, c and 4 more`).
fn some_names(names: &[String]) -> String {
    let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    match names.len() {
        n if n > 3 => format!("{shown} and {} more", n - 3),
        _ => shown,
    }
}

/// `/proc/1234/maps` (a process's own directory): `Some("1234")`.
fn proc_pid_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/proc/")?;
    let pid = rest.split('/').next()?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(pid)
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

/// Entries [`world_readable_tree`] looks at before it gives up.
const TREE_WALK_BOUND: usize = 20_000;

/// Whether every file below `dir` may be read by anyone (a directory that
/// holds a secret, `/etc` with `shadow`, is never made a tree by the
/// threshold: only the files used are proposed), within
/// [`TREE_WALK_BOUND`] entries (a larger tree is not aggregated either).
/// Symbolic links are not followed.
fn world_readable_tree(dir: &str) -> bool {
    let mut pending = vec![PathBuf::from(dir)];
    let mut seen = 0usize;
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            return false;
        };
        for e in entries {
            seen += 1;
            if seen > TREE_WALK_BOUND {
                return false;
            }
            let Ok(e) = e else { return false };
            let Ok(meta) = e.path().symlink_metadata() else {
                return false;
            };
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                if mode & 0o005 != 0o005 {
                    return false;
                }
                pending.push(e.path());
            } else if !meta.file_type().is_symlink() && mode & 0o004 == 0 {
                return false;
            }
        }
    }
    true
}

/// Pushes a file read step unless a tree already covers it.
fn files_push(out: &mut Vec<LearnedStep>, trees: &BTreeMap<String, String>, step: Step) {
    if let Step::Read(Shape::File(f)) = &step
        && trees.keys().any(|d| f == d || is_under(f, d))
    {
        return;
    }
    out.push(LearnedStep::exact(step));
}

/// Trees without those inside another (the outer one's reason kept).
fn outermost(trees: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let dirs: Vec<String> = trees.keys().cloned().collect();
    trees
        .into_iter()
        .filter(|(d, _)| !dirs.iter().any(|o| o != d && is_under(d, o)))
        .collect()
}

/// Files, with every directory holding at least `threshold` of them (not
/// counting deeper levels) replaced by its `"DIR/**"` tree; a tree inside
/// another tree is dropped. Sorted.
pub fn aggregate(files: &BTreeSet<String>, threshold: usize) -> Vec<String> {
    aggregate_counted(files, threshold, &|_| true)
        .into_iter()
        .map(|(p, n)| if n.is_some() { tree_glob(&p) } else { p })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// [`aggregate`], with each tree as its directory and the number of files
/// directly in it (`None`: a file kept as it is).
fn aggregate_counted(
    files: &BTreeSet<String>,
    threshold: usize,
    may_aggregate: &dyn Fn(&str) -> bool,
) -> Vec<(String, Option<usize>)> {
    let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for file in files {
        if let Some(dir) = parent_of(file) {
            *per_dir.entry(dir).or_default() += 1;
        }
    }
    let mut trees: Vec<(&str, usize)> = if threshold == 0 {
        Vec::new()
    } else {
        per_dir
            .into_iter()
            .filter(|(d, n)| *n >= threshold && may_aggregate(d))
            .collect()
    };
    // Sorted, so an enclosing tree comes before the trees inside it.
    trees.sort_unstable();
    let mut kept: Vec<(&str, usize)> = Vec::new();
    for (t, n) in trees {
        if !kept.iter().any(|(k, _)| is_under(t, k)) {
            kept.push((t, n));
        }
    }
    let mut out: Vec<(String, Option<usize>)> = kept
        .iter()
        .map(|(d, n)| ((*d).to_owned(), Some(*n)))
        .collect();
    for file in files {
        if !kept.iter().any(|(d, _)| is_under(file, d)) {
            out.push((file.clone(), None));
        }
    }
    out
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
    /// Changes of entries and metadata beyond what observe mode keeps.
    pub changes_dropped: u64,
}

/// Runs `program` with `args` under observation only: its own cgroup, the
/// eBPF layers in observe mode reporting files (nothing refused, no
/// Landlock, no seccomp), and gathers what it did. `events`, when given,
/// also receives every event as it happens (`--events FILE`). The
/// command's standard output goes to `stdout` (`warden learn` keeps its
/// own for the plan).
pub fn observe<S: EventSink>(
    program: impl AsRef<OsStr>,
    args: &[OsString],
    quiet: bool,
    stdout: crate::spawn::Output,
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
        .observe_changes()
        .stdout(stdout)
        .with_layer(Box::new(layers.sock_addr))
        .with_layer(Box::new(tracepoints.share()))
        .spawn(program, args);
    // Stop the reader whatever happened, so its thread never outlives us.
    let read = reader.finish();
    let outcome = outcome?;
    let (_, (mut observed, sink)) = read?;
    observed.record_changes(&outcome.metadata.observed);
    let lost_events = tracepoints.with_layers(|l| l.lost_events())?;
    Ok((
        Observation {
            status: outcome.status,
            observed,
            lost_events,
            changes_dropped: outcome.metadata.observed_dropped,
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
        open(path, read, write, false, false)
    }

    fn open(path: &str, read: bool, write: bool, directory: bool, created: bool) -> Event {
        Event::File {
            pid: 1,
            op: FileOp::Open,
            path: path.into(),
            complete: true,
            read,
            write,
            directory,
            created,
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
            verdict: crate::ebpf::Disposition::Observed,
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
            verdict: crate::ebpf::Disposition::Observed,
            time_ns: 0,
        });
        seen.record(&Event::Net {
            pid: 1,
            comm: "c".into(),
            op: NetOp::Bind,
            proto: "tcp".into(),
            addr: "0.0.0.0".parse().unwrap(),
            port: 0,
            verdict: crate::ebpf::Disposition::Observed,
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
            created: false,
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

    fn exec(filename: &str, args: &[&str]) -> Event {
        Event::Exec {
            pid: 1,
            ppid: 0,
            filename: filename.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            args_cut: false,
            verdict: crate::ebpf::Disposition::Observed,
            refusal: None,
            time_ns: 0,
        }
    }

    fn texts(seen: &Observed, profile: Profile) -> Vec<String> {
        let options = PlanOptions {
            profile,
            ..PlanOptions::default()
        };
        seen.steps(&options)
            .iter()
            .map(|s| s.step.plan_text())
            .collect()
    }

    #[test]
    fn exec_keeps_its_argument_lists_up_to_a_bound_where_the_profile_checks_them() {
        let mut seen = Observed::default();
        seen.record(&exec("/usr/bin/git", &["status"]));
        seen.record(&exec("/usr/bin/git", &["add", "a b"]));
        assert_eq!(
            texts(&seen, Profile::Root),
            [
                r#"exec "/usr/bin/git" ["add", "a b"]"#,
                r#"exec "/usr/bin/git" ["status"]"#
            ]
        );
        assert_eq!(
            texts(&seen, Profile::Unprivileged),
            [r#"exec "/usr/bin/git""#]
        );
        for i in 0..8 {
            seen.record(&exec("/usr/bin/git", &[&i.to_string()]));
        }
        let steps = seen.steps(&PlanOptions::default());
        assert_eq!(steps.len(), 1);
        assert!(
            steps[0]
                .why
                .as_deref()
                .unwrap()
                .contains("10 argument lists, more than 8"),
            "{steps:?}"
        );
    }

    #[test]
    fn arguments_naming_the_runs_temporary_files_give_any_arguments() {
        let mut seen = Observed::default();
        let gone = "/nonexistent-warden-test/rustcXYZ";
        seen.created.insert(gone.into());
        seen.record(&exec("/usr/bin/cc", &[&format!("-Wl,{gone}/symbols.o")]));
        seen.record(&exec(
            "/usr/bin/ls",
            &["-la", "/nonexistent-warden-test/kept"],
        ));
        let steps = seen.steps(&PlanOptions::default());
        assert_eq!(steps[0].step.plan_text(), r#"exec "/usr/bin/cc""#);
        assert!(steps[0].why.as_deref().unwrap().contains("temporary"));
        assert_eq!(
            steps[1].step.plan_text(),
            r#"exec "/usr/bin/ls" ["-la", "/nonexistent-warden-test/kept"]"#
        );
    }

    #[test]
    fn listed_directories_and_proc_pids_are_trees() {
        let mut seen = Observed::default();
        seen.record(&open("/srv/d", true, false, true, false));
        seen.record(&file("/srv/d/x", true, false));
        seen.record(&file("/proc/4242/maps", true, false));
        seen.record(&file("/proc/meminfo", true, false));
        assert_eq!(
            texts(&seen, Profile::RootBpfLsm),
            // /proc/meminfo is inside the tree.
            [r#"read "/proc/**""#, r#"read "/srv/d/**""#]
        );
    }

    #[test]
    fn created_and_removed_entries_take_the_profiles_shape() {
        let mut seen = Observed::default();
        seen.record_changes(&[
            ObservedChange {
                kind: ChangeKind::Created,
                path: "/w/new".into(),
                syscall: "mkdir".into(),
            },
            ObservedChange {
                kind: ChangeKind::Removed,
                path: "/w/new/tmp".into(),
                syscall: "unlink".into(),
            },
            ObservedChange {
                kind: ChangeKind::Metadata,
                path: "/w/old".into(),
                syscall: "fchmodat".into(),
            },
        ]);
        seen.record(&open("/w/new/tmp", false, true, false, true));
        // /w/new did not exist at the start: the tree is /w's.
        assert_eq!(
            texts(&seen, Profile::Root),
            [r#"write "/w/**""#, r#"delete "/w/**""#]
        );
        assert_eq!(
            texts(&seen, Profile::RootBpfLsm),
            [
                r#"write "/w/new""#,
                r#"write "/w/new/tmp""#,
                r#"write "/w/old""#,
                r#"delete "/w/new/tmp""#
            ]
        );
    }

    #[test]
    fn a_created_file_read_back_is_its_directorys_tree_and_internal_files_are_skipped() {
        let mut seen = Observed::default();
        seen.record(&open("/w/sorted.txt", false, true, false, true));
        seen.record(&file("/w/sorted.txt", true, false));
        // A pipe reopened through /proc/self/fd walks up to "/".
        seen.record(&file("/", true, true));
        assert_eq!(seen.pseudo, 1);
        assert_eq!(
            texts(&seen, Profile::Root),
            [r#"read "/w/**""#, r#"write "/w/**""#]
        );
        assert_eq!(
            texts(&seen, Profile::RootBpfLsm),
            [r#"read "/w/sorted.txt""#, r#"write "/w/sorted.txt""#]
        );
    }

    #[test]
    fn the_starter_spec_has_one_rule_per_step_and_a_baseline() {
        let steps = vec![
            LearnedStep::exact(Step::Exec {
                program: "/usr/bin/git".into(),
                argv: Some(vec!["status".into()]),
            }),
            LearnedStep::exact(Step::Exec {
                program: "/usr/bin/git".into(),
                argv: Some(vec!["add".into(), ".".into()]),
            }),
            LearnedStep::exact(Step::Read(Shape::File(
                "/usr/lib/x86_64-linux-gnu/libc.so.6".into(),
            ))),
            LearnedStep::exact(Step::Read(Shape::Tree("/usr/lib/python3.11".into()))),
            LearnedStep::exact(Step::Write(Shape::File("/dev/null".into()))),
            LearnedStep::exact(Step::ConnectUnix("/run/x.sock".into())),
            LearnedStep::exact(Step::Connect("127.0.0.1".parse().unwrap(), 8080)),
        ];
        let spec = starter_spec("s", &steps, Profile::Root).unwrap();
        for rule in [
            r#"allow exec "/usr/bin/git" when argv == ["status"] or argv == ["add", "."]"#,
            r#"allow read under "/usr/lib/python3.11/""#,
            r#"allow write "/dev/null""#,
            r#"allow connect "/run/x.sock""#,
            "allow connect ip in 127.0.0.1 and port == 8080",
            r#"deny read "/etc/shadow""#,
            r#"    read "/usr/lib/x86_64-linux-gnu/libc.so.6""#,
        ] {
            assert!(spec.contains(rule), "`{rule}` missing from\n{spec}");
        }
        let unprivileged = starter_spec("s", &steps, Profile::Unprivileged).unwrap();
        assert!(
            unprivileged.contains("allow connect port == 8080"),
            "{unprivileged}"
        );
        for loader in warden_core::shape::ELF_LOADERS {
            assert!(unprivileged.contains(&format!("allow exec {}", quote(loader))));
        }
        // The plan left to issue: the steps the baseline does not grant.
        let loaded = planlang::load_spec_str(&spec, "s.spec").unwrap();
        // The baseline's patterns as the verifier compiles them (lowered by
        // planlang; the starter spec's baseline names no constant).
        let baseline: Vec<warden_core::cond::Pattern> = loaded
            .specs()
            .flat_map(|s| s.baselines())
            .flat_map(|b| b.patterns.iter())
            .map(|p| planlang::lower::pattern(p, &Default::default()).unwrap())
            .collect();
        assert!(!baseline.is_empty());
        let (kept, granted) = leave_out_baseline(steps.clone(), &baseline);
        assert_eq!(granted, [steps[2].clone()]);
        assert_eq!(kept.len(), steps.len() - 1);
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
