//! The gateway in process, between an rmcp client (the agent) and an rmcp
//! server (a small bank whose tools record every call they perform), over
//! in-memory pipes: refused calls never reach the server, the listing is
//! filtered, and a gateway opened again on the same store keeps the run's
//! `at most` count. (The suite with the official Python SDK and npm servers
//! is mcp/tests/py, run by `make test`.)

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Mutex};
use token::{NoRevocations, SystemClock, VerifiedToken};
use warden_mcp::{Config, Gateway};

/// A bank with three tools; it records what it performs.
#[derive(Clone, Default)]
struct Bank {
    performed: Arc<Mutex<Vec<String>>>,
}

fn schema() -> Arc<serde_json::Map<String, serde_json::Value>> {
    Arc::new(
        json!({"type": "object"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

impl ServerHandler for Bank {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("send_money", "Send money", schema()),
            Tool::new("get_balance", "The balance", schema()),
            Tool::new("delete_account", "Close the account", schema()),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let line = format!(
            "{} {}",
            request.name,
            serde_json::Value::Object(request.arguments.clone().unwrap_or_default())
        );
        self.performed.lock().unwrap().push(line);
        Ok(CallToolResult::success(vec![ContentBlock::text("done")]).into())
    }
}

struct Setup {
    gateway: Gateway,
    agent: rmcp::service::RunningService<rmcp::RoleClient, ()>,
    bank: Bank,
    _upstream: rmcp::service::RunningService<rmcp::RoleClient, warden_mcp::UpstreamSide>,
}

async fn start(token: &VerifiedToken, store: &Path) -> Setup {
    let gateway = Gateway::open(Config {
        token: token.clone(),
        store: store.to_owned(),
        revocations: Box::new(NoRevocations),
        audit_signer: None,
    })
    .expect("open the gateway");
    let bank = Bank::default();
    let (gw_end, bank_end) = tokio::io::duplex(1 << 16);
    let served = bank.clone();
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(bank_end);
        if let Ok(s) = served.serve((r, w)).await {
            let _ = s.waiting().await;
        }
    });
    let (r, w) = tokio::io::split(gw_end);
    let upstream = gateway
        .connect(None, (r, w))
        .await
        .expect("connect the bank");
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
        bank,
        _upstream: upstream,
    }
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .collect()
}

fn pay(amount: i64) -> CallToolRequestParams {
    call(
        "send_money",
        json!({"recipient": "UK12345678901234567890", "amount": amount}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_never_reach_the_server_and_a_reopened_gateway_keeps_counting() {
    let (tok, key) = token::doc_example_token().expect("a token");
    let token = VerifiedToken::verify(&tok, &key, &SystemClock, &NoRevocations).expect("verify");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("gw.db");

    let s = start(&token, &store).await;
    let mut names: Vec<String> = s
        .agent
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["get_balance", "send_money"]);

    let outside = s
        .agent
        .call_tool(call("delete_account", json!({})))
        .await
        .expect("answer");
    assert_eq!(outside.is_error, Some(true));
    assert!(
        text(&outside).contains("outside the envelope"),
        "{}",
        text(&outside)
    );

    let over_bound = s.agent.call_tool(pay(500)).await.expect("answer");
    assert_eq!(over_bound.is_error, Some(true));
    assert!(
        text(&over_bound).contains("does not meet its condition"),
        "{}",
        text(&over_bound)
    );

    let obj = s
        .agent
        .call_tool(call(
            "send_money",
            json!({"recipient": {"iban": "x"}, "amount": 1}),
        ))
        .await
        .expect("answer");
    assert_eq!(obj.is_error, Some(true));
    assert!(text(&obj).contains("is an object"), "{}", text(&obj));

    for _ in 0..3 {
        let r = s.agent.call_tool(pay(40)).await.expect("answer");
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
        assert_eq!(text(&r), "done");
    }
    let fourth = s.agent.call_tool(pay(40)).await.expect("answer");
    assert_eq!(fourth.is_error, Some(true));
    assert!(
        text(&fourth).contains("would exceed the limit of 3"),
        "{}",
        text(&fourth)
    );
    assert!(
        text(&fourth).contains("banking.spec:13:3"),
        "{}",
        text(&fourth)
    );
    assert_eq!(s.bank.performed.lock().unwrap().len(), 3);
    s.gateway.close();
    drop(s);

    // A new gateway on the same store: the run's count goes on.
    let s = start(&token, &store).await;
    let again = s.agent.call_tool(pay(40)).await.expect("answer");
    assert_eq!(again.is_error, Some(true));
    assert!(
        text(&again).contains("would exceed the limit of 3"),
        "{}",
        text(&again)
    );
    let balance = s
        .agent
        .call_tool(call("get_balance", json!({})))
        .await
        .expect("answer");
    assert_ne!(balance.is_error, Some(true), "{}", text(&balance));
    assert_eq!(*s.bank.performed.lock().unwrap(), ["get_balance {}"]);
    s.gateway.close();
}
