//! `diff`: effect changes with witnesses checked by the reference
//! evaluator; property tests on random spec pairs; rule, baseline and ttl
//! changes.

use planlang::ast::{
    ActionKind, CallNames, CmpOp, CondExpr, Effect, PathTargetExpr, PatternExpr, PatternKind, Ref,
    RefKind, Rule, RuleKind, Spec, SpecItem, ValueExpr,
};
use planlang::value::Literal;
use planlang::{LoadedSpec, Span, Spanned};
use proptest::prelude::*;
use verifier::CompiledSpec;
use verifier::analysis::Decision;
use verifier::analysis::diff::{DiffOptions, DiffReport, Outcome, action_text, diff};
use verifier::reference;
use verifier::report::Verdict;

fn load(src: &str, file: &str) -> LoadedSpec {
    planlang::load_spec_str(src, file).unwrap_or_else(|d| panic!("{src}\n{d:?}"))
}

fn run(old: &str, new: &str) -> DiffReport {
    diff(
        &load(old, "old.spec"),
        &load(new, "new.spec"),
        &DiffOptions::default(),
    )
    .unwrap()
}

/// The reference evaluator's decision on a one-step plan.
fn reference_decision(spec: &CompiledSpec, action: &str) -> Decision {
    let plan = planlang::load_plan_str(&format!("plan {{ {action} }}"), "w.plan")
        .unwrap_or_else(|d| panic!("witness `{action}` is no plan step: {d:?}"));
    match reference::evaluate(spec, &plan).unwrap().verdict {
        Verdict::Accept => Decision::Allow,
        Verdict::Approve => Decision::Approve,
        Verdict::Reject => Decision::Deny,
    }
}

/// Every witness: the reference evaluator agrees with the reported verdicts.
fn check_witnesses(old: &LoadedSpec, new: &LoadedSpec, r: &DiffReport) {
    let (o, n) = (
        CompiledSpec::compile(old).unwrap(),
        CompiledSpec::compile(new).unwrap(),
    );
    for w in &r.witnesses {
        let text = action_text(&w.action);
        assert_ne!(w.old, w.new);
        assert_eq!(reference_decision(&o, &text), w.old, "old on {text}");
        assert_eq!(reference_decision(&n, &text), w.new, "new on {text}");
    }
}

const OLD: &str = r#"spec "bank" {
  max ttl 30m
  let payees = ["UK1", "GB2"]
  allow write under "/repo/src/"
  allow call send_money when recipient in payees and amount <= 2500
  approve call update_scheduled_transaction
  never call send_money after call get_scheduled_transactions
}"#;

const NEW: &str = r#"spec "bank" {
  max ttl 1h
  let payees = ["UK1", "GB2"]
  allow write under "/repo/"
  deny write under "/repo/.git/"
  allow call send_money when recipient in payees and amount <= 5000
  allow call update_scheduled_transaction
  at most 3 call send_money
}"#;

#[test]
fn widened_writes_and_payments_have_witnesses() {
    let r = run(OLD, NEW);
    let kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
    let widened: Vec<_> = r.findings.iter().filter(|f| f.kind == "widened").collect();
    assert!(
        widened
            .iter()
            .any(|f| f.message.starts_with("write \"/repo")
                && !f.message.starts_with("write \"/repo/src")
                && f.line == 4),
        "{kinds:?} {:#?}",
        r.findings
    );
    let pay = widened
        .iter()
        .find(|f| f.message.starts_with("call send_money("))
        .expect("a payment over 2500 is new");
    assert_eq!(pay.line, 6);
    let w = r
        .witnesses
        .iter()
        .find(|w| w.action.call.as_deref() == Some("send_money") && w.new == Decision::Allow)
        .unwrap();
    let amount = match &w.action.fields["amount"].value {
        warden_core::value::Value::Number(n) => *n,
        v => panic!("amount {v}"),
    };
    assert!(amount > 2500.into() && amount <= 5000.into(), "{amount}");
    assert!(kinds.contains(&"approval-removed"), "{kinds:?}");
    assert!(kinds.contains(&"rule-added") && kinds.contains(&"rule-removed"));
    assert!(kinds.contains(&"max-ttl"));
    assert!(!kinds.contains(&"narrowed"), "{:#?}", r.findings);
    check_witnesses(&load(OLD, "old.spec"), &load(NEW, "new.spec"), &r);
}

