//! `warden serve` end to end over gRPC: bad input, foreign tokens, spec
//! reloads, TLS, and a SIGKILL in the middle of load.

use service::proto::{self, warden_client::WardenClient};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tonic::transport::Channel;

mod serving;
use serving::{
    ADMIN, APPROVER, PLAN_LOOK, PLAN_PAY, SUBMITTER, ServeDir, Server, client, req, rt, warden,
};

const SPEC: &str = r#"spec "bank" {
  allow read under "/srv/data/"
  allow call get_balance
  approve call send_money when amount <= 1000
  deny call update_password
}
"#;

const PAY_SPEC: &str = r#"spec "pay" {
  allow call get_balance
  allow call send_money when amount <= 100
  at most 1 call send_money
}
"#;

/// One server's directory.
struct Harness {
    dir: ServeDir,
}

impl Harness {
    fn new(seed: u8) -> Harness {
        Harness {
            dir: ServeDir::new(seed, SPEC),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path(p)
    }

    fn config(&self, extra: &str) -> PathBuf {
        self.dir.write_config(&format!(
            "db = \"warden.db\"\nmax_plan_bytes = 4096\ncheckpoint_every = 50\nreload_poll_ms = 0\n{extra}"
        ))
    }

    fn start_with(&self, extra: &str) -> Server {
        self.start_reading(extra, 0).0
    }

    /// Starts `warden serve` and reads its `listening on` line and the
    /// `more` lines it prints after it (the console's, the metrics').
    fn start_reading(&self, extra: &str, more: usize) -> (Server, Vec<String>) {
        Server::start(&self.config(extra), more)
    }

    fn start(&self) -> Server {
        self.start_with("")
    }

    fn audit_verify(&self) -> (i32, String) {
        let out = warden()
            .args(["audit", "verify", "--db"])
            .arg(self.path("warden.db"))
            .arg("--pub")
            .arg(self.path("keys/warden.pub"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn audit_records(&self, kind: &str) -> Vec<serde_json::Value> {
        let out = warden()
            .args(["audit", "show", "--json", "--kind", kind, "--db"])
            .arg(self.path("warden.db"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn submit(plan: &str, spec: &str) -> proto::SubmitPlanRequest {
    proto::SubmitPlanRequest {
        plan: plan.into(),
        spec: spec.into(),
        agent: "bot".into(),
    }
}

/// Submits `PLAN_LOOK` and checks that it is accepted: the server serves.
async fn submit_accepted(c: &mut WardenClient<Channel>) -> proto::SubmitPlanResponse {
    let ok = c
        .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.verdict, proto::Verdict::Accept as i32);
    ok
}

fn read_action(path: &str) -> proto::Action {
    proto::Action {
        kind: Some(proto::action::Kind::File(proto::FileAction {
            op: proto::file_action::Op::Read as i32,
            path: path.into(),
        })),
    }
}

#[test]
fn bad_input_is_refused_without_state_change() {
    let h = Harness::new(1);
    let server = h.start();
    let rt = rt();
    rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        let before = h.audit_records("submission").len();
        // A 100 MB plan: refused by the transport's size limit.
        let huge = "x".repeat(100 * 1024 * 1024);
        let e = c
            .submit_plan(req(submit(&huge, "bank"), SUBMITTER))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.code(),
                tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
            ),
            "{e:?}"
        );
        // A plan over the configured limit but under the message limit.
        let big = format!("{PLAN_LOOK}{}", " ".repeat(5000));
        let e = c
            .submit_plan(req(submit(&big, "bank"), SUBMITTER))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("limit"));
        // Unknown spec, parse error.
        let e = c
            .submit_plan(req(submit(PLAN_LOOK, "nope"), SUBMITTER))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        let e = c
            .submit_plan(req(submit("plan { read", "bank"), SUBMITTER))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        // No credential, wrong role.
        let e = c
            .submit_plan(tonic::Request::new(submit(PLAN_LOOK, "bank")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let e = c
            .submit_plan(req(submit(PLAN_LOOK, "bank"), APPROVER))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        // Malformed tokens and actions.
        let e = c
            .check_action(req(
                proto::CheckActionRequest {
                    token: "v4.public.garbage".into(),
                    action: Some(read_action("/srv/data/x")),
                },
                SUBMITTER,
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.code(),
                tonic::Code::InvalidArgument | tonic::Code::PermissionDenied
            ),
            "{e:?}"
        );
        let after = h.audit_records("submission").len();
        assert_eq!(
            before, after,
            "bad input must not be recorded as a submission"
        );
        // The server is still up and serving.
        let ok = c
            .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
            .await
            .unwrap();
        assert_eq!(ok.get_ref().verdict, proto::Verdict::Accept as i32);
    });
    server.stop();
    assert_eq!(h.audit_verify().0, 0);
}

fn call_action(name: &str, args: &[(&str, proto::arg_value::Value)]) -> proto::Action {
    proto::Action {
        kind: Some(proto::action::Kind::Call(proto::CallAction {
            name: name.into(),
            args: args
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        proto::ArgValue {
                            value: Some(v.clone()),
                            from_call: String::new(),
                        },
                    )
                })
                .collect(),
        })),
    }
}

fn send_money() -> proto::Action {
    use proto::arg_value::Value;
    call_action(
        "send_money",
        &[
            ("recipient", Value::Text("UK1".into())),
            ("amount", Value::Number("10".into())),
        ],
    )
}

async fn check(
    c: &mut WardenClient<Channel>,
    token: &str,
    action: proto::Action,
) -> proto::CheckActionResponse {
    c.check_action(req(
        proto::CheckActionRequest {
            token: token.into(),
            action: Some(action),
        },
        SUBMITTER,
    ))
    .await
    .unwrap()
    .into_inner()
}

/// CheckAction runs the token's monitor: `at most 1 call send_money` refuses
/// the second one, with the reason, and the count survives a SIGKILL and a
/// restart (the run state is stored before an allow is answered).
#[test]
fn at_most_is_enforced_over_grpc_and_survives_a_restart() {
    let h = Harness::new(7);
    std::fs::write(h.path("specs/pay.spec"), PAY_SPEC).unwrap();
    let server = h.start();
    let rt = rt();
    let token = rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        let r = c
            .submit_plan(req(submit(PLAN_PAY, "pay"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.verdict, proto::Verdict::Accept as i32, "{r:?}");
        let ok = check(&mut c, &r.token, call_action("get_balance", &[])).await;
        assert!(ok.allowed, "{ok:?}");
        let ok = check(&mut c, &r.token, send_money()).await;
        assert!(ok.allowed, "{ok:?}");
        let no = check(&mut c, &r.token, send_money()).await;
        assert!(!no.allowed);
        assert!(no.reason.contains("limit of 1"), "{}", no.reason);
        assert!(no.reason.contains("pay.spec"), "{}", no.reason);
        r.token
    });
    // SIGKILL: no graceful shutdown, nothing flushed on the way out.
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = h.start();
    rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        let no = check(&mut c, &token, send_money()).await;
        assert!(!no.allowed, "the restart reset the count: {no:?}");
        assert!(no.reason.contains("limit of 1"), "{}", no.reason);
        // The token itself is still good for what is left.
        let ok = check(&mut c, &token, call_action("get_balance", &[])).await;
        assert!(ok.allowed, "{ok:?}");
    });
    server.stop();
    let enf = h.audit_records("enforcement");
    let kinds: Vec<&str> = enf
        .iter()
        .filter_map(|e| e["body"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["allowed", "allowed", "refused", "refused", "allowed"],
        "{enf:?}"
    );
    assert_eq!(h.audit_verify().0, 0);
}

