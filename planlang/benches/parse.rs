//! How long loading and formatting take: a plan is loaded on every `check`,
//! `issue` and gRPC `Submit`, so it should cost microseconds, not
//! milliseconds. Run with `cargo bench -p planlang`.

use criterion::{Criterion, black_box};
use std::path::Path;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bench(c: &mut Criterion) {
    let plan_path = root().join("examples/deploy.plan");
    let plan_src = std::fs::read_to_string(&plan_path).unwrap_or_default();
    let spec_path = root().join("specs/devops-agent.spec");
    let spec_src = std::fs::read_to_string(&spec_path).unwrap_or_default();
    let spec_name = spec_path.display().to_string();

    c.bench_function("load_plan_str deploy.plan (20 lines)", |b| {
        b.iter(|| planlang::load_plan_str(black_box(&plan_src), "deploy.plan"))
    });
    c.bench_function("parse_spec devops-agent.spec (100 lines)", |b| {
        b.iter(|| planlang::parse_spec(black_box(&spec_src), "devops-agent.spec"))
    });
    c.bench_function("load_spec_str devops-agent.spec with its include", |b| {
        b.iter(|| planlang::load_spec_str(black_box(&spec_src), &spec_name))
    });
    if let Ok(spec) = planlang::parse_spec(&spec_src, "devops-agent.spec") {
        c.bench_function("fmt_spec devops-agent.spec", |b| {
            b.iter(|| planlang::fmt_spec(black_box(&spec)))
        });
    }
    // A large generated plan: 5,000 steps.
    let big = format!(
        "plan \"big\" {{\n  param p: path where p under \"/tmp/\"\n{}}}\n",
        "  read p\n  call f(x = 1, y = [\"a\", \"b\"])\n".repeat(2_500)
    );
    c.bench_function("load_plan_str 5,000 steps (170 KiB)", |b| {
        b.iter(|| planlang::load_plan_str(black_box(&big), "big.plan"))
    });
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
