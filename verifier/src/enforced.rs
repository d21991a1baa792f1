//! The proven envelope is the enforced one: what the kernel layers of an
//! enforcement profile really enforce for an envelope, and the proof that
//! it stays inside the spec.
//!
//! A kernel layer can only express certain shapes: Landlock knows files and
//! directory trees (not `*.tmp` inside a directory), TCP ports (not
//! addresses), and programs (not their arguments). [`enforced_envelope`]
//! turns an envelope into the envelope a [`Profile`]'s layers enforce, every
//! shape widened the way the layers widen it, and [`prove`] asks the
//! verifier whether any action that the enforced envelope permits but the
//! original one does not is refused by the spec (denied, left unallowed, or
//! in need of a human's approval). If one is, the profile is refused with
//! that action as its counterexample (`write "/tmp/out/evil.sh"`), the rule
//! and its span.
//!
//! The proof reuses the verifier itself: each widened grant becomes a
//! one-step plan whose param ranges over the widened shape minus the
//! original grants (`param p: path where p under "/tmp/out" and not p
//! matches "^/tmp/out/[^/]*\.tmp$"`), checked with [`CompiledSpec::check`]
//! for every value of the param. Witnesses are re-checked concretely
//! against both envelopes; a spurious one refuses (fail closed).
//!
//! ```
//! use verifier::enforced::{Profile, enforced_envelope, prove};
//! use verifier::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! let mut env = Envelope::default();
//! env.files.push(FileGrant {
//!     access: FileAccess::Write,
//!     target: PathTarget::Glob { glob: "/tmp/out/*.tmp".into() },
//! });
//! let spec = planlang::load_spec_str(
//!     r#"spec "s" { allow write under "/tmp/out/" when path endswith ".tmp" }"#, "s.spec").unwrap();
//! let spec = verifier::CompiledSpec::compile(&spec).unwrap();
//! // Landlock alone widens the glob to the tree `/tmp/out`: refused.
//! let wide = enforced_envelope(&env, Profile::Unprivileged);
//! let refused = prove(&spec, &env, &wide).unwrap().unwrap_err();
//! assert!(refused.action.starts_with("write \"/tmp/out/"));
//! // BPF LSM enforces the suffix exactly: proven.
//! let exact = enforced_envelope(&env, Profile::RootBpfLsm);
//! assert!(prove(&spec, &env, &exact).unwrap().is_ok());
//! ```

use crate::action::{ConcreteAction, Value};
use crate::check::CheckError;
use crate::compile::{ActionVerdict, CompiledSpec};
use crate::concrete::{self, Cond, Operand};
use crate::envelope::{
    ConnectGrant, Envelope, ExecGrant, FileAccess, FileGrant, ListenGrant, PathTarget, UnixGrant,
    UnixOp, ValueMatch,
};
use crate::report::{Reason, Verdict};
use planlang::Span;
use planlang::ast::{ActionKind, CmpOp};
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

