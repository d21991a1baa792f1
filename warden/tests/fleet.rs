//! A fleet: `warden serve --store postgres://…` replicas on one real
//! PostgreSQL (started by each test, `testkit::postgres`): concurrent
//! submissions into one chain, a replica killed under load, a revocation
//! and an `at most` count shared by the replicas, and PostgreSQL restarted
//! under load. No root needed: as root the server runs as `postgres`.

use service::proto::{self, warden_client::WardenClient};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use testkit::postgres::Postgres;
use tonic::transport::Channel;

mod serving;
use serving::{
    ADMIN, APPROVER, PLAN_LOOK, PLAN_PAY, SUBMITTER, ServeDir, Server, client, req, rt, warden,
};

const SPEC: &str = r#"spec "bank" {
  allow read under "/srv/data/"
  allow call get_balance
  allow call send_money when amount <= 100
  at most 1 call send_money
}
"#;

/// A configuration, keys and specs that every replica shares, and the
/// database they share.
struct Fleet {
    dir: ServeDir,
    pg: Postgres,
}

/// One replica.
type Replica = Server;

impl Fleet {
    fn new() -> Fleet {
        let pg = Postgres::start();
        let dir = ServeDir::new(17, SPEC);
        dir.write_config(&format!(
            "store = \"{}\"\ncheckpoint_every = 50\nreload_poll_ms = 0\n",
            pg.url()
        ));
        Fleet { dir, pg }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path(p)
    }

    fn replica(&self) -> Replica {
        Server::start(&self.path("serve.toml"), 0).0
    }

