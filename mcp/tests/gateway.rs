//! The gateway in process, between an rmcp client (the agent) and an rmcp
//! server (a small bank whose tools record every call they perform), over
//! in-memory pipes: refused calls never reach the server, the listing is
//! filtered, and a gateway opened again on the same store keeps the run's
//! `at most` count. (The suite with the official Python SDK and npm servers
//! is mcp/tests/py, run by `make test`.)

mod common;

use common::{Setup, ToolServer, text};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::json;
use std::path::Path;
use token::{NoRevocations, SystemClock, VerifiedToken};

/// A bank with four tools; it records what it performs. `read_bill`
/// answers with the bill set by [`set_bill`].
fn bank() -> ToolServer {
    ToolServer::new(&[
        ("send_money", "Send money"),
        ("get_balance", "The balance"),
        ("delete_account", "Close the account"),
        ("read_bill", "Read a bill"),
    ])
}

fn set_bill(bank: &ToolServer, bill: serde_json::Value) {
    bank.answer("read_bill", CallToolResult::structured(bill));
}

async fn start(token: &VerifiedToken, store: &Path) -> Setup<ToolServer> {
    common::start(token, store, bank()).await
}

async fn start_with(
    token: &VerifiedToken,
    store: &Path,
    approvals: Option<warden_mcp::Approvals>,
) -> Setup<ToolServer> {
    common::start_with(token, store, bank(), Box::new(NoRevocations), approvals).await
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
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
    assert_eq!(s.server.performed().len(), 3);
    // The metrics count the same: 3 forwarded, 4 refused, each forwarded
    // call's decision and server answer timed, nobody waiting.
    let exposition = service::metrics::encode(s.gateway.metrics().registry());
    let value = |name: &str, outcome: Option<&str>| {
        testkit::metrics::sample(&exposition, name, outcome.map(|o| ("outcome", o)))
    };
    assert_eq!(value("warden_mcp_requests_total", Some("forwarded")), 3.0);
    assert_eq!(value("warden_mcp_requests_total", Some("refused")), 4.0);
    assert_eq!(value("warden_mcp_decision_seconds_count", None), 3.0);
    assert_eq!(value("warden_mcp_upstream_seconds_count", None), 3.0);
    assert_eq!(value("warden_mcp_approvals_waiting", None), 0.0);
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
    assert_eq!(*s.server.performed(), ["get_balance {}"]);
    s.gateway.close();
}

/// The example token with `approve each call send_money when amount > 50`
/// (the banking spec's place for it), signed with `key`.
fn approve_each_token(key: &token::SigningKey) -> (String, VerifiedToken) {
    use warden_core::cond::{Cond, Operand, Pattern};
    let mut claims = warden_core::claims::example();
    let now = token::Timestamp::now();
    claims.iat = now;
    claims.nbf = now;
    claims.exp = token::Timestamp::from_unix(now.unix() + 600);
    claims
        .envelope
        .approvals
        .push(warden_core::envelope::ApprovalRule {
            pattern: Pattern {
                kind: Some(warden_core::vocab::ActionKind::Call),
                calls: Some(vec!["send_money".into()]),
                when: Cond::Cmp {
                    op: warden_core::vocab::CmpOp::Gt,
                    lhs: Operand::field("amount"),
                    rhs: Operand::Value {
                        value: warden_core::value::Value::Number(50.into()),
                    },
                },
            },
            rule: "banking.spec:9:3".parse().expect("a location"),
        });
    let text = token::paseto::sign(&claims, key).expect("sign");
    let verified = VerifiedToken::verify(&text, key.public_key(), &SystemClock, &NoRevocations)
        .expect("verify");
    (text, verified)
}

/// The service of testkit over gRPC on a loopback port.
async fn serve_service(fx: &testkit::service::Fixture) -> String {
    let (svc, _store) = fx.start(Default::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service::proto::warden_server::WardenServer::new(svc))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    format!("http://{addr}")
}

fn approvals(endpoint: &str, token: &str, timeout_ms: u64) -> warden_mcp::Approvals {
    warden_mcp::Approvals {
        endpoint: endpoint.to_owned(),
        tls_ca: None,
        secret: testkit::service::SUBMITTER.into(),
        token_text: token.to_owned(),
        timeout: std::time::Duration::from_millis(timeout_ms),
        poll: std::time::Duration::from_millis(50),
    }
}

/// The pending approvals of the service, read over gRPC the way an
/// approver's tool does, then decided through `Approve` / `Deny`.
async fn decide_next(endpoint: &str, approve: bool) -> service::proto::Approval {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        decide_next_pending(endpoint, approve),
    )
    .await
    .expect("a call's approval to decide within 60 s")
}

