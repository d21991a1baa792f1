//! The service in process, with the real verifier and token engine: approval
//! races, re-proving at approval time, revocations surviving a restart, and
//! the live event stream.

use service::audit::EventKind;
use service::proto::{self, warden_server::Warden};
use service::server::WardenService;
use service::specs::SpecRegistry;
use service::store::sqlite::{AuditReader, SqliteOptions, SqliteStore};
use service::store::{RecordQuery, Store};
use service::warden_engine::WardenEngine;
use std::path::Path;
use std::sync::Arc;
use testkit::service::{ADMIN, APPROVER, APPROVER2, Fixture, SUBMITTER};
use tokio_stream::StreamExt;
use tonic::{Code, Request};

const PLAN: &str = r#"plan "pay" {
  agent "bot"
  call get_balance()
  call send_money(recipient = "UK1", amount = 10)
}
"#;

type Env = Fixture;

fn env() -> Env {
    Fixture::new()
}

async fn start(e: &Env) -> (WardenService<WardenEngine>, Arc<SqliteStore>) {
    e.start(SqliteOptions {
        checkpoint_every: 5,
        ..Default::default()
    })
    .await
}

fn req<T>(msg: T, secret: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}

async fn submit(svc: &WardenService<WardenEngine>) -> proto::SubmitPlanResponse {
    svc.submit_plan(req(
        proto::SubmitPlanRequest {
            plan: PLAN.into(),
            spec: "bank".into(),
            agent: "bot".into(),
        },
        SUBMITTER,
    ))
    .await
    .unwrap()
    .into_inner()
}

fn decide(id: &str, secret: &str) -> Request<proto::DecideRequest> {
    req(
        proto::DecideRequest {
            approval_id: id.into(),
            reason: "checked".into(),
        },
        secret,
    )
}

