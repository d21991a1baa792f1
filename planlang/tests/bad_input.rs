//! Bad input never panics or overflows the stack: each case gets a clear
//! error with a span.

use planlang::{
    MAX_NESTING, MAX_SOURCE_BYTES, load_plan, load_plan_str, load_spec_str, parse_plan, parse_spec,
};

fn first_error(r: Result<impl std::fmt::Debug, planlang::Diagnostics>) -> planlang::Diagnostic {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.diagnostics[0].clone(),
    }
}

#[test]
fn empty_files() {
    for text in ["", "   \n\t\n", "\u{feff}"] {
        let d = first_error(parse_plan(text, "e.plan"));
        assert_eq!(d.message, "empty plan: the file has no text");
        assert_eq!((d.span.line, d.span.col), (1, 1));
        let d = first_error(parse_spec(text, "e.spec"));
        assert_eq!(d.message, "empty spec: the file has no text");
    }
}

#[test]
fn only_comments_is_a_syntax_error() {
    let d = first_error(parse_plan("// nothing\n/* here */\n", "c.plan"));
    assert!(d.message.starts_with("expected `plan`"), "{}", d.message);
    assert!(
        d.message.ends_with("found the end of the file"),
        "{}",
        d.message
    );
    assert_eq!(d.span.line, 3);
}

#[test]
fn binary_junk() {
    let junk: String = (0u8..=255)
        .cycle()
        .take(4096)
        .map(|b| (b % 128) as char)
        .collect();
    let d = first_error(parse_plan(&junk, "junk.plan"));
    assert!(
        d.message.starts_with("expected") || d.message.starts_with("unterminated"),
        "{}",
        d.message
    );
    let junk: String = "\u{1}\u{7f}xyz\u{0}".repeat(100);
    let d = first_error(parse_plan(&junk, "junk.plan"));
    assert!(d.message.starts_with("expected `plan`"), "{}", d.message);
    assert_eq!((d.span.line, d.span.col), (1, 1));
    let d = first_error(parse_spec(&junk, "junk.spec"));
    assert!(
        d.message.starts_with("expected") || d.message.starts_with("unterminated"),
        "{}",
        d.message
    );
}

#[test]
fn invalid_utf8() {
    let dir = std::env::temp_dir().join(format!("planlang-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.plan");
    std::fs::write(&path, b"plan \"x\" {\n  read \"/a\xff\xfe\"\n}\n").unwrap();
    let d = first_error(load_plan(&path));
    assert!(d.message.ends_with("is not UTF-8 text"), "{}", d.message);
    assert_eq!(d.label, "invalid byte 0xff here");
    assert_eq!((d.span.line, d.span.col), (2, 11));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file() {
    let d = first_error(load_plan(std::path::Path::new("/nonexistent/x.plan")));
    assert!(
        d.message.starts_with("cannot read `/nonexistent/x.plan`"),
        "{}",
        d.message
    );
}

#[test]
fn ten_megabyte_files() {
    let big = format!(
        "plan \"big\" {{\n{}}}\n",
        "  read \"/tmp/x\"\n".repeat(10 * 1024 * 1024 / 16)
    );
    assert!(big.len() > MAX_SOURCE_BYTES);
    let d = first_error(parse_plan(&big, "big.plan"));
    assert!(
        d.message.starts_with("this plan is too large"),
        "{}",
        d.message
    );
    let dir = std::env::temp_dir().join(format!("planlang-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.plan");
    std::fs::write(&path, &big).unwrap();
    let d = first_error(load_plan(&path));
    assert!(d.message.contains("is too large"), "{}", d.message);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_large_file_under_the_limit_parses() {
    let n = 20_000;
    let big = format!("plan \"big\" {{\n{}}}\n", "  read \"/tmp/x\"\n".repeat(n));
    let plan = load_plan_str(&big, "big.plan").unwrap();
    assert_eq!(plan.steps.len(), n);
}

#[test]
fn ten_thousand_nested_eithers() {
    let depth = 10_000;
    let src = format!(
        "plan {{\n{}read \"/a\"{}\n}}",
        "either { ".repeat(depth),
        " } or { read \"/b\" }".repeat(depth)
    );
    let d = first_error(parse_plan(&src, "deep.plan"));
    assert!(d.message.starts_with("nesting too deep"), "{}", d.message);
    assert_eq!(d.span.line, 2);
}

#[test]
fn deep_conditions_lists_and_nots() {
    let d = first_error(parse_spec(
        &format!(
            "spec \"s\" {{ allow read when {}true{} }}",
            "(".repeat(5000),
            ")".repeat(5000)
        ),
        "p.spec",
    ));
    assert!(d.message.starts_with("nesting too deep"), "{}", d.message);
    let d = first_error(parse_spec(
        &format!(
            "spec \"s\" {{ let x = {}1{} }}",
            "[".repeat(5000),
            "]".repeat(5000)
        ),
        "l.spec",
    ));
    assert!(d.message.starts_with("nesting too deep"), "{}", d.message);
    let d = first_error(parse_spec(
        &format!(
            "spec \"s\" {{ allow read when {}true }}",
            "not ".repeat(10_000)
        ),
        "n.spec",
    ));
    assert!(d.message.starts_with("too many `not`s"), "{}", d.message);
}

/// The deepest nesting allowed parses, on a thread with a small stack (test
/// threads and tokio workers have 2 MiB).
#[test]
fn the_deepest_allowed_nesting_parses_on_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let levels = MAX_NESTING - 1; // the plan's own braces are one level
            let src = format!(
                "plan {{\n{}read \"/a\"{}\n}}",
                "either { ".repeat(levels),
                " } or { read \"/b\" }".repeat(levels)
            );
            let plan = load_plan_str(&src, "deep.plan").unwrap();
            let text = planlang::fmt_plan(&plan);
            assert_eq!(load_plan_str(&text, "deep.plan").unwrap(), plan);
            let levels = MAX_NESTING - 2;
            let src = format!(
                "spec \"s\" {{ allow read when {}true{} }}",
                "(".repeat(levels),
                ")".repeat(levels)
            );
            load_spec_str(&src, "p.spec").unwrap();
            let src = format!(
                "spec \"s\" {{ let x = {}1{} }}",
                "[".repeat(levels),
                "]".repeat(levels)
            );
            load_spec_str(&src, "l.spec").unwrap();
        })
        .unwrap();
    handle.join().expect("no stack overflow");
}

#[test]
fn unterminated_strings_and_comments() {
    let d = first_error(parse_plan("plan {\n  read \"/tmp/x\n}\n", "s.plan"));
    assert_eq!(d.message, "unterminated string");
    assert_eq!((d.span.line, d.span.col, d.span.len()), (2, 8, 1));
    let d = first_error(parse_plan("plan {\n  read \"/tmp/x\\\"", "s.plan"));
    assert_eq!(d.message, "unterminated string");
    let d = first_error(parse_spec(
        "spec \"s\" {\n  /* open\n  allow read\n}\n",
        "c.spec",
    ));
    assert_eq!(d.message, "unterminated comment");
    assert_eq!((d.span.line, d.span.col, d.span.len()), (2, 3, 2));
}
