//! The layer shapes: what each kernel layer can express, written once.
//!
//! A kernel layer can only express certain shapes: Landlock knows files and
//! directory trees (not `*.tmp` inside a directory), TCP ports (not
//! addresses), and programs (not their arguments). [`enforced_envelope`]
//! turns an envelope into the envelope a [`Profile`]'s layers enforce, every
//! shape widened the way the layers widen it. The verifier proves that
//! enforced envelope against the spec before a token is issued
//! (`verifier::proof`); the enforcer compiles its kernel rules with the same
//! shapes (`enforcer::translate`, `enforcer::lsm`) and, at run start, checks
//! that what the kernel will enforce lies inside it (`enforcer::proven`,
//! with [`crate::within`]).
//!
//! ```
//! use warden_core::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! use warden_core::shape::{Profile, enforced_envelope};
//! let mut env = Envelope::default();
//! env.files.push(FileGrant {
//!     access: FileAccess::Write,
//!     target: PathTarget::Glob { glob: "/tmp/out/*.tmp".into() },
//! });
//! // Landlock alone widens the glob to the tree `/tmp/out`...
//! let wide = enforced_envelope(&env, Profile::Unprivileged);
//! assert_eq!(wide.files[0].target, PathTarget::Tree { dir: "/tmp/out".into() });
//! // ...BPF LSM enforces the suffix exactly.
//! assert_eq!(enforced_envelope(&env, Profile::RootBpfLsm).files, env.files);
//! ```

use crate::cond::{Cond, Operand, Pattern};
use crate::envelope::{
    ConnectGrant, Envelope, ExecGrant, FileAccess, FileGrant, ListenGrant, PathTarget, UnixGrant,
    UnixOp, ValueMatch,
};
use crate::net::parse_cidr;
use crate::path::{glob_matches, glob_to_regex, normalize_path, under_normal};
use crate::value::Value;
use crate::vocab::{ActionKind, CmpOp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A set of kernel layers a run can have, named by what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Profile {
    /// Landlock and seccomp: any user, any recent kernel.
    #[serde(rename = "unprivileged")]
    Unprivileged,
    /// Root: also a cgroup per run with the eBPF socket programs (addresses,
    /// not just ports) and the syscall tracepoints.
    #[serde(rename = "root")]
    Root,
    /// Root on a kernel that loads BPF LSM programs: exact files and suffix
    /// patterns too.
    #[serde(rename = "root+bpf-lsm")]
    RootBpfLsm,
}

impl Profile {
    /// Every profile, from the fewest layers to the most.
    pub const ALL: [Profile; 3] = [Profile::Unprivileged, Profile::Root, Profile::RootBpfLsm];

    /// The profile's name (in the `enforcement` claim).
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Unprivileged => "unprivileged",
            Profile::Root => "root",
            Profile::RootBpfLsm => "root+bpf-lsm",
        }
    }

    /// The layers of the profile (the enforcer's layer names).
    pub const fn layers(self) -> &'static [&'static str] {
        match self {
            Profile::Unprivileged => &["landlock", "seccomp"],
            Profile::Root => &[
                "landlock",
                "seccomp",
                "cgroup",
                "ebpf-cgroup-sock-addr",
                "ebpf-tracepoints",
            ],
            Profile::RootBpfLsm => &[
                "landlock",
                "seccomp",
                "cgroup",
                "ebpf-cgroup-sock-addr",
                "ebpf-tracepoints",
                "bpf-lsm",
            ],
        }
    }

    /// The profile whose shapes a run with these layers enforces, or `None`
    /// when it lacks Landlock or seccomp (nothing would confine its files).
    pub fn of_layers<'a>(layers: impl IntoIterator<Item = &'a str>) -> Option<Profile> {
        let layers: Vec<&str> = layers.into_iter().collect();
        let has = |l: &str| layers.contains(&l);
        if !has("landlock") || !has("seccomp") {
            return None;
        }
        Some(match (has("ebpf-cgroup-sock-addr"), has("bpf-lsm")) {
            (true, true) => Profile::RootBpfLsm,
            (true, false) => Profile::Root,
            (false, _) => Profile::Unprivileged,
        })
    }

    /// Whether connects are enforced by address (the eBPF socket programs),
    /// not only by port.
    pub const fn addresses(self) -> bool {
        !matches!(self, Profile::Unprivileged)
    }

    /// Whether files are enforced by exact name and suffix (BPF LSM), not
    /// only by directory tree.
    pub const fn exact_files(self) -> bool {
        matches!(self, Profile::RootBpfLsm)
    }

    /// Whether a program's exact argument list is enforced (the eBPF
    /// `sched_process_exec` check, by the program's inode), not only the
    /// program (Landlock's execute right).
    pub const fn exec_argv(self) -> bool {
        !matches!(self, Profile::Unprivileged)
    }

    /// Whether unix socket connects are enforced by path (the eBPF socket
    /// programs see the path as written). Without them nothing tells one
    /// socket from another once `socket(AF_UNIX)` is allowed.
    pub const fn unix_paths(self) -> bool {
        !matches!(self, Profile::Unprivileged)
    }
}

