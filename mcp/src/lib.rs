//! `warden mcp`: the MCP gateway. It stands between an agent (an MCP
//! client) and an MCP server, and decides every request that makes the
//! server act against the run's capability token before forwarding it.
//!
//! - `tools/call NAME {ARGS}` is the action `call NAME(ARGS)`, checked by the
//!   token's full runtime monitor (argument conditions, params, `at most`,
//!   `never ... after`, `require ... before`, `from call` provenance; see
//!   [`decide`]). A refused call never reaches the server: the agent gets a
//!   tool error result that says why (the rule and its place in the spec
//!   when the refusal comes from one).
//! - A result of a tool the plan makes an assumption about (`let X = call
//!   T(...) where COND`) is checked against it when it arrives, before the
//!   agent sees it ([`assume`]): a result that fails it is withheld, the
//!   refusal (naming the condition and its place in the plan) is audited,
//!   and the run is stopped: every later call is refused.
//! - `tools/list` shows only the tools the token grants a call of.
//! - Each tool's definition (name, title, description, schemas,
//!   annotations) is pinned (SHA-256) when the run first sees it; a tool
//!   whose definition changes afterwards has its calls refused for the rest
//!   of the run.
//! - `resources/read` and `prompts/get` are refused (no plan step grants
//!   them), and so are the server's requests to the agent (sampling,
//!   elicitation).
//! - The run's state (monitor state, pins, provenance) and every decision
//!   are committed, with fsync, to a local SQLite store keyed by the
//!   token's id before the call is forwarded, with the same hash-chained
//!   audit log as the service (`warden audit show --db`): a gateway killed
//!   and restarted mid-run keeps its `at most` counts.
//! - Any internal error refuses the request: the gateway fails closed.
//!
//! Built on the official Rust MCP SDK (`rmcp`): the gateway writes no
//! JSON-RPC of its own.
#![warn(missing_docs)]

pub mod assume;
pub mod config;
pub mod decide;
mod error;
pub mod fragments;
mod gateway;
pub mod metrics;
mod serve;

pub use error::GatewayError;
pub use gateway::{AgentSide, Approvals, Config, DEFAULT_MAX_MESSAGE, Gateway, UpstreamSide};
pub use serve::{AgentTransport, UpstreamSpec, serve};
