//! The gateway: an MCP server to the agent, an MCP client to the upstream
//! server, and the token's runtime monitor between them.

use crate::decide::{self, Provenance};
use crate::error::GatewayError;
use crate::metrics::{GatewayMetrics, Outcome};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ContentBlock, ElicitRequestParams, ElicitResult, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{ClientCacheConfig, NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler};
use serde::{Deserialize, Serialize};
use serde_json::json;
use service::audit::{CheckpointSigner, EventKind, NewEvent};
use service::store::sqlite::{SqliteOptions, SqliteStore};
use service::store::{StateOp, Store, Txn};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use token::{RunState, SystemClock, VerifiedToken};
use warden_core::monitor::RefusalReason;
use warden_core::revocation::RevocationList;

/// The longest JSON-RPC message (one line) the gateway reads from the agent
/// by default; longer ones are discarded and the gateway keeps serving.
pub const DEFAULT_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// How a gateway is set up.
pub struct Config {
    /// The run's token, verified.
    pub token: VerifiedToken,
    /// The gateway's local store (SQLite): the run's state, keyed by the
    /// token's id, and the hash-chained audit log (`warden audit --db`).
    pub store: PathBuf,
    /// Revoked token ids, consulted on every call.
    pub revocations: Box<dyn RevocationList + Send + Sync>,
    /// Signs the audit log's checkpoints and head (`warden audit verify
    /// --pub` with its public key). Without it the log is an unsigned hash
    /// chain.
    pub audit_signer: Option<CheckpointSigner>,
    /// Where a call an `approve each` rule holds waits for a human. Without
    /// it such a call is refused with "needs approval".
    pub approvals: Option<Approvals>,
}

/// The service (`warden serve`) whose approvers decide the calls an
/// `approve each` rule holds: the gateway records each one there
/// (`RequestCallApproval`), waits for `Approve` or `Deny`, and refuses the
/// call when nobody decides within `timeout`.
#[derive(Clone)]
pub struct Approvals {
    /// The service's URL: `http://127.0.0.1:50051`, or https with `tls_ca`.
    pub endpoint: String,
    /// The CA certificate (PEM) that signed the service's TLS certificate.
    pub tls_ca: Option<Vec<u8>>,
    /// The secret of a submitter credential of the service.
    pub secret: String,
    /// The run's token, as text: the service verifies it.
    pub token_text: String,
    /// How long a call waits for a decision.
    pub timeout: std::time::Duration,
    /// How often the gateway asks for the decision meanwhile.
    pub poll: std::time::Duration,
}

/// How a call that waited for a human came out.
enum Decided {
    Approved { id: String, by: String },
    Refused(String),
}

/// One upstream server: the gateway's client connection to it, and the
/// prefix of its tools' names as the agent (and the plan) see them.
struct Upstream {
    prefix: Option<String>,
    peer: Peer<RoleClient>,
}

/// Where a tool name the agent uses goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    /// To this upstream (index), under the server's own name.
    To(usize, String),
    /// Two upstreams list it: no call goes to either.
    Ambiguous,
}

/// What the run remembers across calls and across restarts of the gateway.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRecord {
    /// The monitor's state: params bound, `at most` counts, order seen.
    run: RunState,
    /// Tool name (as the agent sees it) -> pin of its definition when first seen.
    pins: BTreeMap<String, String>,
    /// Tools whose definition changed after it was pinned -> the new pin.
    changed: BTreeMap<String, String>,
    /// Values results held, for `from call`.
    provenance: Provenance,
}

pub(crate) struct Inner {
    token: VerifiedToken,
    jti: String,
    expires_s: i64,
    store: SqliteStore,
    record: tokio::sync::Mutex<RunRecord>,
    revocations: Box<dyn RevocationList + Send + Sync>,
    upstreams: RwLock<Vec<Upstream>>,
    routes: RwLock<BTreeMap<String, Route>>,
    /// Whether the token asks where values came from (else results are not
    /// remembered).
    provenance: bool,
    approvals: Option<Approvals>,
    /// The agents connected (one over stdio, one per session over HTTP),
    /// told when a server's tool list changed.
    agents: std::sync::Mutex<Vec<Peer<RoleServer>>>,
    metrics: Arc<GatewayMetrics>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn text_error(msg: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(msg)])
}