/// Raw bytes that are not a protobuf message: INVALID_ARGUMENT (the caller's
/// fault), not INTERNAL, and nothing recorded.
/// A plan the spec accepts, but whose envelope every enforcement profile
/// would widen past the spec (no layer pins an exec argument that comes
/// from a param): the service refuses it with the widening as a
/// counterexample and signs nothing, as `warden issue` does.
#[test]
fn a_plan_no_enforcement_profile_can_keep_is_rejected() {
    let h = Harness::new(9);
    std::fs::write(
        h.path("specs/argv.spec"),
        "spec \"argv\" {\n  allow exec \"/bin/sh\" when argv[0] == \"-c\" and argv[1] == \"true\"\n}\n",
    )
    .unwrap();
    let server = h.start();
    let before = h.audit_records("token").len();
    let rt = rt();
    rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        let plan = "plan \"p\" {\n  agent \"bot\"\n\n  param a: string where a == \"true\"\n\n  exec \"/bin/sh\" [\"-c\", a]\n}\n";
        let r = c
            .submit_plan(req(submit(plan, "argv"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.verdict, proto::Verdict::Reject as i32, "{r:?}");
        assert!(r.token.is_empty(), "{r:?}");
        assert!(
            r.counterexamples
                .iter()
                .any(|cx| cx.reason == "enforced envelope wider than the spec"
                    && cx.message.contains("would widen")),
            "{r:?}"
        );
    });
    assert_eq!(h.audit_records("token").len(), before, "a token was issued");
}

