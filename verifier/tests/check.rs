//! The verifier on plans and specs written as text: the verdicts the
//! language reference (docs/language.md) implies, counterexamples, and bad
//! input.

use verifier::report::{Reason, Verdict};
use verifier::{CompiledSpec, Outcome};

/// The banking example (`examples/banking.spec`, the one copy).
const BANKING: &str = include_str!("../../examples/banking.spec");

fn spec(src: &str) -> CompiledSpec {
    let loaded = planlang::load_spec_str(src, "test.spec").unwrap_or_else(|e| panic!("{e:?}"));
    CompiledSpec::compile(&loaded).unwrap()
}

fn check(spec: &CompiledSpec, plan: &str) -> Outcome {
    let plan = planlang::load_plan_str(plan, "test.plan").unwrap_or_else(|e| panic!("{e:?}"));
    spec.check(&plan).unwrap()
}

fn verdict(spec: &CompiledSpec, plan: &str) -> Verdict {
    check(spec, plan).verdict
}

#[test]
fn the_banking_plan_is_refused_for_its_unknown_subject_only_if_the_spec_says_so() {
    let s = spec(BANKING);
    // The banking plan: recipient is a payee, amount a param in (0, 100].
    let plan = include_str!("../../examples/pay-bill.plan");
    let out = check(&s, plan);
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    let env = out.envelope.unwrap();
    assert_eq!(env.calls.len(), 2);
    assert_eq!(env.params[0].name, "amount");
    assert_eq!(env.limits.len(), 1, "at most 3 send_money is carried");
}

#[test]
fn an_attacker_payee_is_refused() {
    let s = spec(BANKING);
    let out = check(
        &s,
        r#"plan { call send_money(recipient = "US133000000121212121212", amount = 1) }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject);
    assert_eq!(out.violations[0].reason, Reason::NothingAllows);
}

#[test]
fn a_let_result_is_not_a_payee() {
    let s = spec(BANKING);
    let out = check(
        &s,
        r#"plan {
          let bill = call read_file(file_path = "bill.txt")
          call send_money(recipient = bill.iban, amount = 5)
        }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let v = &out.violations[0];
    assert!(v.witness.contains_key("bill.iban"), "{v:#?}");
}

#[test]
fn amount_bounds_come_from_where() {
    let s = spec(BANKING);
    let ok = r#"plan { param a: number where a > 0 and a <= 1000
        call send_money(recipient = "UK12345678901234567890", amount = a) }"#;
    assert_eq!(verdict(&s, ok), Verdict::Accept);
    let bad = r#"plan { param a: number where a > 0
        call send_money(recipient = "UK12345678901234567890", amount = a) }"#;
    let out = check(&s, bad);
    assert_eq!(out.verdict, Verdict::Reject);
    let w = &out.violations[0].witness["a"];
    let n: rust_decimal::Decimal = w.parse().unwrap();
    assert!(n > rust_decimal::Decimal::from(1000), "witness {w}");
}

#[test]
fn approval_deny_and_counts() {
    let s = spec(BANKING);
    assert_eq!(
        verdict(&s, "plan { call update_scheduled_transaction(id = 1) }"),
        Verdict::Approve
    );
    assert_eq!(
        verdict(&s, "plan { call update_password(p = \"x\") }"),
        Verdict::Reject
    );
    let four = r#"plan { repeat 4 { call send_money(recipient = "UK12345678901234567890", amount = 1) } }"#;
    let out = check(&s, four);
    assert_eq!(out.verdict, Verdict::Reject);
    assert_eq!(out.violations[0].reason, Reason::AtMost);
    let three = r#"plan { repeat at most 3 { call send_money(recipient = "UK12345678901234567890", amount = 1) } }"#;
    assert_eq!(verdict(&s, three), Verdict::Accept);
}

#[test]
fn never_after_names_the_path() {
    let s = spec(BANKING);
    let spec_with = spec(&BANKING.replace(
        "approve call update_scheduled_transaction",
        "approve call update_scheduled_transaction\n  allow call get_scheduled_transactions",
    ));
    let plan = r#"plan {
      either { call get_scheduled_transactions() } or { call get_balance() }
      call send_money(recipient = "UK12345678901234567890", amount = 1)
    }"#;
    let out = check(&spec_with, plan);
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let v = &out.violations[0];
    assert_eq!(v.reason, Reason::Never);
    assert!(
        v.path.iter().any(|p| p.note.contains("branch 1")),
        "{:#?}",
        v.path
    );
    drop(s);
}