impl Inner {
    fn open(config: Config) -> Result<Inner, GatewayError> {
        let store =
            SqliteStore::open(&config.store, config.audit_signer, SqliteOptions::default())?;
        let jti = config.token.claims().jti.to_string();
        let record = match store.run_state(&jti)? {
            Some(text) => {
                let r: RunRecord = serde_json::from_str(&text).map_err(|e| {
                    GatewayError::State(format!(
                        "the stored state of run {jti} in {} is not the gateway's: {e}",
                        config.store.display()
                    ))
                })?;
                r
            }
            None => RunRecord {
                run: config.token.new_run(),
                pins: BTreeMap::new(),
                changed: BTreeMap::new(),
                provenance: Provenance::default(),
            },
        };
        // An assumed result field a call passes must come from its tool.
        let provenance = decide::uses_provenance(config.token.envelope())
            || !config.token.envelope().assumptions.is_empty();
        Ok(Inner {
            expires_s: config.token.claims().exp.unix(),
            token: config.token,
            jti,
            store,
            record: tokio::sync::Mutex::new(record),
            revocations: config.revocations,
            upstreams: RwLock::new(Vec::new()),
            routes: RwLock::new(BTreeMap::new()),
            provenance,
            approvals: config.approvals,
            agents: std::sync::Mutex::new(Vec::new()),
            metrics: Arc::new(GatewayMetrics::new()),
        })
    }

    fn peer(&self, i: usize) -> Result<Peer<RoleClient>, GatewayError> {
        let ups = self
            .upstreams
            .read()
            .map_err(|_| GatewayError::State("a lock was poisoned".into()))?;
        ups.get(i)
            .map(|u| u.peer.clone())
            .ok_or(GatewayError::NoUpstream)
    }

    fn route(&self, outer: &str) -> Result<Option<Route>, GatewayError> {
        let routes = self
            .routes
            .read()
            .map_err(|_| GatewayError::State("a lock was poisoned".into()))?;
        Ok(routes.get(outer).cloned())
    }

    fn permits_tool(&self, outer: &str) -> bool {
        self.token.envelope().calls.iter().any(|g| g.name == outer)
    }

    /// Commit state and audit records durably (fsync) before going on.
    async fn commit(
        &self,
        record: Option<&RunRecord>,
        events: Vec<NewEvent>,
    ) -> Result<(), GatewayError> {
        let mut ops = Vec::new();
        if let Some(r) = record {
            let state = serde_json::to_string(r).map_err(|e| GatewayError::State(e.to_string()))?;
            ops.push(StateOp::SaveRun {
                token_id: self.jti.clone(),
                state,
                expires_s: self.expires_s,
                at_ms: now_ms(),
            });
        }
        self.store.commit(Txn { ops, events }).wait().await?;
        Ok(())
    }

    fn event(&self, body: serde_json::Value) -> NewEvent {
        let mut body = body;
        body["token_id"] = json!(self.jti);
        body["layer"] = json!("mcp");
        NewEvent::new(EventKind::Enforcement, body)
    }

    /// Audit a refusal and build the agent's answer. If even the audit
    /// cannot be written, the answer says so (the call is refused either way).
    async fn refuse(
        &self,
        request: &'static str,
        subject: &str,
        digest: Option<&str>,
        reason: String,
    ) -> String {
        let ev = self.event(
            json!({"kind": "refused", "request": request, "subject": subject,
                                   "call_digest": digest, "reason": reason}),
        );
        let msg = format!("refused by warden (token {}): {reason}", self.jti);
        self.metrics.request(request, Outcome::refused);
        match self.commit(None, vec![ev]).await {
            Ok(()) => msg,
            Err(e) => format!("{msg}; the refusal could not be audited: {e}"),
        }
    }