#[test]
fn malformed_protobuf_is_invalid_argument() {
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Default)]
    struct Raw;
    struct RawEnc;
    struct RawDec;
    impl Encoder for RawEnc {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
            use prost::bytes::BufMut;
            buf.put_slice(&item);
            Ok(())
        }
    }
    impl Decoder for RawDec {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
            use prost::bytes::Buf;
            let n = buf.remaining();
            Ok(Some(buf.copy_to_bytes(n).to_vec()))
        }
    }
    impl Codec for Raw {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEnc;
        type Decoder = RawDec;
        fn encoder(&mut self) -> RawEnc {
            RawEnc
        }
        fn decoder(&mut self) -> RawDec {
            RawDec
        }
    }

    let h = Harness::new(8);
    let server = h.start();
    rt().block_on(async {
        let ch = service::loadgen::connect(&server.endpoint(), None)
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(ch);
        // Field 1 (plan, a string) claims 100 bytes and has 3; then a
        // field with wire type 7, which does not exist.
        for (method, body) in [
            (
                "/warden.v1.Warden/SubmitPlan",
                vec![0x0a, 100, b'a', b'b', b'c'],
            ),
            ("/warden.v1.Warden/CheckAction", vec![0x0f, 0xff, 0xff]),
            ("/warden.v1.Warden/Approve", vec![0x0a, 0x80]),
        ] {
            grpc.ready().await.unwrap();
            let e = grpc
                .unary::<Vec<u8>, Vec<u8>, Raw>(
                    req(body, SUBMITTER),
                    tonic::codegen::http::uri::PathAndQuery::from_static(method),
                    Raw,
                )
                .await
                .unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{method}: {e:?}");
            assert!(e.message().contains("not a valid warden.v1."), "{e:?}");
        }
        // The server is fine and well-formed calls work.
        let mut c = client(&server.endpoint()).await;
        submit_accepted(&mut c).await;
    });
    server.stop();
    assert_eq!(h.audit_records("submission").len(), 1);
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let a = Harness::new(2);
    let b = Harness::new(3);
    let (sa, sb) = (a.start(), b.start());
    rt().block_on(async {
        let mut cb = client(&sb.endpoint()).await;
        let foreign = cb
            .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        assert!(foreign.token.starts_with("v4.public."));
        let mut ca = client(&sa.endpoint()).await;
        let e = ca
            .check_action(req(
                proto::CheckActionRequest {
                    token: foreign.token.clone(),
                    action: Some(read_action("/srv/data/statement.txt")),
                },
                SUBMITTER,
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        // The same token at its own service is fine.
        let ok = cb
            .check_action(req(
                proto::CheckActionRequest {
                    token: foreign.token,
                    action: Some(read_action("/srv/data/statement.txt")),
                },
                SUBMITTER,
            ))
            .await
            .unwrap();
        assert!(ok.get_ref().allowed);
    });
}

#[test]
fn a_broken_spec_keeps_the_previous_version() {
    let h = Harness::new(4);
    let server = h.start();
    rt().block_on(async {
        let mut c = client(&server.endpoint()).await;
        std::fs::write(
            h.path("specs/bank.spec"),
            "spec \"bank\" { allow read under }",
        )
        .unwrap();
        let r = c
            .reload(req(proto::ReloadRequest {}, ADMIN))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.specs.len(), 1);
        assert!(
            r.specs[0].loaded,
            "the previous version stays in force: {r:?}"
        );
        assert!(!r.specs[0].error.is_empty());
        // Plans are still decided by the previous version.
        let ok = c
            .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
            .await
            .unwrap();
        assert_eq!(ok.get_ref().verdict, proto::Verdict::Accept as i32);
        // A new spec file appears, a fixed one replaces the old.
        std::fs::write(
            h.path("specs/ci.spec"),
            "spec \"ci\" { allow read under \"/repo/\" }",
        )
        .unwrap();
        std::fs::write(
            h.path("specs/bank.spec"),
            "spec \"bank\" { allow call get_balance }",
        )
        .unwrap();
        let r = c
            .reload(req(proto::ReloadRequest {}, ADMIN))
            .await
            .unwrap()
            .into_inner();
        assert!(
            r.specs.iter().all(|s| s.loaded && s.error.is_empty()),
            "{r:?}"
        );
        let rej = c
            .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
            .await
            .unwrap();
        assert_eq!(rej.get_ref().verdict, proto::Verdict::Reject as i32);
    });
    server.stop();
    let spec_events = h.audit_records("spec");
    assert!(
        spec_events.iter().any(|e| e["body"]["status"] == "failed"),
        "{spec_events:?}"
    );
}

