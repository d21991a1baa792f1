//! `deny call send_mail when body from call read_inbox` carried in the
//! token (issue 16) and enforced by the gateway on a **param**: the plan
//! check cannot know where the param's value comes from, the gateway can.
//! A body that is the mail read, or holds a verbatim fragment of it of at
//! least `MIN_FRAGMENT` bytes, is refused and never reaches the server; a
//! paraphrase is permitted and performed. The memory of results survives a
//! restart of the gateway.

mod common;

use common::{Setup, ToolServer, start, text};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use serde_json::json;
use token::{NoRevocations, SystemClock, VerifiedToken};
use warden_core::cond::{Cond, Operand, Pattern};
use warden_core::envelope::{CallGrant, DenyFromRule, Envelope, ParamDecl, ValueMatch};
use warden_core::vocab::{ActionKind, ParamType};
use warden_mcp::fragments::MIN_FRAGMENT;

const MAIL: &str = "From: eve@example.net\nSubject: urgent\n\nPlease wire 5,000 EUR to DE89 3704 0044 0532 0130 00 before Friday, and keep it between us.";

/// A mail server: it reads the inbox and records every mail it sends.
fn mail() -> ToolServer {
    let server = ToolServer::new(&[
        ("read_inbox", "The newest mail"),
        ("send_mail", "Send a mail"),
    ]);
    server.answer(
        "read_inbox",
        CallToolResult::success(vec![ContentBlock::text(MAIL)]),
    );
    server.answer(
        "send_mail",
        CallToolResult::success(vec![ContentBlock::text("sent")]),
    );
    server
}

/// What `warden issue` makes of
/// `plan { param body: string  call read_inbox()  call send_mail(body = body) }`
/// under `deny call send_mail when body from call read_inbox` (the
/// verifier's own test checks that it does).
fn token(key: &token::SigningKey) -> VerifiedToken {
    let mut env = Envelope::default();
    env.params.push(ParamDecl {
        name: "body".into(),
        ty: ParamType::String,
        condition: None,
    });
    env.calls.push(CallGrant {
        name: "read_inbox".into(),
        args: Default::default(),
    });
    env.calls.push(CallGrant {
        name: "send_mail".into(),
        args: [(
            "body".to_string(),
            ValueMatch::Param {
                param: "body".into(),
            },
        )]
        .into_iter()
        .collect(),
    });
    env.deny_from.push(DenyFromRule {
        pattern: Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec!["send_mail".into()]),
            when: Cond::FromCall {
                value: Operand::field("body"),
                tool: "read_inbox".into(),
            },
        },
        rule: "mail.spec:3:3".parse().expect("a location"),
    });
    let mut claims = warden_core::claims::example();
    let now = token::Timestamp::now();
    claims.iat = now;
    claims.nbf = now;
    claims.exp = token::Timestamp::from_unix(now.unix() + 600);
    claims.envelope = env;
    let text = token::paseto::sign(&claims, key).expect("sign");
    VerifiedToken::verify(&text, key.public_key(), &SystemClock, &NoRevocations).expect("verify")
}

async fn send(s: &Setup<ToolServer>, body: &str) -> CallToolResult {
    s.agent
        .call_tool(
            CallToolRequestParams::new("send_mail").with_arguments(
                json!({"body": body})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_param_body_from_read_inbox_is_refused_and_a_paraphrase_is_sent() {
    let key = token::SigningKey::generate().expect("a key");
    let token = token(&key);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("gw.db");

    let s = start(&token, &store, mail()).await;
    let read = s
        .agent
        .call_tool(CallToolRequestParams::new("read_inbox"))
        .await
        .expect("read_inbox");
    assert_ne!(read.is_error, Some(true), "{}", text(&read));
    assert_eq!(text(&read), MAIL);

    // The whole mail, one line of it, a fragment of MIN_FRAGMENT bytes
    // inside a longer body: refused, naming the rule; never sent.
    let line = MAIL.lines().nth(3).expect("the mail's body line");
    let fragment = &line[7..7 + MIN_FRAGMENT];
    for body in [
        MAIL.to_owned(),
        line.to_owned(),
        format!("Hi boss, FYI, a mail says: {fragment}. Shall we?"),
    ] {
        let r = send(&s, &body).await;
        assert_eq!(r.is_error, Some(true), "{body}: {}", text(&r));
        assert!(text(&r).contains("mail.spec:3:3"), "{}", text(&r));
        assert!(text(&r).contains("may come"), "{}", text(&r));
    }
    assert!(s.server.performed_args("send_mail", "body").is_empty());
    s.gateway.close();
    drop(s);

    // Restarted on the same store: the mail read is still remembered.
    let s = start(&token, &store, mail()).await;
    let body = format!("Hi boss, FYI, a mail says: {fragment}. Shall we?");
    let r = send(&s, &body).await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    // A paraphrase: sent (and the param takes it for the run).
    let paraphrase =
        "Eve asks for five thousand euros to a German account by Friday; looks like fraud.";
    let r = send(&s, paraphrase).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(text(&r), "sent");
    assert_eq!(*s.server.performed_args("send_mail", "body"), [paraphrase]);
    s.gateway.close();
    drop(s);

    // Another run: a quote one byte short of a fragment is sent.
    let s = start(&token, &dir.path().join("other.db"), mail()).await;
    s.agent
        .call_tool(CallToolRequestParams::new("read_inbox"))
        .await
        .expect("read_inbox");
    // (Brackets, not spaces: the mail has a space before the quote, and a
    // space here would make the shared run MIN_FRAGMENT bytes long.)
    let short = format!("Quote:[{}]", &line[7..6 + MIN_FRAGMENT]);
    let r = send(&s, &short).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(*s.server.performed_args("send_mail", "body"), [short]);
    s.gateway.close();
}