#[test]
fn narrowing_is_reported_the_other_way() {
    let r = run(NEW, OLD);
    assert!(r.findings.iter().any(|f| f.kind == "narrowed"));
    assert!(r.findings.iter().any(|f| f.kind == "approval-added"));
    assert!(
        !r.findings.iter().any(|f| f.kind == "widened"),
        "{:#?}",
        r.findings
    );
    check_witnesses(&load(NEW, "a.spec"), &load(OLD, "b.spec"), &r);
}

#[test]
fn a_spec_equals_itself_and_a_rewritten_equivalent() {
    assert!(run(OLD, OLD).equivalent());
    let a = r#"spec "s" { allow read under "/a/" allow read under "/a/b/" deny connect when port < 1024 }"#;
    let b = r#"spec "s" { allow read when path under "/a/" deny connect when not (port >= 1024) }"#;
    let r = run(a, b);
    assert!(r.equivalent(), "{:#?}", r.findings);
}

#[test]
fn other_tools_exec_and_ports() {
    let old = r#"spec "s" { allow exec "/usr/bin/git" when argv[0] in ["status"] }"#;
    let new = r#"spec "s" { allow exec "/usr/bin/git" when argv[0] in ["status", "push"] allow call * allow listen when port > 8000 }"#;
    let r = run(old, new);
    let msgs: Vec<String> = r.findings.iter().map(|f| f.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("exec \"/usr/bin/git\" [\"push\"")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("widened: call other_tool(")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("widened: listen ")),
        "{msgs:#?}"
    );
    check_witnesses(&load(old, "o.spec"), &load(new, "n.spec"), &r);
}

#[test]
fn baseline_changes_are_listed() {
    let old = r#"spec "s" { baseline { read under "/usr/lib/" } }"#;
    let new = r#"spec "s" { baseline { read under "/usr/lib/" read "/etc/ld.so.cache" } }"#;
    let r = run(old, new);
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].kind, "baseline-added");
}

/// The verdicts of a witness, by the concrete evaluator (for witnesses the
/// reference evaluator cannot take: values from a tool's result).
fn concrete_decisions(old: &LoadedSpec, new: &LoadedSpec, r: &DiffReport) {
    let (o, n) = (
        CompiledSpec::compile(old).unwrap(),
        CompiledSpec::compile(new).unwrap(),
    );
    for w in &r.witnesses {
        assert_eq!(Decision::from(o.verdict_of(&w.action)), w.old, "{w:?}");
        assert_eq!(Decision::from(n.verdict_of(&w.action)), w.new, "{w:?}");
    }
}

#[test]
fn a_combination_of_present_and_absent_arguments_is_found() {
    // Only a call that passes `a` and `b` but not `c` is refused by OLD.
    let old = r#"spec "s" { allow call pay deny call pay when has a and b > 10 and not has c }"#;
    let new = r#"spec "s" { allow call pay }"#;
    let r = run(old, new);
    assert_eq!(r.outcome(), Outcome::Differ, "{:#?}", r.findings);
    let w = &r.witnesses[0];
    assert!(w.action.fields.contains_key("a") && !w.action.fields.contains_key("c"));
    check_witnesses(&load(old, "o.spec"), &load(new, "n.spec"), &r);
}

