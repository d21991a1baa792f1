//! The supervisor's errors: setting it up ([`SupervisorError`]), doing its
//! part of one call ([`CallError`]), and how a call ends early ([`Stop`]).

use std::io;

/// The supervisor could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("metadata supervisor: {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("metadata supervisor: the command's process handed over no seccomp listener")]
    NoListener,
    #[error("metadata supervisor: the write rules under BPF LSM: {0}")]
    Rules(#[from] crate::lsm::LsmError),
}

impl SupervisorError {
    pub(super) fn io(what: &'static str, source: io::Error) -> Self {
        Self::Io { what, source }
    }
}

/// Why the supervisor could not do its part of one call (the call is
/// refused with `EPERM`).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl CallError {
    pub(super) fn io(what: &'static str, source: io::Error) -> Self {
        Self::Io { what, source }
    }
}

/// How a call ends before any object is changed: the kernel's own answer
/// to the caller's arguments, or a failure of the supervisor.
#[derive(Debug)]
pub(crate) enum Stop {
    Errno(i32),
    Failed(CallError),
}