/// Whether the BPF LSM layer enforces a glob exactly: a literal directory
/// then `**`, `*SUFFIX` or `**/*SUFFIX` (a suffix of at most 32 bytes and
/// without wildcards). The enforcer's `lsm::shape` accepts exactly these.
pub fn lsm_expresses(glob: &str) -> bool {
    let Some((dir, last)) = glob.rsplit_once('/') else {
        return false;
    };
    let wild = |s: &str| s.contains(['*', '?', '[']);
    if !glob.starts_with('/') || glob.contains('\0') {
        return false;
    }
    if last == "**" {
        return !wild(dir);
    }
    let Some(suffix) = last.strip_prefix('*') else {
        return !wild(glob);
    };
    if wild(suffix) || suffix.len() > 32 {
        return false;
    }
    !wild(dir.strip_suffix("/**").unwrap_or(dir))
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
fn parent_dir(path: &str) -> String {
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
                if let Some(net) = concrete::parse_cidr(any) {
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
        PathTarget::Glob { glob } => concrete::glob_matches(glob, p),
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
            PathTarget::Exact { path } => concrete::under_normal(path, dir),
            PathTarget::Tree { dir: d } => concrete::under_normal(d, dir),
            PathTarget::Glob { glob } => {
                let b = glob_base(glob);
                concrete::under_normal(&b, dir) || concrete::under_normal(dir, &b)
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
/// (`enforcer::compile`), and the check at run start (`enforcer::proven`)
/// counts these grants as the enforced envelope's own.
pub fn baseline_grants(baseline: &[concrete::Pattern]) -> (Envelope, Vec<&concrete::Pattern>) {
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
fn baseline_targets(cond: &Cond, out: &mut Vec<PathTarget>) -> bool {
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
            let Ok(path) = concrete::normalize_path(path) else {
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

/// An action the enforced envelope lets through that the spec refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The enforced grant that lets it through (`write under "/tmp/out"`).
    pub grant: String,
    /// The action, with the witness substituted (`write "/tmp/out/evil.sh"`).
    pub action: String,
    /// What the spec says of it.
    pub reason: Reason,
    /// Whether a human would have to approve it (not a refusal by a rule).
    pub needs_approval: bool,
    /// The spec rule, when one decides it.
    pub rule: Option<Span>,
    /// The rule as written.
    pub rule_text: Option<String>,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self.reason, Reason::Timeout | Reason::CouldNotProve) && !self.needs_approval {
            return write!(
                f,
                "the kernel would enforce `{}`, which could not be proven inside the spec: {}",
                self.grant,
                self.reason.describe()
            );
        }
        write!(
            f,
            "the kernel would enforce `{}`, which lets `{}` through",
            self.grant, self.action
        )?;
        let why = if self.needs_approval {
            "which needs a human's approval"
        } else {
            self.reason.describe()
        };
        match (&self.rule, &self.rule_text) {
            (Some(span), Some(text)) => write!(f, ": {why} (spec rule {span} `{text}`)"),
            (Some(span), None) => write!(f, ": {why} (spec rule {span})"),
            _ => write!(f, ": {why}"),
        }
    }
}

/// Why an enforced envelope could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error("the proof of the enforced envelope could not be checked: {0}")]
    Check(#[from] CheckError),
    #[error("the proof of the enforced envelope built a plan that does not load: {0}")]
    Plan(String),
}

/// The plan language's spelling of a string.
pub(crate) fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A condition on the path param `p` that holds exactly for the normalized
/// paths `target` covers (`None`: it cannot be said, e.g. a param grant).
pub(crate) fn covers_cond(target: &PathTarget) -> Option<String> {
    match target {
        PathTarget::Exact { path } => Some(format!("p == {}", quote(path))),
        PathTarget::Tree { dir } => Some(format!("p matches {}", quote(&tree_regex(dir, false)))),
        PathTarget::Glob { glob } => concrete::glob_to_regex(glob)
            .ok()
            .map(|re| format!("p matches {}", quote(&re))),
        PathTarget::Unknown { .. } => Some("true".to_owned()),
        PathTarget::Param { .. } => None,
    }
}

/// The regular expression of the normalized paths under `dir` (`strict`:
/// below it, not `dir` itself). One regular language: the solver decides it
/// with the other atoms about the path at once.
pub(crate) fn tree_regex(dir: &str, strict: bool) -> String {
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

/// Paths spelled with the characters people use in file names: asked first
/// when a widening is refused, so the counterexample reads well (the proof
/// itself is over every path).
pub(crate) const PLAIN: &str = r#"p matches "^[a-z0-9/._-]*$""#;

/// A baseline pattern of `kind` as a condition on `p`: its plain
/// `path == "..."` / `path under "..."` parts ([`baseline_grants`]).
fn baseline_cond(cond: &Cond) -> Option<String> {
    let mut targets = Vec::new();
    baseline_targets(cond, &mut targets);
    let parts: Vec<String> = targets
        .iter()
        .filter_map(|t| match t {
            PathTarget::Tree { dir } if dir == "/" => Some("true".to_owned()),
            PathTarget::Tree { dir } => Some(format!("p under {}", quote(dir))),
            PathTarget::Exact { path } => Some(format!("p == {}", quote(path))),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| format!("({})", parts.join(" or ")))
}

/// `p` is a normalized absolute path (every action's path is): `/`, or
/// segments that are neither empty nor `.` nor `..`. One regular language,
/// which the solver decides with the other atoms about `p`.
pub(crate) const NORMAL: &str = r#"p matches "^/$|^(/([^/.]|\\.[^/.]|\\.\\.[^/])[^/]*)+$""#;

/// The original envelope's grants of `kind` on paths (files, programs with
/// any arguments, unix sockets), as a condition on `p`.
fn original_cond(original: &Envelope, kind: ActionKind) -> String {
    let mut parts: Vec<String> = Vec::new();
    match kind {
        ActionKind::Exec => {
            for g in original.exec.iter().filter(|g| g.argv.is_none()) {
                parts.extend(covers_cond(&g.program));
            }
        }
        ActionKind::Connect | ActionKind::Listen => {
            for g in original.unix.iter().filter(|g| g.op.kind() == kind) {
                parts.extend(covers_cond(&g.target));
            }
        }
        _ => {
            for g in original.files.iter().filter(|g| g.access.kind() == kind) {
                parts.extend(covers_cond(&g.target));
            }
        }
    }
    for b in original.baseline.iter().filter(|b| b.kind == Some(kind)) {
        parts.extend(baseline_cond(&b.when));
    }
    if parts.is_empty() {
        "false".to_owned()
    } else {
        parts.join(" or ")
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

pub(crate) fn describe_target(target: &PathTarget) -> String {
    match target {
        PathTarget::Exact { path } => quote(path),
        PathTarget::Tree { dir } => format!("under {}", quote(dir)),
        PathTarget::Glob { glob } => quote(glob),
        PathTarget::Param { param } => format!("(param `{param}`)"),
        PathTarget::Unknown { .. } => "any path".to_owned(),
    }
}

pub(crate) fn describe_match(m: &ValueMatch) -> String {
    match m {
        ValueMatch::Exact { value } => value.to_string(),
        ValueMatch::Param { param } => format!("(param `{param}`)"),
        ValueMatch::Unknown { .. } => "any".to_owned(),
    }
}

/// One question of the proof: a one-step plan over a widened grant.
struct Question {
    /// The enforced grant, for people.
    grant: String,
    /// The plan text.
    plan: String,
    /// The same plan over plainly spelled paths only, asked for a readable
    /// counterexample once `plan` is refused.
    plain: Option<String>,
    /// Only an explicit `deny` refuses (a program's read, implied by exec).
    deny_only: bool,
    /// Concrete actions of the widened grant, judged first: a refusal found
    /// among them is a counterexample at once, without the solver (which
    /// still proves every grant no candidate refutes).
    candidates: Vec<ConcreteAction>,
    /// How to rebuild the concrete action from the witness of `p`.
    kind: ActionKind,
}

fn path_question(
    original: &Envelope,
    kind: ActionKind,
    target: &PathTarget,
    deny_only: bool,
) -> Option<Question> {
    let word = kind.as_str();
    let grant = format!("{word} {}", describe_target(target));
    let inside = match (target, kind) {
        // Rights on a tree let the run write, create and remove what is
        // inside it; the directory itself is created and removed in its
        // parent, and never opened for writing.
        (PathTarget::Tree { dir }, ActionKind::Write | ActionKind::Delete) => {
            format!("p matches {}", quote(&tree_regex(dir, true)))
        }
        _ => covers_cond(target)?,
    };
    let orig = original_cond(original, kind);
    let plan = |extra: &str| {
        format!(
            "plan \"enforced\" {{\n  param p: path where {inside} and {NORMAL}{extra} and not ({orig})\n  {word} p\n}}\n"
        )
    };
    Some(Question {
        grant,
        plan: plan(""),
        plain: Some(plan(&format!(" and {PLAIN}"))),
        candidates: path_candidates(kind, target),
        deny_only,
        kind,
    })
}

/// Sockets that give away the machine, the likely counterexamples of a
/// widened unix connect grant.
const PRIVILEGED_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/containerd/containerd.sock"];

/// Concrete actions in a widened path grant, the likely counterexamples.
pub(crate) fn path_candidates(kind: ActionKind, target: &PathTarget) -> Vec<ConcreteAction> {
    let socket = matches!(kind, ActionKind::Connect | ActionKind::Listen);
    let paths: Vec<String> = match target {
        PathTarget::Tree { dir } => {
            let d = dir.trim_end_matches('/');
            let mut paths: Vec<String> = PRIVILEGED_SOCKETS
                .iter()
                .filter(|s| socket && concrete::under_normal(s, dir))
                .map(|s| (*s).to_owned())
                .collect();
            let leaf = if socket { "evil.sock" } else { "evil.sh" };
            paths.extend([
                format!("{d}/{leaf}"),
                format!("{d}/x"),
                format!("{d}/sub/x"),
            ]);
            paths
        }
        PathTarget::Exact { path } => vec![path.clone()],
        _ => Vec::new(),
    };
    paths.iter().filter_map(|p| path_action(kind, p)).collect()
}

/// The action of `kind` on `path` (an exec without arguments); `None` for a
/// kind without a path or a path that is not absolute.
fn path_action(kind: ActionKind, path: &str) -> Option<ConcreteAction> {
    ConcreteAction::path_action(kind, path).ok()
}

/// Argument lists of a program granted with any arguments, the likely
/// counterexamples.
const ANY_ARGV: &[&[&str]] = &[&[], &["--help"], &["-c", "id"]];

/// Arguments of the ELF loader run directly: it then runs that file.
const LOADER_ARGV: &[&[&str]] = &[&["/tmp/x"], &[]];

/// The questions whose answers prove `enforced` inside the spec, given that
/// `original` was proven (or approved) already.
fn questions(original: &Envelope, enforced: &Envelope) -> Vec<Question> {
    let mut qs = Vec::new();
    let loaders = loader_targets();
    for g in &enforced.files {
        if original.files.contains(g) {
            continue;
        }
        let kind = g.access.kind();
        // A program's read, implied by exec (the loader's included):
        // refused only by a `deny`.
        let deny_only = kind == ActionKind::Read
            && (loaders.contains(&g.target)
                || original.exec.iter().any(|e| match (&e.program, &g.target) {
                    (PathTarget::Exact { path: a }, PathTarget::Exact { path: b }) => a == b,
                    (a, b) => a == b || widened_from(a, b),
                }));
        qs.extend(path_question(original, kind, &g.target, deny_only));
    }
    // The plan's own programs first: their counterexample reads better.
    let mut execs: Vec<&ExecGrant> = enforced.exec.iter().collect();
    execs.sort_by_key(|g| loaders.contains(&g.program));
    for g in execs {
        if original.exec.contains(g) {
            continue;
        }
        let loader = loaders.contains(&g.program);
        match &g.program {
            PathTarget::Exact { path } => qs.push(Question {
                grant: if loader {
                    format!(
                        "exec {} with any arguments (the ELF loader, which every dynamic program runs: it runs any file it can read)",
                        quote(path)
                    )
                } else {
                    format!("exec {} with any arguments", quote(path))
                },
                plan: format!("plan \"enforced\" {{\n  exec {}\n}}\n", quote(path)),
                plain: None,
                candidates: if loader { LOADER_ARGV } else { ANY_ARGV }
                    .iter()
                .filter_map(|argv| ConcreteAction::exec(path, argv).ok())
                .collect(),
                deny_only: false,
                kind: ActionKind::Exec,
            }),
            t => qs.extend(path_question(original, ActionKind::Exec, t, false)),
        }
    }
    for g in &enforced.unix {
        if !original.unix.contains(g) {
            qs.extend(path_question(original, g.op.kind(), &g.target, false));
        }
    }
    for g in &enforced.connect {
        if original.connect.contains(g) {
            continue;
        }
        let (port_decl, port) = match &g.port {
            ValueMatch::Exact { value } => (String::new(), value.to_string()),
            _ => ("  param port: number\n".to_owned(), "port".to_owned()),
        };
        let host = match &g.host {
            ValueMatch::Exact {
                value: Value::Cidr(net),
            } if net.prefix_len() == 0 => "  param h: host\n".to_owned(),
            ValueMatch::Exact { value } => {
                // An exact host the original lacks cannot come from the
                // widening; ask about it as it is.
                qs.push(Question {
                    grant: format!("connect {value}:{port}"),
                    plan: format!(
                        "plan \"enforced\" {{\n{port_decl}  connect {}:{port}\n}}\n",
                        connect_host(value)
                    ),
                    plain: None,
                    candidates: Vec::new(),
                    deny_only: false,
                    kind: ActionKind::Connect,
                });
                continue;
            }
            _ => "  param h: host\n".to_owned(),
        };
        qs.push(Question {
            grant: format!(
                "connect {}:{}",
                describe_match(&g.host),
                describe_match(&g.port)
            ),
            plan: format!("plan \"enforced\" {{\n{host}{port_decl}  connect h:{port}\n}}\n"),
            plain: None,
            candidates: ["192.0.2.1", "2001:db8::1"]
                .iter()
                .filter_map(|ip| {
                    let port = match &g.port {
                        ValueMatch::Exact {
                            value: Value::Number(n),
                        } => n.to_string().parse::<u16>().ok()?,
                        _ => 443,
                    };
                    ConcreteAction::connect(ip, port).ok()
                })
                .collect(),
            deny_only: false,
            kind: ActionKind::Connect,
        });
    }
    for g in &enforced.listen {
        if original.listen.contains(g) {
            continue;
        }
        let plan = match &g.port {
            ValueMatch::Exact { value } => format!("plan \"enforced\" {{\n  listen {value}\n}}\n"),
            _ => "plan \"enforced\" {\n  param port: number\n  listen port\n}\n".to_owned(),
        };
        qs.push(Question {
            grant: format!("listen {}", describe_match(&g.port)),
            plan,
            plain: None,
            candidates: Vec::new(),
            deny_only: false,
            kind: ActionKind::Listen,
        });
    }
    qs
}

/// Whether `wide` is the tree a glob or exact `narrow` widens to.
fn widened_from(narrow: &PathTarget, wide: &PathTarget) -> bool {
    let PathTarget::Tree { dir } = wide else {
        return false;
    };
    match narrow {
        PathTarget::Glob { glob } => glob_base(glob) == *dir,
        PathTarget::Exact { path } => parent_dir(path) == *dir,
        _ => false,
    }
}

/// A connect host in the plan language (`"name"`, `10.0.0.0/8`, `[::1]`).
pub(crate) fn connect_host(v: &Value) -> String {
    match v {
        Value::Cidr(net) if net.addr().is_ipv6() => format!("[{}]", Value::Cidr(*net)),
        v => v.to_string(),
    }
}

/// Proves `enforced` (what a profile's layers enforce for `original`)
/// inside the spec: `Ok(Ok(()))` when every action it permits beyond
/// `original` is allowed by the spec, `Ok(Err(counterexample))` when one is
/// not. `original` is the token's envelope, already proven (or approved).
pub fn prove(
    spec: &CompiledSpec,
    original: &Envelope,
    enforced: &Envelope,
) -> Result<Result<(), Counterexample>, ProveError> {
    for q in questions(original, enforced) {
        if let Some(cx) = concrete_refusal(spec, original, enforced, &q) {
            return Ok(Err(cx));
        }
        let Some(cx) = ask(spec, original, &q, &q.plan)? else {
            continue;
        };
        // A readable witness when there is one (same grant, same spec).
        let plain = match &q.plain {
            Some(plain) => ask(spec, original, &q, plain).unwrap_or(None),
            None => None,
        };
        return Ok(Err(plain
            .filter(|p| p.reason != Reason::Timeout && p.reason != Reason::CouldNotProve)
            .unwrap_or(cx)));
    }
    Ok(Ok(()))
}

/// The first candidate of `q` that the enforced envelope permits, the
/// original does not, and the spec does not allow.
fn concrete_refusal(
    spec: &CompiledSpec,
    original: &Envelope,
    enforced: &Envelope,
    q: &Question,
) -> Option<Counterexample> {
    for a in &q.candidates {
        if enforced.permits(a).is_err() || original.permits(a).is_ok() {
            continue;
        }
        let rule = |i: usize| {
            spec.effects
                .get(i)
                .map(|r| (r.span.clone(), r.text.clone()))
        };
        let (reason, needs_approval, rule) = match spec.verdict_of(a) {
            ActionVerdict::Allow(_) => continue,
            ActionVerdict::Deny(Some(i)) => (Reason::Denied, false, rule(i)),
            ActionVerdict::Deny(None) if !q.deny_only => (Reason::NothingAllows, false, None),
            ActionVerdict::Approve(i) if !q.deny_only => (Reason::NothingAllows, true, rule(i)),
            _ => continue,
        };
        return Some(Counterexample {
            grant: q.grant.clone(),
            action: a.to_string(),
            reason,
            needs_approval,
            rule: rule.as_ref().map(|r| r.0.clone()),
            rule_text: rule.map(|r| r.1),
        });
    }
    None
}

/// One question: `None` when the spec allows every action of the plan.
fn ask(
    spec: &CompiledSpec,
    original: &Envelope,
    q: &Question,
    text: &str,
) -> Result<Option<Counterexample>, ProveError> {
    let plan = planlang::load_plan_str(text, "enforced.plan")
        .map_err(|d| ProveError::Plan(format!("{d}\n{text}")))?;
    let outcome = match spec.check(&plan) {
        Ok(o) => o,
        // The widened shape holds nothing beyond the original grants.
        Err(CheckError::UnsatisfiableWhere { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if outcome.verdict == Verdict::Accept {
        return Ok(None);
    }
    let refusing = outcome
        .violations
        .iter()
        .find(|v| !q.deny_only || !matches!(v.reason, Reason::NothingAllows));
    if let Some(v) = refusing {
        // Re-checked concretely: a witness the original envelope grants is
        // not a widening (a flaw of the question): refused all the same.
        let spurious = witness_action(q.kind, v.witness.get("p"))
            .is_some_and(|a| original.permits(&a).is_ok());
        return Ok(Some(Counterexample {
            grant: q.grant.clone(),
            action: v.action.clone().unwrap_or_else(|| q.grant.clone()),
            reason: if spurious {
                Reason::CouldNotProve
            } else {
                v.reason
            },
            needs_approval: false,
            rule: v.rule.clone(),
            rule_text: v.rule_text.clone(),
        }));
    }
    match outcome.approvals.first() {
        Some(a) if outcome.verdict == Verdict::Approve && !q.deny_only => {
            Ok(Some(Counterexample {
                grant: q.grant.clone(),
                action: a.action.clone(),
                reason: Reason::NothingAllows,
                needs_approval: true,
                rule: Some(a.rule.clone()),
                rule_text: a.rule_text.clone(),
            }))
        }
        _ => Ok(None),
    }
}

/// The concrete action of a witness for the path param `p`.
fn witness_action(kind: ActionKind, p: Option<&String>) -> Option<ConcreteAction> {
    let path: String = serde_json::from_str(p?).ok()?;
    path_action(kind, &path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn spec(src: &str) -> CompiledSpec {
        let loaded = planlang::load_spec_str(src, "t.spec").expect("test spec loads");
        let mut compiled = CompiledSpec::compile(&loaded).expect("test spec compiles");
        // A loaded machine must not turn a proof into a timeout.
        compiled.options.timeout_ms = 60_000;
        compiled
    }

    /// An envelope with the grants of `json` (the rest empty).
    pub(crate) fn env(json: serde_json::Value) -> Envelope {
        let mut base = serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        });
        for (k, v) in json.as_object().expect("an object") {
            base[k] = v.clone();
        }
        serde_json::from_value(base).expect("test envelope follows the schema")
    }

    /// Rules allowing the ELF loaders of this build to run (with any
    /// arguments).
    pub(crate) fn allow_loaders() -> String {
        let rules: Vec<String> = ELF_LOADERS
            .iter()
            .map(|l| format!("allow exec {}", quote(l)))
            .collect();
        rules.join("\n")
    }

    fn tmp_glob() -> Envelope {
        env(serde_json::json!({"files": [
            {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}
        ]}))
    }

    #[test]
    fn globs_widen_to_their_directory_without_the_lsm() {
        let e = tmp_glob();
        let wide = enforced_envelope(&e, Profile::Unprivileged);
        assert_eq!(
            wide.files[0].target,
            PathTarget::Tree {
                dir: "/tmp/out".into()
            }
        );
        assert_eq!(enforced_envelope(&e, Profile::Root), wide);
        let exact = enforced_envelope(&e, Profile::RootBpfLsm);
        assert_eq!(exact.files, e.files);
        // Same input, same output: the digest is stable.
        assert_eq!(
            canonical_json(&wide),
            canonical_json(&enforced_envelope(&e, Profile::Unprivileged))
        );
        assert_ne!(canonical_json(&wide), canonical_json(&exact));
    }

    #[test]
    fn new_files_exec_and_connect_widen_as_the_layers_do() {
        let e = env(serde_json::json!({
            "files": [
                {"access": "write", "target": {"shape": "exact", "path": "/srv/out/r.txt"}},
                {"access": "read", "target": {"shape": "param", "param": "p"}}
            ],
            "exec": [{"program": {"shape": "exact", "path": "/usr/bin/git"},
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "status"}}]}],
            "connect": [{"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                         "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}]
        }));
        let u = enforced_envelope(&e, Profile::Unprivileged);
        let targets: Vec<_> = u
            .files
            .iter()
            .map(|g| (g.access, g.target.clone()))
            .collect();
        assert!(targets.contains(&(
            FileAccess::Write,
            PathTarget::Tree {
                dir: "/srv/out".into()
            }
        )));
        assert!(targets.contains(&(
            FileAccess::Read,
            PathTarget::Exact {
                path: "/usr/bin/git".into()
            }
        )));
        // The param grant reaches no layer; the ELF loader is read to run.
        assert_eq!(targets.len(), 2 + ELF_LOADERS.len(), "{targets:?}");
        assert!(u.exec.iter().all(|g| g.argv.is_none()));
        assert_eq!(u.connect.len(), 2, "any IPv4 and any IPv6 address");
        let r = enforced_envelope(&e, Profile::Root);
        assert_eq!(r.connect, e.connect);
        assert_eq!(r.exec, e.exec, "literal arguments are enforced as they are");
        assert!(r.calls.is_empty() && r.params.is_empty());
    }

    #[test]
    fn a_widening_inside_what_the_spec_allows_is_proven() {
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" }"#);
        let e = tmp_glob();
        for p in Profile::ALL {
            let enforced = enforced_envelope(&e, p);
            assert_eq!(prove(&s, &e, &enforced).unwrap(), Ok(()), "{p}");
        }
    }

    #[test]
    fn a_widening_the_spec_refuses_gives_a_witness_and_the_rule() {
        let s = spec(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  deny write under "/tmp/out/" when path endswith ".sh"
}"#,
        );
        let e = tmp_glob();
        let wide = enforced_envelope(&e, Profile::Unprivileged);
        let cx = prove(&s, &e, &wide).unwrap().unwrap_err();
        assert_eq!(cx.grant, "write under \"/tmp/out\"");
        assert!(cx.action.starts_with("write \"/tmp/out"), "{cx:?}");
        let path: String = cx.action["write ".len()..].trim_matches('"').to_owned();
        // The witness is in the widened tree, outside the original glob.
        assert!(wide.permits(&ConcreteAction::write(&path).unwrap()).is_ok());
        assert!(e.permits(&ConcreteAction::write(&path).unwrap()).is_err());
        assert!(matches!(cx.reason, Reason::Denied | Reason::NothingAllows));
        if cx.reason == Reason::Denied {
            assert_eq!(cx.rule.as_ref().map(|r| r.line), Some(3));
        }
        let shown = cx.to_string();
        assert!(shown.contains("lets `write \"/tmp/out/"), "{shown}");
        // With the LSM, the glob is enforced as it is: proven.
        let exact = enforced_envelope(&e, Profile::RootBpfLsm);
        assert_eq!(prove(&s, &e, &exact).unwrap(), Ok(()));
    }

    #[test]
    fn the_solver_finds_what_no_candidate_shows() {
        // Every likely candidate (`evil.sh`, `x`, `sub/x`) is allowed: the
        // refusal comes from the symbolic proof, with a re-checked witness.
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" when not path endswith ".key" }"#);
        let e = tmp_glob();
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.reason, Reason::NothingAllows, "{cx:?}");
        assert!(cx.action.ends_with(".key\""), "{cx:?}");
    }

    #[test]
    fn exec_with_fixed_arguments_widens_to_any_and_is_refused_when_the_spec_pins_them() {
        let s = spec(
            r#"spec "s" {
  allow exec "/usr/bin/git" when argv[0] in ["status"]
  allow read "/usr/bin/git"
}"#,
        );
        let e = env(serde_json::json!({
            "exec": [{"program": {"shape": "exact", "path": "/usr/bin/git"},
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "status"}}]}]
        }));
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.grant.contains("any arguments"), "{cx:?}");
        assert_eq!(
            cx.grant, "exec \"/usr/bin/git\" with any arguments",
            "{cx:?}"
        );
        // The root profiles check the exact argument list: proven.
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(
                prove(&s, &e, &enforced_envelope(&e, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
        let any = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/git"  {} }}"#,
            allow_loaders()
        ));
        // The program's read (and the loader's) is refused only by an
        // explicit deny.
        assert_eq!(
            prove(&any, &e, &enforced_envelope(&e, Profile::Unprivileged)).unwrap(),
            Ok(())
        );
        let denied = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/git"  {}  deny read under "/usr/bin/" }}"#,
            allow_loaders()
        ));
        let cx = prove(&denied, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.action, "read \"/usr/bin/git\"");
        assert_eq!(cx.reason, Reason::Denied);
    }

    #[test]
    fn connects_by_port_only_are_refused_unless_the_spec_allows_any_address() {
        let e = env(serde_json::json!({
            "connect": [{"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                         "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}]
        }));
        let s = spec(r#"spec "s" { allow connect host == "api.example" and port == 443 }"#);
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.action.starts_with("connect "), "{cx:?}");
        assert_eq!(
            prove(&s, &e, &enforced_envelope(&e, Profile::Root)).unwrap(),
            Ok(())
        );
        let any = spec(r#"spec "s" { allow connect port == 443 }"#);
        assert_eq!(
            prove(&any, &e, &enforced_envelope(&e, Profile::Unprivileged)).unwrap(),
            Ok(())
        );
    }

    fn unix(op: &str, target: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"op": op, "target": target})
    }

    fn exact(p: &str) -> serde_json::Value {
        serde_json::json!({"shape": "exact", "path": p})
    }

    fn tree(d: &str) -> serde_json::Value {
        serde_json::json!({"shape": "tree", "dir": d})
    }

    fn unix_grant(op: UnixOp, target: PathTarget) -> UnixGrant {
        UnixGrant { op, target }
    }

    fn under(d: &str) -> PathTarget {
        PathTarget::Tree { dir: d.into() }
    }

    #[test]
    fn unix_sockets_widen_as_each_profile_enforces_them() {
        let e = env(serde_json::json!({"unix": [
            unix("connect", exact("/run/pg/.s.PGSQL.5432")),
            unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*.sock"})),
            unix("connect", serde_json::json!({"shape": "param", "param": "p"})),
            unix("listen", exact("/run/mine/api.sock")),
            unix("listen", tree("/run/own")),
        ]}));
        // Without eBPF nothing tells one socket from another.
        let u = enforced_envelope(&e, Profile::Unprivileged);
        let want = vec![
            unix_grant(UnixOp::Connect, under("/")),
            unix_grant(UnixOp::Listen, under("/run/mine")),
            unix_grant(UnixOp::Listen, under("/run/own")),
        ];
        assert_eq!(u.unix, want);
        // With eBPF: exact paths and trees; a glob is its directory's
        // tree, a param reaches no layer; binding is per directory.
        let r = enforced_envelope(&e, Profile::Root);
        let want = vec![
            unix_grant(
                UnixOp::Connect,
                PathTarget::Exact {
                    path: "/run/pg/.s.PGSQL.5432".into(),
                },
            ),
            unix_grant(UnixOp::Connect, under("/run/app")),
            unix_grant(UnixOp::Listen, under("/run/mine")),
            unix_grant(UnixOp::Listen, under("/run/own")),
        ];
        assert_eq!(r.unix, want);
        assert_eq!(enforced_envelope(&e, Profile::RootBpfLsm).unix, want);
        // A `let` result is every path.
        let any = env(serde_json::json!({"unix": [
            unix("connect", serde_json::json!({"shape": "unknown", "origin": "read_file"}))
        ]}));
        assert_eq!(
            enforced_envelope(&any, Profile::Root).unix,
            vec![unix_grant(UnixOp::Connect, under("/"))]
        );
        // No unix grant: no unix connect at all (seccomp refuses the socket).
        assert!(
            enforced_envelope(&tmp_glob(), Profile::Unprivileged)
                .unix
                .is_empty()
        );
        // A listen needs the socket too: without eBPF it connects anywhere.
        let listen = env(serde_json::json!({"unix": [unix("listen", exact("/run/a.sock"))]}));
        assert!(
            enforced_envelope(&listen, Profile::Unprivileged)
                .unix
                .contains(&unix_grant(UnixOp::Connect, under("/")))
        );
        assert!(
            enforced_envelope(&listen, Profile::Root)
                .unix
                .iter()
                .all(|g| g.op == UnixOp::Listen)
        );
    }

    #[test]
    fn a_connect_the_run_could_redirect_with_a_symlink_is_every_path() {
        let connect = |files: serde_json::Value, target: serde_json::Value| {
            env(serde_json::json!({"files": files, "unix": [unix("connect", target)]}))
        };
        let write = |t: serde_json::Value| serde_json::json!([{"access": "write", "target": t}]);
        let delete = |t: serde_json::Value| serde_json::json!([{"access": "delete", "target": t}]);
        let widened = |e: &Envelope, p: Profile| {
            enforced_envelope(e, p)
                .unix
                .contains(&unix_grant(UnixOp::Connect, under("/")))
        };
        // Writing a file next to the socket: Landlock's right is on the
        // directory, so the run can replace the socket with a symlink.
        let e = connect(write(exact("/run/app/state.json")), exact("/run/app/sock"));
        assert!(widened(&e, Profile::Root));
        assert!(!widened(&e, Profile::RootBpfLsm), "the LSM names the file");
        // The path itself, an ancestor directory, anything inside a tree.
        for (files, target) in [
            (write(exact("/run/app/sock")), exact("/run/app/sock")),
            (delete(exact("/run/app")), exact("/run/app/sock")),
            (write(tree("/run")), exact("/run/app/sock")),
            (write(exact("/run/app/sub/x")), tree("/run/app")),
            (
                write(serde_json::json!({"shape": "glob", "glob": "/run/app/**/*.log"})),
                tree("/run/app"),
            ),
            (
                write(serde_json::json!({"shape": "unknown", "origin": "f"})),
                exact("/run/app/sock"),
            ),
        ] {
            let e = connect(files.clone(), target.clone());
            assert!(widened(&e, Profile::RootBpfLsm), "{files} {target}");
        }
        // Elsewhere, or `/` itself (never written as an entry): kept.
        for files in [
            write(exact("/tmp/out")),
            write(tree("/run/other")),
            delete(exact("/run2")),
        ] {
            let e = connect(files.clone(), exact("/run/app/sock"));
            assert!(!widened(&e, Profile::RootBpfLsm), "{files}");
        }
        // The baseline's writes count too.
        let mut e = connect(serde_json::json!([]), exact("/run/app/sock"));
        e.baseline.push(concrete::Pattern {
            kind: Some(ActionKind::Write),
            calls: None,
            when: Cond::Cmp {
                op: CmpOp::Under,
                lhs: Operand::field("path"),
                rhs: Operand::Value {
                    value: Value::String("/run/".into()),
                },
            },
        });
        assert!(widened(&e, Profile::RootBpfLsm));
        assert!(symlink_plantable(
            &PathTarget::Exact {
                path: "/a/b".into()
            },
            &[&under("/a")]
        ));
        assert!(!symlink_plantable(
            &PathTarget::Exact {
                path: "/a/b".into()
            },
            &[
                &under("/a2"),
                &PathTarget::Exact {
                    path: "/a/c".into()
                }
            ]
        ));
    }

    #[test]
    fn a_unix_connect_is_proven_only_where_the_kernel_matches_its_path() {
        let s = spec(
            r#"spec "s" {
  allow write under "/run/app/"
  allow connect "/run/app/sock"
}"#,
        );
        let only = env(serde_json::json!({"unix": [unix("connect", exact("/run/app/sock"))]}));
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(
                prove(&s, &only, &enforced_envelope(&only, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
        let cx = prove(&s, &only, &enforced_envelope(&only, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.grant, "connect under \"/\"");
        assert_eq!(cx.action, "connect \"/var/run/docker.sock\"");
        assert_eq!(cx.reason, Reason::NothingAllows);
        // Writing beside the socket lets the run plant a symlink there.
        let both = env(serde_json::json!({
            "files": [{"access": "write", "target": exact("/run/app/state.json")}],
            "unix": [unix("connect", exact("/run/app/sock"))]
        }));
        let cx = prove(&s, &both, &enforced_envelope(&both, Profile::Root))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.action, "connect \"/var/run/docker.sock\"", "{cx:?}");
        assert!(cx.to_string().contains("`connect under \"/\"`"), "{cx}");
        assert_eq!(
            prove(&s, &both, &enforced_envelope(&both, Profile::RootBpfLsm)).unwrap(),
            Ok(())
        );
        // A spec that allows every socket but a few: the solver finds one.
        let most = spec(r#"spec "s" { allow connect when not path endswith ".secret" }"#);
        let cx = prove(
            &most,
            &only,
            &enforced_envelope(&only, Profile::Unprivileged),
        )
        .unwrap()
        .unwrap_err();
        assert!(cx.action.ends_with(".secret\""), "{cx:?}");
        let wide = ConcreteAction::connect_unix(cx.action["connect ".len()..].trim_matches('"'));
        assert!(
            only.permits(&wide.unwrap()).is_err(),
            "a widening, re-checked"
        );
    }

    #[test]
    fn a_unix_listen_widens_to_its_directory() {
        let e = env(serde_json::json!({"unix": [unix("listen", exact("/run/app/api.sock"))]}));
        let narrow = spec(r#"spec "s" { allow listen "/run/app/api.sock"  allow connect }"#);
        let cx = prove(&narrow, &e, &enforced_envelope(&e, Profile::RootBpfLsm))
            .unwrap()
            .unwrap_err();
        assert_eq!(cx.grant, "listen under \"/run/app\"");
        assert!(cx.action.starts_with("listen \"/run/app/"), "{cx:?}");
        let dir = spec(r#"spec "s" { allow listen under "/run/app/"  allow connect }"#);
        for p in Profile::ALL {
            assert_eq!(
                prove(&dir, &e, &enforced_envelope(&e, p)).unwrap(),
                Ok(()),
                "{p}"
            );
        }
    }

    #[test]
    fn the_unprivileged_profile_runs_the_elf_loader() {
        let e = env(serde_json::json!({
            "exec": [{"program": exact("/usr/bin/cargo"),
                      "argv": [{"match": "exact", "value": {"type": "string", "value": "build"}}]}]
        }));
        let u = enforced_envelope(&e, Profile::Unprivileged);
        for loader in loader_targets() {
            assert!(u.exec.contains(&ExecGrant {
                program: loader.clone(),
                argv: None
            }));
            assert!(u.files.contains(&FileGrant {
                access: FileAccess::Read,
                target: loader
            }));
        }
        for p in [Profile::Root, Profile::RootBpfLsm] {
            assert_eq!(enforced_envelope(&e, p).exec, e.exec, "{p}: no loader");
        }
        // A spec that allows the program with any arguments, not the loader.
        let s = spec(r#"spec "s" { allow exec "/usr/bin/cargo" }"#);
        let cx = prove(&s, &e, &u).unwrap().unwrap_err();
        assert!(cx.grant.contains("the ELF loader"), "{cx:?}");
        if let Some(l) = ELF_LOADERS.first() {
            assert_eq!(cx.action, format!("exec {} [\"/tmp/x\"]", quote(l)));
        }
        let with = spec(&format!(
            r#"spec "s" {{ allow exec "/usr/bin/cargo"  {} }}"#,
            allow_loaders()
        ));
        assert_eq!(prove(&with, &e, &u).unwrap(), Ok(()));
        // A baseline exec counts as much as the plan's.
        let mut b = Envelope::default();
        b.baseline.push(concrete::Pattern {
            kind: Some(ActionKind::Exec),
            calls: None,
            when: Cond::Cmp {
                op: CmpOp::Eq,
                lhs: Operand::field("path"),
                rhs: Operand::Value {
                    value: Value::String("/bin/true".into()),
                },
            },
        });
        assert_eq!(
            enforced_envelope(&b, Profile::Unprivileged).exec.len(),
            loader_targets().len()
        );
        assert!(
            enforced_envelope(&Envelope::default(), Profile::Unprivileged)
                .exec
                .is_empty()
        );
    }

    #[test]
    fn baseline_unix_patterns_are_grants() {
        let spec = planlang::load_spec_str(
            r#"spec "s" { baseline {
  connect under "/run/dbus/"
  listen "/run/app.sock"
  connect
  connect host == "x"
} }"#,
            "s.spec",
        )
        .unwrap();
        let compiled = CompiledSpec::compile(&spec).unwrap();
        let (grants, unexpressed) = baseline_grants(&compiled.baseline);
        assert_eq!(
            grants.unix,
            vec![
                unix_grant(UnixOp::Connect, under("/run/dbus")),
                unix_grant(
                    UnixOp::Listen,
                    PathTarget::Exact {
                        path: "/run/app.sock".into()
                    }
                ),
                unix_grant(UnixOp::Connect, under("/")),
            ]
        );
        // A bare `connect` also matches network connects; a host condition
        // has no unix grant.
        assert_eq!(unexpressed.len(), 2);
    }

    #[test]
    fn a_widening_into_an_approval_rule_is_not_proven() {
        let s = spec(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  approve write under "/tmp/out/"
}"#,
        );
        let e = tmp_glob();
        let cx = prove(&s, &e, &enforced_envelope(&e, Profile::Unprivileged))
            .unwrap()
            .unwrap_err();
        assert!(cx.needs_approval, "{cx:?}");
        assert_eq!(cx.rule.as_ref().map(|r| r.line), Some(3));
    }

    #[test]
    fn profiles_follow_the_layers_in_use() {
        assert_eq!(Profile::of_layers(["landlock"]), None);
        assert_eq!(
            Profile::of_layers(["landlock", "seccomp"]),
            Some(Profile::Unprivileged)
        );
        for p in Profile::ALL {
            assert_eq!(Profile::of_layers(p.layers().iter().copied()), Some(p));
        }
        assert!(lsm_expresses("/tmp/out/*.tmp"));
        assert!(lsm_expresses("/a/**/*.log"));
        assert!(lsm_expresses("/a/b/**"));
        assert!(!lsm_expresses("/a/*/c"));
        assert!(!lsm_expresses("/a/x*.tmp"));
        assert_eq!(glob_base("/repo/**/*.rs"), "/repo");
        assert_eq!(glob_base("/*"), "/");
    }
}
