//! Errors of the enforcer, one enum per concern.

use std::path::PathBuf;
use thiserror::Error;

/// A policy that cannot be built as asked.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// A rule's path (or an exec's program) is not absolute.
    #[error("path {path:?} is not absolute")]
    RelativePath {
        /// The path as given.
        path: PathBuf,
    },
    /// A rule's path has `.` or `..` segments, which the layers would
    /// resolve differently from the envelope; it must come normalized.
    #[error("path {path:?} has `.` or `..` segments; give the normalized path")]
    UnnormalizedPath {
        /// The path as given.
        path: PathBuf,
    },
    /// A file rule with no right in it.
    #[error("rule for {path:?} grants no access")]
    EmptyAccess {
        /// The rule's path.
        path: PathBuf,
    },
    /// A net rule whose last port is below its first.
    #[error("port range {first}-{last} is empty")]
    EmptyPortRange {
        /// The first port as given.
        first: u16,
        /// The last port as given, below `first`.
        last: u16,
    },
    /// A syscall name the allowlist cannot map to a number on the
    /// architecture the enforcer was built for.
    #[error("unknown syscall `{name}` on this architecture")]
    UnknownSyscall {
        /// The name as given.
        name: String,
    },
    /// An exec grant's argument list holds a NUL byte, which no `execve`
    /// argument can contain: the grant could never match.
    #[error("an argument of {program:?} holds a NUL byte ({argument:?}): no exec can pass it")]
    NulInArgument {
        /// The program of the grant.
        program: PathBuf,
        /// The argument, its NUL bytes written `\0`.
        argument: String,
    },
}

/// A layer that could not be prepared or applied. Whether the run goes on
/// without the layer depends on whether the operator requires it.
#[derive(Debug, Error)]
pub enum LayerError {
    /// Landlock is not available here, or building or applying its
    /// ruleset failed (including a rule the running ABI cannot express).
    #[error("landlock: {0}")]
    Landlock(String),
    /// The seccomp program cannot be built (a syscall unknown on this
    /// architecture, say), or the metadata supervisor cannot be prepared.

    #[error("seccomp: {0}")]
    Seccomp(String),
    /// The run's cgroup or its watchdog cannot be set up, or the cgroup
    /// cannot be emptied: no cgroup2 mount, a run id that is not letters,
    /// digits and dashes, an empty clean-up command or one with a NUL
    /// byte, processes that survive SIGKILL.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// A file of the cgroup hierarchy could not be read, written, made or
    /// removed.
    #[error("cgroup: {what} {path:?}: {source}")]
    CgroupIo {
        /// What was being done (`reading`, `creating`, ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The operator turned the layer off for this run (`--disable`).
    #[error("disabled for this run")]
    Disabled,
    /// A layer attached to the run's cgroup (the eBPF layers) failed.
    #[error("{layer}: {message}")]
    Other {
        /// The layer's name, as [`crate::Layer::name`] spells it.
        layer: String,
        /// What failed.
        message: String,
    },
}

/// Why a run did not start or could not be supervised.
#[derive(Debug, Error)]
pub enum RunError {
    /// A layer of `RunOptions::require` is not in use: the run does not
    /// start (the enforcer fails closed).
    #[error("required layer {layer} is not available: {reason}")]
    RequiredLayerMissing {
        /// The layer's name.
        layer: String,
        /// Why it is not in use, as the layer report says.
        reason: String,
    },
    /// A layer failed once the run was under way: the run's cgroup could
    /// not be emptied and removed after the command ended.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The command could not be started: the clone failed, or the child
    /// failed to confine itself or to execute the program (not found, not
    /// executable, refused by a layer).
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The command.
        program: PathBuf,
        /// The error of the clone, or the one the child reported before
        /// `exec` succeeded.

        #[source]
        source: std::io::Error,
    },
    /// Waiting for the command failed; the run has been killed.
    #[error("waiting for the run: {0}")]
    Wait(#[source] std::io::Error),
    /// The launcher could not become the run's subreaper, or reap its
    /// children (`RunOptions::init`).
    #[error("cannot be the run's init: {0}")]
    Init(#[source] std::io::Error),
    /// The run's stop handle fired before the command started: it never
    /// started.
    #[error("the run was stopped before it started: {0}")]
    Stopped(crate::lifecycle::StopReason),
    /// The metadata supervisor could not start or failed during the run.
    #[error(transparent)]
    Supervisor(#[from] crate::supervisor::SupervisorError),
}
