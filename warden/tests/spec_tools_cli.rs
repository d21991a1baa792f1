//! `warden diff`, `warden lint` and `warden test --coverage`: output lines,
//! JSON and exit codes (0 equivalent / clean, 1 differ / findings, 2 bad
//! input, 4 diff could not prove equivalence).

use std::path::Path;
use std::process::Output;

mod common;
use common::{repo, tmp, warden};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn diff_exit_codes_and_lines() {
    let dir = tmp("diff");
    let d = dir.path();
    let old = write(
        d,
        "old.spec",
        "spec \"s\" {\n  allow call pay\n  deny call pay when has a and not has b\n}\n",
    );
    let new = write(d, "new.spec", "spec \"s\" {\n  allow call pay\n}\n");
    let out = warden(&["diff", &old, &new]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains(": widened: call pay("))
        .unwrap_or_else(|| panic!("{text}"));
    // `file:line:col: kind: message (witness: ...)`: at the rule of NEW
    // that decides the witness, naming the rule of OLD.
    assert!(line.starts_with(&format!("{new}:2:3: widened:")), "{line}");
    assert!(line.contains(&format!("at {old}:3:3")), "{line}");
    assert!(line.contains("a = ") && !line.contains("b = "), "{line}");

    let out = warden(&["diff", &old, &old, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "equivalent");
    assert_eq!(v["equivalent"], true);

    // A call argument compared with an address: nothing proved either way.
    let a = write(
        d,
        "a.spec",
        "spec \"s\" { allow call f when x in 10.0.0.0/8 }\n",
    );
    let out = warden(&["diff", &a, &a]);
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    assert!(stdout(&out).contains(": incomplete: call f: argument `x`"));

    let bad = write(d, "bad.spec", "spec \"s\" { allow frobnicate }\n");
    assert_eq!(warden(&["diff", &bad, &old]).status.code(), Some(2));
}

#[test]
fn diff_of_a_shipped_spec_against_a_modified_copy() {
    let dir = tmp("shipped");
    let d = dir.path();
    let src = std::fs::read_to_string(repo("specs/coding-agent.spec")).unwrap();
    let changed = src.replace(
        "allow write under \"/repo/src/\"",
        "allow write under \"/repo/\"",
    );
    assert_ne!(src, changed);
    std::fs::create_dir_all(d.join("common")).unwrap();
    std::fs::copy(
        repo("specs/common/runtime.spec"),
        d.join("common/runtime.spec"),
    )
    .unwrap();
    let new = write(d, "coding-agent.spec", &changed);
    let out = warden(&["diff", &repo("specs/coding-agent.spec"), &new]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(": widened: write \"/repo"), "{text}");
    assert!(!text.contains("narrowed"), "{text}");
}

#[test]
fn lint_finds_defects_and_passes_the_shipped_specs() {
    let dir = tmp("lint");
    let d = dir.path();
    let s = write(
        d,
        "s.spec",
        "spec \"s\" {\n  let unused = 3\n  allow read when port == 443\n  deny write under \"/a/\"\n  allow write under \"/a/b/\"\n}\n",
    );
    let out = warden(&["lint", &s]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for kind in ["unused-let", "no-such-field", "unsatisfiable", "overridden"] {
        assert!(text.contains(&format!(": {kind}: ")), "{kind}: {text}");
    }
    assert!(text.contains(&format!("{s}:5:3: overridden:")), "{text}");
    for spec in [
        "specs/coding-agent.spec",
        "specs/devops-agent.spec",
        "specs/support-agent.spec",
    ] {
        let out = warden(&["lint", &repo(spec)]);
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", stdout(&out));
    }
}

#[test]
fn coverage_lists_rules_no_test_exercises() {
    let dir = tmp("coverage");
    let d = dir.path();
    let s = write(
        d,
        "s.spec",
        "spec \"s\" {\n  allow read under \"/a/\"\n  allow write under \"/b/\"\n  test \"read\" { plan { read \"/a/x\" } expect accept }\n}\n",
    );
    let out = warden(&["test", "--coverage", &s]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("{s}:3:3: uncovered:")), "{text}");
    assert!(text.contains("1 of 2 rules exercised"), "{text}");
}

/// Issue 18: a spec comparing `port` with a number outside the ports
/// loads; `warden lint` reports the comparison always true, and `warden
/// check` decides with it (accept) and warns on stderr, stdout untouched.
#[test]
fn an_out_of_range_port_loads_with_a_warning() {
    let dir = tmp("port-range");
    let d = dir.path();
    let s = write(
        d,
        "s.spec",
        "spec \"s\" {\n  allow connect host in [\"api.example.com\"] and port <= 70000\n}\n",
    );
    let p = write(
        d,
        "p.plan",
        "plan {\n  connect \"api.example.com\":443\n}\n",
    );
    let out = warden(&["lint", &s]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{s}:2:3: always-true: ")) && text.contains("`port <= 70000`"),
        "{text}"
    );
    let out = warden(&["check", &p, "--spec", &s, "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{err}", stdout(&out));
    assert!(
        err.contains("warning: ") && err.contains("always-true"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verdict"], "accept");
}