#[test]
fn list_valued_arguments_are_modelled() {
    // On strings the two agree (`startswith "a"` implies `contains "a"`);
    // on lists `contains` asks for an element equal to "a".
    let old = r#"spec "s" { allow call f when x startswith "a" }"#;
    let new = r#"spec "s" { allow call f when x startswith "a" and x contains "a" }"#;
    let r = run(old, new);
    assert_eq!(r.outcome(), Outcome::Differ, "{:#?}", r.findings);
    assert!(
        r.witnesses.iter().all(|w| matches!(
            w.action.fields["x"].value,
            warden_core::value::Value::List(_)
        )),
        "{:#?}",
        r.witnesses
    );
    check_witnesses(&load(old, "o.spec"), &load(new, "n.spec"), &r);
    // Each-element semantics both ways: equivalent rewrites stay equivalent.
    let a = r#"spec "s" { allow call mail when to endswith "@acme.com" and not to contains "ceo@acme.com" }"#;
    let b = r#"spec "s" { allow call mail when not to contains "ceo@acme.com" and to endswith "@acme.com" }"#;
    assert_eq!(run(a, b).outcome(), Outcome::Equivalent);
    let c = r#"spec "s" { allow call mail when to[1] == "x" }"#;
    let d = r#"spec "s" { allow call mail when to[1] == "x" and to != ["y", "x"] }"#;
    let r = run(c, d);
    let w = &r.witnesses[0];
    assert_eq!(w.action.fields["to"].value.to_string(), r#"["y", "x"]"#);
    check_witnesses(&load(c, "c.spec"), &load(d, "d.spec"), &r);
}

#[test]
fn durations_and_network_targets_are_modelled() {
    let old = r#"spec "s" { allow call wait when t == 90s }"#;
    let new = r#"spec "s" { allow call wait when t in [90s, 2m] }"#;
    let r = run(old, new);
    assert_eq!(r.witnesses.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.witnesses[0].action.fields["t"].value.to_string(), "2m");
    check_witnesses(&load(old, "o.spec"), &load(new, "n.spec"), &r);
    // Every address agrees; the network 10.0.0.0/8 as a target does not.
    let old = r#"spec "s" { allow connect when ip in 10.0.0.0/8 }"#;
    let new = r#"spec "s" { allow connect when ip in 10.0.0.0/9 or ip in 10.128.0.0/9 }"#;
    let r = run(old, new);
    assert_eq!(r.outcome(), Outcome::Differ, "{:#?}", r.findings);
    assert!(
        r.findings[0].message.starts_with("connect 10.0.0.0/8:"),
        "{:#?}",
        r.findings
    );
    check_witnesses(&load(old, "o.spec"), &load(new, "n.spec"), &r);
}

#[test]
fn origins_are_per_argument() {
    let old =
        r#"spec "s" { allow call send deny call send when a from call t1 and b from call t2 }"#;
    let new = r#"spec "s" { allow call send }"#;
    let (o, n) = (load(old, "o.spec"), load(new, "n.spec"));
    let r = diff(&o, &n, &DiffOptions::default()).unwrap();
    assert_eq!(r.outcome(), Outcome::Differ, "{:#?}", r.findings);
    let w = &r.witnesses[0];
    assert_eq!(w.action.fields["a"].origin.as_deref(), Some("t1"));
    assert_eq!(w.action.fields["b"].origin.as_deref(), Some("t2"));
    concrete_decisions(&o, &n, &r);
}

#[test]
fn what_is_not_modelled_is_never_called_equivalent() {
    // Address-typed argument values are not modelled: a reordering is
    // still equal rule for rule, but the report says it cannot prove more.
    let a = r#"spec "s" { allow call f when x in 10.0.0.0/8 allow call g }"#;
    let b = r#"spec "s" { allow call g allow call f when x == 10.1.2.3 or x in 10.0.0.0/8 }"#;
    let r = run(a, b);
    assert_ne!(r.outcome(), Outcome::Equivalent, "{:#?}", r.findings);
    assert!(r.findings.iter().any(|f| f.kind == "incomplete"));
    assert!(!r.equivalent());
}

// ───────────────────────────── property tests ─────────────────────────────

fn sp<T>(t: T) -> Spanned<T> {
    Spanned::new(t, Span::synthetic())
}

fn field(name: &str) -> Spanned<ValueExpr> {
    sp(ValueExpr::Ref(Ref {
        name: sp(name.to_string()),
        fields: vec![],
        index: None,
        resolved: RefKind::Field,
    }))
}

fn lit_str(s: &str) -> Spanned<ValueExpr> {
    sp(ValueExpr::Literal {
        literal: Literal::String(s.to_string()),
    })
}

fn lit_num(n: i64) -> Spanned<ValueExpr> {
    sp(ValueExpr::Literal {
        literal: Literal::Number(n.into()),
    })
}

fn cmp(op: CmpOp, l: Spanned<ValueExpr>, r: Spanned<ValueExpr>) -> Spanned<CondExpr> {
    sp(CondExpr::Compare {
        op: sp(op),
        lhs: l,
        rhs: r,
    })
}

const DIRS: [&str; 4] = ["/repo/", "/repo/src/", "/tmp/", "/etc/"];
const SUFFIXES: [&str; 3] = [".rs", ".key", ".yml"];
const TOOLS: [&str; 3] = ["send_money", "get_balance", "read_file"];

fn path_cond() -> impl Strategy<Value = Spanned<CondExpr>> {
    let leaf = prop_oneof![
        (0..DIRS.len()).prop_map(|i| cmp(CmpOp::Under, field("path"), lit_str(DIRS[i]))),
        (0..SUFFIXES.len()).prop_map(|i| cmp(CmpOp::EndsWith, field("path"), lit_str(SUFFIXES[i]))),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|c| sp(CondExpr::Not { cond: Box::new(c) })),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| sp(CondExpr::And { all: vec![a, b] })),
            (inner.clone(), inner).prop_map(|(a, b)| sp(CondExpr::Or { any: vec![a, b] })),
        ]
    })
}

