//! `diff` of two generated 200-rule specs (the second changes a few rules).
//! Run: `cargo bench -p verifier --bench diff`.

use criterion::{Criterion, criterion_group, criterion_main};
use verifier::analysis::diff::{DiffOptions, diff};

/// A spec of `n` rules over paths, hosts, ports and tools; `changed` shifts
/// a few of them.
fn spec(n: usize, changed: bool) -> String {
    let mut s = String::from("spec \"gen\" {\n");
    for i in 0..n {
        let v = if changed && i % 50 == 7 { i + 1000 } else { i };
        let line = match i % 6 {
            0 => format!("  allow read under \"/srv/app{v}/\"\n"),
            1 => format!(
                "  deny write when path under \"/srv/app{v}/\" and path endswith \".key\"\n"
            ),
            2 => format!("  allow write under \"/srv/app{v}/data/\"\n"),
            3 => format!(
                "  allow connect when host == \"h{v}.example\" and port == {}\n",
                1000 + v
            ),
            4 => format!("  allow call tool{} when amount <= {v}\n", i % 20),
            _ => format!("  approve exec \"/usr/bin/t{v}\" when argv[0] == \"run\"\n"),
        };
        s.push_str(&line);
    }
    s.push_str("}\n");
    s
}

fn bench(c: &mut Criterion) {
    let old = planlang::load_spec_str(&spec(200, false), "old.spec").expect("old loads");
    let new = planlang::load_spec_str(&spec(200, true), "new.spec").expect("new loads");
    let opts = DiffOptions::default();
    let mut g = c.benchmark_group("diff");
    g.sample_size(10);
    g.bench_function("200 rules, 4 changed", |b| {
        b.iter(|| {
            let r = diff(&old, &new, &opts).expect("diff");
            assert!(!r.equivalent());
        })
    });
    g.bench_function("200 rules, equal", |b| {
        b.iter(|| assert!(diff(&old, &old, &opts).expect("diff").equivalent()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
