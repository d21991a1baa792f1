//! Why the eBPF layers could not be set up.

use std::path::PathBuf;

/// Why the eBPF layers could not be set up. Every error leaves nothing
/// attached: the caller decides whether the run may go on without them.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// The enforcer was built without its eBPF object.
    #[error("the eBPF object was not built (AYA_BUILD_SKIP was set at build time)")]
    ObjectMissing,
    /// aya could not load the object (as root: a map or program the
    /// kernel refused).
    #[error("loading the eBPF object: {0}")]
    Object(#[source] Box<aya::EbpfError>),
    /// The process is not root: it cannot load programs nor reach the
    /// node's pins on bpffs. Holds what failed.
    #[error("the eBPF layers need root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON): {0}")]
    NeedsRoot(String),
    /// A program could not be loaded, attached or pinned.
    #[error("program {program}: {source}{}", hint(source))]
    Program {
        /// The program's name in the object.
        program: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// A map could not be created, opened or written (a full map, say).
    #[error("map {map}: {source}")]
    Map {
        /// The map's name in the object.
        map: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::maps::MapError>,
    },
    /// The object lacks a map or program the user side expects (the two
    /// sides were built from different sources).
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    /// The kernel's BTF is missing, cannot be parsed, or lacks a type or
    /// field whose offset the programs need.
    #[error("kernel BTF: {0}")]
    Btf(String),
    /// The run's rules do not fit the maps (too many granted scripts of
    /// different path lengths, arguments longer than the map's value), or
    /// the runs' cgroup parent cannot be found.
    #[error("the run's rules: {0}")]
    Policy(String),
    /// A file the layers read or make could not be reached.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file (or, for a syscall, its name).
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The run's cgroup is not a directory of a cgroup2 file system.
    #[error("{0} is not a cgroup v2 directory")]
    NotCgroup2(PathBuf),
    /// The layers are already attached to a run's cgroup; one value
    /// serves one run.
    #[error("already attached to a cgroup")]
    AlreadyAttached,
    /// The run's counters or processes were asked for before the layers
    /// were attached to its cgroup.

    #[error("not attached to a run's cgroup yet")]
    NotAttached,
    /// The run's event stream was taken before, or the layers were made
    /// to report nothing.
    #[error("the event stream was already taken, or the run reports no events")]
    EventsTaken,
    /// The object could not be parsed or relocated when loading one of
    /// its programs by hand.
    #[error("the eBPF object: {0}")]
    ObjectParse(String),
    /// The kernel refused to load a program.
    #[error("loading {program}: {source}{}", if log.is_empty() { String::new() } else { format!("; the kernel's verifier said:\n{log}") })]
    Load {
        /// The program's name in the object.
        program: String,
        /// The `bpf(BPF_PROG_LOAD)` error.
        #[source]
        source: std::io::Error,
        /// The last lines of the kernel verifier's log, empty when the
        /// second load (the one with a log) succeeded.
        log: String,
    },
    /// A link or map could not be pinned on bpffs.
    #[error("pinning {path}: {message}")]
    Pin {
        /// Where it was to be pinned.
        path: PathBuf,
        /// Why it could not be.
        message: String,
    },
    /// The run's cgroup is not at the depth the node's programs were
    /// loaded for (they find a run by its ancestor at that level).
    #[error(
        "the run's cgroup {path} is {level} levels below the cgroup2 root; this node's runs are at level {expected} (under the runs' cgroup `warden/`)"
    )]
    Level {
        /// The run's cgroup.
        path: PathBuf,
        /// Its depth below the cgroup2 root.
        level: u32,
        /// The depth of the runs' cgroups of this node.
        expected: u32,
    },
}

fn hint(source: &aya::programs::ProgramError) -> &'static str {
    let errno = match source {
        aya::programs::ProgramError::LoadError { io_error, .. } => io_error.raw_os_error(),
        aya::programs::ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
        _ => None,
    };
    match errno {
        Some(libc::EPERM) => " (loading eBPF programs needs root: CAP_BPF and CAP_SYS_ADMIN)",
        _ => "",
    }
}

pub(crate) fn map_err(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> EbpfError {
    move |source| EbpfError::Map {
        map,
        source: Box::new(source),
    }
}

pub(crate) fn prog_err(
    program: &'static str,
) -> impl FnOnce(aya::programs::ProgramError) -> EbpfError {
    move |source| EbpfError::Program {
        program,
        source: Box::new(source),
    }
}
