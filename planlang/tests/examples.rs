//! Every spec under `specs/` and every plan and spec under `examples/` loads
//! and is in canonical style; the deliberate errors under
//! `examples/errors/` fail with the messages the demo shows.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "errors") {
                files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "plan" || e == "spec") {
            out.push(p);
        }
    }
}

#[test]
fn every_spec_and_example_loads_and_is_canonical() {
    let mut all = Vec::new();
    files(&root().join("specs"), &mut all);
    files(&root().join("examples"), &mut all);
    assert!(all.len() >= 10, "{all:?}");
    let mut specs_with_tests = 0;
    for p in &all {
        let text = std::fs::read_to_string(p).unwrap();
        let name = p.display().to_string();
        if p.extension().is_some_and(|e| e == "spec") {
            let spec = planlang::load_spec(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            if spec.root.tests().count() > 0 {
                specs_with_tests += 1;
            }
            assert_eq!(
                planlang::fmt_spec_source(&text, &name).unwrap(),
                text,
                "{name} is not canonical"
            );
        } else {
            planlang::load_plan(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                planlang::fmt_plan_source(&text, &name).unwrap(),
                text,
                "{name} is not canonical"
            );
        }
    }
    assert!(specs_with_tests >= 4);
}

#[test]
fn the_three_agent_specs_exist_with_tests() {
    for name in ["coding-agent", "support-agent", "devops-agent"] {
        let spec = planlang::load_spec(&root().join("specs").join(format!("{name}.spec"))).unwrap();
        assert_eq!(spec.root.name.node, name);
        assert!(spec.root.tests().count() >= 5, "{name}");
        let expects: Vec<_> = spec.root.tests().map(|t| t.expect.node).collect();
        for e in [
            planlang::ast::Expectation::Accept,
            planlang::ast::Expectation::Reject,
        ] {
            assert!(expects.contains(&e), "{name} tests {e}");
        }
    }
}

#[test]
fn the_deliberate_errors_fail_as_the_demo_says() {
    let dir = root().join("examples/errors");
    let e = planlang::load_plan(&dir.join("typo.plan"))
        .unwrap_err()
        .diagnostics;
    let m: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        m,
        [
            "unknown name `amout`",
            "unknown name `bil`",
            "expected a port number, found a string"
        ]
    );
    assert_eq!(e[0].help.as_deref(), Some("did you mean `amount`?"));
    assert_eq!(e[1].help.as_deref(), Some("did you mean `bill`?"));
    let e = planlang::load_plan(&dir.join("syntax.plan"))
        .unwrap_err()
        .diagnostics;
    assert!(e[0].message.ends_with("found `conect`"), "{}", e[0].message);
    assert_eq!(e[0].help.as_deref(), Some("did you mean `connect`?"));
    let e = planlang::load_spec(&dir.join("types.spec"))
        .unwrap_err()
        .diagnostics;
    assert_eq!(e.len(), 5);
}

#[test]
fn comments_survive_formatting() {
    let src = "// head\nspec \"s\" { // after the brace\n  /* before */ allow read   // trailing\n\n\n  // own line\n  deny write\n  baseline { read \"/a\" // in baseline\n  }\n  test \"t\" { plan { read \"/x\" } // t\n    expect accept }\n} // end\n// tail\n";
    let out = planlang::fmt_spec_source(src, "c.spec").unwrap();
    for c in [
        "// head",
        "// after the brace",
        "/* before */",
        "// trailing",
        "// own line",
        "// in baseline",
        "// t",
        "// end",
        "// tail",
    ] {
        assert!(out.contains(c), "{c} lost:\n{out}");
    }
    assert!(out.contains("allow read // trailing"), "{out}");
    assert!(!out.contains("\n\n\n"), "blank lines fold to one:\n{out}");
    // Formatting the result changes nothing.
    assert_eq!(planlang::fmt_spec_source(&out, "c.spec").unwrap(), out);
    assert_eq!(
        planlang::parse_spec(&out, "c.spec").unwrap(),
        planlang::parse_spec(src, "c.spec").unwrap()
    );
}
