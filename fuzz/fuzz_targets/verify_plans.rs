//! Random plans against random specs, made of the property tests'
//! vocabulary (`verifier/tests/support/vocabulary.rs`) and chosen by
//! libFuzzer's bytes: checking never panics, and on a concrete plan the
//! verifier's verdict and reasons are the reference evaluator's
//! (`verifier::reference`). A plan with a param is only checked not to panic.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use verifier::report::Reason;
use verifier::{CompiledSpec, reference};

#[path = "../../verifier/tests/support/vocabulary.rs"]
mod vocabulary;
use vocabulary::*;

fn pick<'a>(u: &mut Unstructured, from: &[&'a str]) -> Result<&'a str> {
    Ok(from[u.choose_index(from.len())?])
}

fn action(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => {
            let kind = pick(u, &["read", "write", "delete"])?;
            format!("{kind} \"{}\"", pick(u, PATHS)?)
        }
        1 => pick(u, OTHER_ACTIONS)?.to_string(),
        2 => {
            let (c, w, a) = (pick(u, CALLS)?, pick(u, WHO)?, pick(u, AMOUNTS)?);
            format!("call {c}(recipient = {w}, amount = {a})")
        }
        _ => format!("call {}()", pick(u, CALLS)?),
    })
}

/// One to four steps; below the top, `either` and `repeat` nest `depth` deep.
fn block(u: &mut Unstructured, depth: u32) -> Result<String> {
    let mut steps = Vec::new();
    for _ in 0..u.int_in_range(1..=4u8)? {
        let kind = if depth == 0 {
            0
        } else {
            u.int_in_range(0..=5u8)?
        };
        steps.push(match kind {
            4 => {
                let (a, b) = (block(u, depth - 1)?, block(u, depth - 1)?);
                format!("either {{\n{a}\n}} or {{\n{b}\n}}")
            }
            5 => {
                let at_most = if u.arbitrary()? { "at most " } else { "" };
                let n = u.int_in_range(1..=3u8)?;
                format!("repeat {at_most}{n} {{\n{}\n}}", block(u, depth - 1)?)
            }
            _ => action(u)?,
        });
    }
    Ok(steps.join("\n"))
}

fn pattern(u: &mut Unstructured, with_condition: bool) -> Result<String> {
    let (p, conds) = PATTERNS[u.choose_index(PATTERNS.len())?];
    if with_condition && !conds.is_empty() && u.arbitrary()? {
        return Ok(format!("{p} when {}", pick(u, conds)?));
    }
    Ok(p.to_string())
}

fn rule(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=5 => {
            let effect = pick(u, &["allow", "deny", "approve"])?;
            format!("{effect} {}", pattern(u, true)?)
        }
        6 => format!("never {} after {}", pattern(u, true)?, pattern(u, true)?),
        7 => format!("require {} before {}", pattern(u, true)?, pattern(u, true)?),
        n => {
            let limit = u.int_in_range(0..=3u8)?;
            format!("at most {limit} {}", pattern(u, n == 8)?)
        }
    })
}

fn spec(u: &mut Unstructured) -> Result<String> {
    let mut rules = Vec::new();
    for _ in 0..u.int_in_range(1..=7u8)? {
        rules.push(rule(u)?);
    }
    Ok(format!("spec \"random\" {{\n{}\n}}", rules.join("\n")))
}

/// The kinds of reasons, each once, in a stable order.
fn reasons(rs: impl Iterator<Item = Reason>) -> Vec<String> {
    let mut rs: Vec<String> = rs.map(|r| format!("{r:?}")).collect();
    rs.sort();
    rs.dedup();
    rs
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(spec_src), Ok(body), Ok(with_param)) = (spec(&mut u), block(&mut u, 2), u.arbitrary())
    else {
        return;
    };
    let loaded = planlang::load_spec_str(&spec_src, "random.spec").unwrap_or_else(|e| {
        panic!("the generator wrote a spec that does not load: {e:?}\n{spec_src}")
    });
    let Ok(mut compiled) = CompiledSpec::compile(&loaded) else {
        return;
    };
    // A question the solver cannot answer quickly is refused, not waited on.
    compiled.options.timeout_ms = 500;
    if with_param {
        let Ok((decl, step)) = u.choose(PARAM_PLANS) else {
            return;
        };
        let src = format!("plan {{\nparam {decl}\n{body}\n{step}\n}}");
        let plan =
            planlang::load_plan_str(&src, "random.plan").unwrap_or_else(|e| panic!("{e:?}\n{src}"));
        let _ = compiled.check(&plan);
        return;
    }
    let src = format!("plan {{\n{body}\n}}");
    let plan =
        planlang::load_plan_str(&src, "random.plan").unwrap_or_else(|e| panic!("{e:?}\n{src}"));
    let expected = match reference::evaluate(&compiled, &plan) {
        Ok(r) => r,
        Err(reference::ReferenceError::TooManyPaths) => return,
        Err(e) => panic!("{e}\nspec:\n{spec_src}\nplan:\n{src}"),
    };
    let got = compiled
        .check(&plan)
        .unwrap_or_else(|e| panic!("{e}\nspec:\n{spec_src}\nplan:\n{src}"));
    assert_eq!(
        got.verdict, expected.verdict,
        "spec:\n{spec_src}\nplan:\n{src}\n{got:#?}"
    );
    assert_eq!(
        reasons(got.violations.iter().map(|v| v.reason)),
        reasons(expected.violations.iter().map(|v| v.reason)),
        "spec:\n{spec_src}\nplan:\n{src}"
    );
});
