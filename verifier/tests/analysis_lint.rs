//! `lint` and `coverage` on hand-written specs, one defect each: the kind,
//! the line of the rule and the proof.

use verifier::analysis::Proof;
use verifier::analysis::coverage::coverage;
use verifier::analysis::lint::{LintOptions, lint};

fn run(src: &str) -> Vec<verifier::analysis::Finding> {
    let l = planlang::load_spec_str(src, "t.spec").unwrap_or_else(|d| panic!("{d:?}"));
    lint(&l, &LintOptions::default()).unwrap()
}

fn only<'a>(
    fs: &'a [verifier::analysis::Finding],
    kind: &str,
) -> Vec<&'a verifier::analysis::Finding> {
    fs.iter().filter(|f| f.kind == kind).collect()
}

#[test]
fn unsatisfiable_condition() {
    let fs = run(
        "spec \"s\" {\n  allow read when path under \"/a/\" and path under \"/b/\"\n  allow read under \"/c/\"\n}",
    );
    let u = only(&fs, "unsatisfiable");
    assert_eq!(u.len(), 1, "{fs:#?}");
    assert_eq!(u[0].line, 2);
    assert_eq!(u[0].proof, Proof::Unsat);
}

#[test]
fn allow_overridden_by_deny() {
    let fs = run(
        "spec \"s\" {\n  deny write under \"/repo/\"\n  allow write under \"/repo/src/\"\n  allow write under \"/tmp/\"\n}",
    );
    let o = only(&fs, "overridden");
    assert_eq!(o.len(), 1, "{fs:#?}");
    assert_eq!(o[0].line, 3);
    match &o[0].proof {
        Proof::Rule { at, rule } => {
            assert_eq!(at, "t.spec:2:3");
            assert!(rule.starts_with("deny write under"), "{rule}");
        }
        p => panic!("{p:?}"),
    }
}

#[test]
fn approve_shadowed_by_deny() {
    let fs = run(
        "spec \"s\" {\n  deny call update_password\n  approve call update_password when has user\n}",
    );
    let o = only(&fs, "approve-shadowed");
    assert_eq!(o.len(), 1, "{fs:#?}");
    assert_eq!(o[0].line, 3);
    assert!(matches!(&o[0].proof, Proof::Rule { at, .. } if at == "t.spec:2:3"));
}

#[test]
fn subsumed_rule_names_its_cover() {
    let fs = run(
        "spec \"s\" {\n  allow read under \"/repo/\"\n  allow read under \"/repo/src/\" when not path endswith \".key\"\n  allow call send_money when amount <= 10\n  allow call send_money when amount <= 100\n}",
    );
    let s = only(&fs, "subsumed");
    assert_eq!(s.len(), 2, "{fs:#?}");
    assert_eq!(s[0].line, 3);
    assert!(matches!(&s[0].proof, Proof::Rule { at, .. } if at == "t.spec:2:3"));
    assert_eq!(s[1].line, 4);
    assert!(matches!(&s[1].proof, Proof::Rule { at, .. } if at == "t.spec:5:3"));
}

#[test]
fn equal_rules_report_the_later_one() {
    let fs =
        run("spec \"s\" {\n  allow read under \"/a/\"\n  allow read when path under \"/a/\"\n}");
    let s = only(&fs, "subsumed");
    assert_eq!(s.len(), 1, "{fs:#?}");
    assert_eq!(s[0].line, 3);
}

#[test]
fn unused_let_and_missing_field() {
    let fs = run(
        "spec \"s\" {\n  let used = [\"a\"]\n  let unused = [\"b\"]\n  allow call x when y in used\n  allow read when port == 443\n}",
    );
    let u = only(&fs, "unused-let");
    assert_eq!(u.len(), 1, "{fs:#?}");
    assert_eq!(u[0].line, 3);
    assert!(u[0].message.contains("unused"));
    let m = only(&fs, "no-such-field");
    assert_eq!(m.len(), 1, "{fs:#?}");
    assert_eq!(m[0].line, 5);
    assert!(m[0].message.contains("`port`"));
    // The same rule can never match: the solver proves it.
    assert!(only(&fs, "unsatisfiable").iter().any(|f| f.line == 5));
}

#[test]
fn a_clean_spec_has_no_findings() {
    let fs = run(
        "spec \"s\" {\n  let hosts = [\"a.example\"]\n  allow read under \"/repo/\"\n  deny read when path endswith \".key\"\n  allow connect when host in hosts and port == 443\n}",
    );
    assert!(fs.is_empty(), "{fs:#?}");
}

