//! Why the eBPF layers could not be set up.

use std::path::PathBuf;

/// Why the eBPF layers could not be set up. Every error leaves nothing
/// attached: the caller decides whether the run may go on without them.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error("the eBPF object was not built (AYA_BUILD_SKIP was set at build time)")]
    ObjectMissing,
    #[error("loading the eBPF object: {0}")]
    Object(#[source] Box<aya::EbpfError>),
    #[error("the eBPF layers need root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON): {0}")]
    NeedsRoot(String),
    #[error("program {program}: {source}{}", hint(source))]
    Program {
        program: &'static str,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    #[error("kernel BTF: {0}")]
    Btf(String),
    #[error("the run's rules: {0}")]
    Policy(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a cgroup v2 directory")]
    NotCgroup2(PathBuf),
    #[error("already attached to a cgroup")]
    AlreadyAttached,
    #[error("not attached to a run's cgroup yet")]
    NotAttached,
    #[error("the event stream was already taken, or the run reports no events")]
    EventsTaken,
    #[error("the eBPF object: {0}")]
    ObjectParse(String),
    #[error("loading {program}: {source}{}", if log.is_empty() { String::new() } else { format!("; the kernel's verifier said:\n{log}") })]
    Load {
        program: String,
        #[source]
        source: std::io::Error,
        log: String,
    },
    #[error("pinning {path}: {message}")]
    Pin { path: PathBuf, message: String },
    #[error(
        "the run's cgroup {path} is {level} levels below the cgroup2 root; this node's runs are at level {expected} (under the runs' cgroup `warden/`)"
    )]
    Level {
        path: PathBuf,
        level: u32,
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
