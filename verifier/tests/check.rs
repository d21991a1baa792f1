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