fn call_cond() -> impl Strategy<Value = Spanned<CondExpr>> {
    prop_oneof![
        (0i64..5000).prop_map(|n| cmp(CmpOp::Le, field("amount"), lit_num(n))),
        (0i64..5000).prop_map(|n| cmp(CmpOp::Gt, field("amount"), lit_num(n))),
        Just(cmp(
            CmpOp::In,
            field("recipient"),
            sp(ValueExpr::List {
                items: vec![lit_str("UK1"), lit_str("GB2")]
            })
        )),
        Just(cmp(CmpOp::StartsWith, field("recipient"), lit_str("UK"))),
    ]
}

fn effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        Just(Effect::Allow),
        Just(Effect::Deny),
        Just(Effect::Approve)
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    let kinds = [ActionKind::Read, ActionKind::Write, ActionKind::Delete];
    let path_rule = (
        effect(),
        0..3usize,
        proptest::option::of(0..DIRS.len()),
        proptest::option::of(path_cond()),
    )
        .prop_map(move |(e, k, dir, c)| {
            (
                e,
                PatternExpr {
                    matcher: PatternKind::Path {
                        action: kinds[k],
                        target: dir.map(|d| PathTargetExpr::Under {
                            path: lit_str(DIRS[d]),
                        }),
                    },
                    condition: c,
                    span: Span::synthetic(),
                },
            )
        });
    let call_rule = (
        effect(),
        proptest::option::of(0..TOOLS.len()),
        proptest::option::of(call_cond()),
    )
        .prop_map(|(e, t, c)| {
            (
                e,
                PatternExpr {
                    matcher: PatternKind::Call {
                        calls: match t {
                            None => CallNames::Any,
                            Some(t) => CallNames::Names {
                                names: vec![sp(TOOLS[t].to_string())],
                            },
                        },
                    },
                    condition: c,
                    span: Span::synthetic(),
                },
            )
        });
    let port_rule = (effect(), 0i64..65536).prop_map(|(e, n)| {
        (
            e,
            PatternExpr {
                matcher: PatternKind::Listen { target: None },
                condition: Some(cmp(CmpOp::Lt, field("port"), lit_num(n))),
                span: Span::synthetic(),
            },
        )
    });
    prop_oneof![3 => path_rule, 2 => call_rule, 1 => port_rule].prop_map(|(e, p)| Rule {
        kind: RuleKind::Effect {
            effect: sp(e),
            pattern: p,
        },
        span: Span::synthetic(),
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    proptest::collection::vec(rule(), 0..6).prop_map(|rules| Spec {
        name: sp("gen".to_string()),
        items: rules.into_iter().map(SpecItem::Rule).collect(),
        span: Span::synthetic(),
    })
}

fn loaded(s: &Spec, file: &str) -> LoadedSpec {
    let text = planlang::fmt_spec(s);
    load(&text, file)
}

const ARGS: [&str; 4] = ["a", "b", "c", "d"];

/// One condition on one argument, as spec text.
fn arg_atom(x: &str) -> impl Strategy<Value = String> {
    let x = x.to_string();
    (0..7usize, 0i64..100).prop_map(move |(k, n)| match k {
        0 => format!("has {x}"),
        1 => format!("not has {x}"),
        2 => format!("{x} == \"v{n}\""),
        3 => format!("{x} > {n}"),
        4 => format!("{x} contains \"v{n}\""),
        5 => format!("{x} startswith \"p\""),
        _ => format!("{x}[1] == {n}"),
    })
}

/// A condition on two to four distinct arguments, and approve rules on
/// single arguments.
fn combination() -> impl Strategy<Value = (String, Vec<String>)> {
    let combo = proptest::sample::subsequence(ARGS.to_vec(), 2..=4).prop_flat_map(|xs| {
        xs.into_iter()
            .map(arg_atom)
            .collect::<Vec<_>>()
            .prop_map(|atoms| atoms.join(" and "))
    });
    let approves =
        proptest::collection::vec((0..ARGS.len()).prop_flat_map(|i| arg_atom(ARGS[i])), 0..3);
    (combo, approves)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Two specs that differ only on calls passing one combination of
    /// arguments (each present or absent, scalar or list): diff finds a
    /// difference, and every witness is real.
    #[test]
    fn a_difference_on_an_argument_combination_is_found((combo, approves) in combination()) {
        let mut base = String::from("spec \"s\" {\n  allow call pay\n");
        for a in &approves {
            base.push_str(&format!("  approve call pay when {a}\n"));
        }
        let new_text = format!("{base}}}\n");
        let old_text = format!("{base}  deny call pay when {combo}\n}}\n");
        let (old, new) = (load(&old_text, "old.spec"), load(&new_text, "new.spec"));
        let r = diff(&old, &new, &DiffOptions::default()).unwrap();
        prop_assert_eq!(r.outcome(), Outcome::Differ, "{}\n{:#?}", old_text, r.findings);
        prop_assert!(r.witnesses.iter().any(|w| w.old == Decision::Deny), "{:#?}", r.findings);
        check_witnesses(&old, &new, &r);
    }

    /// Every witness is decided by the reference evaluator as reported.
    #[test]
    fn witnesses_are_real(a in spec(), b in spec()) {
        let (old, new) = (loaded(&a, "a.spec"), loaded(&b, "b.spec"));
        let r = diff(&old, &new, &DiffOptions::default()).unwrap();
        prop_assert!(!r.findings.iter().any(|f| f.kind == "undecided"), "{:#?}", r.findings);
        check_witnesses(&old, &new, &r);
    }

    /// A spec and its own `fmt` output are equivalent.
    #[test]
    fn fmt_output_is_equivalent(a in spec()) {
        let old = loaded(&a, "a.spec");
        let again = planlang::fmt_spec(&old.root);
        let new = load(&again, "b.spec");
        let r = diff(&old, &new, &DiffOptions::default()).unwrap();
        prop_assert!(r.equivalent(), "{:#?}", r.findings);
    }
}

/// Unix sockets are a class of their own: a wider socket tree is found with
/// a witness the reference evaluator agrees with, and a network rule change
/// says nothing about sockets (nor the other way round).
#[test]
fn unix_socket_connects_are_compared_by_path() {
    let old = load(
        r#"spec "s" { allow connect under "/run/app/"  allow connect host == "a.example" and port == 443 }"#,
        "old.spec",
    );
    let new = load(
        r#"spec "s" { allow connect under "/run/"  allow connect host == "a.example" and port == 443 }"#,
        "new.spec",
    );
    let r = diff(&old, &new, &DiffOptions::default()).unwrap();
    check_witnesses(&old, &new, &r);
    assert!(!r.witnesses.is_empty(), "{:#?}", r.findings);
    for w in &r.witnesses {
        assert!(w.action.is_unix_socket(), "{}", action_text(&w.action));
        let p = w.action.path().unwrap();
        let under = warden_core::path::under;
        assert!(under(p, "/run/") && !under(p, "/run/app/"), "{p}");
        assert_eq!((w.old, w.new), (Decision::Deny, Decision::Allow));
    }
    assert!(
        r.findings
            .iter()
            .any(|f| f.kind == "widened" && f.message.starts_with("connect \"/run")),
        "{:#?}",
        r.findings
    );
    // Same sockets, listen added: only the listen class changes.
    let listen = load(
        r#"spec "s" { allow connect under "/run/app/"  allow connect host == "a.example" and port == 443  allow listen under "/run/app/" }"#,
        "listen.spec",
    );
    let r = diff(&old, &listen, &DiffOptions::default()).unwrap();
    check_witnesses(&old, &listen, &r);
    assert!(!r.witnesses.is_empty());
    assert!(
        r.witnesses
            .iter()
            .all(|w| w.action.kind == ActionKind::Listen && w.action.is_unix_socket())
    );
}
