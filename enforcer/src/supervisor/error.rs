//! The supervisor's errors: setting it up ([`SupervisorError`]), doing its
//! part of one call ([`CallError`]), and how a call ends early ([`Stop`]).

use std::io;

/// The supervisor could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A system call of the set-up failed (the socket pair, receiving the
    /// listener, the thread, reading the launcher's credentials).
    #[error("metadata supervisor: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The command's process did not send its seccomp listener (it failed
    /// before installing the filter, or sent something else).
    #[error("metadata supervisor: the command's process handed over no seccomp listener")]
    NoListener,
    /// The write rules could not be compiled into the BPF LSM layer's
    /// exact shapes, which the supervisor decides by when that layer is in
    /// use.

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
pub(crate) enum CallError {
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