fn verify(e: &Env) -> service::audit::VerifyReport {
    let pk = e.key.public_key().clone();
    AuditReader::open(&e.db)
        .unwrap()
        .verify(&pk)
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_approvers_race_and_one_wins() {
    let e = env();
    let (svc, store) = start(&e).await;
    let r = submit(&svc).await;
    assert_eq!(r.verdict, proto::Verdict::Approve as i32);
    let (a, b) = tokio::join!(
        svc.approve(decide(&r.approval_id, APPROVER)),
        svc.deny(decide(&r.approval_id, APPROVER2))
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) => (w.into_inner(), l),
        (Err(l), Ok(w)) => (w.into_inner(), l),
        other => panic!("exactly one decision must win: {other:?}"),
    };
    assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
    let stored = svc
        .get_approval(req(
            proto::GetApprovalRequest {
                approval_id: r.approval_id.clone(),
            },
            SUBMITTER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.state, won.state);
    assert_eq!(stored.decided_by, won.decided_by);
    // Exactly one decision record.
    let decided: Vec<_> = store
        .records(&RecordQuery {
            kinds: vec![EventKind::Approval],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|r| r.body_json()["state"] != "pending")
        .collect();
    assert_eq!(decided.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_approves_their_own_submission_admin_included() {
    let e = env();
    let (svc, store) = start(&e).await;
    let r = svc
        .submit_plan(req(
            proto::SubmitPlanRequest {
                plan: PLAN.into(),
                spec: "bank".into(),
                agent: "bot".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    let stored = store.approval(&r.approval_id).unwrap().unwrap();
    assert_eq!(stored.submitted_by.as_deref(), Some("root"));
    // The step that needs approval is marked with its rule and where it is.
    assert_eq!(stored.marks.len(), 1, "{:?}", stored.marks);
    assert_eq!(stored.marks[0].step_line, Some(4));
    let rule_at = stored.marks[0].rule_at.as_deref().unwrap_or_default();
    assert!(rule_at.ends_with("bank.spec:3:3"), "{rule_at}");
    let err = svc
        .approve(decide(&r.approval_id, ADMIN))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("own submission"),
        "{}",
        err.message()
    );
    assert_eq!(
        store.approval(&r.approval_id).unwrap().unwrap().state,
        service::store::ApprovalState::Pending
    );
    // Another approver may.
    let ok = svc
        .approve(decide(&r.approval_id, APPROVER))
        .await
        .unwrap()
        .into_inner();
    assert!(!ok.token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_reproves_against_the_spec_in_force() {
    let e = env();
    let (svc, _store) = start(&e).await;
    let r = submit(&svc).await;
    // The security team removes send_money before anyone approves.
    std::fs::write(
        e.specs.join("bank.spec"),
        "spec \"bank\" { allow call get_balance }",
    )
    .unwrap();
    svc.reload_specs(false).await.unwrap();
    let err = svc
        .approve(decide(&r.approval_id, APPROVER))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("rejects"), "{}", err.message());
    // Nothing was decided.
    let a = svc
        .get_approval(req(
            proto::GetApprovalRequest {
                approval_id: r.approval_id,
            },
            APPROVER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.state, proto::ApprovalState::Pending as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_a_restart() {
    let e = env();
    let token = {
        let (svc, store) = start(&e).await;
        let r = submit(&svc).await;
        let a = svc
            .approve(decide(&r.approval_id, APPROVER))
            .await
            .unwrap()
            .into_inner();
        svc.revoke(req(
            proto::RevokeRequest {
                token_id: a.token_id.clone(),
                reason: "leaked".into(),
            },
            APPROVER,
        ))
        .await
        .unwrap();
        drop(svc);
        store.close();
        a.token
    };
    let (svc, _store) = start(&e).await;
    let err = svc
        .check_action(req(get_balance(token), SUBMITTER))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("revoked"));
    verify(&e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_replays_then_follows() {
    let e = env();
    let (svc, _store) = start(&e).await;
    let first = submit(&svc).await;
    let mut stream = svc
        .stream_events(req(
            proto::StreamEventsRequest {
                kinds: vec!["submission".into(), "approval".into()],
                after_seq: 0,
                replay: true,
            },
            APPROVER,
        ))
        .await
        .unwrap()
        .into_inner();
    let ev = stream.next().await.unwrap().unwrap();
    assert_eq!(ev.kind, "submission");
    assert!(ev.body_json.contains(&first.submission_id));
    let ev = stream.next().await.unwrap().unwrap();
    assert_eq!(ev.kind, "approval");
    // Live: a new submission arrives on the open stream.
    let second = submit(&svc).await;
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.kind, "submission");
    assert!(ev.body_json.contains(&second.submission_id));
    // Submitters may not watch.
    let err = svc
        .stream_events(req(proto::StreamEventsRequest::default(), SUBMITTER))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = svc
        .stream_events(req(
            proto::StreamEventsRequest {
                kinds: vec!["bogus".into()],
                ..Default::default()
            },
            APPROVER,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[test]
fn spec_dir_must_exist() {
    let e = env();
    let reg: SpecRegistry<WardenEngine> = SpecRegistry::new(Path::new("/nonexistent/specs"));
    let engine = WardenEngine::with_key(e.key.clone(), "w");
    assert!(reg.reload(&engine).is_err());
}

/// `SubmitPlan` proves the enforcement profiles as `warden issue` does: a
/// plan that runs one program with a literal argument list, against a spec
/// that restricts that program's arguments, gets a token whose root
/// profiles are proven (the eBPF exec check holds the run to the argv).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_plan_issues_a_root_token_for_an_argv_restricted_exec() {
    let e = env();
    std::fs::write(
        e.specs.join("build.spec"),
        r#"spec "build" {
  allow exec "/usr/bin/cargo" when argv[0] in ["build", "test"]
}
"#,
    )
    .unwrap();
    let (svc, _) = start(&e).await;
    let r = svc
        .submit_plan(req(
            proto::SubmitPlanRequest {
                plan: "plan \"b\" {\n  exec \"/usr/bin/cargo\" [\"build\"]\n}\n".into(),
                spec: "build".into(),
                agent: "bot".into(),
            },
            SUBMITTER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict(), proto::Verdict::Accept, "{r:?}");
    let claims = token::paseto::verify(&r.token, e.key.public_key(), &token::SystemClock)
        .expect("the issued token verifies");
    let proven = |name: &str| {
        claims
            .enforcement
            .iter()
            .find(|p| p.profile == name)
            .unwrap_or_else(|| panic!("no {name} profile: {:?}", claims.enforcement))
            .proven
    };
    assert!(proven("root") && proven("root+bpf-lsm"));
    assert!(!proven("unprivileged"), "any arguments are not proven");
}

/// A run's token that passed CheckAction is refused after its expiry: the
/// run's cached state does not outlive the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_action_refuses_once_the_token_expired() {
    let e = env();
    let (svc, _store) = start(&e).await;
    let r = svc
        .submit_plan(req(
            proto::SubmitPlanRequest {
                plan: "plan \"look\" {\n  agent \"bot\"\n  ttl 2s\n  call get_balance()\n}\n"
                    .into(),
                spec: "bank".into(),
                agent: "bot".into(),
            },
            SUBMITTER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.token.is_empty(), "not accepted: {r:?}");
    let exp = token::paseto::decode_unverified(&r.token)
        .unwrap()
        .claims
        .unwrap()
        .exp;
    let check = |token: String| svc.check_action(req(get_balance(token), SUBMITTER));
    let allowed = check(r.token.clone()).await.unwrap().into_inner();
    assert!(allowed.allowed, "{allowed:?}");
    // Past `exp` (whole seconds): the same check on the same run refuses.
    while token::Timestamp::now() < exp {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let err = check(r.token).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("expired"), "{}", err.message());
    verify(&e);
}

/// A CheckAction request for the call `get_balance()` under `token`.
fn get_balance(token: String) -> proto::CheckActionRequest {
    proto::CheckActionRequest {
        token,
        action: Some(proto::Action {
            kind: Some(proto::action::Kind::Call(proto::CallAction {
                name: "get_balance".into(),
                args: Default::default(),
            })),
        }),
    }
}

/// `deny call send_mail when body from call read_inbox` with the body a
/// param rides in the token; a CheckAction cannot say where the body came
/// from, so the service refuses the call (fail closed) and leaves the run
/// as it was. The same plan under a spec without the rule is allowed.
#[tokio::test]
async fn check_action_refuses_a_call_a_deny_from_rule_may_see() {
    let e = env();
    std::fs::write(
        e.specs.join("mail.spec"),
        "spec \"mail\" {\n  allow call read_inbox, send_mail\n  deny call send_mail when body from call read_inbox\n}\n",
    )
    .unwrap();
    std::fs::write(
        e.specs.join("open.spec"),
        "spec \"open\" {\n  allow call read_inbox, send_mail\n}\n",
    )
    .unwrap();
    let (svc, _store) = start(&e).await;
    let plan = "plan \"mail\" {\n  agent \"bot\"\n  param body: string\n  call read_inbox()\n  call send_mail(body = body)\n}\n";
    let issue = |spec: &str| {
        svc.submit_plan(req(
            proto::SubmitPlanRequest {
                plan: plan.into(),
                spec: spec.into(),
                agent: "bot".into(),
            },
            SUBMITTER,
        ))
    };
    let guarded = issue("mail").await.unwrap().into_inner();
    assert!(!guarded.token.is_empty(), "not accepted: {guarded:?}");
    let open = issue("open").await.unwrap().into_inner();
    assert!(!open.token.is_empty(), "not accepted: {open:?}");
    let call = |token: &str, name: &str, body: Option<&str>| {
        let args = body
            .map(|b| {
                [(
                    "body".to_string(),
                    proto::ArgValue {
                        value: Some(proto::arg_value::Value::Text(b.into())),
                        from_call: String::new(),
                    },
                )]
                .into_iter()
                .collect()
            })
            .unwrap_or_default();
        svc.check_action(req(
            proto::CheckActionRequest {
                token: token.to_owned(),
                action: Some(proto::Action {
                    kind: Some(proto::action::Kind::Call(proto::CallAction {
                        name: name.into(),
                        args,
                    })),
                }),
            },
            SUBMITTER,
        ))
    };
    let read = call(&guarded.token, "read_inbox", None).await.unwrap();
    assert!(read.into_inner().allowed);
    let refused = call(&guarded.token, "send_mail", Some("hello"))
        .await
        .unwrap()
        .into_inner();
    assert!(!refused.allowed, "{refused:?}");
    assert!(refused.reason.contains("mail.spec:3:3"), "{refused:?}");
    assert!(refused.reason.contains("CheckAction"), "{refused:?}");
    let sent = call(&open.token, "send_mail", Some("hello")).await.unwrap();
    assert!(sent.into_inner().allowed);
}

/// A plan accepted thanks to an assumption on a tool's result: over gRPC,
/// a result that meets it lets the run go on; one that fails it stops the
/// run before its next step, durably and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_fails_its_assumption_stops_the_run() {
    let e = env();
    std::fs::write(
        e.specs.join("bills.spec"),
        r#"spec "bills" {
  allow call read_bill
  allow call send_money when recipient == "UK1" and amount > 0 and amount <= 1000
}
"#,
    )
    .unwrap();
    let (svc, _store) = start(&e).await;
    let plan = r#"plan "pay" {
  agent "bot"
  let bill = call read_bill(file = "b.txt") where bill.amount > 0 and bill.amount <= 100
  call send_money(recipient = "UK1", amount = bill.amount)
}
"#;
    let r = svc
        .submit_plan(req(
            proto::SubmitPlanRequest {
                plan: plan.into(),
                spec: "bills".into(),
                agent: "bot".into(),
            },
            SUBMITTER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict(), proto::Verdict::Accept, "{r:?}");
    let read = || proto::CheckActionRequest {
        token: r.token.clone(),
        action: Some(proto::Action {
            kind: Some(proto::action::Kind::Call(proto::CallAction {
                name: "read_bill".into(),
                args: [(
                    "file".to_string(),
                    proto::ArgValue {
                        value: Some(proto::arg_value::Value::Text("b.txt".into())),
                        from_call: String::new(),
                    },
                )]
                .into(),
            })),
        }),
    };
    let pay = |amount: &str| proto::CheckActionRequest {
        token: r.token.clone(),
        action: Some(proto::Action {
            kind: Some(proto::action::Kind::Call(proto::CallAction {
                name: "send_money".into(),
                args: [
                    (
                        "recipient".to_string(),
                        proto::ArgValue {
                            value: Some(proto::arg_value::Value::Text("UK1".into())),
                            from_call: String::new(),
                        },
                    ),
                    (
                        "amount".to_string(),
                        proto::ArgValue {
                            value: Some(proto::arg_value::Value::Number(amount.into())),
                            from_call: "read_bill".into(),
                        },
                    ),
                ]
                .into(),
            })),
        }),
    };
    let result = |json: &str| proto::CheckResultRequest {
        token: r.token.clone(),
        tool: "read_bill".into(),
        result_json: json.into(),
    };
    let ok = |x: proto::CheckActionResponse| {
        assert!(x.allowed, "{x:?}");
    };
    ok(svc
        .check_action(req(read(), SUBMITTER))
        .await
        .unwrap()
        .into_inner());
    ok(svc
        .check_result(req(result(r#"{"amount": 40}"#), SUBMITTER))
        .await
        .unwrap()
        .into_inner());
    ok(svc
        .check_action(req(pay("40"), SUBMITTER))
        .await
        .unwrap()
        .into_inner());
    // A value in the amount's place that breaks the assumption is refused.
    let no = svc
        .check_action(req(pay("400"), SUBMITTER))
        .await
        .unwrap()
        .into_inner();
    assert!(!no.allowed, "{no:?}");

    // The next result breaks it: refused, naming the condition and where
    // the plan writes it; the run is stopped.
    let no = svc
        .check_result(req(result(r#"{"amount": 4000}"#), SUBMITTER))
        .await
        .unwrap()
        .into_inner();
    assert!(!no.allowed, "{no:?}");
    assert!(
        no.reason.contains("bill.amount > 0 and bill.amount <= 100")
            && no.reason.contains(":3:")
            && no.reason.contains("stopped"),
        "{}",
        no.reason
    );
    let no = svc
        .check_action(req(pay("40"), SUBMITTER))
        .await
        .unwrap()
        .into_inner();
    assert!(!no.allowed && no.reason.contains("stopped"), "{no:?}");
    // A result that is not JSON is bad input.
    let err = svc
        .check_result(req(result("{"), SUBMITTER))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    verify(&e);
}
