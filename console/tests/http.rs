//! The console over HTTP, in process, against the real service (verifier,
//! token engine, SQLite store): security headers, sign-in, CSRF, escaping
//! of agent-supplied text, decisions through the service's path, and the
//! refusal of an approval by the plan's submitter.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use service::proto::{self, warden_server::Warden};
use service::server::{Shared, WardenService};
use service::store::sqlite::{SqliteOptions, SqliteStore};
use service::store::{ApprovalState, Store};
use service::warden_engine::WardenEngine;
use std::sync::Arc;
use std::time::Duration;
use testkit::service::{ADMIN, APPROVER, Fixture, SUBMITTER};
use tower::ServiceExt;

/// Script payloads in a plan's name, goal and string argument.
const XSS: &str = r#"<img src=x onerror=alert(1)>"#;
const XSS2: &str = r#"</textarea><script>alert(2)</script>"#;

fn plan(name: &str, goal: &str, arg: &str) -> String {
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "plan \"{}\" {{\n  agent \"bot\"\n  goal \"{}\"\n  call get_balance()\n  call send_money(recipient = \"{}\", amount = 10)\n}}\n",
        q(name),
        q(goal),
        q(arg)
    )
}

struct Env {
    _fixture: Fixture,
    svc: WardenService<WardenEngine>,
    store: Arc<SqliteStore>,
    app: Router,
}

async fn env_with(sign_in_per_minute: u32, tls: bool) -> Env {
    let fixture = Fixture::new();
    let (svc, store) = fixture.start(SqliteOptions::default()).await;
    let shared = Shared {
        decisions: Arc::new(svc.clone()),
        store: store.clone(),
        auth: testkit::service::authenticator(),
        audit_keys: fixture.key.public_key().into(),
        metrics: svc.metrics(),
    };
    let app = console::router(
        shared,
        console::Options {
            sign_in_per_minute,
            session: Duration::from_secs(600),
            tls,
            poll: Duration::from_millis(50),
        },
    );
    Env {
        _fixture: fixture,
        svc,
        store,
        app,
    }
}

async fn env() -> Env {
    env_with(100, false).await
}

fn grpc<T>(msg: T, secret: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}

async fn submit(e: &Env, plan_text: &str, secret: &str) -> String {
    let r = e
        .svc
        .submit_plan(grpc(
            proto::SubmitPlanRequest {
                plan: plan_text.into(),
                spec: "bank".into(),
                agent: "bot".into(),
            },
            secret,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict, proto::Verdict::Approve as i32);
    r.approval_id
}

async fn send(e: &Env, req: Request<Body>) -> Response<Body> {
    e.app.clone().oneshot(req).await.unwrap()
}

async fn text(r: Response<Body>) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of `name="csrf" value="…"` in a page.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_owned()
}