#[test]
fn coverage_lists_untested_rules() {
    let src = "spec \"s\" {\n  allow read under \"/a/\"\n  allow write under \"/b/\"\n  deny read when path endswith \".key\"\n  at most 2 call send_money\n  allow call send_money when amount <= 5\n  test \"t\" { plan { param n: number where n <= 3  read \"/a/x.key\"  call send_money(amount = n) } expect reject }\n}";
    let l = planlang::load_spec_str(src, "t.spec").unwrap();
    let c = coverage(&l).unwrap();
    assert_eq!(c.rules, 5);
    assert_eq!(c.exercised, 4, "{:#?}", c.uncovered);
    assert_eq!(c.uncovered.len(), 1);
    assert_eq!(c.uncovered[0].line, 3);
    assert_eq!(c.uncovered[0].kind, "uncovered");
}

#[test]
fn call_arguments_present_absent_and_lists() {
    // `has a and not has a` never matches; `a == "x"` needs `a`, which the
    // deny refuses whenever it is passed.
    let fs = run(
        "spec \"s\" {\n  allow call f when has a and not has a\n  deny call g when has a\n  allow call g when a == \"x\"\n  allow call g when not has a\n}",
    );
    let u = only(&fs, "unsatisfiable");
    assert_eq!(u.len(), 1, "{fs:#?}");
    assert_eq!(u[0].line, 2);
    let o = only(&fs, "overridden");
    assert_eq!(o.len(), 1, "{fs:#?}");
    assert_eq!(o[0].line, 4);
    // A list `to` can meet both (`["a@x"]` for the first, `["a@x", "b"]`
    // is refused by neither): no claim that one covers the other.
    let fs = run(
        "spec \"s\" {\n  allow call mail when to endswith \"@x\"\n  allow call mail when to contains \"a@x\"\n}",
    );
    assert!(only(&fs, "subsumed").is_empty(), "{fs:#?}");
    // Every list meeting `to[0] == "a"` has a first element "a": covered.
    let fs = run(
        "spec \"s\" {\n  allow call mail when to contains \"a\"\n  allow call mail when to[0] == \"a\"\n}",
    );
    let s = only(&fs, "subsumed");
    assert_eq!(s.len(), 1, "{fs:#?}");
    assert_eq!(s[0].line, 3);
    // What the model does not cover yields no claim.
    let fs = run("spec \"s\" {\n  allow call f when x in 10.0.0.0/8 and not x in 10.0.0.0/8\n}");
    assert!(only(&fs, "unsatisfiable").is_empty(), "{fs:#?}");
}

/// A connect pattern with a socket path and a port matches nothing: a unix
/// socket has no port, a network connect no path.
#[test]
fn a_socket_path_with_a_port_never_matches() {
    let fs = run(
        "spec \"s\" {\n  allow connect under \"/run/app/\" when port == 443\n  allow connect under \"/run/db/\"\n}",
    );
    let dead: Vec<_> = fs.iter().filter(|f| f.line == 2).collect();
    assert!(!dead.is_empty(), "{fs:#?}");
    assert!(fs.iter().all(|f| f.line != 3), "{fs:#?}");
}

/// Issue 18: a port compared with a number outside the ports loads, and
/// lint names the comparison always true or always false.
#[test]
fn port_comparisons_out_of_range_are_always_true_or_false() {
    let fs = run(concat!(
        "spec \"s\" {\n",
        "  allow connect when port <= 70000\n",
        "  deny connect when port == 70000\n",
        "  deny listen when port > 70000 or port < -5\n",
        "  allow listen when port != 1.5\n",
        "  deny connect when 70000 < port\n",
        "  allow connect when port in [70000, 443]\n",
        "  allow connect when port in [-1, 70000]\n",
        "  allow connect when port <= 65535\n",
        "  allow call f when port <= 70000\n",
        "}"
    ));
    let truth: Vec<(u32, &str)> = fs
        .iter()
        .filter(|f| {
            matches!(
                f.kind.as_str(),
                "always-true" | "always-false" | "out-of-range"
            )
        })
        .map(|f| (f.line, f.kind.as_str()))
        .collect();
    assert_eq!(
        truth,
        [
            (2, "always-true"),
            (3, "always-false"),
            (4, "always-false"),
            (4, "always-false"),
            (5, "always-true"),
            (6, "always-false"),
            (7, "out-of-range"),
            (8, "always-false"),
        ],
        "{fs:#?}"
    );
    // Lines 9 and 10 (an in-range bound; a call's `port` argument, any
    // number) have no such finding: the list above is all of them.
    let f = fs.iter().find(|f| f.line == 2).unwrap();
    assert!(
        f.message.contains("`port <= 70000` is always true"),
        "{}",
        f.message
    );
    assert_eq!(f.proof, Proof::Syntax);
}
