//! The token subcommands from the outside: `keygen`, `inspect` (and, once the
//! verifier is there, `issue` and `attenuate`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use token::{Claims, Digest, SigningKey, Timestamp, TokenId, keys, paseto};

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("run warden")
}

fn tmpdir(tag: &str) -> PathBuf {
    let id = TokenId::random().expect("random").to_string();
    let d = std::env::temp_dir().join(format!("warden-cli-{tag}-{}", &id[..12]));
    std::fs::create_dir_all(&d).expect("tmpdir");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn claims(exp_in: i64) -> Claims {
    let now = Timestamp::now();
    Claims {
        warden: warden_core::claims::CLAIMS_VERSION,
        iss: "warden".into(),
        sub: Some("banking-assistant".into()),
        jti: TokenId::random().expect("random"),
        iat: now,
        nbf: Timestamp::from_unix(now.unix() - 10),
        exp: Timestamp::from_unix(now.unix() + exp_in),
        plan: Some("pay-december-bill".into()),
        plan_hash: Digest::of_text("plan"),
        spec: Some("banking".into()),
        spec_hash: Digest::of_text("spec"),
        ancestors: vec![],
        envelope: {
            let mut env = warden_core::envelope::Envelope::default();
            env.calls.push(warden_core::envelope::CallGrant {
                name: "send_money".into(),
                args: Default::default(),
            });
            env
        },
        enforcement: vec![],
    }
}

#[test]
fn keygen_then_inspect_verified_and_unverified() {
    let d = tmpdir("inspect");
    let out = warden(&["keygen", "--out", s(&d.join("keys"))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = keys::load_signing_key(&d.join("keys/warden.key")).expect("load key");
    let c = claims(600);
    let tok = paseto::sign(&c, &key).expect("sign");
    let tok_file = d.join("run.tok");
    std::fs::write(&tok_file, format!("{tok}\n")).expect("write token");
    let pubkey = d.join("keys/warden.pub");

    let out = warden(&["inspect", s(&tok_file), "--pub", s(&pubkey)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("VERIFIED"), "{stdout}");
    assert!(stdout.contains(&c.jti.to_string()), "{stdout}");
    assert!(stdout.contains("send_money"), "{stdout}");

    let out = warden(&["inspect", &tok]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNVERIFIED"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNVERIFIED"));

    let out = warden(&["inspect", &tok, "--pub", s(&pubkey), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verified"], true);
    assert_eq!(v["claims"]["jti"], c.jti.to_string());
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn inspect_refuses_wrong_key_tampering_expiry_and_revocation() {
    let d = tmpdir("refuse");
    let key = SigningKey::generate().expect("key");
    let other = SigningKey::generate().expect("key");
    let pubk = key.public_key().to_paserk();
    let tok = paseto::sign(&claims(600), &key).expect("sign");

    let out = warden(&["inspect", &tok, "--pub", &other.public_key().to_paserk()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another key"));

    let mut bad = tok.clone().into_bytes();
    let i = paseto::HEADER.len() + 5;
    bad[i] = if bad[i] == b'x' { b'y' } else { b'x' };
    let bad = String::from_utf8(bad).expect("utf-8");
    let out = warden(&["inspect", &bad, "--pub", &pubk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));

    let expired = paseto::sign(&claims(-5), &key).expect("sign");
    let out = warden(&["inspect", &expired, "--pub", &pubk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));

    let c = claims(600);
    let tok = paseto::sign(&c, &key).expect("sign");
    let list = d.join("revoked");
    std::fs::write(&list, format!("{}\n", c.jti)).expect("write list");
    let out = warden(&["inspect", &tok, "--pub", &pubk, "--revocations", s(&list)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let d = tmpdir("keygen");
    let dir = d.join("k");
    assert!(warden(&["keygen", "--out", s(&dir)]).status.success());
    let before = std::fs::read(dir.join("warden.key")).expect("read");
    let out = warden(&["keygen", "--out", s(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(dir.join("warden.key")).expect("read"), before);
    let out = warden(&["keygen", "--out", s(&dir), "--force"]);
    assert!(out.status.success());
    assert_ne!(std::fs::read(dir.join("warden.key")).expect("read"), before);
    std::fs::remove_dir_all(&d).expect("cleanup");
}

/// `--add-to`: each new key becomes the set's one active key, the one
/// before it verify-only (a rotation without editing the file by hand).
#[test]
fn keygen_adds_the_new_key_to_a_key_set() {
    let d = tmpdir("keygen-set");
    let set = d.join("warden.keys");
    let kid = |dir: &str| {
        keys::load_public_key(s(&d.join(dir).join("warden.pub")))
            .expect("public key")
            .key_id()
            .to_string()
    };
    assert!(
        warden(&["keygen", "--out", s(&d.join("a")), "--add-to", s(&set)])
            .status
            .success()
    );
    let out = warden(&["keygen", "--out", s(&d.join("b")), "--add-to", s(&set)]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{} is now verify-only", kid("a")))
    );
    let keys = token::KeySet::load(s(&set)).expect("the key set parses");
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys.get(&kid("a")).map(|(_, st)| st),
        Some(token::KeyState::VerifyOnly)
    );
    assert_eq!(
        keys.get(&kid("b")).map(|(_, st)| st),
        Some(token::KeyState::Active)
    );
    // A file that is not a key set is refused, and left as it was.
    std::fs::write(&set, "not a key\n").expect("write");
    let out = warden(&["keygen", "--out", s(&d.join("c")), "--add-to", s(&set)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&set).expect("read"), "not a key\n");
    std::fs::remove_dir_all(&d).expect("cleanup");
}

const SPEC: &str = r#"spec "bank" {
  max ttl 30m
  let payees = ["UK1", "UK2"]
  allow call get_balance, read_file
  allow call send_money when recipient in payees and amount <= 1000
  approve call update_scheduled_transaction
  at most 3 call send_money
}
"#;

const PLAN: &str = r#"plan "pay" {
  agent "banking-assistant"
  ttl 10m
  param amount: number where amount > 0 and amount <= 100
  call get_balance()
  call send_money(recipient = "UK1", amount = amount)
}
"#;

struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = tmpdir(tag);
        std::fs::write(dir.join("bank.spec"), SPEC).expect("spec");
        std::fs::write(dir.join("pay.plan"), PLAN).expect("plan");
        let out = warden(&["keygen", "--out", s(&dir.join("keys"))]);
        assert!(out.status.success());
        Setup { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }
    fn issue(&self, plan: &Path) -> Output {
        self.issue_with(plan, &[])
    }
    fn issue_with(&self, plan: &Path, extra: &[&str]) -> Output {
        let spec = self.path("bank.spec");
        let key = self.path("keys/warden.key");
        let mut args = vec!["issue", s(plan), "--spec", s(&spec), "--key", s(&key)];
        args.extend_from_slice(extra);
        warden(&args)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn issue_prints_only_the_token_and_inspect_shows_it() {
    let t = Setup::new("issue");
    let out = t.issue(&t.path("pay.plan"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with("v4.public."));
    let tok = t.write("run.tok", &stdout);

    let pubkey = t.path("keys/warden.pub");
    let out = warden(&["inspect", s(&tok), "--pub", s(&pubkey), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let c = &v["claims"];
    assert_eq!(c["sub"], "banking-assistant");
    assert_eq!(c["plan"], "pay");
    assert_eq!(c["spec"], "bank");
    let life = |c: &serde_json::Value| {
        let iat: Timestamp = c["iat"].as_str().expect("iat").parse().expect("time");
        let exp: Timestamp = c["exp"].as_str().expect("exp").parse().expect("time");
        exp.unix() - iat.unix()
    };
    // The plan's `ttl 10m`.
    assert_eq!(life(c), 10 * 60);
    assert_eq!(c["envelope"]["calls"].as_array().expect("calls").len(), 2);

    let out = warden(&["inspect", s(&tok), "--pub", s(&pubkey)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("send_money") && text.contains("VERIFIED"),
        "{text}"
    );

    // `--ttl 2h` replaces the plan's ttl; the spec's `max ttl 30m` caps it.
    let out = t.issue_with(&t.path("pay.plan"), &["--ttl", "2h"]);
    assert_eq!(out.status.code(), Some(0));
    let tok = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = warden(&["inspect", &tok, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(life(&v["claims"]), 30 * 60);
}

#[test]
fn issue_refuses_rejected_and_unapproved_plans_with_the_check_exit_codes() {
    let t = Setup::new("verdicts");
    let bad = t.write(
        "bad.plan",
        "plan \"steal\" {\n  call send_money(recipient = \"US9\", amount = 5)\n}\n",
    );
    let out = t.issue(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reject"));

    let approve = t.write(
        "approve.plan",
        "plan \"reschedule\" {\n  call update_scheduled_transaction(id = 7)\n}\n",
    );
    let out = t.issue(&approve);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());

    let out = t.issue(&t.path("missing.plan"));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    let broken = t.write("broken.plan", "plan \"x\" { call ( }\n");
    let out = t.issue(&broken);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn attenuate_narrows_and_refuses_to_widen_with_the_reason() {
    let t = Setup::new("attenuate");
    let out = t.issue(&t.path("pay.plan"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parent = t.write("run.tok", &String::from_utf8_lossy(&out.stdout));
    let key = t.path("keys/warden.key");
    let attenuate =
        |plan: &Path| warden(&["attenuate", s(&parent), "--plan", s(plan), "--key", s(&key)]);

    let narrow = t.write(
        "narrow.plan",
        "plan \"sub\" {\n  call send_money(recipient = \"UK1\", amount = 20)\n}\n",
    );
    let out = attenuate(&narrow);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = warden(&[
        "inspect",
        &child,
        "--pub",
        s(&t.path("keys/warden.pub")),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let p: serde_json::Value = {
        let o = warden(&["inspect", s(&parent), "--json"]);
        serde_json::from_slice(&o.stdout).expect("json")
    };
    assert_eq!(v["claims"]["ancestors"][0], p["claims"]["jti"]);
    let exp = |x: &serde_json::Value| -> Timestamp {
        x["claims"]["exp"]
            .as_str()
            .expect("exp")
            .parse()
            .expect("time")
    };
    assert!(exp(&v) <= exp(&p));

    let wide = t.write(
        "wide.plan",
        "plan \"sub\" {\n  call send_money(recipient = \"UK2\", amount = 20)\n}\n",
    );
    let out = attenuate(&wide);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not inside") && err.contains("UK2"), "{err}");

    let over = t.write(
        "over.plan",
        "plan \"sub\" {\n  call send_money(recipient = \"UK1\", amount = 500)\n}\n",
    );
    assert_eq!(attenuate(&over).status.code(), Some(1));

    // A parent signed by another key is refused as bad input.
    let other = t.dir.join("other");
    assert!(warden(&["keygen", "--out", s(&other)]).status.success());
    let out = warden(&[
        "attenuate",
        s(&parent),
        "--plan",
        s(&narrow),
        "--key",
        s(&other.join("warden.key")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another key"));
}

/// The enforcement entries of an issued token, by profile name: (proven,
/// counterexample).
fn profiles(tok: &str) -> std::collections::BTreeMap<String, (bool, String)> {
    let out = warden(&["inspect", tok, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["claims"]["enforcement"]
        .as_array()
        .expect("enforcement entries")
        .iter()
        .map(|e| {
            (
                e["profile"].as_str().expect("profile").to_owned(),
                (
                    e["proven"].as_bool().expect("proven"),
                    e["counterexample"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

/// The proof reaches the kernel's edge: the root profiles check an exec's
/// literal argument list and a unix socket's path, Landlock alone neither,
/// and `warden issue` proves each profile on exactly what its layers check.
#[test]
fn issue_proves_exec_argv_and_unix_sockets_per_profile() {
    let t = Setup::new("profiles");
    t.write(
        "bank.spec",
        r#"spec "build" {
  allow exec "/usr/bin/cargo" when argv[0] in ["build", "test"]
  allow write under "/run/app/"
  allow connect "/run/app/sock"

  baseline {
    read under "/usr/lib/"
    read under "/lib/"
    read under "/lib64/"
    read "/etc/ld.so.cache"
  }
}
"#,
    );
    let issued = |name: &str, body: &str| {
        let plan = t.write(
            &format!("{name}.plan"),
            &format!("plan \"{name}\" {{\n{body}}}\n"),
        );
        let out = t.issue(&plan);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            err,
        )
    };

    // `exec "/usr/bin/cargo" ["build"]`: proven where eBPF checks argv.
    let (code, tok, err) = issued("build", "  exec \"/usr/bin/cargo\" [\"build\"]\n");
    assert_eq!(code, Some(0), "{err}");
    let p = profiles(&tok);
    assert_eq!(p["root"], (true, String::new()), "{p:?}");
    assert_eq!(p["root+bpf-lsm"], (true, String::new()), "{p:?}");
    let (proven, cx) = &p["unprivileged"];
    assert!(!proven, "{p:?}");
    assert!(
        cx.contains("`exec \"/usr/bin/cargo\" with any arguments`")
            && cx.contains("`exec \"/usr/bin/cargo\" []`"),
        "{cx}"
    );
    // The same program with a param among its arguments: no layer pins it.
    let (code, _, err) = issued(
        "param",
        "  param a: string where a in [\"build\", \"test\"]\n\n  exec \"/usr/bin/cargo\" [a]\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no enforcement profile is proven"), "{err}");

    // A unix socket connect: proven where eBPF matches its path.
    let (code, tok, err) = issued("sock", "  connect \"/run/app/sock\"\n");
    assert_eq!(code, Some(0), "{err}");
    let p = profiles(&tok);
    assert!(p["root"].0 && p["root+bpf-lsm"].0, "{p:?}");
    let (proven, cx) = &p["unprivileged"];
    assert!(!proven, "{p:?}");
    assert!(
        cx.contains("`connect under \"/\"`") && cx.contains("`connect \"/var/run/docker.sock\"`"),
        "{cx}"
    );
    // Writing beside the socket: while the file exists, Landlock grants it
    // alone and the socket stays the one connected to. Absent, Landlock
    // grants its directory, where the run could plant a symlink at the
    // socket: that step's wide shape is not proven, and a run where the file
    // is absent does not start (only BPF LSM, exact files, needs neither).
    let (code, tok, err) = issued(
        "plant",
        "  write \"/run/app/state.json\"\n  connect \"/run/app/sock\"\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let p = profiles(&tok);
    assert!(p["root+bpf-lsm"].0 && p["root"].0, "{p:?}");
    let alts = alternatives(&tok);
    assert!(alts["root+bpf-lsm"].is_empty(), "{alts:?}");
    let [(grant, widened, proven, cx)] = alts["root"].as_slice() else {
        panic!("{alts:?}")
    };
    assert_eq!(grant, "write \"/run/app/state.json\"");
    assert_eq!(widened, "write under \"/run/app\"");
    assert!(!proven, "{alts:?}");
    assert!(cx.contains("`connect \"/var/run/docker.sock\"`"), "{cx}");
}

/// The proofs of each profile's alternative shapes in an issued token, by
/// profile name: (grant, widened, proven, counterexample).
fn alternatives(
    tok: &str,
) -> std::collections::BTreeMap<String, Vec<(String, String, bool, String)>> {
    let out = warden(&["inspect", tok, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    v["claims"]["enforcement"]
        .as_array()
        .expect("enforcement entries")
        .iter()
        .map(|e| {
            let alts = e["alternatives"].as_array().cloned().unwrap_or_default();
            (
                text(&e["profile"]),
                alts.iter()
                    .map(|a| {
                        (
                            text(&a["grant"]),
                            text(&a["widened"]),
                            a["proven"].as_bool().expect("proven"),
                            text(&a["counterexample"]),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}
