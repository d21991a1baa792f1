//! `warden mcp --service URL`: the gateway consults the revocations it
//! follows from a service (`WatchRevocations`) on every call, so a token
//! revoked through the service mid-run has its next call refused, and the
//! server never sees it.

mod common;

use common::{ToolServer, start_with, text};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use std::time::Duration;
use token::{NoRevocations, SystemClock, VerifiedToken};

/// A server with one tool, `get_balance`, recording the calls it performs.
fn balance() -> ToolServer {
    let server = ToolServer::new(&[("get_balance", "The balance")]);
    server.answer(
        "get_balance",
        CallToolResult::success(vec![ContentBlock::text("42")]),
    );
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_the_service_refuses_the_gateways_next_call() {
    let fx = testkit::service::Fixture::new();
    let (svc, _store) = fx.start(Default::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service::proto::warden_server::WardenServer::new(svc))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });

    // What `warden mcp --service URL` does: follow the service's
    // revocations and hand the list to the gateway.
    let list = service::watch::WatchedRevocations::default();
    let fed = list.clone();
    let opts = service::watch::WatchOptions {
        endpoint: endpoint.clone(),
        tls_ca: None,
        secret: testkit::service::SUBMITTER.into(),
        give_up_after: Duration::from_secs(10),
    };
    let _watcher = tokio::task::spawn_blocking(move || {
        service::watch::watch_revocations(opts, move |event| fed.apply(&event))
    })
    .await
    .expect("the watch starts")
    .expect("the service answers");

    let (tok, key) = token::doc_example_token().expect("a token");
    let token = VerifiedToken::verify(&tok, &key, &SystemClock, &NoRevocations).expect("verify");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start_with(
        &token,
        &dir.path().join("gw.db"),
        balance(),
        Box::new(list.clone()),
        None,
    )
    .await;
    let balance = || s.agent.call_tool(CallToolRequestParams::new("get_balance"));
    let r = balance().await.expect("an answer");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(s.server.performed().len(), 1);

    // Revoked through the service (an admin's `warden revoke`).
    let jti = token.claims().jti.to_string();
    let mut admin = service::proto::warden_client::WardenClient::connect(endpoint)
        .await
        .expect("connect");
    let mut req = tonic::Request::new(service::proto::RevokeRequest {
        token_id: jti.clone(),
        reason: "test".into(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", testkit::service::ADMIN)
            .parse()
            .expect("a header"),
    );
    admin.revoke(req).await.expect("revoked");
    // The watch delivers it within moments; poll for the refusal (no
    // wall-clock assertion: the bound only ends a test that would hang).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = balance().await.expect("an answer");
        if r.is_error == Some(true) {
            assert!(text(&r).contains("revoked"), "{}", text(&r));
            assert!(text(&r).contains(&jti), "{}", text(&r));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the revocation never reached the gateway"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let performed = s.server.performed().len();
    // Every later call is refused, and none reaches the server.
    for _ in 0..3 {
        let r = balance().await.expect("an answer");
        assert_eq!(r.is_error, Some(true), "{}", text(&r));
    }
    assert_eq!(s.server.performed().len(), performed);
    s.gateway.close();
}
