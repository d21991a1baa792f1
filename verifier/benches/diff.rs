//! `diff` of two generated 200-rule specs: a few rules changed, the same
//! spec, and the same rules written differently (so the solver must prove
//! every class equivalent).
//! Run: `cargo bench -p verifier --bench diff`.

use criterion::Criterion;
use verifier::analysis::diff::{DiffOptions, Outcome, diff};

/// A spec of `n` rules over paths, hosts, ports and tools; `changed` shifts
/// a few of them, `rewritten` spells every condition differently but
/// equivalently.
fn spec(n: usize, changed: bool, rewritten: bool) -> String {
    let mut s = String::from("spec \"gen\" {\n");
    for i in 0..n {
        let v = if changed && i % 50 == 7 { i + 1000 } else { i };
        let line = match (i % 6, rewritten) {
            (0, _) => format!("  allow read under \"/srv/app{v}/\"\n"),
            (1, false) => format!(
                "  deny write when path under \"/srv/app{v}/\" and path endswith \".key\"\n"
            ),
            (1, true) => format!(
                "  deny write when path endswith \".key\" and not (not path under \"/srv/app{v}/\")\n"
            ),
            (2, _) => format!("  allow write under \"/srv/app{v}/data/\"\n"),
            (3, false) => format!(
                "  allow connect when host == \"h{v}.example\" and port == {}\n",
                1000 + v
            ),
            (3, true) => format!(
                "  allow connect when port == {} and host in [\"h{v}.example\"]\n",
                1000 + v
            ),
            (4, false) => format!("  allow call tool{} when amount <= {v}\n", i % 20),
            // (`not amount > v` would not do: it also holds without `amount`.)
            (4, true) => format!(
                "  allow call tool{} when amount <= {} and amount <= {v}\n",
                i % 20,
                v + 1000
            ),
            (_, false) => format!("  approve exec \"/usr/bin/t{v}\" when argv[0] == \"run\"\n"),
            (_, true) => {
                format!("  approve exec when argv[0] == \"run\" and path == \"/usr/bin/t{v}\"\n")
            }
        };
        s.push_str(&line);
    }
    s.push_str("}\n");
    s
}

fn bench(c: &mut Criterion) {
    let load = |text: String, file: &str| planlang::load_spec_str(&text, file).expect("loads");
    let old = load(spec(200, false, false), "old.spec");
    let new = load(spec(200, true, false), "new.spec");
    let rewritten = load(spec(200, false, true), "rewritten.spec");
    let opts = DiffOptions::default();
    let mut g = c.benchmark_group("diff");
    g.sample_size(10);
    g.bench_function("200 rules, 4 changed", |b| {
        b.iter(|| {
            let r = diff(&old, &new, &opts).expect("diff");
            assert_eq!(r.outcome(), Outcome::Differ);
        })
    });
    g.bench_function("200 rules, rewritten equivalently", |b| {
        b.iter(|| {
            let r = diff(&old, &rewritten, &opts).expect("diff");
            assert_eq!(r.outcome(), Outcome::Equivalent, "{:#?}", r.findings);
        })
    });
    g.bench_function("200 rules, equal", |b| {
        b.iter(|| assert!(diff(&old, &old, &opts).expect("diff").equivalent()))
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
