//! The fuzz targets' properties on a deterministic corpus, so CI checks them
//! without nightly or libFuzzer: no input panics, and whatever parses
//! survives the printers. (`fuzz/` runs the same checks on unbounded input.)

use proptest::prelude::*;
use std::path::Path;

fn check_plan(text: &str) {
    let _ = planlang::load_plan_str(text, "fuzz.plan");
    if let Ok(plan) = planlang::parse_plan(text, "fuzz.plan") {
        let printed = planlang::fmt_plan(&plan);
        assert_eq!(
            planlang::parse_plan(&printed, "fuzz.plan").as_ref().ok(),
            Some(&plan),
            "{printed}"
        );
        let kept = planlang::fmt_plan_source(text, "fuzz.plan").unwrap();
        assert_eq!(
            planlang::parse_plan(&kept, "fuzz.plan").ok(),
            Some(plan),
            "{kept}"
        );
    }
}

fn check_spec(text: &str) {
    let _ = planlang::load_spec_str(text, "/nonexistent-warden-fuzz/fuzz.spec");
    if let Ok(spec) = planlang::parse_spec(text, "fuzz.spec") {
        let printed = planlang::fmt_spec(&spec);
        assert_eq!(
            planlang::parse_spec(&printed, "fuzz.spec").as_ref().ok(),
            Some(&spec),
            "{printed}"
        );
        let kept = planlang::fmt_spec_source(text, "fuzz.spec").unwrap();
        assert_eq!(
            planlang::parse_spec(&kept, "fuzz.spec").ok(),
            Some(spec),
            "{kept}"
        );
    }
}

fn corpus() -> Vec<(bool, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["examples", "specs", "specs/common", "examples/errors"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            if let Some(ext) = p
                .extension()
                .and_then(|e| e.to_str())
                .filter(|e| *e == "plan" || *e == "spec")
            {
                out.push((ext == "spec", std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out
}

/// Every prefix of every example: unterminated strings, comments, blocks.
#[test]
fn every_prefix_of_the_examples() {
    for (is_spec, text) in corpus() {
        let mut cut = 0;
        for (i, _) in text.char_indices() {
            // Every byte boundary near the start, then every 13th (speed).
            if i < 120 || i % 13 == 0 {
                let prefix = &text[..i];
                if is_spec {
                    check_spec(prefix)
                } else {
                    check_plan(prefix)
                }
                cut += 1;
            }
        }
        assert!(cut > 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random bytes (mostly invalid, sometimes near-valid).
    #[test]
    fn random_text(s in "(plan|spec|\"x\"|\\{|\\}|\\(|\\)|\\[|\\]|read|call|when|allow|either|or|not|in|,|=|:|1|10.0.0.0/8|::1|\"|//|/\\*|\\*/|\n| |[a-z]|\\\\)*") {
        check_plan(&s);
        check_spec(&s);
    }

    /// Example files with a few bytes replaced.
    #[test]
    fn mutated_examples(seed in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let corpus = corpus();
        let (is_spec, text) = &corpus[seed.index(corpus.len())];
        let mut bytes = text.clone().into_bytes();
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        if let Ok(t) = String::from_utf8(bytes) {
            if *is_spec { check_spec(&t) } else { check_plan(&t) }
        }
    }
}
