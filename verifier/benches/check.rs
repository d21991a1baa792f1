//! Speed of `CompiledSpec::check`: a 100-step plan with 10 params against a
//! 200-rule spec (warm: the spec's cache of canonical questions is kept, as
//! a service keeps it; cold: the cache is cleared before every check;
//! without egg canonicalization; and cold with Z3 answering every question,
//! automata off), and a 10-step concrete plan.
//!
//! Run: `cargo bench -p verifier --bench check`

use criterion::Criterion;
use std::hint::black_box;
use verifier::CompiledSpec;

/// The 200-rule spec, shared with `examples/scale.rs`.
#[path = "support/big_spec.rs"]
mod big_spec;
use big_spec::big_spec;

/// 100 steps, 10 params (amounts, recipients and paths with `where`s).
pub fn big_plan() -> String {
    let mut s = String::from("plan \"big\" {\n");
    for i in 0..4 {
        s.push_str(&format!(
            "  param amt{i}: number where amt{i} > 0 and amt{i} <= 100\n"
        ));
    }
    for i in 0..3 {
        s.push_str(&format!(
            "  param who{i}: string where who{i} in [\"A1\", \"A2\"]\n"
        ));
    }
    for i in 0..3 {
        s.push_str(&format!(
            "  param out{i}: path where out{i} under \"/tmp/job{i}/\"\n"
        ));
    }
    for k in 0..100 {
        let step = match k % 10 {
            0 => format!(
                "call tool{}(recipient = who{}, amount = amt{})",
                k % 100,
                k % 3,
                k % 4
            ),
            1 => format!("write out{}", k % 3),
            2 => format!("read \"/srv/data{}/file{k}.csv\"", k % 20),
            3 => format!(
                "call tool{}(recipient = \"A3\", amount = amt{})",
                k % 100,
                k % 4
            ),
            4 => "connect \"api.example.com\":443".to_string(),
            5 => "exec \"/usr/bin/git\" [\"status\"]".to_string(),
            6 => format!(
                "call tool{}(recipient = \"A1\", amount = {})",
                k % 100,
                k % 50
            ),
            7 => format!("write \"/tmp/job{}/out{k}.txt\"", k % 20),
            8 => format!("call tool{}(recipient = who{}, amount = 7)", k % 100, k % 3),
            _ => format!("read \"/srv/data{}/**/*.csv\"", k % 20),
        };
        s.push_str("  ");
        s.push_str(&step);
        s.push('\n');
    }
    s.push('}');
    s
}

fn small_plan() -> String {
    let mut s = String::from("plan \"small\" {\n");
    for k in 0..10 {
        let step = match k % 5 {
            0 => format!("call tool{k}(recipient = \"A1\", amount = 5)"),
            1 => format!("read \"/srv/data{k}/x.csv\""),
            2 => format!("write \"/tmp/job{k}/y\""),
            3 => "connect \"api.example.com\":443".to_string(),
            _ => "exec \"/usr/bin/git\" [\"diff\"]".to_string(),
        };
        s.push_str(&step);
        s.push('\n');
    }
    s.push('}');
    s
}

fn load(spec: &str) -> CompiledSpec {
    let loaded = planlang::load_spec_str(spec, "big.spec").expect("the bench spec loads");
    CompiledSpec::compile(&loaded).expect("the bench spec compiles")
}

fn bench(c: &mut Criterion) {
    let spec = load(&big_spec());
    let plan = planlang::load_plan_str(&big_plan(), "big.plan").expect("the bench plan loads");
    let out = spec.check(&plan).expect("checks");
    assert_eq!(out.verdict, verifier::Verdict::Accept, "{out:#?}");

    // What canonicalization and the cache of canonical questions buy, in
    // solver calls for one check of the big plan.
    spec.clear_cache();
    let cold = spec.check(&plan).expect("checks").stats;
    let warm = spec.check(&plan).expect("checks").stats;
    let mut plain = load(&big_spec());
    plain.options.canonicalize = false;
    plain.options.cache = false;
    let none = plain.check(&plan).expect("checks").stats;
    eprintln!(
        "solver queries: no egg, no cache {none:?}; egg + cache, cold {cold:?}; warm {warm:?}"
    );
    // The same without automata: every question goes to Z3, and egg
    // canonicalizes each one first.
    let mut z3_only = load(&big_spec());
    z3_only.options.automata = false;
    let cold = z3_only.check(&plan).expect("checks").stats;
    let warm = z3_only.check(&plan).expect("checks").stats;
    z3_only.options.canonicalize = false;
    z3_only.options.cache = false;
    let none = z3_only.check(&plan).expect("checks").stats;
    eprintln!("Z3 only: no egg, no cache {none:?}; egg + cache, cold {cold:?}; warm {warm:?}");

    let mut g = c.benchmark_group("check");
    g.sample_size(30);
    g.bench_function("100 steps, 10 params, 200 rules (warm cache)", |b| {
        b.iter(|| black_box(spec.check(black_box(&plan)).expect("checks")))
    });
    g.bench_function("100 steps, 10 params, 200 rules (cold cache)", |b| {
        b.iter(|| {
            spec.clear_cache();
            black_box(spec.check(black_box(&plan)).expect("checks"))
        })
    });
    let mut raw = load(&big_spec());
    raw.options.canonicalize = false;
    raw.options.cache = false;
    g.bench_function("100 steps, 10 params, 200 rules (no egg, no cache)", |b| {
        b.iter(|| black_box(raw.check(black_box(&plan)).expect("checks")))
    });
    // What the automata buy: the cold check with Z3 answering every question.
    let mut z3_only = load(&big_spec());
    z3_only.options.automata = false;
    g.sample_size(10);
    g.bench_function(
        "100 steps, 10 params, 200 rules (cold cache, Z3 only)",
        |b| {
            b.iter(|| {
                z3_only.clear_cache();
                black_box(z3_only.check(black_box(&plan)).expect("checks"))
            })
        },
    );
    let small = planlang::load_plan_str(&small_plan(), "small.plan").expect("loads");
    assert_eq!(
        spec.check(&small).expect("checks").verdict,
        verifier::Verdict::Accept
    );
    g.sample_size(100);
    g.bench_function("10-step concrete plan", |b| {
        b.iter(|| black_box(spec.check(black_box(&small)).expect("checks")))
    });
    g.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