    /// Ask every server for its tools, pin each one first seen, and mark
    /// those whose definition changed since. Returns the tools with the
    /// names the agent sees.
    async fn refresh_tools(&self) -> Result<Vec<Tool>, GatewayError> {
        let peers: Vec<(Option<String>, Peer<RoleClient>)> = {
            let ups = self
                .upstreams
                .read()
                .map_err(|_| GatewayError::State("a lock was poisoned".into()))?;
            ups.iter()
                .map(|u| (u.prefix.clone(), u.peer.clone()))
                .collect()
        };
        if peers.is_empty() {
            return Err(GatewayError::NoUpstream);
        }
        let mut listed = Vec::new();
        for (i, (prefix, peer)) in peers.iter().enumerate() {
            let tools = peer
                .list_all_tools()
                .await
                .map_err(|e| GatewayError::Upstream(e.to_string()))?;
            for tool in tools {
                let outer = match prefix {
                    Some(p) => format!("{p}.{}", tool.name),
                    None => tool.name.to_string(),
                };
                listed.push((i, outer, tool));
            }
        }
        let mut routes = BTreeMap::new();
        for (i, outer, tool) in &listed {
            let r = Route::To(*i, tool.name.to_string());
            routes
                .entry(outer.clone())
                .and_modify(|e| *e = Route::Ambiguous)
                .or_insert(r);
        }
        let mut record = self.record.lock().await;
        let mut next = record.clone();
        let mut events = Vec::new();
        let mut out = Vec::with_capacity(listed.len());
        for (_, outer, mut tool) in listed {
            let pin = decide::tool_pin(&tool);
            match next.pins.get(&outer) {
                None => {
                    next.pins.insert(outer.clone(), pin);
                }
                Some(old) if *old != pin && next.changed.get(&outer) != Some(&pin) => {
                    events.push(self.event(json!({"kind": "tool_changed", "subject": outer,
                                                  "pinned": old, "now": pin})));
                    next.changed.insert(outer.clone(), pin);
                }
                Some(_) => {}
            }
            tool.name = outer.into();
            out.push(tool);
        }
        if next.pins != record.pins || next.changed != record.changed {
            self.commit(Some(&next), events).await?;
            *record = next;
        }
        *self
            .routes
            .write()
            .map_err(|_| GatewayError::State("a lock was poisoned".into()))? = routes;
        Ok(out)
    }

    async fn list_tools(&self) -> Result<ListToolsResult, GatewayError> {
        let tools = self.refresh_tools().await?;
        let record = self.record.lock().await;
        let shown = tools
            .into_iter()
            .filter(|t| self.permits_tool(&t.name) && !record.changed.contains_key(t.name.as_ref()))
            .collect();
        Ok(ListToolsResult::with_all_items(shown))
    }

