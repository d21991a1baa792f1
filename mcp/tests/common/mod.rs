//! The gateway in process between an rmcp client (the agent) and an rmcp
//! server of the test's own, over in-memory pipes.

#![allow(dead_code)]

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ServerHandler, ServiceExt};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use token::{NoRevocations, RevocationList, VerifiedToken};
use warden_mcp::{Config, Gateway};

pub struct Setup<S> {
    pub gateway: Gateway,
    pub agent: rmcp::service::RunningService<rmcp::RoleClient, ()>,
    /// The server behind the gateway (a clone sharing its records).
    pub server: S,
    _upstream: rmcp::service::RunningService<rmcp::RoleClient, warden_mcp::UpstreamSide>,
}

/// An input schema that takes any object.
pub fn schema() -> Arc<serde_json::Map<String, serde_json::Value>> {
    Arc::new(
        json!({"type": "object"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

/// The gateway on `store` in front of `server`, revocations from nowhere.
pub async fn start<S: ServerHandler + Clone>(
    token: &VerifiedToken,
    store: &Path,
    server: S,
) -> Setup<S> {
    start_with(token, store, server, Box::new(NoRevocations), None).await
}

/// The gateway on `store` in front of `server`, consulting `revocations`,
/// parking `approve each` calls with `approvals`.
pub async fn start_with<S: ServerHandler + Clone>(
    token: &VerifiedToken,
    store: &Path,
    server: S,
    revocations: Box<dyn RevocationList + Send + Sync>,
    approvals: Option<warden_mcp::Approvals>,
) -> Setup<S> {
    let gateway = Gateway::open(Config {
        token: token.clone(),
        store: store.to_owned(),
        revocations,
        audit_signer: None,
        approvals,
    })
    .expect("open the gateway");
    let (gw_end, server_end) = tokio::io::duplex(1 << 16);
    let served = server.clone();
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_end);
        if let Ok(s) = served.serve((r, w)).await {
            let _ = s.waiting().await;
        }
    });
    let (r, w) = tokio::io::split(gw_end);
    let upstream = gateway
        .connect(None, (r, w))
        .await
        .expect("connect the server");
    let (agent_end, gw_agent_end) = tokio::io::duplex(1 << 16);
    let side = gateway.agent_side();
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(gw_agent_end);
        if let Ok(s) = side.serve((r, w)).await {
            let _ = s.waiting().await;
        }
    });
    let (r, w) = tokio::io::split(agent_end);
    let agent = ().serve((r, w)).await.expect("the agent connects");
    Setup {
        gateway,
        agent,
        server,
        _upstream: upstream,
    }
}

/// The text blocks of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .collect()
}