/// The ELF loaders of the build's target architecture. A dynamic program
/// runs through its loader, so Landlock must grant executing it, and
/// nothing without eBPF tells `ld.so /any/readable/file` from a program
/// loading itself: in the unprivileged profile an envelope that runs any
/// program also runs each loader with any arguments
/// ([`enforced_envelope`]). The root profiles check exec by inode and
/// refuse a direct exec of the loader, so it is not in theirs.
#[cfg(target_arch = "x86_64")]
pub const ELF_LOADERS: &[&str] = &["/lib64/ld-linux-x86-64.so.2"];
/// The ELF loaders of the build's target architecture (see the x86_64 doc).
#[cfg(target_arch = "aarch64")]
pub const ELF_LOADERS: &[&str] = &["/lib/ld-linux-aarch64.so.1"];
/// An architecture whose loader path is not known here: the unprivileged
/// profile then runs any file with any arguments ([`loader_targets`]).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const ELF_LOADERS: &[&str] = &[];

/// What the unprivileged profile grants to exec for the ELF loader: each of
/// [`ELF_LOADERS`], or, on an architecture without a known loader path,
/// every path (never narrower than what the kernel lets through).
pub fn loader_targets() -> Vec<PathTarget> {
    if ELF_LOADERS.is_empty() {
        return vec![PathTarget::Tree { dir: "/".into() }];
    }
    ELF_LOADERS
        .iter()
        .map(|l| PathTarget::Exact {
            path: (*l).to_owned(),
        })
        .collect()
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most bytes of a suffix the BPF LSM layer's name rules carry
/// (`enforcer_common::LSM_NAME_MAX`).
pub const LSM_SUFFIX_MAX: usize = 32;

/// The shape of a glob the BPF LSM layer enforces exactly (paths
/// normalized).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LsmShape {
    /// One file or directory.
    Exact(String),
    /// A directory and everything below it (`/dir/**`).
    Tree(String),
    /// Names ending with the suffix, directly in the directory
    /// (`/dir/*.tmp`; `/dir/*` is the empty suffix).
    Suffix(String, String),
    /// Names ending with the suffix anywhere below the directory
    /// (`/dir/**/*.tmp`).
    TreeSuffix(String, String),
}