    /// Decide one `tools/call`; forward it only if the token allows it.
    async fn call_tool(&self, req: CallToolRequestParams) -> Result<CallToolResult, GatewayError> {
        let arrived = Instant::now();
        let outer = req.name.to_string();
        let digest = decide::call_digest(&outer, req.arguments.as_ref());
        let (o, d) = (outer.as_str(), digest.as_str());
        let refused = |reason: String| async move {
            let msg = self.refuse("tools/call", o, Some(d), reason).await;
            Ok::<_, GatewayError>(text_error(msg))
        };
        // The tool must be listed by exactly one server, its definition
        // pinned and unchanged.
        if self.route(&outer)?.is_none() {
            self.refresh_tools().await?;
        }
        let (upstream, inner) = match self.route(&outer)? {
            Some(Route::To(i, name)) => (i, name),
            Some(Route::Ambiguous) => {
                return refused(format!(
                    "more than one server behind this gateway lists a tool `{outer}`"
                ))
                .await;
            }
            None => {
                return refused(format!(
                    "no server behind this gateway lists a tool `{outer}`"
                ))
                .await;
            }
        };
        let mut record = self.record.lock().await;
        if let Some(now) = record.changed.get(&outer).cloned() {
            let pinned = record.pins.get(&outer).cloned().unwrap_or_default();
            drop(record);
            return refused(format!(
                "the server changed the definition of tool `{outer}` (its description, schema or annotations) \
                 after this run first saw it (pinned sha256 {pinned}, now {now}); its calls are refused for the rest of the run"
            ))
            .await;
        }
        let action = match decide::call_action(&outer, req.arguments.as_ref(), &record.provenance) {
            Ok(a) => a,
            Err(e) => {
                drop(record);
                return refused(e.to_string()).await;
            }
        };
        let mut run = record.run.clone();
        let mut approval = None;
        if let Err(refusal) =
            self.token
                .check_run(&mut run, &action, &SystemClock, self.revocations.as_ref())
        {
            drop(record);
            let said = action.to_string();
            let reason = refusal.reason.to_string();
            let reason = if reason.contains(&said) {
                reason
            } else {
                format!("`{said}`: {reason}")
            };
            let Some(approvals) = self
                .approvals
                .as_ref()
                .filter(|_| matches!(refusal.reason, RefusalReason::NeedsApproval { .. }))
            else {
                return refused(reason).await;
            };
            // Park the call until a human decides it (the run goes on
            // meanwhile), then check it again as approved.
            let waiting = self.metrics.waiting_for_approval();
            let decided = self.wait_for_human(approvals, &said, d, &reason).await;
            drop(waiting);
            match decided {
                Decided::Refused(why) => return refused(why).await,
                Decided::Approved { id, by } => approval = Some((id, by)),
            }
            record = self.record.lock().await;
            if record.changed.contains_key(&outer) {
                drop(record);
                return refused(format!(
                    "`{said}` was approved, but meanwhile the server changed the definition of tool `{outer}`"
                ))
                .await;
            }
            run = record.run.clone();
            if let Err(refusal) = self.token.check_run_approved(
                &mut run,
                &action,
                &SystemClock,
                self.revocations.as_ref(),
            ) {
                drop(record);
                return refused(format!(
                    "`{said}` was approved, but meanwhile: {}",
                    refusal.reason
                ))
                .await;
            }
        }
        // Allowed: the new state and the decision are durable before the
        // server sees the call, so a restart goes on counting from here.
        let mut body = json!({"kind": "allowed", "request": "tools/call", "subject": outer,
                              "call_digest": digest, "action": action.to_string()});
        if let Some((id, by)) = &approval {
            body["approval_id"] = json!(id);
            body["approved_by"] = json!(by);
        }
        let ev = self.event(body);
        let before = std::mem::replace(&mut record.run, run);
        if let Err(e) = self.commit(Some(&record), vec![ev]).await {
            record.run = before;
            return Err(e);
        }
        drop(record);
        if approval.is_none() {
            self.metrics.decided(arrived);
        }
        self.metrics.request("tools/call", Outcome::forwarded);
        let mut forwarded = req;
        forwarded.name = inner.into();
        let sent = Instant::now();
        let result = self
            .peer(upstream)?
            .call_tool(forwarded)
            .await
            .map_err(|e| GatewayError::Upstream(e.to_string()))?;
        self.metrics.answered(sent);
        if let Some(refused) = self.check_result(&outer, &result).await? {
            return Ok(refused);
        }
        if self.provenance {
            let mut record = self.record.lock().await;
            if record.provenance.remember(&outer, &result) {
                self.commit(Some(&record), Vec::new()).await?;
            }
        }
        Ok(result)
    }
}

impl Inner {
    /// Holds a result of `outer` to the plan's assumptions about that
    /// tool's results before the agent sees it. A result that fails one is
    /// withheld: the refusal is audited and the run stopped (its state
    /// committed), and the agent gets the refusal instead (`Some`). An
    /// error result is not checked: its values come from no call.
    async fn check_result(
        &self,
        outer: &str,
        result: &CallToolResult,
    ) -> Result<Option<CallToolResult>, GatewayError> {
        let assumed = self
            .token
            .envelope()
            .assumptions
            .iter()
            .any(|a| a.tool == outer);
        if !assumed || result.is_error == Some(true) {
            return Ok(None);
        }
        let json = crate::assume::result_json(result);
        let mut record = self.record.lock().await;
        let mut run = record.run.clone();
        let Err(refusal) = self.token.check_result_run(
            &mut run,
            outer,
            &json,
            &SystemClock,
            self.revocations.as_ref(),
        ) else {
            return Ok(None);
        };
        let reason = refusal.reason.to_string();
        let ev = self.event(json!({"kind": "refused", "request": "tools/call result",
                                   "subject": outer, "reason": reason}));
        let before = std::mem::replace(&mut record.run, run);
        if let Err(e) = self.commit(Some(&record), vec![ev]).await {
            record.run = before;
            return Err(e);
        }
        Ok(Some(text_error(format!(
            "refused by warden (token {}): {reason}",
            self.jti
        ))))
    }

