//! `warden audit verify | show` on a real store, intact and tampered.

use service::audit::{CheckpointSigner, EventKind, NewEvent};
use service::store::Store;
use service::store::Txn;
use service::store::sqlite::{SqliteOptions, SqliteStore};
use std::path::Path;
use std::process::Command;

fn warden(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("run warden");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A store with 10 records about two agents and a checkpoint every 4.
fn make_log(dir: &Path) -> (String, String) {
    let kp = token::SigningKey::from_seed(&[9; 32]).unwrap();
    let db = dir.join("warden.db");
    let store = SqliteStore::open(
        &db,
        Some(CheckpointSigner::new(kp.clone())),
        SqliteOptions {
            checkpoint_every: 4,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..10 {
        let agent = if i % 2 == 0 { "alpha" } else { "beta" };
        let kind = if i == 7 {
            EventKind::Revocation
        } else {
            EventKind::Submission
        };
        store
            .commit(Txn::events(vec![NewEvent::new(
                kind,
                serde_json::json!({"agent": agent, "token_id": format!("tok{i}")}),
            )]))
            .wait_blocking()
            .unwrap();
    }
    drop(store);
    let pubf = dir.join("warden.pub");
    std::fs::write(&pubf, kp.public_key().to_paserk()).unwrap();
    (db.display().to_string(), pubf.display().to_string())
}

#[test]
fn verify_intact_then_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pubf) = make_log(dir.path());
    let (code, out, err) = warden(&["audit", "verify", "--db", &db, "--pub", &pubf]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("intact: 13 records, 3 signed checkpoints"),
        "{out}"
    );

    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE audit SET body = '{\"agent\":\"mallory\"}' WHERE seq = 6",
        [],
    )
    .unwrap();
    drop(c);
    let (code, out, _) = warden(&["audit", "verify", "--db", &db, "--pub", &pubf, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_bad_record"], 6);
}

#[test]
fn a_tail_cut_after_the_last_checkpoint_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pubf) = make_log(dir.path());
    let (code, out, _) = warden(&["audit", "verify", "--db", &db, "--pub", &pubf, "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["head_signed"], true);
    assert_eq!(v["head_seq"], 13);
    // Records 11..13 (two submissions and the closing checkpoint) are cut:
    // the rest is a chain that still verifies, up to the checkpoint at 10.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("DELETE FROM audit WHERE seq > 10", []).unwrap();
    drop(c);
    let (code, out, _) = warden(&["audit", "verify", "--db", &db, "--pub", &pubf]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 11"), "{out}");
    assert!(out.contains("cut off the tail"), "{out}");
}

#[test]
fn verify_with_another_key_fails_at_first_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = make_log(dir.path());
    let other = token::SigningKey::from_seed(&[1; 32]).unwrap();
    let (code, out, _) = warden(&[
        "audit",
        "verify",
        "--db",
        &db,
        "--pub",
        &other.public_key().to_paserk(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("record 5"), "{out}");
    assert!(out.contains("signature"), "{out}");
}

#[test]
fn bad_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db").display().to_string();
    let (code, _, err) = warden(&[
        "audit",
        "verify",
        "--db",
        &missing,
        "--pub",
        "k4.public.AAAA",
    ]);
    assert_eq!(code, 2, "{err}");
    let kp = token::SigningKey::from_seed(&[9; 32]).unwrap();
    let (code, _, err) = warden(&[
        "audit",
        "verify",
        "--db",
        &missing,
        "--pub",
        &kp.public_key().to_paserk(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!Path::new(&missing).exists());
    let (code, _, err) = warden(&["audit", "show", "--db", &missing, "--kind", "bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown record kind"), "{err}");
}

#[test]
fn show_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = make_log(dir.path());
    let (code, out, _) = warden(&["audit", "show", "--db", &db, "--agent", "beta", "--json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["body"]["agent"] == "beta"));
    let (_, out, _) = warden(&["audit", "show", "--db", &db, "--kind", "revocation"]);
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains("tok7"));
    let (_, out, _) = warden(&["audit", "show", "--db", &db, "--token-id", "tok3"]);
    assert_eq!(out.lines().count(), 1);
    let (_, out, _) = warden(&[
        "audit",
        "show",
        "--db",
        &db,
        "--since",
        "1h",
        "--kind",
        "checkpoint",
    ]);
    assert_eq!(out.lines().count(), 3);
    let (_, out, _) = warden(&[
        "audit",
        "show",
        "--db",
        &db,
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert_eq!(out.lines().count(), 0);
}

/// `prove`, `consistency` and `verify-proof`: the proofs of a real store
/// verify offline; a tampered record, a rewritten prefix, another key fail.
#[test]
fn prove_and_consistency_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pubf) = make_log(dir.path());
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (code, proof, err) = warden(&["audit", "prove", "5", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let proof_file = file("p5.json", &proof);
    let (code, out, _) = warden(&["audit", "verify-proof", &proof_file, "--pub", &pubf]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("record 5 is in the tree of"), "{out}");
    // The record's body changed in the proof: refused.
    let mut v: serde_json::Value = serde_json::from_str(&proof).unwrap();
    v["record"]["body"] = serde_json::json!("{\"agent\":\"mallory\"}");
    let forged = file("forged.json", &v.to_string());
    let (code, out, _) = warden(&["audit", "verify-proof", &forged, "--pub", &pubf]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT verified"), "{out}");
    // Another key: refused.
    let other = file(
        "other.pub",
        &token::SigningKey::from_seed(&[3; 32])
            .unwrap()
            .public_key()
            .to_paserk(),
    );
    let (code, _, _) = warden(&["audit", "verify-proof", &proof_file, "--pub", &other]);
    assert_eq!(code, 1);
    // The log grows; its later head is consistent with the one kept (the
    // proof file's head).
    let store = SqliteStore::open(
        Path::new(&db),
        Some(CheckpointSigner::new(
            token::SigningKey::from_seed(&[9; 32]).unwrap(),
        )),
        SqliteOptions::default(),
    )
    .unwrap();
    store
        .commit(Txn::events(vec![NewEvent::new(
            EventKind::Submission,
            serde_json::json!({"agent": "gamma"}),
        )]))
        .wait_blocking()
        .unwrap();
    drop(store);
    let kept_size = v["head"]["seq"].as_u64().unwrap().to_string();
    let (code, cons, err) = warden(&["audit", "consistency", &kept_size, "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let cons_file = file("c.json", &cons);
    let (code, out, _) = warden(&[
        "audit",
        "verify-proof",
        &cons_file,
        "--pub",
        &pubf,
        "--old-head",
        &proof_file,
    ]);
    assert_eq!(code, 0, "{out}");
    // A rewritten prefix: record 2 changed in the store; the proof now
    // leads to roots that neither head signed.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("UPDATE audit SET body = '{\"agent\":\"evil\"}' WHERE seq = 2")
        .unwrap();
    drop(c);
    let (_, cons, _) = warden(&["audit", "consistency", &kept_size, "--db", &db]);
    let cons_file = file("c2.json", &cons);
    let (code, out, _) = warden(&[
        "audit",
        "verify-proof",
        &cons_file,
        "--pub",
        &pubf,
        "--old-head",
        &proof_file,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT verified"), "{out}");
    // Out of range: bad input.
    let (code, _, err) = warden(&["audit", "prove", "999", "--db", &db]);
    assert_eq!(code, 2);
    assert!(err.contains("not in the log"), "{err}");
}
