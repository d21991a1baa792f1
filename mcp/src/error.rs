//! The gateway's errors. Each one refuses what it concerns: nothing is
//! forwarded on an error.

use service::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway's store: {0}")]
    Store(#[from] StoreError),
    #[error("the run's state: {0}")]
    State(String),
    #[error("the upstream MCP server: {0}")]
    Upstream(String),
    #[error("the agent's connection: {0}")]
    Agent(String),
    #[error("the gateway's configuration: {0}")]
    Config(String),
    #[error("the approvals service: {0}")]
    Approvals(String),
    #[error("no upstream server is connected")]
    NoUpstream,
    #[error("cannot start the server `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
}