#[test]
fn tls_with_certificate_files() {
    let h = Harness::new(5);
    let d = h.dir.dir.path();
    // A CA and a server certificate it signs (rustls refuses a CA as the end entity).
    let openssl = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .stderr(Stdio::null())
            .status()
            .expect("openssl (scripts/deps.sh installs it)");
        assert!(st.success(), "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "1",
                "-subj",
                "/CN=warden test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    let server = h.start_with("[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n");
    let ca = std::fs::read(d.join("ca.crt")).unwrap();
    rt().block_on(async {
        let ep = format!(
            "https://localhost:{}",
            server.addr.rsplit(':').next().unwrap()
        );
        let ch = service::loadgen::connect(&ep, Some(&ca)).await.unwrap();
        let mut c = WardenClient::new(ch);
        let ok = c
            .submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
            .await
            .unwrap();
        assert_eq!(ok.get_ref().verdict, proto::Verdict::Accept as i32);
        // Plaintext to a TLS port does not get through.
        let plain = service::loadgen::connect(&format!("http://{}", server.addr), None).await;
        if let Ok(ch) = plain {
            let mut c = WardenClient::new(ch);
            assert!(
                c.submit_plan(req(submit(PLAN_LOOK, "bank"), SUBMITTER))
                    .await
                    .is_err()
            );
        }
    });
}

/// SIGKILL in the middle of load, restart: the log verifies and every
/// acknowledged submission is in it.
#[test]
fn sigkill_mid_load_loses_no_acknowledged_record() {
    let h = Harness::new(6);
    let server = h.start();
    let rt = rt();
    let opts = service::loadgen::LoadOptions {
        endpoint: server.endpoint(),
        tls_ca: None,
        secret: SUBMITTER.into(),
        spec: "bank".into(),
        agent: "bot".into(),
        plan: PLAN_LOOK.into(),
        clients: 32,
        duration: Duration::from_secs(8),
        max_requests: 0,
        rate: None,
    };
    let load = rt.spawn(service::loadgen::run(opts));
    // Kill in the middle of the load: once the first submissions are in
    // the log (on a loaded machine that can take seconds), and while the
    // load still runs.
    let db = h.path("warden.db");
    let start = std::time::Instant::now();
    while h.audit_records("submission").is_empty() && start.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let report = rt.block_on(load).unwrap().unwrap();
    assert!(
        report.ok > 0,
        "no submission was acknowledged before the kill"
    );
    assert!(
        report.errors > 0,
        "the kill should have failed some requests"
    );
    assert!(db.exists());
    // Right after the kill, before any restart: the chain and its signed
    // head (rewritten with every commit group) verify.
    let (code, out) = h.audit_verify();
    assert_eq!(code, 0, "{out}");

    // Restart on the same store: the chain continues.
    let server = h.start();
    rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        submit_accepted(&mut c).await;
    });
    server.stop();

    let (code, out) = h.audit_verify();
    assert_eq!(code, 0, "{out}");
    let logged: HashSet<String> = h
        .audit_records("submission")
        .iter()
        .filter_map(|r| r["body"]["submission_id"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = report
        .acked
        .iter()
        .filter(|id| !logged.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged submissions are missing from the log",
        missing.len(),
        report.acked.len()
    );
}

/// The one issuance path: the same plan and spec give the same claims from
/// `warden issue` and from `SubmitPlan` (but for the token's id and
/// lifetime), and `spec_hash` is what `docs/token-format.md` says: the
/// SHA-256 of the canonical texts (`warden fmt --canonical`) of the spec and
/// what it includes, in load order, which for files already in that form is
/// `cat ... | sha256sum`.
#[test]
fn warden_issue_and_submit_plan_sign_the_same_claims() {
    let h = Harness::new(31);
    // A spec that includes another, both in canonical form: no comments,
    // one blank line between groups of items.
    std::fs::create_dir_all(h.path("lib")).unwrap();
    std::fs::write(
        h.path("lib/common.spec"),
        "spec \"common\" {\n  allow read under \"/srv/data/\"\n\n  max ttl 20m\n}\n",
    )
    .unwrap();
    std::fs::write(
        h.path("specs/bank.spec"),
        "spec \"bank\" {\n  include \"../lib/common.spec\"\n\n  allow call get_balance\n  allow call send_money when amount <= 100\n  at most 2 call send_money\n}\n",
    )
    .unwrap();
    let check = warden()
        .args(["fmt", "--check"])
        .arg(h.path("specs/bank.spec"))
        .arg(h.path("lib/common.spec"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "the test's specs are canonical: {check:?}"
    );
    let plan = r#"plan "pay" {
  agent "bot"
  ttl 10m
  param amount: number where amount > 0 and amount <= 50
  read "/srv/data/bill.txt"
  call get_balance()
  call send_money(recipient = "UK1", amount = amount)
}
"#;
    std::fs::write(h.path("pay.plan"), plan).unwrap();
    let pub_key =
        token::PublicKey::from_paserk(&std::fs::read_to_string(h.path("keys/warden.pub")).unwrap())
            .unwrap();
    let claims_of = |tok: &str| {
        token::paseto::verify(tok.trim(), &pub_key, &token::SystemClock).expect("a valid token")
    };

    let out = warden()
        .args(["issue"])
        .arg(h.path("pay.plan"))
        .arg("--spec")
        .arg(h.path("specs/bank.spec"))
        .arg("--key")
        .arg(h.path("keys/warden.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = claims_of(&String::from_utf8_lossy(&out.stdout));

    let server = h.start();
    let rpc = rt().block_on(async {
        let mut c = client(&server.endpoint()).await;
        c.submit_plan(req(submit(plan, "bank"), SUBMITTER))
            .await
            .unwrap()
            .into_inner()
    });
    assert_eq!(rpc.verdict, proto::Verdict::Accept as i32, "{rpc:?}");
    let mut grpc = claims_of(&rpc.token);

    assert_ne!(grpc.jti, cli.jti);
    // A token's id and lifetime are its own; everything else is the plan's.
    grpc.jti = cli.jti;
    assert_eq!(
        grpc.exp.unix() - grpc.iat.unix(),
        cli.exp.unix() - cli.iat.unix()
    );
    grpc.iat = cli.iat;
    grpc.nbf = cli.nbf;
    grpc.exp = cli.exp;
    assert_eq!(grpc, cli);
    assert_eq!(cli.sub.as_deref(), Some("bot"));
    assert_eq!(cli.spec.as_deref(), Some("bank"));
    // The spec's `max ttl 20m` (in the include) caps nothing here: 10m.
    assert_eq!(cli.exp.unix() - cli.iat.unix(), 600);

    // `spec_hash` from the files with a shell's tools: `cat` of files
    // already canonical, and `warden fmt --canonical` of any.
    let warden_bin = env!("CARGO_BIN_EXE_warden");
    for pipeline in [
        "cat specs/bank.spec lib/common.spec | sha256sum".to_owned(),
        format!("{warden_bin} fmt --canonical specs/bank.spec lib/common.spec | sha256sum"),
    ] {
        let sh = Command::new("sh")
            .arg("-c")
            .arg(&pipeline)
            .current_dir(h.path(""))
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&sh.stdout);
        let hex = sum.split_whitespace().next().unwrap();
        assert_eq!(
            cli.spec_hash.to_string(),
            format!("sha256:{hex}"),
            "{pipeline}"
        );
    }
    // And `plan_hash` from the plan's canonical text.
    let fmt = warden()
        .args(["fmt", "--canonical"])
        .arg(h.path("pay.plan"))
        .output()
        .unwrap();
    let sh = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(&fmt.stdout)?;
            c.wait_with_output()
        })
        .unwrap();
    let sum = String::from_utf8_lossy(&sh.stdout);
    let hex = sum.split_whitespace().next().unwrap();
    assert_eq!(cli.plan_hash.to_string(), format!("sha256:{hex}"));
    server.stop();
}

/// Signing key rotation end to end. The service signs with key A; then B
/// signs and A is verify-only in the key set (`keys =`): A's tokens still
/// pass `CheckAction` and `warden exec`, new ones are B's. A retired: its
/// tokens are refused with a message naming its kid, B's keep working, and
/// the audit history A signed still verifies.
#[test]
fn signing_keys_rotate_without_breaking_tokens_or_history() {
    let h = Harness::new(21);
    let a = token::SigningKey::from_seed(&[21; 32]).unwrap();
    let b = token::SigningKey::from_seed(&[22; 32]).unwrap();
    let (a_pub, b_pub) = (a.public_key().to_paserk(), b.public_key().to_paserk());
    let a_kid = a.public_key().key_id().to_owned();
    let rt = rt();
    let key_of = |tok: &str| token::paseto::decode_unverified(tok).unwrap().key_id;
    let submit_one = |server: &Server| {
        rt.block_on(async {
            let mut c = client(&server.endpoint()).await;
            submit_accepted(&mut c).await.token
        })
    };
    let checks = |server: &Server, tok: &str| -> Result<bool, tonic::Status> {
        rt.block_on(async {
            let mut c = client(&server.endpoint()).await;
            c.check_action(req(
                proto::CheckActionRequest {
                    token: tok.into(),
                    action: Some(read_action("/srv/data/statement.txt")),
                },
                SUBMITTER,
            ))
            .await
            .map(|r| r.into_inner().allowed)
        })
    };
    // `warden exec` with the key set: the token is verified before anything runs.
    let exec = |tok: &str| {
        warden()
            .args(["exec", "--quiet", "--token", tok, "--pub"])
            .arg(h.path("keys/warden.keys"))
            .args(["--pub", &b_pub, "--", "/bin/true"])
            .output()
            .unwrap()
    };
    let key_refused = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr).contains("the token was signed by")
    };

    let server = h.start();
    let tok_a = submit_one(&server);
    assert_eq!(key_of(&tok_a), a_kid);
    server.stop();

    // B signs; A is verify-only.
    std::fs::write(h.path("keys/warden.key"), &*b.to_paserk()).unwrap();
    let keyset = h.path("keys/warden.keys");
    std::fs::write(&keyset, format!("{a_pub} verify-only\n")).unwrap();
    let server = h.start_with(r#"keys = "keys/warden.keys""#);
    let tok_b = submit_one(&server);
    assert_eq!(key_of(&tok_b), b.public_key().key_id());
    assert!(checks(&server, &tok_a).unwrap());
    assert!(checks(&server, &tok_b).unwrap());
    for tok in [&tok_a, &tok_b] {
        let out = exec(tok);
        assert!(
            !key_refused(&out),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.stop();

    // A retired: its tokens are refused, naming it; B's still pass.
    std::fs::write(&keyset, format!("{a_pub} retired\n")).unwrap();
    let server = h.start_with(r#"keys = "keys/warden.keys""#);
    let e = checks(&server, &tok_a).unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(
        e.message().contains(&a_kid) && e.message().contains("retired"),
        "{e:?}"
    );
    assert!(checks(&server, &tok_b).unwrap());
    let out = exec(&tok_a);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&a_kid) && stderr.contains("retired"),
        "{stderr}"
    );
    assert!(!key_refused(&exec(&tok_b)));
    server.stop();

    // The history: checkpoints and heads by A, then by B, verify with the
    // key set (A retired); B's key alone does not cover A's part.
    let verify = |pubs: &[&str]| {
        let mut c = warden();
        c.args(["audit", "verify", "--db"]).arg(h.path("warden.db"));
        for p in pubs {
            c.args(["--pub", p]);
        }
        c.output().unwrap()
    };
    let keyset_arg = keyset.display().to_string();
    let out = verify(&[&keyset_arg, &b_pub]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!verify(&[&b_pub]).status.success());

    // The signing key may not be verify-only or retired in the key set.
    std::fs::write(&keyset, format!("{b_pub} verify-only\n")).unwrap();
    let out = warden()
        .args(["serve", "--config"])
        .arg(h.config(r#"keys = "keys/warden.keys""#))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("only with an active key"), "{stderr}");
}

/// `[metrics] listen`: a Prometheus scrape over plain HTTP, parsed as the
/// exposition format, counts what the service did: verdicts (and plans that
/// got none) with their latency, tool-call checks by outcome, approvals
/// waiting in the store, audit appends. Nothing names an agent or a token.
#[test]
fn metrics_are_scraped_and_count_what_the_service_did() {
    let h = Harness::new(11);
    std::fs::write(h.path("specs/pay.spec"), PAY_SPEC).unwrap();
    let (server, lines) = h.start_reading("[metrics]\nlisten = \"127.0.0.1:0\"\n", 1);
    let metrics = lines[0]
        .strip_prefix("metrics on http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics line: {lines:?}"))
        .to_owned();
    let rt = rt();
    rt.block_on(async {
        let mut c = client(&server.endpoint()).await;
        submit_accepted(&mut c).await;
        let pay = c
            .submit_plan(req(submit(PLAN_PAY, "pay"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        // Waits for a human: the bank spec approves send_money.
        let wait = "plan \"pay\" {\n  agent \"bot\"\n  call send_money(recipient = \"UK1\", amount = 500)\n}\n";
        let r = c
            .submit_plan(req(submit(wait, "bank"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.verdict, proto::Verdict::Approve as i32, "{r:?}");
        let refused = "plan \"p\" {\n  agent \"bot\"\n  call update_password()\n}\n";
        let r = c
            .submit_plan(req(submit(refused, "bank"), SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.verdict, proto::Verdict::Reject as i32, "{r:?}");
        c.submit_plan(req(submit("plan { read", "bank"), SUBMITTER))
            .await
            .unwrap_err();
        assert!(check(&mut c, &pay.token, send_money()).await.allowed);
        assert!(!check(&mut c, &pay.token, send_money()).await.allowed);
    });
    let text = scrape(&metrics, "/metrics");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let value =
        |name: &str, label: Option<(&str, &str)>| testkit::metrics::sample(&text, name, label);
    for (verdict, n) in [
        ("accept", 2.0),
        ("approve", 1.0),
        ("reject", 1.0),
        ("invalid", 1.0),
    ] {
        assert_eq!(
            value("warden_verdicts_total", Some(("verdict", verdict))),
            n,
            "{verdict}"
        );
        assert_eq!(
            value(
                "warden_verification_seconds_count",
                Some(("verdict", verdict))
            ),
            n,
            "{verdict}"
        );
    }
    assert_eq!(
        value("warden_call_checks_total", Some(("outcome", "allowed"))),
        1.0
    );
    assert_eq!(
        value("warden_call_checks_total", Some(("outcome", "refused"))),
        1.0
    );
    assert_eq!(value("warden_approvals_pending", None), 1.0);
    // Every answer waits for its records: the specs loaded at start, 4
    // verdicts, 2 checks.
    assert_eq!(
        value("warden_audit_append_seconds_count", None),
        7.0,
        "{text}"
    );
    assert!(
        !text.contains("bot") && !text.contains("v4.public"),
        "{text}"
    );
    assert!(scrape(&metrics, "/other").is_empty());
    server.stop();
}

/// A GET over HTTP/1.1: the body of a 200 answer, or "" for anything else.
fn scrape(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    if !head.starts_with("HTTP/1.1 200") {
        return String::new();
    }
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    body.to_owned()
}
