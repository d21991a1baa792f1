//! Soundness, checked by property tests: on random specs and concrete plans
//! the verifier and the reference evaluator agree; on plans with params,
//! every counterexample the verifier returns, substituted into the plan, is
//! refused by the reference evaluator. Plans and specs include unix socket
//! connects and listens (paths, `..`, path params), exec argument lists
//! (literal and param arguments), and host params (names, IPv4 and IPv6
//! addresses).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use verifier::report::{Reason, Verdict};
use verifier::{CompiledSpec, reference};

// The actions, patterns, conditions and param steps random plans and specs
// are made of, shared with the verifier's fuzz target (fuzz/fuzz_targets/verify_plans.rs).
#[path = "support/vocabulary.rs"]
mod vocabulary;
use vocabulary::*;

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop::sample::select(&["read", "write", "delete"][..]),
            prop::sample::select(PATHS)
        )
            .prop_map(|(k, p)| format!("{k} \"{p}\"")),
        prop::sample::select(OTHER_ACTIONS).prop_map(str::to_string),
        (
            prop::sample::select(CALLS),
            prop::sample::select(WHO),
            prop::sample::select(AMOUNTS)
        )
            .prop_map(|(c, w, a)| format!("call {c}(recipient = {w}, amount = {a})")),
        prop::sample::select(CALLS).prop_map(|c| format!("call {c}()")),
    ]
}

fn block(depth: u32) -> BoxedStrategy<String> {
    let leaf = action().boxed();
    if depth == 0 {
        return prop::collection::vec(leaf, 1..4)
            .prop_map(|v| v.join("\n"))
            .boxed();
    }
    let step = prop_oneof![
        4 => action(),
        1 => (block(depth - 1), block(depth - 1))
            .prop_map(|(a, b)| format!("either {{\n{a}\n}} or {{\n{b}\n}}")),
        1 => (0u64..4, any::<bool>(), block(depth - 1)).prop_map(|(n, m, b)| format!(
            "repeat {}{n} {{\n{b}\n}}",
            if m { "at most " } else { "" }
        )),
    ];
    prop::collection::vec(step, 1..5)
        .prop_map(|v| v.join("\n"))
        .boxed()
}

fn pattern() -> impl Strategy<Value = String> {
    (
        0..PATTERNS.len(),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(i, c, with)| {
            let (p, conds) = PATTERNS[i];
            if with && !conds.is_empty() {
                format!("{p} when {}", conds[c.index(conds.len())])
            } else {
                p.to_string()
            }
        })
}

fn bare() -> impl Strategy<Value = String> {
    (0..PATTERNS.len()).prop_map(|i| PATTERNS[i].0.to_string())
}

fn rule() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (prop::sample::select(&["allow", "deny", "approve"][..]), pattern())
            .prop_map(|(e, p)| format!("{e} {p}")),
        1 => (pattern(), pattern()).prop_map(|(a, b)| format!("never {a} after {b}")),
        1 => (pattern(), pattern()).prop_map(|(a, b)| format!("require {a} before {b}")),
        1 => (0u64..4, pattern()).prop_map(|(n, p)| format!("at most {n} {p}")),
        1 => (0u64..4, bare()).prop_map(|(n, p)| format!("at most {n} {p}")),
    ]
}

fn spec() -> impl Strategy<Value = String> {
    prop::collection::vec(rule(), 1..8)
        .prop_map(|rs| format!("spec \"random\" {{\n{}\n}}", rs.join("\n")))
}

fn compile(src: &str) -> Option<CompiledSpec> {
    let loaded = planlang::load_spec_str(src, "r.spec").ok()?;
    CompiledSpec::compile(&loaded).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn verifier_agrees_with_the_reference_on_concrete_plans(spec in spec(), body in block(2)) {
        let Some(s) = compile(&spec) else { return Ok(()); };
        let src = format!("plan {{\n{body}\n}}");
        let plan = match planlang::load_plan_str(&src, "r.plan") {
            Ok(p) => p,
            Err(_) => return Ok(()),
        };
        let expected = match reference::evaluate(&s, &plan) {
            Ok(r) => r,
            Err(reference::ReferenceError::TooManyPaths) => return Ok(()),
            Err(e) => panic!("{e}\n{src}"),
        };
        let got = s.check(&plan).unwrap();
        prop_assert_eq!(got.verdict, expected.verdict, "spec:\n{}\nplan:\n{}\n{:#?}", spec, src, got);
        let reasons = |rs: &mut Vec<Reason>| { rs.sort_by_key(|r| format!("{r:?}")); rs.dedup(); rs.clone() };
        let mut a: Vec<Reason> = got.violations.iter().map(|v| v.reason).collect();
        let mut b: Vec<Reason> = expected.violations.iter().map(|v| v.reason).collect();
        prop_assert_eq!(reasons(&mut a), reasons(&mut b), "spec:\n{}\nplan:\n{}", spec, src);
    }
}

