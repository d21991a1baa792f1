//! The gateway's errors. Each one refuses what it concerns: nothing is
//! forwarded on an error.

use service::store::StoreError;

/// Why the gateway could not do what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The local store cannot be opened, read or written (a commit that
    /// fails refuses the call it was for).
    #[error("the gateway's store: {0}")]
    Store(#[from] StoreError),
    /// The run's state cannot be used: the stored state is not the
    /// gateway's, it cannot be serialized, or a lock was poisoned.
    #[error("the run's state: {0}")]
    State(String),
    /// An upstream server cannot be connected to, or failed.
    #[error("the upstream MCP server: {0}")]
    Upstream(String),
    /// The agent's side cannot be served (stdio, or the HTTP listener).
    #[error("the agent's connection: {0}")]
    Agent(String),
    /// The configuration file, or a header of an upstream, cannot be used.
    #[error("the gateway's configuration: {0}")]
    Config(String),
    /// The approvals service cannot be reached or asked, or answered with
    /// an approval of another call.
    #[error("the approvals service: {0}")]
    Approvals(String),
    /// There is no upstream server: none was given to [`crate::serve`],
    /// or none is connected when the tools are listed or called.
    #[error("no upstream server is connected")]
    NoUpstream,
    /// An upstream server's command cannot be started.
    #[error("cannot start the server `{command}`: {source}")]
    Spawn {
        /// The command, as it was given.
        command: String,
        /// Why it cannot be started.
        #[source]
        source: std::io::Error,
    },
}