/// The shape of `pattern` that the BPF LSM layer enforces exactly, or why
/// it cannot: a literal path, or a literal directory then `**`, `*SUFFIX`
/// or `**/*SUFFIX` (a suffix of at most [`LSM_SUFFIX_MAX`] bytes and
/// without wildcards). Brackets and braces count as wildcards here: the
/// layer takes no pattern that holds one. The proof of the enforced
/// envelope ([`lsm_expresses`]) and the enforcer's compiler of the layer's
/// rules (`enforcer::lsm`) both ask this.
pub fn lsm_shape(pattern: &str) -> Result<LsmShape, &'static str> {
    let wild = |s: &str| s.contains(['*', '?', '[', ']', '{', '}']);
    if !pattern.starts_with('/') {
        return Err("not an absolute path");
    }
    if pattern.contains('\0') {
        return Err("holds a NUL byte");
    }
    let normal = |p: &str| normalize_path(p).map_err(|_| "bad path");
    if !wild(pattern) {
        return normal(pattern).map(LsmShape::Exact);
    }
    let (dir, last) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let dir_of = |d: &str| {
        if wild(d) {
            return Err("a glob before the last component");
        }
        normal(if d.is_empty() { "/" } else { d })
    };
    let suffix = |s: &str| {
        if wild(s) {
            return Err("a glob inside the suffix");
        }
        if s.len() > LSM_SUFFIX_MAX {
            return Err("a suffix longer than 32 bytes");
        }
        Ok(s.to_owned())
    };
    if last == "**" {
        return Ok(LsmShape::Tree(dir_of(dir)?));
    }
    if let Some(rest) = last.strip_prefix('*') {
        if let Some(tree) = dir.strip_suffix("/**") {
            return Ok(LsmShape::TreeSuffix(dir_of(tree)?, suffix(rest)?));
        }
        return Ok(LsmShape::Suffix(dir_of(dir)?, suffix(rest)?));
    }
    Err("a glob other than /**, /*SUFFIX or /**/*SUFFIX")
}

/// Whether the BPF LSM layer enforces a glob exactly ([`lsm_shape`]).
pub fn lsm_expresses(glob: &str) -> bool {
    lsm_shape(glob).is_ok()
}

/// The longest literal directory of a glob (`/repo/**/*.rs` → `/repo`): the
/// Landlock tree it widens to.
pub fn glob_base(glob: &str) -> String {
    let segments: Vec<&str> = glob.split('/').filter(|s| !s.is_empty()).collect();
    let mut base = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.contains(['*', '?', '[']) || i + 1 == segments.len() {
            break;
        }
        base.push('/');
        base.push_str(seg);
    }
    if base.is_empty() {
        base.push('/');
    }
    base
}

/// The directory of a normalized path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent_dir(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((dir, _)) => dir.to_owned(),
    }
}

/// Where the file system decides the shape of a grant: what a path turns
/// out to be when the run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    /// `read "/p"` where `/p` is a directory: Landlock's read-dir right is
    /// hierarchical, so the kernel grants the tree below it.
    Directory,
    /// `write "/p"` where `/p` does not exist (or is a directory): creating
    /// a file is a right on its directory, so the kernel grants the tree of
    /// `/p`'s directory. Where `/p` exists as a file (or a device such as
    /// `/dev/null`), the kernel grants that file alone.
    Absent,
}

impl fmt::Display for Situation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Situation::Directory => "the path is a directory",
            Situation::Absent => "the file does not exist when the run starts",
        })
    }
}

/// A grant of the envelope whose enforced shape the file system decides
/// when the run starts: the exact shape (the path is a file) or `widened`
/// (in `situation`). Without BPF LSM: `read "/p"` and `write "/p"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Alternative {
    /// The envelope's grant (its exact shape).
    pub grant: FileGrant,
    /// What the path must turn out to be for the kernel to grant `widened`.
    pub situation: Situation,
    /// What the kernel grants in that situation.
    pub widened: FileGrant,
}

/// The grants of `env` whose enforced shape the file system decides under
/// `profile` (in the envelope's order of file grants). Each is proven on
/// its own (never per combination of steps): a run starts only when the
/// shape each one takes at run start was proven.
pub fn alternatives(env: &Envelope, profile: Profile) -> Vec<Alternative> {
    env.files
        .iter()
        .filter_map(|g| {
            let situation = situation_of(g, profile)?;
            let target = widen_target(&g.target, g.access, profile, true)?;
            Some(Alternative {
                grant: g.clone(),
                situation,
                widened: FileGrant {
                    access: g.access,
                    target,
                },
            })
        })
        .collect()
}