fn set_cookies(r: &Response<Body>) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter()
        .filter_map(|c| c.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// Signs in with `secret`: the response to the sign-in POST.
async fn try_sign_in(e: &Env, secret: &str) -> Response<Body> {
    let page = send(e, get("/login", "")).await;
    let login = cookie_value(&set_cookies(&page), "warden_login").expect("a login cookie");
    let csrf = csrf_in(&text(page).await);
    assert_eq!(csrf, login);
    send(
        e,
        post(
            "/login",
            &format!("warden_login={login}"),
            &[("csrf", &csrf), ("secret", secret)],
        ),
    )
    .await
}

/// A signed-in session: its cookie header and its CSRF token.
async fn sign_in(e: &Env, secret: &str) -> (String, String) {
    let r = try_sign_in(e, secret).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = cookie_value(&set_cookies(&r), "warden_session").expect("a session cookie");
    let cookie = format!("warden_session={session}");
    let page = text(send(e, get("/", &cookie)).await).await;
    (cookie.clone(), csrf_in(&page))
}

#[tokio::test]
async fn every_response_carries_a_strict_csp_and_no_inline_script() {
    let e = env().await;
    for path in ["/login", "/", "/nope", "/static/console.js"] {
        let r = send(&e, get(path, "")).await;
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert_eq!(csp, console::CSP, "{path}");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
    assert!(console::CSP.contains("script-src 'self'"));
    assert!(!console::CSP.contains("unsafe"));
    let (cookie, _) = sign_in(&e, APPROVER).await;
    let page = text(send(&e, get("/", &cookie)).await).await;
    // The only script is the static file: no inline script, no handlers.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(page.contains("<script src=\"/static/console.js\" defer></script>"));
    assert!(!page.contains(" on"), "an event handler attribute: {page}");
}

#[tokio::test]
async fn pages_need_a_session() {
    let e = env().await;
    for path in ["/", "/audit", "/events", "/approvals/x", "/decided"] {
        let r = send(&e, get(path, "")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[header::LOCATION], "/login");
        let r = send(&e, get(path, "warden_session=forged")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
}

#[tokio::test]
async fn session_cookies_are_http_only_strict_and_secure_under_tls() {
    for tls in [false, true] {
        let e = env_with(100, tls).await;
        let r = try_sign_in(&e, APPROVER).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = set_cookies(&r);
        let session = set
            .iter()
            .find(|c| c.starts_with("warden_session="))
            .unwrap();
        assert!(session.contains("; HttpOnly"), "{session}");
        assert!(session.contains("; SameSite=Strict"), "{session}");
        assert_eq!(session.contains("; Secure"), tls, "{session}");
    }
}

#[tokio::test]
async fn sign_in_refuses_submitters_unknown_secrets_and_forms_without_their_token() {
    let e = env().await;
    let r = try_sign_in(&e, SUBMITTER).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(cookie_value(&set_cookies(&r), "warden_session"), None);
    assert!(text(r).await.contains("submitter"));
    let r = try_sign_in(&e, "not-a-credential-at-all").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(cookie_value(&set_cookies(&r), "warden_session"), None);
    // A sign-in POST without the form's token (login CSRF) is refused even
    // with a good credential.
    let r = send(&e, post("/login", "", &[("secret", APPROVER)])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(cookie_value(&set_cookies(&r), "warden_session"), None);
    let r = send(
        &e,
        post(
            "/login",
            "warden_login=aaaa",
            &[("csrf", "bbbb"), ("secret", APPROVER)],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Admins may sign in.
    sign_in(&e, ADMIN).await;
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address() {
    let e = env_with(3, false).await;
    for _ in 0..3 {
        let r = try_sign_in(&e, "wrong-credential-000000").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Over the limit even the right credential is not tried.
    let r = try_sign_in(&e, APPROVER).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(cookie_value(&set_cookies(&r), "warden_session"), None);
}

#[tokio::test]
async fn decisions_without_the_csrf_token_or_by_get_are_refused() {
    let e = env().await;
    let id = submit(&e, &plan("pay", "pay rent", "UK1"), SUBMITTER).await;
    let (cookie, csrf) = sign_in(&e, APPROVER).await;
    let path = format!("/approvals/{id}/approve");
    let r = send(&e, post(&path, &cookie, &[("reason", "ok")])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text(r).await.contains("CSRF"));
    let r = send(
        &e,
        post(
            &path,
            &cookie,
            &[("csrf", &"0".repeat(64)), ("reason", "ok")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Another session's token does not do either.
    let (_, other_csrf) = sign_in(&e, ADMIN).await;
    assert_ne!(other_csrf, csrf);
    let r = send(
        &e,
        post(&path, &cookie, &[("csrf", &other_csrf), ("reason", "ok")]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // No approval by GET.
    let r = send(&e, get(&format!("{path}?csrf={csrf}&reason=ok"), &cookie)).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        e.store.approval(&id).unwrap().unwrap().state,
        ApprovalState::Pending
    );
    // Sign-out needs the token too.
    let r = send(&e, post("/logout", &cookie, &[])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn approve_and_deny_go_through_the_service() {
    let e = env().await;
    let a = submit(&e, &plan("pay", "pay rent", "UK1"), SUBMITTER).await;
    let b = submit(&e, &plan("pay2", "pay more", "UK2"), SUBMITTER).await;
    let (cookie, csrf) = sign_in(&e, APPROVER).await;
    let page = text(send(&e, get(&format!("/approvals/{a}"), &cookie)).await).await;
    // The marked step with its rule and where the rule is.
    assert!(
        page.contains("class=\"line marked\" data-line=\"5\""),
        "{page}"
    );
    assert!(page.contains("bank.spec:3:3"), "{page}");
    let r = send(
        &e,
        post(
            &format!("/approvals/{a}/approve"),
            &cookie,
            &[("csrf", &csrf), ("reason", "rent is due")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = send(
        &e,
        post(
            &format!("/approvals/{b}/deny"),
            &cookie,
            &[("csrf", &csrf), ("reason", "not this month")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The gRPC door sees both decisions at once, with the token.
    let got = |id: &str| {
        e.svc.get_approval(grpc(
            proto::GetApprovalRequest {
                approval_id: id.into(),
            },
            SUBMITTER,
        ))
    };
    let ra = got(&a).await.unwrap().into_inner();
    assert_eq!(ra.state, proto::ApprovalState::Approved as i32);
    assert_eq!(ra.decided_by, "alice");
    assert_eq!(ra.decision_reason, "rent is due");
    assert!(ra.token.starts_with("v4.public."));
    let rb = got(&b).await.unwrap().into_inner();
    assert_eq!(rb.state, proto::ApprovalState::Denied as i32);
    // Deciding again is refused, and so is an empty reason.
    let r = send(
        &e,
        post(
            &format!("/approvals/{a}/deny"),
            &cookie,
            &[("csrf", &csrf), ("reason", "again")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let c = submit(&e, &plan("pay3", "g", "UK3"), SUBMITTER).await;
    let r = send(
        &e,
        post(
            &format!("/approvals/{c}/approve"),
            &cookie,
            &[("csrf", &csrf), ("reason", "  ")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The audit page verifies the chain and shows the decisions.
    let audit = text(send(&e, get("/audit", &cookie)).await).await;
    assert!(audit.contains("Chain verified"), "{audit}");
    assert!(audit.contains("rent is due"), "{audit}");
    let sub = e.store.approval(&a).unwrap().unwrap().submission_id;
    let run = text(send(&e, get(&format!("/audit/runs/{sub}"), &cookie)).await).await;
    assert!(run.contains(&ra.token_id), "{run}");
}

#[tokio::test]
async fn the_submitter_cannot_approve_their_own_plan_admin_included() {
    let e = env().await;
    let id = submit(&e, &plan("mine", "self", "UK1"), ADMIN).await;
    let (cookie, csrf) = sign_in(&e, ADMIN).await;
    let r = send(
        &e,
        post(
            &format!("/approvals/{id}/approve"),
            &cookie,
            &[("csrf", &csrf), ("reason", "looks fine to me")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text(r).await.contains("own submission"));
    assert_eq!(
        e.store.approval(&id).unwrap().unwrap().state,
        ApprovalState::Pending
    );
}

#[tokio::test]
async fn agent_supplied_text_is_escaped_on_every_page_and_in_live_updates() {
    let e = env().await;
    let id = submit(&e, &plan(XSS, XSS2, XSS), SUBMITTER).await;
    let (cookie, _) = sign_in(&e, APPROVER).await;
    let sub = e.store.approval(&id).unwrap().unwrap().submission_id;
    for path in [
        "/".to_owned(),
        format!("/approvals/{id}"),
        format!("/audit/runs/{sub}"),
        "/audit".to_owned(),
    ] {
        let page = text(send(&e, get(&path, &cookie)).await).await;
        assert!(!page.contains("<img"), "{path}: {page}");
        assert!(!page.contains("<script>"), "{path}: {page}");
        assert!(!page.contains("</textarea><script"), "{path}: {page}");
    }
    let page = text(send(&e, get(&format!("/approvals/{id}"), &cookie)).await).await;
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;/textarea&gt;&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{page}"
    );
    // The live-update stream sends JSON text (set with textContent by
    // console.js); its first event is the pending list with the payload.
    let r = send(&e, get("/events", &cookie)).await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = r.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    let data = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    let json = data
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let items: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(items[0]["plan"], XSS);
    assert_eq!(items[0]["id"], id.as_str());
}

#[tokio::test]
async fn the_live_stream_ends_with_the_session() {
    let e = env().await;
    let (cookie, csrf) = sign_in(&e, APPROVER).await;
    let mut body = send(&e, get("/events", &cookie)).await.into_body();
    // The first event: the (empty) pending list.
    let first = tokio::time::timeout(Duration::from_secs(30), body.frame())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(first.data_ref().unwrap()).contains("data: []"));
    let r = send(&e, post("/logout", &cookie, &[("csrf", &csrf)])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A plan submitted now is not sent: the stream is over.
    submit(&e, &plan("after", "g", "UK1"), SUBMITTER).await;
    let rest = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .expect("the stream ends")
        .unwrap()
        .to_bytes();
    assert!(!String::from_utf8_lossy(&rest).contains("after"));
    // And the session is gone for pages too.
    let r = send(&e, get("/", &cookie)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_and_grpc_race_and_one_decision_wins() {
    let e = env().await;
    let (cookie, csrf) = sign_in(&e, APPROVER).await;
    for _ in 0..5 {
        let id = submit(&e, &plan("race", "g", "UK1"), SUBMITTER).await;
        let path = format!("/approvals/{id}/deny");
        let web = send(
            &e,
            post(&path, &cookie, &[("csrf", &csrf), ("reason", "web")]),
        );
        let rpc = e.svc.approve(grpc(
            proto::DecideRequest {
                approval_id: id.clone(),
                reason: "rpc".into(),
            },
            ADMIN,
        ));
        let (web, rpc) = tokio::join!(web, rpc);
        let stored = e.store.approval(&id).unwrap().unwrap();
        match (web.status(), rpc) {
            (StatusCode::SEE_OTHER, Err(s)) => {
                assert_eq!(s.code(), tonic::Code::FailedPrecondition, "{s:?}");
                assert_eq!(stored.state, ApprovalState::Denied);
            }
            (StatusCode::CONFLICT, Ok(_)) => assert_eq!(stored.state, ApprovalState::Approved),
            (web, rpc) => panic!("exactly one decision must win: {web} {rpc:?}"),
        }
    }
}