#[test]
fn paths_are_normalized_soundly() {
    let s = spec(r#"spec "tmp" { allow write under "/tmp/" }"#);
    let out = check(
        &s,
        r#"plan { param p: path where p startswith "/tmp/"  write p }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let w = out.violations[0]
        .witness
        .get("p")
        .unwrap_or_else(|| panic!("{out:#?}"));
    let p: String = serde_json::from_str(w).unwrap();
    assert!(p.starts_with("/tmp/"));
    assert!(
        !warden_core::path::under(&p, "/tmp/"),
        "witness {p} escapes /tmp"
    );
    // With `under` in the where, the plan is safe.
    assert_eq!(
        verdict(
            &s,
            r#"plan { param p: path where p under "/tmp/"  write p }"#
        ),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&s, r#"plan { write "/tmp/../etc/passwd" }"#),
        Verdict::Reject
    );
    assert_eq!(
        verdict(&s, r#"plan { write "/tmp/a/./b//c" }"#),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&s, r#"plan { write "/tmp/**/*.log" }"#),
        Verdict::Accept
    );
    assert_eq!(verdict(&s, r#"plan { write "/t*/x" }"#), Verdict::Reject);
}

#[test]
fn exec_argv_and_network() {
    let s = spec(BANKING);
    assert_eq!(
        verdict(&s, r#"plan { exec "/usr/bin/git" ["status"] }"#),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&s, r#"plan { exec "/usr/bin/git" ["push"] }"#),
        Verdict::Reject
    );
    let out = check(&s, r#"plan { exec "/usr/bin/git" }"#);
    assert_eq!(
        out.verdict,
        Verdict::Reject,
        "any arguments may be `push`: {out:#?}"
    );
    assert_eq!(
        verdict(&s, r#"plan { connect "api.bank.example":443 }"#),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&s, r#"plan { connect "api.bank.example":80 }"#),
        Verdict::Reject
    );
    assert_eq!(
        verdict(&s, r#"plan { connect 10.1.2.3:443 }"#),
        Verdict::Reject
    );
    let out = check(&s, r#"plan { param h: host  connect h:443 }"#);
    assert_eq!(out.verdict, Verdict::Reject);
}

/// `connect PATH` / `listen PATH`: the socket's path is normalized like a
/// file's, globs and path params are proven for every value, a `let`
/// result can be any path, and network rules say nothing about sockets.
#[test]
fn unix_socket_connects_and_listens() {
    let s = spec(
        r#"spec "sockets" {
  allow connect under "/run/app/"
  deny connect "/run/app/admin.sock"
  allow listen under "/run/mine/"
  allow connect host == "api.example" and port == 443
  deny connect port == 22
}"#,
    );
    let v = |plan: &str| verdict(&s, plan);
    assert_eq!(v(r#"plan { connect "/run/app/db.sock" }"#), Verdict::Accept);
    assert_eq!(
        v(r#"plan { connect "/run/app/../docker.sock" }"#),
        Verdict::Reject
    );
    assert_eq!(
        v(r#"plan { connect "/run/app/x/../admin.sock" }"#),
        Verdict::Reject
    );
    assert_eq!(
        v(r#"plan { connect "/run/app/*.sock" }"#),
        Verdict::Reject,
        "admin.sock matches"
    );
    assert_eq!(
        v(r#"plan { connect "/run/app/db/*.sock" }"#),
        Verdict::Accept
    );
    assert_eq!(
        v(r#"plan { listen "/run/mine/api.sock" }"#),
        Verdict::Accept
    );
    assert_eq!(
        v(r#"plan { listen "/run/app/api.sock" }"#),
        Verdict::Reject,
        "connect is not listen"
    );
    assert_eq!(v(r#"plan { connect "api.example":443 }"#), Verdict::Accept);
    // A path param: proven for every value, with a concrete witness.
    assert_eq!(
        v(r#"plan { param p: path where p under "/run/app/db/"  connect p }"#),
        Verdict::Accept
    );
    let out = check(
        &s,
        r#"plan { param p: path where p startswith "/run/app/"  connect p }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let w: String = serde_json::from_str(out.violations[0].witness.get("p").unwrap()).unwrap();
    let a = warden_core::action::ConcreteAction::connect_unix(&w).unwrap();
    assert!(
        !matches!(s.verdict_of(&a), verifier::compile::ActionVerdict::Allow(_)),
        "witness {w} is refused"
    );
    assert_eq!(
        v(r#"plan { param p: path where p under "/run/mine/"  listen p }"#),
        Verdict::Accept
    );
    // A `let` result can be any socket.
    assert_eq!(
        v(r#"plan { let s = call find_socket()  connect s }"#),
        Verdict::Reject
    );
    // The accepted plan's envelope grants the socket, not a file.
    let out = check(
        &s,
        r#"plan { connect "/run/app/db.sock"  listen "/run/mine/a.sock" }"#,
    );
    let env = out.envelope.unwrap();
    assert_eq!(env.unix.len(), 2);
    assert!(env.files.is_empty() && env.connect.is_empty() && env.listen.is_empty());
    let a = warden_core::action::ConcreteAction::connect_unix("/run/app/db.sock").unwrap();
    assert!(env.permits(&a).is_ok());
}

/// docs/language.md: every execve counts, the ELF loader's too: running a
/// program through the loader is an exec of the loader, with the program
/// as its first argument.
#[test]
fn an_exec_of_the_loader_is_not_an_exec_of_its_program() {
    let s = spec(r#"spec "id" { allow exec "/usr/bin/id" }"#);
    assert_eq!(
        verdict(&s, r#"plan { exec "/usr/bin/id" }"#),
        Verdict::Accept
    );
    assert_eq!(
        verdict(
            &s,
            r#"plan { exec "/lib64/ld-linux-x86-64.so.2" ["/usr/bin/id"] }"#
        ),
        Verdict::Reject
    );
}

#[test]
fn statements_and_keys() {
    let s = spec(BANKING);
    assert_eq!(
        verdict(&s, r#"plan { read "/srv/bank/statements/2023/dec.pdf" }"#),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&s, r#"plan { read "/srv/bank/statements/signing.key" }"#),
        Verdict::Reject
    );
    let out = check(&s, r#"plan { read "/srv/bank/statements/*.pdf" }"#);
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    assert_eq!(
        verdict(&s, r#"plan { read "/srv/bank/statements/*" }"#),
        Verdict::Reject
    );
}

#[test]
fn unsatisfiable_where_is_bad_input() {
    let s = spec(BANKING);
    let plan = planlang::load_plan_str(
        r#"plan { param a: number where a > 5 and a < 1
            call send_money(recipient = "UK12345678901234567890", amount = a) }"#,
        "t.plan",
    )
    .unwrap();
    let err = s.check(&plan).unwrap_err();
    assert!(err.to_string().contains("cannot all hold"), "{err}");
}

#[test]
fn ttl_is_capped() {
    let s = spec(BANKING);
    let out = check(&s, r#"plan { ttl 2h call get_balance() }"#);
    assert_eq!(out.verdict, Verdict::Reject);
    assert_eq!(out.violations[0].reason, Reason::Ttl);
}

#[test]
fn contradictory_rules_refuse_without_panic() {
    let s = spec(
        r#"spec "c" {
        allow call pay
        deny call pay
        require call login before call pay
        never call pay after call login
    }"#,
    );
    let out = check(&s, "plan { call login() call pay() }");
    assert_eq!(out.verdict, Verdict::Reject);
}

#[test]
fn a_tiny_timeout_is_a_refusal_that_says_so() {
    // Z3 needs hundreds of milliseconds for a normalized path param against
    // many trees; with 1 ms it times out (the automata, which decide this
    // one at once, are off so that the question reaches Z3).
    let mut rules = String::from("spec \"r\" {\n");
    for i in 0..20 {
        rules.push_str(&format!("  allow write under \"/tmp/job{i}/\"\n"));
    }
    rules.push('}');
    let mut s = spec(&rules);
    s.options.timeout_ms = 1;
    s.options.cache = false;
    s.options.automata = false;
    let plan = r#"plan { param p: path where p under "/tmp/job0/"  write p }"#;
    let plan = planlang::load_plan_str(plan, "t.plan").unwrap();
    let out = s.check(&plan).unwrap();
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let v = &out.violations[0];
    assert_eq!(v.reason, Reason::Timeout, "{out:#?}");
    assert!(
        v.message.contains("did not answer within 1 ms"),
        "{}",
        v.message
    );
    // With time enough, the same plan is accepted (by the automata, and by
    // Z3 alone).
    s.options.timeout_ms = 20_000;
    assert_eq!(s.check(&plan).unwrap().verdict, Verdict::Accept);
    s.options.automata = true;
    assert_eq!(s.check(&plan).unwrap().verdict, Verdict::Accept);
}

/// No two files of the verifier import each other (the module graph has
/// no 2-cycle; `testkit::imports` reads it from the source).
#[test]
fn no_two_files_of_the_verifier_import_each_other() {
    testkit::imports::assert_none(env!("CARGO_MANIFEST_DIR"));
}

/// Issue 18: a path param kept in a tree and to a suffix, written, against
/// a spec that allows writes in that tree with that suffix. Safe for every
/// value of `f` (normalization keeps a path's last segment), and refused
/// before as "could not prove" (every witness the solver found was
/// spurious): the solver did not know that `f endswith ".log"` carries
/// over to the path the action touches.
#[test]
fn a_path_param_under_a_tree_with_a_suffix_is_accepted() {
    let s = spec(r#"spec "logs" { allow write under "/var/log/app/" when path endswith ".log" }"#);
    let plan = r#"plan {
      param f: path where f under "/var/log/app/" and f endswith ".log"
      write f
    }"#;
    let out = check(&s, plan);
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    // The same with the ending a whole segment, and with a deeper tree.
    let out = check(
        &s,
        r#"plan {
          param f: path where f under "/var/log/app/nightly/" and f endswith "/out.log"
          write f
        }"#,
    );
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
}

/// The other side of the same rule: endings that normalization does not
/// keep, or that do not imply the spec's, are still refused with a real
/// counterexample (not "could not prove").
#[test]
fn a_path_param_whose_ending_does_not_survive_normalization_is_refused() {
    let s = spec(r#"spec "logs" { allow write under "/var/log/app/" when path endswith ".log" }"#);
    for (where_, why) in [
        // `/var/log/app/x/a.log/..` ends with it, and normalizes to `/var/log/app/x`.
        (r#"f endswith "a.log/..""#, "a `..` pops the .log segment"),
        // `/var/log/app/xlog`.
        (r#"f endswith "log""#, "`log` is not `.log`"),
        // `/var/log/app/x.log/` normalizes to `/var/log/app/x.log` (fine),
        // but so does nothing here: `x` does not end with `.log`.
        (r#"f startswith "/var/log/app/x""#, "no ending at all"),
    ] {
        let plan = format!(
            "plan {{\n  param f: path where f under \"/var/log/app/\" and {where_}\n  write f\n}}"
        );
        let out = check(&s, &plan);
        assert_eq!(out.verdict, Verdict::Reject, "{why}: {out:#?}");
        let v = &out.violations[0];
        assert_eq!(v.reason, Reason::NothingAllows, "{why}: {out:#?}");
        let f: String = serde_json::from_str(&v.witness["f"]).unwrap();
        let n = warden_core::path::normalize_path(&f).unwrap();
        assert!(
            n.starts_with("/var/log/app") && !n.ends_with(".log"),
            "{why}: the witness {f} is a real counterexample"
        );
    }
}

/// Raw spellings of a path param that fix its normal form are decided by
/// the automata (found by the completeness test, `tests/complete.rs`;
/// before, each went to Z3 and timed out): a finite `in` list or `==`, a
/// `startswith` a tree with `not contains ".."`, a `matches` whose every
/// value is a normal path. Near misses are refused with a real
/// counterexample, never "could not prove".
#[test]
fn raw_spellings_of_a_path_param_that_fix_its_normal_form_are_decided() {
    let s = spec(r#"spec "logs" { allow write under "/var/log/app/" when path endswith ".log" }"#);
    let accepted = [
        r#"f in ["/var/log/app/a.log", "/var/log/app/x/../b.log"]"#,
        r#"f == "/var/log/app/./c.log""#,
        r#"f startswith "/var/log/app/b/" and not f contains ".." and f endswith ".log""#,
        r#"f matches "/var/log/app/[a-z0-9_]+(/[a-z0-9_]+)*\\.log""#,
    ];
    for where_ in accepted {
        let plan = format!(
            "plan {{
  param f: path where {where_}
  write f
}}"
        );
        let out = check(&s, &plan);
        assert_eq!(out.verdict, Verdict::Accept, "{where_}: {out:#?}");
    }
    let refused = [
        // `/var/log/app/../etc.log`.
        r#"f in ["/var/log/app/a.log", "/var/log/app/../etc.log"]"#,
        r#"f == "/var/log/app/x.log/..""#,
        // `/var/log/app/../x.log`: the `..` is not excluded.
        r#"f startswith "/var/log/app/" and f endswith ".log""#,
        // `..` as a segment, or the tree without its `/`: `/var/log/application.log`.
        r#"f startswith "/var/log/app" and not f contains ".." and f endswith ".log""#,
    ];
    for where_ in refused {
        let plan = format!(
            "plan {{
  param f: path where {where_}
  write f
}}"
        );
        let out = check(&s, &plan);
        assert_eq!(out.verdict, Verdict::Reject, "{where_}: {out:#?}");
        let v = &out.violations[0];
        assert_eq!(v.reason, Reason::NothingAllows, "{where_}: {out:#?}");
        let f: String = serde_json::from_str(&v.witness["f"]).unwrap();
        let n = warden_core::path::normalize_path(&f).unwrap();
        assert!(
            !(n.starts_with("/var/log/app/") && n.ends_with(".log")),
            "{where_}: the witness {f} is a real counterexample"
        );
    }
    // Outside the fragment decided completely: a `matches` that also takes
    // paths with `..` (`[a-z.]+` takes `..`: `/var/log/app/../x.log`).
    // Refused all the same, counterexample or not.
    let plan = r#"plan {
      param f: path where f matches "/var/log/app/[a-z.]+/x\\.log"
      write f
    }"#;
    assert_eq!(check(&s, plan).verdict, Verdict::Reject);
}

/// A refusal for want of a proof says so once: the report puts the
/// reason's words ("could not prove the step safe") before the message,
/// and the message says why, and that it is the verifier's limit.
#[test]
fn could_not_prove_says_why_once() {
    // `\b` has no Z3 form: the atom is over-approximated, and the one
    // witness allowed here is spurious.
    let mut s = spec(r#"spec "b" { allow call f when x matches "\\bab" }"#);
    let plan = r#"plan { param x: string where x in ["ab"]  call f(x = x) }"#;
    s.options.automata = false;
    s.options.cache = false;
    s.options.max_refinements = 0;
    let out = check(&s, plan);
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let v = &out.violations[0];
    assert_eq!(v.reason, Reason::CouldNotProve);
    assert!(
        !v.message.contains(Reason::CouldNotProve.describe()),
        "{}",
        v.message
    );
    assert!(v.message.contains("limit of the verifier"), "{}", v.message);
    // It names the construct the solver only over-approximates.
    assert!(
        v.message.contains("a regex feature without a Z3 form"),
        "{}",
        v.message
    );
    // With refinement, the spurious witness is blocked and the step proven.
    s.options.max_refinements = 8;
    assert_eq!(check(&s, plan).verdict, Verdict::Accept);
}

/// Outside the fragment decided without the solver, a refusal for want of
/// a proof names what took the question there (issue 18): here a regex
/// feature (`\b`) that no automaton describes, on param `x`.
#[test]
fn could_not_prove_names_the_construct_outside_the_fragment() {
    let mut s = spec(r#"spec "b" { allow call f when x matches "\\bab" }"#);
    let plan = r#"plan { param x: string where x in ["ab"]  call f(x = x) }"#;
    s.options.cache = false;
    s.options.max_refinements = 0;
    let out = check(&s, plan);
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let v = &out.violations[0];
    assert_eq!(v.reason, Reason::CouldNotProve, "{out:#?}");
    assert!(
        v.message.contains(
            "outside what the verifier decides without the solver: the values of param `x`"
        ),
        "{}",
        v.message
    );
    // Inside the fragment, no such words: the automata decide it.
    let out = check(
        &s,
        r#"plan { param x: string where x in ["zz"]  call f(x = "ab") }"#,
    );
    assert!(
        out.violations
            .iter()
            .all(|v| !v.message.contains("outside what")),
        "{out:#?}"
    );
}

/// Issue 18: a refusal names its path compactly (the branches and loops
/// around the step), not every step before it; 2,000 refused steps made
/// reports of 2,000,000 path entries before.
#[test]
fn refusal_reports_grow_linearly_with_the_plan() {
    let s = spec(r#"spec "r" { allow read under "/srv/" }"#);
    let mut plan = String::from("plan {\n");
    for i in 0..2_000 {
        plan.push_str(&format!("  read \"/etc/f{i}\"\n"));
    }
    plan.push_str("  either { read \"/etc/a\" } or { repeat 3 { read \"/etc/b\" } }\n}\n");
    let out = check(&s, &plan);
    assert_eq!(out.violations.len(), 2_002);
    let entries: usize = out.violations.iter().map(|v| v.path.len()).sum();
    assert!(entries <= 2_002 + 3, "{entries} path entries");
    let last = &out.violations[2_001];
    let notes: Vec<&str> = last.path.iter().map(|p| p.note.as_str()).collect();
    assert_eq!(
        notes,
        ["either: branch 2", "repeat: 1 iteration", "read \"/etc/b\""]
    );
}

/// A port is a whole number: a number param used as one is decided over
/// whole values, so `p > 1023` is `p >= 1024` for the step (found by the
/// completeness test, `tests/complete.rs`; before, `p = 1023.5`, which is
/// no port, refused the plan as a counterexample).
#[test]
fn a_port_param_takes_whole_values_only() {
    let s = spec(
        "spec \"p\" {\n  allow connect host == \"api.x.com\" and not port < 1024\n  allow listen port > 8000 and port < 8002\n}",
    );
    for plan in [
        r#"plan { param p: number where p > 1023  connect "api.x.com":p }"#,
        r#"plan { param p: number where p > 1023.5 and p < 70000  connect "api.x.com":p }"#,
        r#"plan { param p: number where p > 8000 and p < 8002  listen p }"#,
    ] {
        let out = check(&s, plan);
        assert_eq!(out.verdict, Verdict::Accept, "{plan}: {out:#?}");
    }
    // The same param is any number where it is not a port.
    let out = check(
        &spec("spec \"a\" { allow call pay when amount >= 1024 }"),
        r#"plan { param p: number where p > 1023  call pay(amount = p) }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    assert_eq!(out.violations[0].witness["p"], "1023.5");
    // A near miss is refused with a whole counterexample.
    for (plan, port) in [
        (
            r#"plan { param p: number where p > 1022  connect "api.x.com":p }"#,
            "1023",
        ),
        (
            r#"plan { param p: number where p >= 8000 and p < 8002  listen p }"#,
            "8000",
        ),
    ] {
        let out = check(&s, plan);
        assert_eq!(out.verdict, Verdict::Reject, "{plan}: {out:#?}");
        assert_eq!(out.violations[0].reason, Reason::NothingAllows);
        assert_eq!(out.violations[0].witness["p"], port, "{plan}");
    }
}

/// Issue 18: a spec that compares `port` with a number outside the ports
/// loads, and the verifier decides the comparison as always true or always
/// false, on a concrete step and on a port param alike (ports are 0 to
/// 65535, so `port <= 70000` holds of every value the step can take).
#[test]
fn port_comparisons_out_of_range_are_decided_by_their_truth() {
    let always_true = spec(
        "spec \"p\" {\n  allow connect host in [\"api.example.com\"] and port <= 70000\n  deny connect when port > 65535\n}",
    );
    for plan in [
        r#"plan { connect "api.example.com":443 }"#,
        r#"plan { param n: number  connect "api.example.com":n }"#,
        r#"plan { param n: number where n > 1000  connect "api.example.com":n }"#,
    ] {
        let out = check(&always_true, plan);
        assert_eq!(out.verdict, Verdict::Accept, "{plan}: {out:#?}");
    }
    let always_false = spec(
        "spec \"p\" {\n  allow connect host in [\"api.example.com\"] and port == 70000\n  allow connect when port > 65535\n}",
    );
    for plan in [
        r#"plan { connect "api.example.com":443 }"#,
        r#"plan { param n: number  connect "api.example.com":n }"#,
    ] {
        let out = check(&always_false, plan);
        assert_eq!(out.verdict, Verdict::Reject, "{plan}: {out:#?}");
        assert_eq!(out.violations[0].reason, Reason::NothingAllows);
    }
    // The same param elsewhere is any number: the domain is the step's.
    let pay = spec(
        "spec \"p\" {\n  allow connect when port <= 70000\n  allow call pay when amount <= 70000\n}",
    );
    let out = check(
        &pay,
        r#"plan { param n: number  call pay(amount = n)  connect "api.example.com":n }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    assert_eq!(out.violations.len(), 1, "{out:#?}");
    assert!(
        out.violations[0]
            .action
            .as_deref()
            .unwrap_or("")
            .starts_with("call pay")
    );
}

/// `approve each`: the plan is decided as without it (it grants nothing);
/// the envelope carries the rule when a step may match, and a narrowed
/// envelope keeps the parent's.
#[test]
fn approve_each_rides_in_the_envelope_and_grants_nothing() {
    let s = spec(
        r#"spec "s" {
  allow call get_balance
  allow call send_money when amount <= 1000
  approve each call send_money when amount > 100
}"#,
    );
    let out = check(
        &s,
        r#"plan { param amount: number where amount > 0 and amount <= 500
  call get_balance()
  call send_money(amount = amount) }"#,
    );
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    let env = out.envelope.unwrap();
    assert_eq!(env.approvals.len(), 1);
    assert_eq!(env.approvals[0].rule.line, 4);
    // No step it can match: not carried.
    let out = check(&s, r#"plan { call get_balance() }"#);
    assert!(out.envelope.unwrap().approvals.is_empty());
    // It grants nothing: a call nothing allows is still refused.
    assert_eq!(
        verdict(&s, r#"plan { call send_money(amount = 5000) }"#),
        Verdict::Reject
    );
    // A sub-plan narrowed from this envelope keeps the approval.
    let sub =
        planlang::load_plan_str(r#"plan { call send_money(amount = 300) }"#, "sub.plan").unwrap();
    let child = verifier::containment::contain(&env, &sub).unwrap();
    assert_eq!(child.approvals.len(), 1);
    // Only calls can wait for a human.
    let loaded = planlang::load_spec_str(
        r#"spec "s" { allow read under "/d/"
  approve each read under "/d/x/" }"#,
        "t.spec",
    )
    .unwrap();
    let e = CompiledSpec::compile(&loaded).unwrap_err();
    assert!(e.to_string().contains("approve each"), "{e}");
}

/// `deny call send_mail when body from call read_inbox` (issue 16): a plan
/// that passes a `let` result of read_inbox is refused outright; one that
/// passes a param is accepted (nothing in the plan says where the param's
/// value comes from) and the rule rides in the token for the monitor; a
/// plan whose every value is written out carries nothing.
#[test]
fn a_deny_from_rule_the_plan_check_cannot_decide_rides_in_the_token() {
    let s = spec(
        r#"spec "mail" {
          allow call read_inbox, send_mail
          deny call send_mail when body from call read_inbox
        }"#,
    );
    let out = check(
        &s,
        r#"plan {
          let mail = call read_inbox(folder = "in")
          call send_mail(to = "a@b.c", body = mail)
        }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let out = check(
        &s,
        r#"plan {
          param body: string
          call read_inbox(folder = "in")
          call send_mail(to = "a@b.c", body = body)
        }"#,
    );
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    let env = out.envelope.unwrap();
    assert_eq!(env.deny_from.len(), 1, "{env:#?}");
    assert_eq!(env.deny_from[0].rule.line, 3);
    assert_eq!(
        env.deny_from[0].pattern.calls.as_deref(),
        Some(&["send_mail".to_string()][..])
    );
    let out = check(
        &s,
        r#"plan {
          call read_inbox(folder = "in")
          call send_mail(to = "a@b.c", body = "hello")
        }"#,
    );
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    assert!(out.envelope.unwrap().deny_from.is_empty());
}

/// Addresses and host names are decided without the solver: a `host`
/// param inside the allowed networks is accepted, one that may leave them
/// is refused with an address outside them (printed as an address, and
/// checked concretely like every counterexample).
#[test]
fn an_address_outside_the_allowed_cidr_is_refused_with_one_outside_it() {
    let s = spec(
        r#"spec "net" {
  allow connect ip in 10.0.0.0/8, 2001:db8::/32 and port == 443
  allow connect host in ["api.x.com"] and port == 443
  deny connect ip in 10.9.0.0/16
  allow call fw.open when src in 10.0.0.0/8
}"#,
    );
    let addr = |w: &str| -> std::net::IpAddr {
        w.parse()
            .unwrap_or_else(|e| panic!("`{w}` is not an address: {e}"))
    };
    let net = |n: &str| warden_core::net::parse_cidr(n).unwrap();
    let inside = |a: std::net::IpAddr, n: &str| {
        warden_core::net::cidr_contains(&net(n), &ipnet::IpNet::from(a))
    };
    for plan in [
        r#"plan { param h: host where h in 10.1.0.0/16  connect h:443 }"#,
        r#"plan { param h: host where h in 2001:db8:5::/48 or h == "10.0.0.1"  connect h:443 }"#,
        r#"plan { param h: host where h in ["api.x.com"] or (h in 10.0.0.0/8 and not h in 10.9.0.0/16)  connect h:443 }"#,
        r#"plan { param h: host where h in 10.2.0.0/16  call fw.open(src = h) }"#,
    ] {
        let out = check(&s, plan);
        assert_eq!(out.verdict, Verdict::Accept, "{plan}: {out:#?}");
        assert_eq!(out.stats.solver_queries, 0, "{plan}");
    }
    // (the `where`, the reason expected, the network its witness is in);
    // every refusal's witness is an address the `where` allows and the
    // spec refuses.
    let allowed = |a| inside(a, "10.0.0.0/8") || inside(a, "2001:db8::/32");
    for (within, reason, witness_in) in [
        ("10.0.0.0/7", Reason::NothingAllows, "11.0.0.0/8"),
        ("2001:db8::/31", Reason::NothingAllows, "2001:db9::/32"),
        ("10.8.0.0/13", Reason::Denied, "10.9.0.0/16"),
    ] {
        // Clear of the denied range where the reason is another.
        let cond = match reason {
            Reason::Denied => format!("h in {within}"),
            _ => format!("h in {within} and not h in 10.9.0.0/16"),
        };
        let plan = format!("plan {{ param h: host where {cond}  connect h:443 }}");
        let out = check(&s, &plan);
        assert_eq!(out.verdict, Verdict::Reject, "{plan}");
        assert_eq!(out.stats.solver_queries, 0, "{plan}");
        for v in &out.violations {
            let a = addr(&v.witness["h"]);
            assert!(inside(a, within), "{plan}: {a}");
            match v.reason {
                Reason::NothingAllows => assert!(!allowed(a), "{plan}: {a}"),
                Reason::Denied => assert!(inside(a, "10.9.0.0/16"), "{plan}: {a}"),
                r => panic!("{plan}: {r:?}"),
            }
            let at = std::net::SocketAddr::new(a, 443);
            assert_eq!(v.action.as_deref(), Some(format!("connect {at}").as_str()));
        }
        let v = out.violations.iter().find(|v| v.reason == reason);
        let v = v.unwrap_or_else(|| panic!("{plan}: {:#?}", out.violations));
        assert!(inside(addr(&v.witness["h"]), witness_in), "{plan}: {v:#?}");
    }
    // A name the rules do not list.
    let out = check(
        &s,
        r#"plan { param h: host where h endswith ".x.com"  connect h:443 }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject);
    assert_eq!(out.stats.solver_queries, 0);
    let h: String = serde_json::from_str(&out.violations[0].witness["h"]).unwrap();
    assert!(h.ends_with(".x.com") && h != "api.x.com", "{h}");
    // An argument: any address is not one of 10.0.0.0/8.
    let out = check(&s, r#"plan { param h: host  call fw.open(src = h) }"#);
    assert_eq!(out.verdict, Verdict::Reject);
    assert_eq!(out.stats.solver_queries, 0);
    // A host may be a network (`{"cidr": "10.0.0.0/8"}` for an argument):
    // every address of 10.0.0.0/8 is in one of its halves, the network
    // itself in neither, so the rule does not allow it.
    let halves = spec(
        r#"spec "halves" {
  allow call fw.open when src in 10.0.0.0/9, 10.128.0.0/9
}"#,
    );
    let out = check(
        &halves,
        r#"plan { param h: host where h in 10.0.0.0/8  call fw.open(src = h) }"#,
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    assert_eq!(out.stats.solver_queries, 0);
    assert_eq!(out.violations[0].witness["h"], "10.0.0.0/8");
    let out = check(
        &halves,
        r#"plan { param h: host where h in 10.0.0.0/9  call fw.open(src = h) }"#,
    );
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
}

/// The network rules of the language's example spec, with `host` params:
/// names by `host`, addresses by `ip`, each decided without the solver.
#[test]
fn host_params_against_the_example_network_rules() {
    let s = spec(
        r#"spec "net" {
  allow connect host in ["api.bank.example"] and port == 443
  deny  connect ip in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16
}"#,
    );
    let run = |plan: &str| {
        let out = check(&s, plan);
        assert_eq!(out.stats.solver_queries, 0, "{plan}");
        out
    };
    let out = run(r#"plan { param h: host where h in ["api.bank.example"]  connect h:443 }"#);
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    let out = run(r#"plan { param h: host where h endswith ".bank.example"  connect h:443 }"#);
    assert_eq!(out.verdict, Verdict::Reject);
    let v = &out.violations[0];
    assert_eq!(v.reason, Reason::NothingAllows);
    let h: String = serde_json::from_str(&v.witness["h"]).unwrap();
    assert!(
        h.ends_with(".bank.example") && h != "api.bank.example",
        "{h}"
    );
    // An address in a denied range: denied, whatever else allows it.
    let out = run(r#"plan { param h: host where h in 172.16.0.0/12  connect h:443 }"#);
    assert_eq!(out.violations[0].reason, Reason::Denied);
    let a: std::net::IpAddr = out.violations[0].witness["h"].parse().unwrap();
    assert!(warden_core::net::cidr_contains(
        &warden_core::net::parse_cidr("172.16.0.0/12").unwrap(),
        &ipnet::IpNet::from(a)
    ));
}