/// The situation in which `g`'s enforced shape is wider than the grant,
/// when the file system decides it.
fn situation_of(g: &FileGrant, profile: Profile) -> Option<Situation> {
    if profile.exact_files() || !matches!(g.target, PathTarget::Exact { .. }) {
        return None;
    }
    match g.access {
        FileAccess::Read => Some(Situation::Directory),
        FileAccess::Write => Some(Situation::Absent),
        // Removing is a right on the directory in every situation.
        FileAccess::Delete => None,
    }
}

/// Widens a file target to what the profile enforces; `wide`: the shape
/// of an exact path in its wide situation ([`Situation`]), else its shape
/// when the path is a file.
fn widen_target(
    target: &PathTarget,
    access: FileAccess,
    profile: Profile,
    wide: bool,
) -> Option<PathTarget> {
    Some(match target {
        PathTarget::Exact { path } => match access {
            // A directory named exactly: Landlock grants its tree.
            FileAccess::Read if wide && !profile.exact_files() => {
                PathTarget::Tree { dir: path.clone() }
            }
            FileAccess::Read => target.clone(),
            // Creating and removing are rights on the directory for
            // Landlock; the LSM names the file. Writing a file that exists
            // needs neither.
            FileAccess::Write | FileAccess::Delete if profile.exact_files() => target.clone(),
            FileAccess::Write if !wide => target.clone(),
            FileAccess::Write | FileAccess::Delete => PathTarget::Tree {
                dir: parent_dir(path),
            },
        },
        PathTarget::Glob { glob } if profile.exact_files() && lsm_expresses(glob) => target.clone(),
        PathTarget::Glob { glob } => PathTarget::Tree {
            dir: glob_base(glob),
        },
        PathTarget::Tree { .. } | PathTarget::Unknown { .. } => target.clone(),
        // The kernel cannot know a param's value: it grants nothing.
        PathTarget::Param { .. } => return None,
    })
}

/// The envelope the layers of `profile` enforce for `env`: every file,
/// exec, network and unix socket grant in the shape those layers can
/// express (never narrower), plus the baseline. Tool calls, params, limits
/// and ordering are the orchestrator's, not the kernel's, and are left
/// out. A pure function: the same envelope and profile give the same
/// result (and digest) at issue time and when a run starts.
///
/// | envelope | `unprivileged` | `root` | `root+bpf-lsm` |
/// |----------|----------------|--------|----------------|
/// | `write`/`delete "/d/f"` | that access under `/d` | the same | the file |
/// | a glob | its literal directory, as a tree | the same | the glob, when the LSM expresses it |
/// | `exec "/p" ARGS` | `exec "/p"` with any arguments, and `read "/p"` | `exec "/p" ARGS` when every argument is a literal string (else any arguments), and `read "/p"` | the same as `root` |
/// | any exec grant (plan or baseline) | also `exec` of each [`ELF_LOADERS`] path with any arguments, and its `read` | nothing more | nothing more |
/// | `connect HOST:PORT` | any address (`0.0.0.0/0`, `::/0`) on PORT | HOST:PORT | HOST:PORT |
/// | `connect PATH` (unix) | every path (`connect under "/"`) | the exact path or tree; a glob: its literal directory as a tree; a `let` result: every path | the same as `root` |
/// | `connect PATH` whose path the run could replace | (every path already) | every path | every path |
/// | any unix `listen` grant | also `connect under "/"` | nothing more | nothing more |
/// | `listen "/d/s"` (unix) | `listen under "/d"`; a tree stays; a glob: its literal directory | the same | the same |
/// | a param-backed path, host or port | nothing | nothing | nothing |
///
/// Exec arguments: the kernel checks the program by inode and the exact
/// argument list at `sched_process_exec`, so only an exact program with an
/// argument list of literal strings keeps it; a param or `let` result
/// among the arguments (or a program that is not one file) gives any
/// arguments.
///
/// Unix sockets: without eBPF no layer restricts a connect once
/// `socket(AF_UNIX)` is allowed, which any unix grant needs (connect or
/// listen), so the unprivileged profile connects anywhere then (and
/// nowhere without a unix grant: seccomp refuses the socket). With eBPF the
/// kernel matches the socket path as the program wrote it, so a grant is
/// only as good as the run's inability to plant a symlink on the way: when
/// the enforced file grants of the same profile (after their own widening,
/// the baseline's included) let the run write or delete the granted path
/// itself, a proper ancestor directory of it other than `/`, or, for a
/// tree, anything inside it, that connect grant becomes every path
/// ([`symlink_plantable`]). Binding is Landlock's `MAKE_SOCK` right on a
/// directory: a unix listen grant is its directory's tree in every profile.
pub fn enforced_envelope(env: &Envelope, profile: Profile) -> Envelope {
    enforced_with(env, profile, &|_| true)
}

