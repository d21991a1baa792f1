//! Errors of the enforcer, one enum per concern.

use std::path::PathBuf;
use thiserror::Error;

/// A policy that cannot be built as asked.
#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("path {path:?} is not absolute")]
    RelativePath { path: PathBuf },
    #[error("path {path:?} has `.` or `..` segments; give the normalized path")]
    UnnormalizedPath { path: PathBuf },
    #[error("rule for {path:?} grants no access")]
    EmptyAccess { path: PathBuf },
    #[error("port range {first}-{last} is empty")]
    EmptyPortRange { first: u16, last: u16 },
    #[error("unknown syscall `{name}` on this architecture")]
    UnknownSyscall { name: String },
    #[error("an argument of {program:?} holds a NUL byte ({argument:?}): no exec can pass it")]
    NulInArgument { program: PathBuf, argument: String },
}

/// A layer that could not be prepared or applied.
#[derive(Debug, Error)]
pub enum LayerError {
    #[error("landlock: {0}")]
    Landlock(String),
    #[error("landlock: cannot open {path:?} for a rule: {source}")]
    LandlockPath {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("cgroup: {0}")]
    Cgroup(String),
    #[error("cgroup: {what} {path:?}: {source}")]
    CgroupIo {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("disabled for this run")]
    Disabled,
    #[error("{layer}: {message}")]
    Other { layer: String, message: String },
}

/// Why a run did not start or could not be supervised.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("required layer {layer} is not available: {reason}")]
    RequiredLayerMissing { layer: String, reason: String },
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for the run: {0}")]
    Wait(#[source] std::io::Error),
    #[error("cannot be the run's init: {0}")]
    Init(#[source] std::io::Error),
    #[error("the run was stopped before it started: {0}")]
    Stopped(crate::lifecycle::StopReason),
    #[error(transparent)]
    Supervisor(#[from] crate::supervisor::SupervisorError),
}