/// A witness as a literal in `step`: as the counterexample spells it,
/// except an IPv6 address or network a `connect` names, which takes
/// brackets (a string witness is quoted).
fn literal(step: &str, v: &str) -> String {
    if step.starts_with("connect ") && !v.starts_with('"') && v.contains(':') {
        format!("[{v}]")
    } else {
        v.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn every_counterexample_is_refused_by_the_reference(
        spec in spec(),
        which in 0..PARAM_PLANS.len(),
        before in prop::option::of(action()),
    ) {
        let Some(s) = compile(&spec) else { return Ok(()); };
        let (decl, step) = PARAM_PLANS[which];
        let before = before.unwrap_or_default();
        let src = format!("plan {{\nparam {decl}\n{before}\n{step}\n}}");
        let Ok(plan) = planlang::load_plan_str(&src, "p.plan") else { return Ok(()); };
        let out = match s.check(&plan) {
            Ok(o) => o,
            Err(_) => return Ok(()),
        };
        let name = decl.split(':').next().unwrap_or_default();
        for v in &out.violations {
            if !matches!(v.reason, Reason::Denied | Reason::NothingAllows) {
                continue;
            }
            let Some(w) = v.witness.get(name) else { continue; };
            let concrete_step = replace_param(step, name, &literal(step, w));
            let csrc = format!("plan {{\n{before}\n{concrete_step}\n}}");
            let cplan = planlang::load_plan_str(&csrc, "c.plan")
                .unwrap_or_else(|e| panic!("{e:?}\n{csrc}"));
            let r = reference::evaluate(&s, &cplan).unwrap();
            prop_assert_eq!(r.verdict, Verdict::Reject, "spec:\n{}\nplan:\n{}\nwitness plan:\n{}", spec, src, csrc);
        }
        // An accepted plan with params: its concrete instances are accepted
        // for the witness-free check too (no deny can be reached).
        prop_assert!(out.verdict != Verdict::Accept || out.violations.is_empty());
    }
}

fn replace_param(step: &str, name: &str, lit: &str) -> String {
    // Param names are single letters used as whole words in the templates.
    let mut out = String::new();
    let chars: Vec<char> = step.chars().collect();
    let mut in_str = false;
    for (i, c) in chars.iter().enumerate() {
        if *c == '"' {
            in_str = !in_str;
        }
        let is_word = |j: usize| {
            chars
                .get(j)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        };
        if !in_str && c.to_string() == name && !is_word(i.wrapping_sub(1)) && !is_word(i + 1) {
            out.push_str(lit);
        } else {
            out.push(*c);
        }
    }
    out
}

#[test]
fn the_generators_write_valid_plans_and_specs() {
    for (p, conds) in PATTERNS {
        for c in *conds {
            let src = format!("spec \"s\" {{ allow {p} when {c} }}");
            let loaded = planlang::load_spec_str(&src, "s.spec");
            assert!(loaded.is_ok(), "{src}: {loaded:?}");
        }
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..50 {
        let a = action().new_tree(&mut runner).unwrap().current();
        let src = format!("plan {{ {a} }}");
        assert!(planlang::load_plan_str(&src, "p.plan").is_ok(), "{src}");
    }
    for (d, s) in PARAM_PLANS {
        let src = format!("plan {{\nparam {d}\n{s}\n}}");
        assert!(planlang::load_plan_str(&src, "p.plan").is_ok(), "{src}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// What the automata decide, Z3 decides the same way: the automata's
    /// `Unsat` (an accepted step) is never wrong where Z3 finds a witness.
    #[test]
    fn automata_and_z3_agree_on_plans_with_params(
        spec in spec(),
        which in 0..PARAM_PLANS.len(),
        before in prop::option::of(action()),
    ) {
        let Some(mut s) = compile(&spec) else { return Ok(()); };
        let (decl, step) = PARAM_PLANS[which];
        let src = format!("plan {{\nparam {decl}\n{}\n{step}\n}}", before.unwrap_or_default());
        let Ok(plan) = planlang::load_plan_str(&src, "p.plan") else { return Ok(()); };
        s.options.cache = false;
        let with = s.check(&plan);
        s.options.automata = false;
        s.options.timeout_ms = 10_000;
        let without = s.check(&plan);
        let (Ok(with), Ok(without)) = (with, without) else { return Ok(()); };
        if without.violations.iter().any(|v| matches!(v.reason, Reason::Timeout | Reason::CouldNotProve)) {
            return Ok(());
        }
        // Denied or allowed by nothing depends on the witness found.
        let reasons = |o: &verifier::Outcome| {
            let mut rs: Vec<String> = o
                .violations
                .iter()
                .map(|v| match v.reason {
                    Reason::Denied | Reason::NothingAllows => "refused".to_string(),
                    r => format!("{r:?}"),
                })
                .collect();
            rs.sort();
            rs.dedup();
            rs
        };
        prop_assert_eq!(with.verdict, without.verdict, "spec:\n{}\nplan:\n{}\n{:#?}\n{:#?}", spec, src, with, without);
        prop_assert_eq!(reasons(&with), reasons(&without), "spec:\n{}\nplan:\n{}", spec, src);
    }
}