/// The enforced envelope when every path of an [`Alternative`] is a file
/// (each grant in its exact shape).
pub fn enforced_exact(env: &Envelope, profile: Profile) -> Envelope {
    enforced_with(env, profile, &|_| false)
}

/// The enforced envelope when every path of an [`Alternative`] is a file
/// except the grant `widened` (an alternative's grant), which takes its
/// wide shape: what proves that step's alternative on its own.
pub fn enforced_widening(env: &Envelope, profile: Profile, widened: &FileGrant) -> Envelope {
    enforced_with(env, profile, &|g| g == widened)
}

/// The enforced envelope with the grants `wide` picks (among the
/// [`Alternative`]s' grants) in their wide shape: what a run may start
/// under when those are the alternatives proven.
pub fn enforced_choosing(
    env: &Envelope,
    profile: Profile,
    wide: &dyn Fn(&FileGrant) -> bool,
) -> Envelope {
    enforced_with(env, profile, wide)
}

/// The enforced envelope with the grants `wide` picks in their wide shape.
fn enforced_with(env: &Envelope, profile: Profile, wide: &dyn Fn(&FileGrant) -> bool) -> Envelope {
    let mut out = Envelope::default();
    for g in &env.files {
        if let Some(target) = widen_target(&g.target, g.access, profile, wide(g)) {
            out.files.push(FileGrant {
                access: g.access,
                target,
            });
        }
    }
    for g in &env.exec {
        // Exec needs read: the kernel opens the program to load it.
        let Some(program) = widen_target(&g.program, FileAccess::Read, profile, false) else {
            continue;
        };
        // The kernel compares an exact program's literal argument list.
        let argv = match &program {
            PathTarget::Exact { .. } if profile.exec_argv() && g.literal_argv().is_some() => {
                g.argv.clone()
            }
            _ => None,
        };
        push_exec(&mut out, program, argv);
    }
    let (base, _) = baseline_grants(&env.baseline);
    if profile == Profile::Unprivileged && !(out.exec.is_empty() && base.exec.is_empty()) {
        for loader in loader_targets() {
            push_exec(&mut out, loader, None);
        }
    }
    for g in &env.connect {
        let port = match &g.port {
            ValueMatch::Param { .. } => continue,
            p => p.clone(),
        };
        if matches!(g.host, ValueMatch::Param { .. }) {
            continue;
        }
        if profile.addresses() {
            out.connect.push(ConnectGrant {
                host: g.host.clone(),
                port,
            });
        } else {
            for any in ["0.0.0.0/0", "::/0"] {
                if let Some(net) = parse_cidr(any) {
                    out.connect.push(ConnectGrant {
                        host: ValueMatch::Exact {
                            value: Value::Cidr(net),
                        },
                        port: port.clone(),
                    });
                }
            }
        }
    }
    for g in &env.listen {
        if !matches!(g.port, ValueMatch::Param { .. }) {
            out.listen.push(ListenGrant {
                port: g.port.clone(),
            });
        }
    }
    widen_unix(env, &base, profile, &mut out);
    out.baseline = env.baseline.clone();
    out.sort_grants();
    out
}

/// An exec grant with its program's read.
fn push_exec(out: &mut Envelope, program: PathTarget, argv: Option<Vec<ValueMatch>>) {
    out.files.push(FileGrant {
        access: FileAccess::Read,
        target: program.clone(),
    });
    out.exec.push(ExecGrant { program, argv });
}

