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
        warden: token::CLAIMS_VERSION,
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
        envelope: serde_json::json!({"calls": [{"name": "send_money"}]}),
        baseline: serde_json::json!([]),
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