    /// Record a pending approval of this exact call in the service, audit
    /// that the call waits, and wait for the decision (or the timeout).
    /// Anything that goes wrong refuses the call.
    async fn wait_for_human(
        &self,
        approvals: &Approvals,
        action: &str,
        digest: &str,
        reason: &str,
    ) -> Decided {
        match self.ask_human(approvals, action, digest, reason).await {
            Ok(d) => d,
            Err(e) => Decided::Refused(format!(
                "{reason}; the approval could not be asked for or read: {e}"
            )),
        }
    }

    async fn ask_human(
        &self,
        approvals: &Approvals,
        action: &str,
        digest: &str,
        reason: &str,
    ) -> Result<Decided, GatewayError> {
        use service::proto::{self, warden_client::WardenClient};
        let channel = service::loadgen::connect(&approvals.endpoint, approvals.tls_ca.as_deref())
            .await
            .map_err(|e| GatewayError::Approvals(e.to_string()))?;
        fn authed<T>(body: T, secret: &str) -> Result<tonic::Request<T>, GatewayError> {
            service::auth::authorized(body, secret)
                .map_err(|e| GatewayError::Approvals(e.to_string()))
        }
        let mut client = WardenClient::new(channel);
        let asked = client
            .request_call_approval(authed(
                proto::CallApprovalRequest {
                    token: approvals.token_text.clone(),
                    action: action.to_owned(),
                    call_digest: digest.to_owned(),
                    reasons: vec![reason.to_owned()],
                },
                &approvals.secret,
            )?)
            .await
            .map_err(|e| GatewayError::Approvals(e.message().to_owned()))?
            .into_inner();
        let id = asked.approval_id.clone();
        self.commit(
            None,
            vec![self.event(
                json!({"kind": "waiting_for_approval", "request": "tools/call",
                                   "subject": action, "call_digest": digest, "approval_id": id}),
            )],
        )
        .await?;
        let deadline = tokio::time::Instant::now() + approvals.timeout;
        loop {
            let a = client
                .get_approval(authed(
                    proto::GetApprovalRequest {
                        approval_id: id.clone(),
                    },
                    &approvals.secret,
                )?)
                .await
                .map_err(|e| GatewayError::Approvals(e.message().to_owned()))?
                .into_inner();
            // The decision must be of this very call under this token.
            if a.call_digest != digest || a.call_token_id != self.jti {
                return Err(GatewayError::Approvals(format!(
                    "approval {id} is not of this call under this token"
                )));
            }
            match proto::ApprovalState::try_from(a.state) {
                Ok(proto::ApprovalState::Approved) => {
                    return Ok(Decided::Approved {
                        id,
                        by: a.decided_by,
                    });
                }
                Ok(proto::ApprovalState::Denied) => {
                    return Ok(Decided::Refused(format!(
                        "{reason}; {} denied it (approval {id}): {}",
                        a.decided_by, a.decision_reason
                    )));
                }
                Ok(proto::ApprovalState::Pending) => {}
                _ => {
                    return Err(GatewayError::Approvals(format!(
                        "approval {id} is in no known state"
                    )));
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Decided::Refused(format!(
                    "{reason}; nobody decided approval {id} within {} s",
                    approvals.timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(approvals.poll.min(deadline - now)).await;
        }
    }
}

/// The side the agent talks to.
#[derive(Clone)]
pub struct AgentSide(pub(crate) Arc<Inner>);

impl ServerHandler for AgentSide {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("warden-mcp", env!("CARGO_PKG_VERSION")))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut agents = self.0.agents.lock().unwrap_or_else(|p| p.into_inner());
        agents.retain(|p| !p.is_transport_closed());
        agents.push(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.0
            .list_tools()
            .await
            .map_err(|e| McpError::internal_error(format!("warden: {e}"), None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        match self.0.call_tool(request).await {
            Ok(r) => Ok(r.into()),
            // Fail closed: whatever went wrong, the answer is a refusal (the
            // server saw the call only if its allow was durably recorded).
            Err(e) => {
                self.0.metrics.request("tools/call", Outcome::error);
                Ok(text_error(format!("refused by warden (token {}): {e}", self.0.jti)).into())
            }
        }
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let msg = self
            .0
            .refuse(
                "resources/read",
                &request.uri,
                None,
                "no plan step grants reading MCP resources; the gateway refuses resources/read"
                    .into(),
            )
            .await;
        Err(McpError::invalid_request(msg, None))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let msg = self
            .0
            .refuse(
                "prompts/get",
                &request.name,
                None,
                "no plan step grants MCP prompts; the gateway refuses prompts/get".into(),
            )
            .await;
        Err(McpError::invalid_request(msg, None))
    }
}

/// The side the upstream server talks to: the gateway as its client.
#[derive(Clone)]
pub struct UpstreamSide(pub(crate) Arc<Inner>);

impl ClientHandler for UpstreamSide {
    fn get_info(&self) -> ClientConfig {
        // No sampling, no elicitation, no roots: the server may ask the
        // agent for nothing.
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("warden-mcp", env!("CARGO_PKG_VERSION")),
        )
    }

    // Sampling is deprecated in MCP (SEP-2577); servers that still ask are
    // refused, and the refusal audited.
    #[allow(deprecated)]
    async fn create_message(
        &self,
        _params: rmcp::model::CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, McpError> {
        let msg = self
            .0
            .refuse(
                "sampling/createMessage",
                "server",
                None,
                "the gateway refuses requests from the server to the agent (sampling)".into(),
            )
            .await;
        Err(McpError::invalid_request(msg, None))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let msg = self
            .0
            .refuse(
                "elicitation/create",
                "server",
                None,
                "the gateway refuses requests from the server to the agent (elicitation)".into(),
            )
            .await;
        Err(McpError::invalid_request(msg, None))
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // Re-pin at once: a changed definition is refused from now on, even
        // if the agent never lists the tools again.
        if let Err(e) = self.0.refresh_tools().await {
            tracing::warn!("warden mcp: cannot re-read the server's tools: {e}");
        }
        // Then tell the agents, whose next tools/list shows the list as the
        // token and the pins filter it.
        let agents: Vec<Peer<RoleServer>> = {
            let mut agents = self.0.agents.lock().unwrap_or_else(|p| p.into_inner());
            agents.retain(|p| !p.is_transport_closed());
            agents.clone()
        };
        for agent in agents {
            if let Err(e) = agent.notify_tool_list_changed().await {
                tracing::warn!("warden mcp: cannot tell the agent its tools changed: {e}");
            }
        }
    }
}

/// A gateway for one run, between one agent and one upstream server.
pub struct Gateway {
    inner: Arc<Inner>,
}

impl Gateway {
    /// Open the store and load the run's state (a restarted gateway goes on
    /// where the last one stopped).
    pub fn open(config: Config) -> Result<Gateway, GatewayError> {
        Ok(Gateway {
            inner: Arc::new(Inner::open(config)?),
        })
    }

    /// Connect to an upstream server over `transport` (the gateway is its
    /// client), its tools shown as `PREFIX.NAME` (or as they are, without a
    /// prefix), and pin its tools.
    pub async fn connect<T, E, A>(
        &self,
        prefix: Option<String>,
        transport: T,
    ) -> Result<RunningService<RoleClient, UpstreamSide>, GatewayError>
    where
        T: rmcp::transport::IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        use rmcp::ServiceExt;
        let client = UpstreamSide(self.inner.clone())
            .serve(transport)
            .await
            .map_err(|e| GatewayError::Upstream(e.to_string()))?;
        // Every tool list is read from the server itself: no cached (or
        // stale) list may stand in for what the server says now.
        client
            .peer()
            .set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        self.inner
            .upstreams
            .write()
            .map_err(|_| GatewayError::State("a lock was poisoned".into()))?
            .push(Upstream {
                prefix,
                peer: client.peer().clone(),
            });
        self.inner.refresh_tools().await?;
        Ok(client)
    }

    /// The handler that serves the agent.
    pub fn agent_side(&self) -> AgentSide {
        AgentSide(self.inner.clone())
    }

    /// What this gateway counts and times (`warden mcp --metrics`).
    pub fn metrics(&self) -> Arc<GatewayMetrics> {
        self.inner.metrics.clone()
    }

    /// The token id of the run.
    pub fn token_id(&self) -> &str {
        &self.inner.jti
    }

    /// Write everything queued and close the store.
    pub fn close(&self) {
        self.inner.store.close();
    }
}