async fn decide_next_pending(endpoint: &str, approve: bool) -> service::proto::Approval {
    use service::proto::warden_client::WardenClient;
    let channel = service::loadgen::connect(endpoint, None)
        .await
        .expect("connect");
    let mut client = WardenClient::new(channel);
    let auth: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {}", testkit::service::APPROVER)
            .parse()
            .expect("header");
    // The gateway's request is the service's newest pending approval: wait
    // for it to appear in the service's event stream of approvals.
    let mut stream = {
        let mut r = tonic::Request::new(service::proto::StreamEventsRequest {
            kinds: vec!["approval".into()],
            after_seq: 0,
            replay: true,
        });
        r.metadata_mut().insert("authorization", auth.clone());
        client.stream_events(r).await.expect("events").into_inner()
    };
    let id = loop {
        let ev = stream
            .message()
            .await
            .expect("an event")
            .expect("the stream goes on");
        if ev.kind == "approval" {
            let body: serde_json::Value = serde_json::from_str(&ev.body_json).expect("json");
            if body["state"] == "pending" && body.get("call_digest").is_some() {
                let id = body["approval_id"].as_str().expect("an id").to_owned();
                let mut r = tonic::Request::new(service::proto::GetApprovalRequest {
                    approval_id: id.clone(),
                });
                r.metadata_mut().insert("authorization", auth.clone());
                let a = client.get_approval(r).await.expect("the approval");
                if a.get_ref().state == service::proto::ApprovalState::Pending as i32 {
                    break id;
                }
            }
        }
    };
    let mut r = tonic::Request::new(service::proto::DecideRequest {
        approval_id: id,
        reason: "checked the invoice".into(),
    });
    r.metadata_mut().insert("authorization", auth);
    if approve {
        client.approve(r).await
    } else {
        client.deny(r).await
    }
    .expect("decided")
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approve_each_call_waits_for_a_human_of_the_service() {
    let fx = testkit::service::Fixture::new();
    let endpoint = serve_service(&fx).await;
    let (text_tok, token) = approve_each_token(&fx.key);
    let dir = tempfile::tempdir().expect("tempdir");

    // No service configured: refused with "needs approval", never performed.
    let s = start(&token, &dir.path().join("alone.db")).await;
    let r = s.agent.call_tool(pay(80)).await.expect("answer");
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("needs approval"), "{}", text(&r));
    assert!(text(&r).contains("banking.spec:9:3"), "{}", text(&r));
    // Below the rule's condition nobody is asked.
    let small = s.agent.call_tool(pay(20)).await.expect("answer");
    assert_ne!(small.is_error, Some(true), "{}", text(&small));
    assert_eq!(s.server.performed().len(), 1);
    s.gateway.close();
    drop(s);

    let store = dir.path().join("gw.db");
    let s = start_with(
        &token,
        &store,
        Some(approvals(&endpoint, &text_tok, 20_000)),
    )
    .await;
    // Approved by an approver of the service: the call goes through, once.
    let agent = s.agent.peer().clone();
    let call = tokio::spawn(async move { agent.call_tool(pay(80)).await });
    let decided = decide_next(&endpoint, true).await;
    assert_eq!(decided.decided_by, "alice");
    assert_eq!(decided.call_token_id, token.claims().jti.to_string());
    assert!(
        decided.token.is_empty(),
        "a call's approval issues no token"
    );
    let r = call.await.expect("join").expect("answer");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(s.server.performed().len(), 1);

    // Denied: refused, with who denied it and why; never performed.
    let agent = s.agent.peer().clone();
    // (The same amount: the example's param `amount` keeps its first value.)
    let call = tokio::spawn(async move { agent.call_tool(pay(80)).await });
    decide_next(&endpoint, false).await;
    let r = call.await.expect("join").expect("answer");
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("alice denied it"), "{}", text(&r));
    assert!(text(&r).contains("checked the invoice"), "{}", text(&r));
    assert_eq!(s.server.performed().len(), 1);
    s.gateway.close();
    drop(s);

    // Nobody decides: refused at the timeout.
    let s = start_with(&token, &store, Some(approvals(&endpoint, &text_tok, 300))).await;
    let r = s.agent.call_tool(pay(80)).await.expect("answer");
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("nobody decided"), "{}", text(&r));
    assert!(s.server.performed().is_empty());
    s.gateway.close();
    drop(s);

    // The gateway's audit log names the approval of the call it let through.
    let log = service::store::sqlite::AuditReader::open(&store).expect("the log");
    let bodies: Vec<serde_json::Value> = log
        .records(&Default::default())
        .expect("records")
        .into_iter()
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b["kind"] == "allowed" && b["approved_by"] == "alice"),
        "{bodies:?}"
    );
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b["kind"] == "waiting_for_approval")
            .count(),
        3
    );

    // An unreachable service refuses (fail closed).
    let s = start_with(
        &token,
        &dir.path().join("down.db"),
        Some(approvals("http://127.0.0.1:9", &text_tok, 5_000)),
    )
    .await;
    let r = s.agent.call_tool(pay(80)).await.expect("answer");
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("could not be asked for"), "{}", text(&r));
    assert!(s.server.performed().is_empty());
    s.gateway.close();
}