/// Every path: a unix grant no layer narrows.
fn everywhere() -> PathTarget {
    PathTarget::Tree { dir: "/".into() }
}

/// The unix socket grants of the enforced envelope (see
/// [`enforced_envelope`]): the envelope's and its baseline's (`base`, where
/// one widens), with the file grants already in `out`.
fn widen_unix(env: &Envelope, base: &Envelope, profile: Profile, out: &mut Envelope) {
    let grants = env.unix.iter().map(|g| (g, true));
    let grants = grants.chain(base.unix.iter().map(|g| (g, false)));
    let mut wide = Vec::new();
    for (g, own) in grants {
        let target = match (g.op, &g.target) {
            (_, PathTarget::Param { .. }) => None,
            (_, PathTarget::Unknown { .. }) => Some(everywhere()),
            (_, PathTarget::Glob { glob }) => Some(PathTarget::Tree {
                dir: glob_base(glob),
            }),
            (UnixOp::Listen, PathTarget::Exact { path }) => Some(PathTarget::Tree {
                dir: parent_dir(path),
            }),
            (_, t) => Some(t.clone()),
        };
        let grant = target.map(|target| UnixGrant { op: g.op, target });
        // The baseline's own grants stay patterns: only a widening is new.
        match grant {
            Some(w) if own || w != *g => wide.push(w),
            _ => {}
        }
    }
    let any_unix = !(env.unix.is_empty() && base.unix.is_empty());
    if !profile.unix_paths() {
        wide.retain(|g| g.op == UnixOp::Listen);
        if any_unix {
            wide.push(UnixGrant {
                op: UnixOp::Connect,
                target: everywhere(),
            });
        }
    } else {
        let writable: Vec<&PathTarget> = out
            .files
            .iter()
            .chain(&base.files)
            .filter(|g| matches!(g.access, FileAccess::Write | FileAccess::Delete))
            .map(|g| &g.target)
            .collect();
        for g in wide.iter_mut().filter(|g| g.op == UnixOp::Connect) {
            if symlink_plantable(&g.target, &writable) {
                g.target = everywhere();
            }
        }
    }
    out.unix.extend(wide);
}

/// Whether a run that may write or delete the targets `writable` could
/// plant a symlink on the way to a unix connect grant's `target`: it may
/// create or remove an entry at the target itself, at a proper ancestor
/// directory of it other than `/`, or, for a tree, anywhere inside it.
/// (A glob counts as its literal directory's tree: never narrower.)
pub fn symlink_plantable(target: &PathTarget, writable: &[&PathTarget]) -> bool {
    let covers = |w: &PathTarget, p: &str| match w {
        PathTarget::Glob { glob } => glob_matches(glob, p),
        PathTarget::Param { .. } => true,
        w => w.covers(p),
    };
    let path = match target {
        PathTarget::Exact { path } => path.as_str(),
        PathTarget::Tree { dir } => dir.as_str(),
        // Every path (or one the kernel cannot know): nothing to plant.
        _ => return false,
    };
    let mut ancestors = Vec::new();
    let mut at = path.to_owned();
    while at != "/" {
        ancestors.push(at.clone());
        at = parent_dir(&at);
    }
    let inside = |w: &PathTarget| {
        let PathTarget::Tree { dir } = target else {
            return false;
        };
        match w {
            PathTarget::Exact { path } => under_normal(path, dir),
            PathTarget::Tree { dir: d } => under_normal(d, dir),
            PathTarget::Glob { glob } => {
                let b = glob_base(glob);
                under_normal(&b, dir) || under_normal(dir, &b)
            }
            PathTarget::Param { .. } | PathTarget::Unknown { .. } => true,
        }
    };
    writable
        .iter()
        .any(|w| ancestors.iter().any(|a| covers(w, a)) || inside(w))
}

