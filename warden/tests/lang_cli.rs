//! `warden parse` and `warden fmt`: output, exit codes, files left alone on
//! errors.

mod common;
use common::{repo, tmp, warden};

#[test]
fn parse_json_prints_the_loaded_tree() {
    let out = warden(&["parse", &repo("examples/pay-bill.plan"), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "plan");
    assert_eq!(v["plan"]["name"]["node"], "pay-december-bill");
    // Names are resolved: `bill.subject` is the result of `read_file`.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"to\": \"result\""), "{text}");
    assert!(text.contains("\"tool\": \"read_file\""), "{text}");

    let out = warden(&["parse", &repo("specs/devops-agent.spec"), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "spec");
    assert_eq!(v["spec"]["name"]["node"], "devops-agent");
    assert_eq!(v["includes"][0]["name"]["node"], "runtime");
}

#[test]
fn parse_errors_show_the_line_with_a_caret_and_exit_2() {
    let out = warden(&["parse", &repo("examples/errors/typo.plan")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout but results");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown name `amout`"), "{err}");
    assert!(err.contains("typo.plan:6:66]"), "{err}");
    assert!(err.contains("amount = amout"), "{err}");
    assert!(err.contains("help: did you mean `amount`?"), "{err}");
    assert!(err.contains("unknown name `bil`"), "{err}");
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let dir = tmp("bad");
    let d = dir.path();
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty.plan", b"", "empty plan"),
        ("junk.spec", b"\x7fELF\x02\x01\x01\x00\x00\x00", "expected"),
        (
            "latin1.plan",
            b"plan { read \"/caf\xe9\" }",
            "is not UTF-8 text",
        ),
        (
            "open.spec",
            b"spec \"s\" {\n /* never closed\n",
            "unterminated comment",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = warden(&["parse", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{name}: {err}");
        let out = warden(&["fmt", "--check", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
    }
    let out = warden(&["parse", d.join("missing.plan").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fmt_check_rewrite_and_stdout() {
    let dir = tmp("fmt");
    let d = dir.path();
    let messy = d.join("messy.plan");
    let src = "// keep me\nplan \"m\" { read   \"/a\"  // and me\n    call f( x=1 ) }\n";
    std::fs::write(&messy, src).unwrap();
    let clean = d.join("clean.spec");
    std::fs::copy(repo("specs/support-agent.spec"), &clean).unwrap();

    // --check names the file that is not canonical, exits 1, changes nothing.
    let out = warden(&[
        "fmt",
        "--check",
        messy.to_str().unwrap(),
        clean.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("messy.plan"), "{stdout}");
    assert!(!stdout.contains("clean.spec"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), src);

    // --stdout prints, changes nothing.
    let out = warden(&["fmt", "--stdout", messy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let want = "// keep me\nplan \"m\" {\n  read \"/a\" // and me\n  call f(x = 1)\n}\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), src);

    // Plain fmt rewrites in place; then --check passes.
    let out = warden(&["fmt", messy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), want);
    let out = warden(&[
        "fmt",
        "--check",
        messy.to_str().unwrap(),
        clean.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));

    // A file that does not parse is left alone.
    let broken = d.join("broken.plan");
    std::fs::write(&broken, "plan { read }").unwrap();
    let out = warden(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "plan { read }");
}

/// The shipped specs and example plans are in canonical form: the demo and
/// the spec guide's CI snippet (docs/spec-guide.md) run `warden fmt --check` on them.
#[test]
fn shipped_specs_and_examples_are_formatted() {
    let mut files = Vec::new();
    for dir in ["specs", "specs/common", "examples", "examples/run"] {
        for entry in std::fs::read_dir(repo(dir)).unwrap() {
            let p = entry.unwrap().path();
            if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("spec" | "plan")
            ) {
                files.push(p.display().to_string());
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    let args: Vec<&str> = ["fmt", "--check"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = warden(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