    /// `warden audit verify --store URL`: exit code and output.
    fn audit_verify(&self) -> (i32, String) {
        let out = warden()
            .args(["audit", "verify", "--store", &self.pg.url(), "--pub"])
            .arg(self.path("keys/warden.pub"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn audit_records(&self, kind: &str) -> Vec<serde_json::Value> {
        let out = warden()
            .args([
                "audit",
                "show",
                "--json",
                "--kind",
                kind,
                "--store",
                &self.pg.url(),
            ])
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

    /// Asserts that the chain verifies and holds every acknowledged
    /// submission.
    fn assert_log_holds(&self, acked: &[String]) {
        let (code, out) = self.audit_verify();
        assert_eq!(code, 0, "{out}");
        let logged: HashSet<String> = self
            .audit_records("submission")
            .iter()
            .filter_map(|r| r["body"]["submission_id"].as_str().map(str::to_owned))
            .collect();
        let missing = acked.iter().filter(|id| !logged.contains(*id)).count();
        assert_eq!(
            missing,
            0,
            "{missing} of {} acknowledged submissions are missing from the log",
            acked.len()
        );
    }
}

fn load(endpoint: String, clients: usize, secs: u64) -> service::loadgen::LoadOptions {
    service::loadgen::LoadOptions {
        endpoint,
        tls_ca: None,
        secret: SUBMITTER.into(),
        spec: "bank".into(),
        agent: "bot".into(),
        plan: PLAN_LOOK.into(),
        clients,
        duration: Duration::from_secs(secs),
        max_requests: 0,
        rate: None,
    }
}

async fn pay_token(c: &mut WardenClient<Channel>) -> String {
    let r = c
        .submit_plan(req(
            proto::SubmitPlanRequest {
                plan: PLAN_PAY.into(),
                spec: "bank".into(),
                agent: "bot".into(),
            },
            SUBMITTER,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict, proto::Verdict::Accept as i32, "{r:?}");
    r.token
}

fn send_money() -> proto::Action {
    use proto::arg_value::Value;
    let arg = |v: Value| proto::ArgValue {
        value: Some(v),
        from_call: String::new(),
    };
    proto::Action {
        kind: Some(proto::action::Kind::Call(proto::CallAction {
            name: "send_money".into(),
            args: [
                ("recipient".to_string(), arg(Value::Text("UK1".into()))),
                ("amount".to_string(), arg(Value::Number("10".into()))),
            ]
            .into_iter()
            .collect(),
        })),
    }
}

async fn check(
    c: &mut WardenClient<Channel>,
    token: &str,
    action: proto::Action,
) -> Result<proto::CheckActionResponse, tonic::Status> {
    c.check_action(req(
        proto::CheckActionRequest {
            token: token.into(),
            action: Some(action),
        },
        SUBMITTER,
    ))
    .await
    .map(|r| r.into_inner())
}

/// Two replicas take submissions at the same time: every acknowledged one
/// is in one chain, and the chain (records of both, one signed head)
/// verifies from PostgreSQL.
#[test]
fn two_replicas_append_to_one_chain_that_verifies() {
    let fleet = Fleet::new();
    let (a, b) = (fleet.replica(), fleet.replica());
    let rt = rt();
    let la = rt.spawn(service::loadgen::run(load(a.endpoint(), 8, 3)));
    let lb = rt.spawn(service::loadgen::run(load(b.endpoint(), 8, 3)));
    let ra = rt.block_on(la).unwrap().unwrap();
    let rb = rt.block_on(lb).unwrap().unwrap();
    assert!(ra.ok > 0 && rb.ok > 0, "{ra:?} {rb:?}");
    assert_eq!(
        ra.errors + rb.errors,
        0,
        "{:?} {:?}",
        ra.error_codes,
        rb.error_codes
    );
    a.stop();
    b.stop();
    let acked: Vec<String> = ra.acked.into_iter().chain(rb.acked).collect();
    fleet.assert_log_holds(&acked);
    // Both replicas wrote: each one's start is in the chain.
    assert_eq!(
        fleet
            .audit_records("service")
            .iter()
            .filter(|r| r["body"]["event"] == "start")
            .count(),
        2
    );
}

/// One replica is SIGKILLed under load: the other keeps serving without an
/// error, nothing either acknowledged is lost, and the chain verifies.
#[test]
fn a_replica_killed_under_load_loses_nothing_and_the_other_serves() {
    let fleet = Fleet::new();
    let (mut a, b) = (fleet.replica(), fleet.replica());
    let rt = rt();
    let la = rt.spawn(service::loadgen::run(load(a.endpoint(), 8, 4)));
    let lb = rt.spawn(service::loadgen::run(load(b.endpoint(), 8, 4)));
    std::thread::sleep(Duration::from_millis(1500));
    a.kill9();
    let ra = rt.block_on(la).unwrap().unwrap();
    let rb = rt.block_on(lb).unwrap().unwrap();
    assert!(ra.ok > 0, "nothing acknowledged by the killed replica");
    assert!(ra.errors > 0, "the kill should have failed some requests");
    assert!(rb.ok > ra.ok, "the other replica stopped serving: {rb:?}");
    assert_eq!(rb.errors, 0, "{:?}", rb.error_codes);
    // Right after the kill: the chain verifies, the survivor still serves.
    let (code, out) = fleet.audit_verify();
    assert_eq!(code, 0, "{out}");
    let after = rt
        .block_on(service::loadgen::run(load(b.endpoint(), 2, 1)))
        .unwrap();
    assert!(after.ok > 0 && after.errors == 0, "{after:?}");
    b.stop();
    let acked: Vec<String> = ra
        .acked
        .into_iter()
        .chain(rb.acked)
        .chain(after.acked)
        .collect();
    fleet.assert_log_holds(&acked);
}

/// A token revoked through one replica is refused by the next check on the
/// other (the check reads the revocation in its own transaction).
#[test]
fn a_revocation_on_one_replica_is_refused_by_the_other() {
    let fleet = Fleet::new();
    let (a, b) = (fleet.replica(), fleet.replica());
    let rt = rt();
    rt.block_on(async {
        let mut ca = client(&a.endpoint()).await;
        let mut cb = client(&b.endpoint()).await;
        let token = pay_token(&mut ca).await;
        let balance = || proto::Action {
            kind: Some(proto::action::Kind::Call(proto::CallAction {
                name: "get_balance".into(),
                args: Default::default(),
            })),
        };
        let ok = check(&mut cb, &token, balance()).await.unwrap();
        assert!(ok.allowed, "{ok:?}");
        let rev = ca
            .revoke(req(
                proto::RevokeRequest {
                    token_id: ok.token_id.clone(),
                    reason: "leaked".into(),
                },
                APPROVER,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(!rev.already_revoked);
        let refused = check(&mut cb, &token, balance()).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        assert!(refused.message().contains("revoked"), "{refused:?}");
    });
    a.stop();
    b.stop();
    assert_eq!(fleet.audit_verify().0, 0);
}

/// `at most 1 call send_money`: twenty checks of one run at once, half on
/// each replica, allow exactly one (the run's row is read and written
/// under `FOR UPDATE`; neither replica's memory decides).
#[test]
fn two_replicas_cannot_jointly_exceed_a_count() {
    let fleet = Fleet::new();
    let (a, b) = (fleet.replica(), fleet.replica());
    let rt = rt();
    let allowed = rt.block_on(async {
        let mut ca = client(&a.endpoint()).await;
        let token = pay_token(&mut ca).await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let ep = if i % 2 == 0 {
                a.endpoint()
            } else {
                b.endpoint()
            };
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = client(&ep).await;
                check(&mut c, &token, send_money()).await.unwrap()
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            let r = t.await.unwrap();
            if r.allowed {
                allowed += 1;
            } else {
                assert!(r.reason.contains("limit of 1"), "{}", r.reason);
            }
        }
        allowed
    });
    assert_eq!(allowed, 1, "two replicas together exceeded `at most 1`");
    a.stop();
    b.stop();
    let enf = fleet.audit_records("enforcement");
    let kinds: Vec<&str> = enf
        .iter()
        .filter_map(|e| e["body"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "allowed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "refused").count(),
        19,
        "{kinds:?}"
    );
    assert_eq!(fleet.audit_verify().0, 0);
}

/// PostgreSQL stops and starts again under load: clients get errors while
/// it is down, nothing acknowledged is lost, and the same replica serves
/// again afterwards without being restarted.
#[test]
fn postgres_restarted_under_load_loses_nothing_and_the_replica_recovers() {
    let fleet = Fleet::new();
    let a = fleet.replica();
    let rt = rt();
    let la = rt.spawn(service::loadgen::run(load(a.endpoint(), 8, 5)));
    std::thread::sleep(Duration::from_millis(1500));
    fleet.pg.stop();
    std::thread::sleep(Duration::from_millis(1000));
    fleet.pg.restart();
    let ra = rt.block_on(la).unwrap().unwrap();
    assert!(
        ra.errors > 0,
        "no request failed while PostgreSQL was down: {ra:?}"
    );
    assert!(ra.ok > 0);
    // The same process serves again (its pool reconnected).
    let after = rt
        .block_on(service::loadgen::run(load(a.endpoint(), 2, 1)))
        .unwrap();
    assert!(
        after.ok > 0 && after.errors == 0,
        "{after:?} {}",
        fleet.pg.log()
    );
    a.stop();
    let acked: Vec<String> = ra.acked.into_iter().chain(after.acked).collect();
    fleet.assert_log_holds(&acked);
}

/// Polls `found` every 20 ms until it returns something; fails after 30 s
/// (a loaded machine is slow, never this slow). Returns it and how long
/// it took.
fn within<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = found() {
            return (v, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Reload` through one replica reloads the specs of the other, which
/// polls nothing (`reload_poll_ms = 0`): a spec added to the shared
/// directory is then in force there. The delay is printed (`--nocapture`).
#[test]
fn a_reload_through_one_replica_reaches_the_other() {
    let fleet = Fleet::new();
    let (a, b) = (fleet.replica(), fleet.replica());
    std::fs::write(
        fleet.path("specs/later.spec"),
        SPEC.replace("spec \"bank\"", "spec \"later\""),
    )
    .unwrap();
    let rt = rt();
    let submit_later = |endpoint: String| {
        rt.block_on(async move {
            let mut c = client(&endpoint).await;
            c.submit_plan(req(
                proto::SubmitPlanRequest {
                    plan: PLAN_LOOK.into(),
                    spec: "later".into(),
                    agent: "bot".into(),
                },
                SUBMITTER,
            ))
            .await
        })
    };
    // Not in force anywhere before the reload.
    let before = submit_later(b.endpoint()).unwrap_err();
    assert_eq!(before.code(), tonic::Code::NotFound, "{before:?}");
    rt.block_on(async {
        let mut ca = client(&a.endpoint()).await;
        ca.reload(req(proto::ReloadRequest {}, ADMIN))
            .await
            .unwrap();
    });
    let (_, took) = within("the reload on the other replica", || {
        submit_later(b.endpoint()).ok()
    });
    println!("a reload through one replica was in force on the other after {took:?}");
    a.stop();
    b.stop();
    assert_eq!(fleet.audit_verify().0, 0);
}

/// A token revoked through one replica reaches a `WatchRevocations` stream
/// on the other (PostgreSQL `LISTEN`/`NOTIFY` carries it between them).
#[test]
fn a_revocation_through_one_replica_is_streamed_by_the_other() {
    let fleet = Fleet::new();
    let (a, b) = (fleet.replica(), fleet.replica());
    let rt = rt();
    rt.block_on(async {
        let mut cb = client(&b.endpoint()).await;
        let mut watch = cb
            .watch_revocations(req(proto::WatchRevocationsRequest {}, SUBMITTER))
            .await
            .unwrap()
            .into_inner();
        let first = watch.message().await.unwrap().unwrap();
        assert!(first.token_ids.is_empty(), "{first:?}");
        let mut ca = client(&a.endpoint()).await;
        ca.revoke(req(
            proto::RevokeRequest {
                token_id: "tok_revoked_elsewhere".into(),
                reason: "leaked".into(),
            },
            APPROVER,
        ))
        .await
        .unwrap();
        let started = std::time::Instant::now();
        let next = tokio::time::timeout(Duration::from_secs(30), watch.message())
            .await
            .expect("the revocation never reached the other replica")
            .unwrap()
            .unwrap();
        println!(
            "a revocation through one replica was streamed by the other after {:?}",
            started.elapsed()
        );
        assert_eq!(next.token_ids, ["tok_revoked_elsewhere"]);
    });
    a.stop();
    b.stop();
}

const EXEC_SPEC: &str = r#"spec "run" {
  max ttl 1h
  baseline {
    read under "/usr/lib/"
    read under "/lib/"
    read under "/lib64/"
    read "/etc/ld.so.cache"
  }
  allow read
  allow write
  allow exec
}
"#;

/// `warden exec --service` following one replica; the token revoked
/// through the other: the run is killed at once (as root, its cgroup) and
/// says why, and the same token does not start again. The delay from the
/// revocation's answer to the run's end is printed.
#[test]
fn a_run_following_the_service_is_killed_by_a_revocation_through_any_replica() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = Fleet::new();
    let d = fleet.dir.dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(d.join("run.spec"), EXEC_SPEC).unwrap();
    std::fs::write(
        d.join("run.plan"),
        format!(
            "plan \"run\" {{\n  exec \"/bin/sh\"\n  exec \"/usr/bin/sleep\"\n  read \"/dev/null\"\n  write \"{}/*\"\n}}\n",
            out.display()
        ),
    )
    .unwrap();
    let issued = warden()
        .arg("issue")
        .arg(d.join("run.plan"))
        .arg("--spec")
        .arg(d.join("run.spec"))
        .arg("--key")
        .arg(d.join("keys/warden.key"))
        .args(["--ttl", "10m"])
        .output()
        .unwrap();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let tok = d.join("run.tok");
    std::fs::write(&tok, &issued.stdout).unwrap();
    let inspect = warden()
        .arg("inspect")
        .arg(&tok)
        .arg("--pub")
        .arg(d.join("keys/warden.pub"))
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let jti = v["claims"]["jti"].as_str().unwrap().to_owned();
    let (a, b) = (fleet.replica(), fleet.replica());
    let exec = |script: &str| {
        warden()
            .args(["exec", "--token"])
            .arg(&tok)
            .arg("--pub")
            .arg(d.join("keys/warden.pub"))
            .args(["--service", &b.endpoint(), "--", "/bin/sh", "-c", script])
            .env("WARDEN_SECRET", SUBMITTER)
            .env("OUT", &out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut run = exec("echo started >> \"$OUT/log\"; sleep 60");
    within("the agent's start", || {
        std::fs::read_to_string(out.join("log"))
            .ok()
            .filter(|l| l.contains("started"))
    });
    let rt = rt();
    rt.block_on(async {
        let mut ca = client(&a.endpoint()).await;
        ca.revoke(req(
            proto::RevokeRequest {
                token_id: jti.clone(),
                reason: "leaked".into(),
            },
            APPROVER,
        ))
        .await
        .unwrap();
    });
    let (status, took) = within("the run's end", || run.try_wait().unwrap());
    println!("a revocation through the other replica ended the run after {took:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!("the token {jti} was revoked")),
        "{err}"
    );
    // And it does not start again.
    let again = exec("exit 0").wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("revoked"));
    a.stop();
    b.stop();
}