/// The baseline in the envelope's own terms: the file, exec and unix
/// socket grants its plain path patterns amount to, and the patterns (or
/// parts of an `or`) that have none.
///
/// `read under "/usr/lib/"` is `read` of the tree `/usr/lib`, `read
/// "/etc/ld.so.cache"` (`path == ...`) that file, a pattern without a
/// condition every path; an `exec` pattern grants the program with any
/// arguments and its read (the kernel opens a program to run it, as for an
/// exec grant in [`enforced_envelope`]); `connect under "/run/dbus/"` and
/// `listen "/run/app.sock"` are unix socket grants (a `connect` or
/// `listen` without a condition also matches the network: that part has no
/// grant here). A condition on anything but the path, a call, or `any` has
/// no such grant. The kernel layers grant a baseline exactly this way
/// (`enforcer::translate`), and the check at run start (`enforcer::proven`)
/// counts these grants as the enforced envelope's own.
pub fn baseline_grants(baseline: &[Pattern]) -> (Envelope, Vec<&Pattern>) {
    let mut out = Envelope::default();
    let mut unexpressed = Vec::new();
    for pattern in baseline {
        let mut targets = Vec::new();
        let whole = baseline_targets(&pattern.when, &mut targets);
        let kind = pattern.kind.filter(|_| pattern.calls.is_none());
        match kind {
            Some(ActionKind::Exec) => {
                for target in &targets {
                    push_exec(&mut out, target.clone(), None);
                }
            }
            Some(k @ (ActionKind::Read | ActionKind::Write | ActionKind::Delete)) => {
                for target in &targets {
                    out.files.extend(FileAccess::of(k).map(|access| FileGrant {
                        access,
                        target: target.clone(),
                    }));
                }
            }
            Some(k @ (ActionKind::Connect | ActionKind::Listen)) => {
                for target in &targets {
                    out.unix.extend(UnixOp::of(k).map(|op| UnixGrant {
                        op,
                        target: target.clone(),
                    }));
                }
                // `true` also matches the network actions of the kind.
                if whole && !matches_without_path(&pattern.when) {
                    continue;
                }
                unexpressed.push(pattern);
                continue;
            }
            Some(ActionKind::Call) | None => {
                unexpressed.push(pattern);
                continue;
            }
        }
        if !whole {
            unexpressed.push(pattern);
        }
    }
    (out, unexpressed)
}

/// Whether a baseline condition holds for an action without a path (a
/// part of it is `true`).
fn matches_without_path(cond: &Cond) -> bool {
    match cond {
        Cond::True => true,
        Cond::Or { any } => any.iter().any(matches_without_path),
        _ => false,
    }
}

/// The targets of a baseline condition; `false` when a part of it is not
/// a plain `path == "..."` / `path under "..."`.
pub fn baseline_targets(cond: &Cond, out: &mut Vec<PathTarget>) -> bool {
    match cond {
        Cond::True => {
            out.push(PathTarget::Tree { dir: "/".into() });
            true
        }
        Cond::False => true,
        Cond::Or { any } => {
            // Every part is visited (the expressible ones are granted).
            let parts: Vec<bool> = any.iter().map(|c| baseline_targets(c, out)).collect();
            parts.into_iter().all(|whole| whole)
        }
        Cond::Cmp {
            op: op @ (CmpOp::Eq | CmpOp::Under),
            lhs:
                Operand::Ref {
                    name,
                    fields,
                    index,
                },
            rhs: Operand::Value {
                value: Value::String(path),
            },
        } if name == "path" && fields.is_empty() && index.is_none() => {
            let Ok(path) = normalize_path(path) else {
                return false;
            };
            out.push(match op {
                CmpOp::Eq => PathTarget::Exact { path },
                _ => PathTarget::Tree { dir: path },
            });
            true
        }
        _ => false,
    }
}

/// The canonical JSON of an enforced envelope: what its digest covers.
pub fn canonical_json(enforced: &Envelope) -> String {
    // Serializing a plain data type to a string cannot fail.
    serde_json::to_string(enforced).unwrap_or_default()
}

