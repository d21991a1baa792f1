//! `warden check` and `warden test`: the exit-code contract, JSON and
//! human output.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/verifier")
        .join(name)
}

/// The banking example, the one copy the demo, the docs and the tests use.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn warden(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("warden runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(plan: &str, json: bool) -> (i32, String, String) {
    let p = if plan == "pay-bill.plan" {
        example(plan)
    } else {
        fixture(plan)
    };
    let s = example("banking.spec");
    let mut args = vec!["check", p.to_str().unwrap(), "--spec", s.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    warden(&args)
}

#[test]
fn accept_is_exit_0_with_an_envelope() {
    let (code, out, _) = check("pay-bill.plan", true);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "accept");
    assert_eq!(v["envelope"]["params"][0]["name"], "amount");
    assert_eq!(
        v["envelope"]["calls"][1]["args"]["subject"]["origin"],
        "read_file"
    );
}

#[test]
fn reject_is_exit_1_with_spans_and_witnesses() {
    let (code, out, _) = check("bad.plan", true);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "reject");
    let first = &v["violations"][0];
    assert_eq!(first["step"]["line"], 4);
    assert!(first["witness"]["bill.iban"].is_string(), "{first}");
    let (code, human, _) = check("deny.plan", false);
    assert_eq!(code, 1);
    assert!(human.contains("deny call update_password"), "{human}");
    assert!(human.contains("deny.plan:3:3"), "{human}");
    assert!(human.contains("banking.spec:11:3"), "{human}");
}

#[test]
fn approval_is_exit_3() {
    let (code, out, _) = check("approve.plan", false);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("verdict: approve"));
}

#[test]
fn bad_input_is_exit_2_and_nothing_on_stdout() {
    let (code, out, err) = check("broken.plan", false);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("unknown name `nope`"), "{err}");
    let (code, out, _) = check("missing.plan", true);
    assert_eq!((code, out.as_str()), (2, ""));
}

#[test]
fn warden_test_runs_test_blocks() {
    let (code, out, _) = warden(&["test", example("banking.spec").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS"), "{out}");
    let (code, out, _) = warden(&["test", fixture("failing.spec").to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("1 passed, 1 failed"),
        "{out}"
    );
    let (code, _, _) = warden(&["test", fixture("nothing-here").to_str().unwrap()]);
    assert_eq!(code, 2);
}

/// What the proof leaves to the run is said under the verdict: a `deny …
/// from call` rule that a step passing a param may meet, and an assumption
/// on a tool's results, each with where it is written.
#[test]
fn check_names_what_is_checked_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("mail.spec");
    std::fs::write(
        &spec,
        "spec \"mail\" {\n  allow call read_inbox, read_bill, send_mail\n  allow call pay when amount <= 100\n  deny call send_mail when body from call read_inbox\n}\n",
    )
    .unwrap();
    let plan = dir.path().join("mail.plan");
    std::fs::write(
        &plan,
        "plan \"p\" {\n  param body: string\n  call read_inbox()\n  call send_mail(body = body)\n  let bill = call read_bill() where bill.amount <= 100\n  call pay(amount = bill.amount)\n}\n",
    )
    .unwrap();
    let (code, out, err) = warden(&[
        "check",
        plan.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let rule = format!(
        "note: checked at run time, not by this proof: the rule `deny call send_mail when body from call read_inbox` at {}:4:3",
        spec.display()
    );
    assert!(out.contains(&rule), "{out}");
    let assumed = format!(
        "note: assumed, checked at run time: `bill.amount <= 100` at {}:5:",
        plan.display()
    );
    assert!(out.contains(&assumed), "{out}");

    // Without the deny rule, nothing is left to the run but the assumption.
    std::fs::write(
        &spec,
        "spec \"mail\" {\n  allow call read_inbox, read_bill, send_mail\n  allow call pay when amount <= 100\n}\n",
    )
    .unwrap();
    let (code, out, _) = warden(&[
        "check",
        plan.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(!out.contains("not by this proof"), "{out}");
}
