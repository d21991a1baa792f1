//! The gateway in process between an rmcp client (the agent) and an rmcp
//! server of the test's own, over in-memory pipes.

#![allow(dead_code)]

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use token::{NoRevocations, RevocationList, VerifiedToken};
use warden_mcp::{Config, Gateway};

pub struct Setup<S> {
    pub gateway: Gateway,
    pub agent: rmcp::service::RunningService<rmcp::RoleClient, ()>,
    /// The server behind the gateway (a clone sharing its records).
    pub server: S,
    _upstream: rmcp::service::RunningService<rmcp::RoleClient, warden_mcp::UpstreamSide>,
}

/// A call's arguments.
type Args = serde_json::Map<String, serde_json::Value>;

/// The server behind the gateway in these suites: it lists its tools,
/// records every call it performs, and answers each tool with the result
/// set for it (`done` when none is).
#[derive(Clone)]
pub struct ToolServer {
    tools: Arc<Vec<Tool>>,
    performed: Arc<Mutex<Vec<(String, Args)>>>,
    answers: Arc<Mutex<HashMap<String, CallToolResult>>>,
}

impl ToolServer {
    /// A server with these tools, as `(name, description)`.
    pub fn new(tools: &[(&str, &str)]) -> ToolServer {
        ToolServer {
            tools: Arc::new(
                tools
                    .iter()
                    .map(|(name, about)| Tool::new(name.to_string(), about.to_string(), schema()))
                    .collect(),
            ),
            performed: Arc::default(),
            answers: Arc::default(),
        }
    }

    /// From now on, `tool` answers with `result`.
    pub fn answer(&self, tool: &str, result: CallToolResult) {
        self.answers.lock().unwrap().insert(tool.to_owned(), result);
    }

    /// Every call performed, as `name {arguments}`, in order.
    pub fn performed(&self) -> Vec<String> {
        self.performed
            .lock()
            .unwrap()
            .iter()
            .map(|(name, args)| format!("{name} {}", serde_json::Value::Object(args.clone())))
            .collect()
    }

    /// The string argument `arg` of every performed call of `tool`.
    pub fn performed_args(&self, tool: &str, arg: &str) -> Vec<String> {
        self.performed
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name == tool)
            .map(|(_, args)| {
                args.get(arg)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        self.performed
            .lock()
            .unwrap()
            .push((name.clone(), request.arguments.unwrap_or_default()));
        let answer = self.answers.lock().unwrap().get(&name).cloned();
        Ok(answer
            .unwrap_or_else(|| CallToolResult::success(vec![ContentBlock::text("done")]))
            .into())
    }
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