/// The plan language's spelling of a string.
pub fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The regular expression of the normalized paths under `dir` (`strict`:
/// below it, not `dir` itself). One regular language: the solver decides it
/// with the other atoms about the path at once.
pub fn tree_regex(dir: &str, strict: bool) -> String {
    let dir = dir.trim_end_matches('/');
    let more = if strict { "+" } else { "*" };
    if dir.is_empty() {
        return if strict {
            "^(/[^/]+)+$".to_owned()
        } else {
            "^/$|^(/[^/]+)+$".to_owned()
        };
    }
    format!("^{}(/[^/]+){more}$", regex::escape(dir))
}

/// The regular expression of the normalized paths a target covers
/// (`strict`: for a tree, below its directory, not the directory itself);
/// `None` for a param, whose value the kernel cannot know. An unknown
/// (`let` result) target covers every path.
pub fn target_regex(target: &PathTarget, strict: bool) -> Option<String> {
    match target {
        PathTarget::Exact { path } => Some(format!("^{}$", regex::escape(path))),
        PathTarget::Tree { dir } => Some(tree_regex(dir, strict)),
        PathTarget::Glob { glob } => glob_to_regex(glob).ok(),
        PathTarget::Unknown { .. } => Some("^/.*$".to_owned()),
        PathTarget::Param { .. } => None,
    }
}

/// A file grant as the plan language writes it (`write under "/tmp"`).
pub fn describe_grant(g: &FileGrant) -> String {
    let word = match g.access {
        FileAccess::Read => "read",
        FileAccess::Write => "write",
        FileAccess::Delete => "delete",
    };
    format!("{word} {}", describe_target(&g.target))
}

/// A path target as the plan language writes it (`"/p"`, `under "/d"`), or
/// ``(param `p`)`` and `any path` for targets only known at run time.
pub fn describe_target(target: &PathTarget) -> String {
    match target {
        PathTarget::Exact { path } => quote(path),
        PathTarget::Tree { dir } => format!("under {}", quote(dir)),
        PathTarget::Glob { glob } => quote(glob),
        PathTarget::Param { param } => format!("(param `{param}`)"),
        PathTarget::Unknown { .. } => "any path".to_owned(),
    }
}

/// A value match as the plan language writes it (`443`, `"api.example"`),
/// or ``(param `p`)``, `any` and ``(`f` as assumed)`` for values only known at
/// run time; for messages.
pub fn describe_match(m: &ValueMatch) -> String {
    match m {
        ValueMatch::Exact { value } => value.to_string(),
        ValueMatch::Param { param } => format!("(param `{param}`)"),
        ValueMatch::Unknown { .. } => "any".to_owned(),
        ValueMatch::Assumed { field } => format!("(`{field}` as assumed)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_the_lsm_layer_enforces_exactly() {
        let s = |p: &str| lsm_shape(p).unwrap();
        assert_eq!(s("/a/b"), LsmShape::Exact("/a/b".into()));
        assert_eq!(s("/a/./c/../b"), LsmShape::Exact("/a/b".into()));
        assert_eq!(s("/a/b/**"), LsmShape::Tree("/a/b".into()));
        assert_eq!(s("/**"), LsmShape::Tree("/".into()));
        assert_eq!(s("/a/*.tmp"), LsmShape::Suffix("/a".into(), ".tmp".into()));
        assert_eq!(s("/a/*"), LsmShape::Suffix("/a".into(), String::new()));
        assert_eq!(
            s("/a/**/*.tmp"),
            LsmShape::TreeSuffix("/a".into(), ".tmp".into())
        );
        assert_eq!(
            s("/**/*.log"),
            LsmShape::TreeSuffix("/".into(), ".log".into())
        );
        for bad in [
            "a/b",
            "/a/*/c",
            "/a/b?",
            "/a/x*.tmp",
            "/a/*.t*",
            "/a/**/b",
            "/a/{b,c}",
            "/a/[bc]/*.tmp",
            "/a/\0b",
            "/a/*.a-suffix-longer-than-32-bytes-xxxxxxx",
        ] {
            assert!(lsm_shape(bad).is_err(), "{bad:?} should be unsupported");
            assert!(!lsm_expresses(bad), "{bad:?}");
        }
        let why = lsm_shape("/a/*/*.tmp").unwrap_err();
        assert_eq!(why, "a glob before the last component");
    }
}