/// A token for a plan accepted thanks to an assumption on `read_bill`'s
/// result, issued by the verifier.
fn assumption_token() -> VerifiedToken {
    let spec = planlang::load_spec_str(
        r#"spec "bills" {
  allow call read_bill
  allow call send_money when recipient == "UK12345678901234567890" and amount > 0 and amount <= 1000
}"#,
        "bills.spec",
    )
    .expect("the spec loads");
    let plan = planlang::load_plan_str(
        r#"plan "pay" {
  let bill = call read_bill(file = "b.txt") where bill.amount > 0 and bill.amount <= 100
  call send_money(recipient = "UK12345678901234567890", amount = bill.amount)
}"#,
        "bills.plan",
    )
    .expect("the plan loads");
    let out = verifier::CompiledSpec::compile(&spec)
        .expect("the spec compiles")
        .check(&plan)
        .expect("the plan checks");
    assert_eq!(out.verdict, verifier::report::Verdict::Accept, "{out:#?}");
    let mut claims = warden_core::claims::example();
    let now = token::Timestamp::now();
    claims.iat = now;
    claims.nbf = now;
    claims.exp = token::Timestamp::from_unix(now.unix() + 600);
    claims.envelope = out.envelope.expect("an envelope");
    let key = token::SigningKey::generate().expect("a key");
    let text = token::paseto::sign(&claims, &key).expect("sign");
    VerifiedToken::verify(&text, key.public_key(), &SystemClock, &NoRevocations).expect("verify")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_fails_its_assumption_is_withheld_and_stops_the_run() {
    let token = assumption_token();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("gw.db");
    let s = start(&token, &store).await;
    let read = || call("read_bill", json!({"file": "b.txt"}));

    // A bill that meets the assumption: the agent sees it, and may pay its
    // amount (a value from the result), not another.
    set_bill(&s.server, json!({"amount": 40, "subject": "December"}));
    let r = s.agent.call_tool(read()).await.expect("answer");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(
        r.structured_content,
        Some(json!({"amount": 40, "subject": "December"}))
    );
    let paid = s.agent.call_tool(pay(40)).await.expect("answer");
    assert_ne!(paid.is_error, Some(true), "{}", text(&paid));
    let made_up = s.agent.call_tool(pay(41)).await.expect("answer");
    assert_eq!(made_up.is_error, Some(true), "{}", text(&made_up));

    // A bill over the assumption: withheld from the agent, the refusal
    // names the condition and its place, and the run stops.
    set_bill(&s.server, json!({"amount": 4000}));
    let r = s.agent.call_tool(read()).await.expect("answer");
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(r.structured_content, None, "the result is withheld");
    let said = text(&r);
    assert!(
        said.contains("bill.amount > 0 and bill.amount <= 100")
            && said.contains("bills.plan:2:")
            && said.contains("`bill.amount` is 4000"),
        "{said}"
    );
    let after = s.agent.call_tool(pay(40)).await.expect("answer");
    assert_eq!(after.is_error, Some(true), "{}", text(&after));
    assert!(
        text(&after).contains("the run is stopped"),
        "{}",
        text(&after)
    );
    assert_eq!(
        s.server.performed().len(),
        3,
        "two reads and one payment reached the bank"
    );
    s.gateway.close();
    drop(s);

    // The stop is durable: a gateway opened again on the store refuses too.
    let s = start(&token, &store).await;
    let again = s.agent.call_tool(read()).await.expect("answer");
    assert_eq!(again.is_error, Some(true), "{}", text(&again));
    assert!(
        text(&again).contains("the run is stopped"),
        "{}",
        text(&again)
    );
    assert!(s.server.performed().is_empty());
    s.gateway.close();
}
