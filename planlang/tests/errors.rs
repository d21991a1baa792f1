//! Each error class: the message, the span (line, column, length), and the
//! help where there is one. Several errors in one file are all reported.

use planlang::{Diagnostic, load_plan_str, load_spec_str, parse_plan, parse_spec};

fn plan_errors(src: &str) -> Vec<Diagnostic> {
    load_plan_str(src, "t.plan")
        .expect_err("the plan must be refused")
        .diagnostics
}

fn spec_errors(src: &str) -> Vec<Diagnostic> {
    load_spec_str(src, "t.spec")
        .expect_err("the spec must be refused")
        .diagnostics
}

/// (line, column, length) of a diagnostic's span.
fn at(d: &Diagnostic) -> (u32, u32, usize) {
    (d.span.line, d.span.col, d.span.len())
}

#[test]
fn syntax_error_names_what_was_expected() {
    let e = parse_plan("plan \"p\" {\n  call f(a = 1\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert_eq!(e[0].message, "expected `)` or `,`, found `}`");
    assert_eq!(at(&e[0]), (3, 1, 1));
    let e = parse_plan("plan \"p\" {\n  raed \"/a\"\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert!(
        e[0].message
            .starts_with("expected `agent`, `goal`, `param`, `ttl`, a step or `}`, found `raed`"),
        "{}",
        e[0].message
    );
    assert_eq!(at(&e[0]), (2, 3, 4));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `read`?"));
    let e = parse_spec("spec \"s\" {\n  allow read when\n}\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert_eq!(
        e[0].message,
        "expected a condition, `(`, `has` or `not`, found `}`"
    );
    let e = parse_plan("plan \"p\" {\n  ttl 10\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert_eq!(
        e[0].message,
        "expected a duration unit (`s`, `m`, `h` or `d`), found the end of the line"
    );
    let e = parse_spec("spec \"s\" {\n  allow read\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert!(
        e[0].message.ends_with("found the end of the file"),
        "{}",
        e[0].message
    );
    assert!(
        !e[0].message.contains("_"),
        "no grammar rule names: {}",
        e[0].message
    );
}

#[test]
fn a_keyword_used_as_a_name() {
    let e = parse_spec("spec \"s\" {\n  let in = 3\n}\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert_eq!(e[0].message, "expected a name, found the keyword `in`");
    assert_eq!(at(&e[0]), (2, 7, 2));
    // `include` starts with the keyword `in` but is a keyword of its own.
    let s = parse_spec(
        "spec \"s\" {\n  allow read\n  include \"x.spec\"\n}\n",
        "t.spec",
    )
    .unwrap();
    assert_eq!(s.includes().count(), 1);
    // Names that merely start like keywords are names.
    load_plan_str(
        "plan { param reader: path  param order: number  read reader }",
        "t.plan",
    )
    .unwrap();
}

#[test]
fn unknown_names_suggest_the_closest() {
    let e = plan_errors("plan \"p\" {\n  param amount: number\n  call pay(amount = amout)\n}\n");
    assert_eq!(e[0].message, "unknown name `amout`");
    assert_eq!(at(&e[0]), (3, 21, 5));
    assert_eq!(e[0].label, "not a param or an earlier `let` of this plan");
    assert_eq!(e[0].help.as_deref(), Some("did you mean `amount`?"));
    let e = spec_errors("spec \"s\" {\n  allow read when pth under \"/srv/\"\n}\n");
    assert_eq!(e[0].message, "unknown name `pth`");
    assert_eq!(at(&e[0]), (2, 19, 3));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `path`?"));
    // A `let` result is only visible after it, in its block.
    let e = plan_errors("plan {\n  call f(x = r)\n  let r = call g()\n}\n");
    assert_eq!(e[0].message, "unknown name `r`");
    let e =
        plan_errors("plan {\n  either { let r = call g() } or { call h() }\n  call f(x = r)\n}\n");
    assert_eq!(e[0].message, "unknown name `r`");
    assert_eq!(e[0].span.line, 3);
}

#[test]
fn spec_names_resolve_to_constants_fields_and_call_arguments() {
    let s = load_spec_str(
        "spec \"s\" {\n  let big = 10\n  allow call pay when amount > big\n  allow any when has recipient and recipient == \"x\"\n  allow connect port == 443\n}\n",
        "t.spec",
    )
    .unwrap();
    assert_eq!(s.rules().count(), 3);
    // On a non-call pattern an unknown name is an error.
    let e = spec_errors("spec \"s\" {\n  allow connect prt == 443\n}\n");
    assert_eq!(e[0].message, "unknown name `prt`");
    assert_eq!(
        e[0].label,
        "not a `let` constant, nor a field of `connect` (`host`, `ip`, `path`, `port`)"
    );
    assert_eq!(e[0].help.as_deref(), Some("did you mean `port`?"));
    // A field the action kind lacks is not a load error (the condition is false).
    load_spec_str("spec \"s\" {\n  allow read when port == 1\n}\n", "t.spec").unwrap();
}

#[test]
fn a_let_shadowing_a_field() {
    let e = spec_errors("spec \"s\" {\n  let path = \"/x\"\n}\n");
    assert_eq!(e[0].message, "`let path` shadows the field `path`");
    assert_eq!(at(&e[0]), (2, 7, 4));
    assert_eq!(
        e[0].help.as_deref(),
        Some("rename the constant, e.g. `paths` or `allowed_path`")
    );
}

#[test]
fn duplicates() {
    let e = plan_errors("plan {\n  param a: number\n  param a: string\n}\n");
    assert_eq!(e[0].message, "duplicate param `a`");
    assert_eq!(at(&e[0]), (3, 9, 1));
    assert_eq!(e[0].related[0].span.line, 2);
    let e = spec_errors("spec \"s\" {\n  let a = 1\n  let a = 2\n}\n");
    assert_eq!(e[0].message, "duplicate constant `a`");
    assert_eq!(e[0].span.line, 3);
    let e = plan_errors("plan {\n  param a: number\n  let a = call f()\n}\n");
    assert_eq!(e[0].message, "`a` is already a param");
    let e = plan_errors("plan {\n  call f(x = 1, x = 2)\n}\n");
    assert_eq!(e[0].message, "argument `x` is given twice");
    assert_eq!(at(&e[0]), (2, 17, 1));
    let e = parse_plan("plan {\n  ttl 1m\n  ttl 2m\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert_eq!(e[0].message, "`ttl` is given twice");
    let e = parse_spec("spec \"s\" {\n  version 1\n  version 2\n}\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert_eq!(e[0].message, "`version` is given twice");
}

#[test]
fn type_errors() {
    // A cidr where a number belongs.
    let e = spec_errors("spec \"s\" {\n  allow connect port == 10.0.0.0/8\n}\n");
    assert_eq!(e[0].message, "expected a port, found a cidr");
    assert_eq!(at(&e[0]), (2, 25, 10));
    let e = plan_errors("plan {\n  listen 10.0.0.0/8\n}\n");
    assert_eq!(e[0].message, "expected a port number, found a cidr");
    let e = spec_errors("spec \"s\" {\n  allow call f when amount < 1.2.3.4\n}\n");
    assert_eq!(e[0].message, "expected a number, found a cidr");
    // Ports are whole numbers in 0..=65535.
    let e = plan_errors("plan {\n  connect \"h\":70000\n}\n");
    assert_eq!(e[0].message, "`70000` is not a port");
    assert_eq!(at(&e[0]), (2, 15, 5));
    // A spec's comparison with a number outside the ports loads (lint
    // reports it always true or always false).
    for c in [
        "port == 1.5",
        "port <= 70000",
        "port in [70000, 443]",
        "70000 > port",
    ] {
        planlang::load_spec_str(
            &format!("spec \"s\" {{\n  allow listen when {c}\n}}\n"),
            "t.spec",
        )
        .unwrap_or_else(|e| panic!("{c}: {e:?}"));
    }
    // `in` needs a list or cidrs.
    let e = spec_errors("spec \"s\" {\n  allow call f when x in \"abc\"\n}\n");
    assert_eq!(e[0].message, "expected a list or cidrs, found a string");
    // String operators need strings.
    let e = spec_errors("spec \"s\" {\n  allow read when path under 5\n}\n");
    assert_eq!(e[0].message, "expected a string, found a number");
    let e = spec_errors("spec \"s\" {\n  allow connect port startswith \"4\"\n}\n");
    assert_eq!(e[0].message, "expected a string, found a port");
    // Param types are checked against literals.
    let e = plan_errors("plan {\n  param n: number where n == \"x\"\n}\n");
    assert_eq!(e[0].message, "expected a number, found a string");
    // Paths.
    let e = plan_errors("plan {\n  read 5\n}\n");
    assert_eq!(e[0].message, "expected a path, found a number");
    let e = plan_errors("plan {\n  write \"relative/x\"\n}\n");
    assert_eq!(e[0].message, "the path `relative/x` is not absolute");
    // A condition must be true or false.
    let e = spec_errors("spec \"s\" {\n  allow read when \"yes\"\n}\n");
    assert_eq!(e[0].message, "expected a condition, found a string");
    // Params have no fields; only argv can be indexed.
    let e = plan_errors("plan {\n  param p: path\n  read p.x\n}\n");
    assert_eq!(e[0].message, "the param `p` has no fields");
    let e = spec_errors("spec \"s\" {\n  allow read when path[0] == \"x\"\n}\n");
    assert_eq!(e[0].message, "the field `path` is not a list");
}

/// A unix socket path (`connect PATH`, `listen PATH`, and the shorthand of
/// a pattern) must be absolute and has no port: both usually mean the
/// network form was meant, and the help says how to write it.
#[test]
fn socket_paths_that_read_like_a_network_address() {
    let e = plan_errors("plan {\n  connect \"localhost:5432\"\n}\n");
    assert_eq!(
        e[0].message,
        "the socket path `localhost:5432` is not absolute"
    );
    assert_eq!(at(&e[0]), (2, 11, 16));
    assert_eq!(
        e[0].help.as_deref(),
        Some("a network connect is written `connect \"localhost\":5432`")
    );
    let e = plan_errors("plan {\n  connect \"github.com\"\n}\n");
    assert_eq!(
        e[0].help.as_deref(),
        Some("a network connect needs a port: `connect \"github.com\":443`")
    );
    let e = plan_errors("plan {\n  connect \"/run/x.sock:5432\"\n}\n");
    assert_eq!(e[0].message, "a unix socket path has no port");
    assert_eq!(e[0].label, "`:5432` looks like a port");
    assert_eq!(
        e[0].help.as_deref(),
        Some("a unix socket is named by its path alone: `connect \"/run/x.sock\"`")
    );
    let e = plan_errors("plan {\n  connect \"/run/x.sock\":5432\n}\n");
    assert_eq!(e[0].message, "a unix socket has no port");
    assert_eq!(at(&e[0]), (2, 11, 13));
    let e = plan_errors("plan {\n  listen \"/run/x.sock:80\"\n}\n");
    assert_eq!(
        e[0].help.as_deref(),
        Some(
            "a unix socket is named by its path alone: `listen \"/run/x.sock\"`; to listen on a port, write `listen 80`"
        )
    );
    let e = plan_errors("plan {\n  listen \"app.sock\"\n}\n");
    assert_eq!(e[0].message, "the socket path `app.sock` is not absolute");
    // A host param or an address without a port is not a socket path.
    let e = plan_errors("plan {\n  param h: host\n  connect h\n}\n");
    assert_eq!(
        e[0].message,
        "expected a socket path, found a host name or an address"
    );
    assert_eq!(
        e[0].help.as_deref(),
        Some("a network connect needs a port: `connect h:443`")
    );
    let e = plan_errors("plan {\n  connect 10.0.0.1\n}\n");
    assert_eq!(e[0].message, "expected a socket path, found a cidr");
    // An abstract socket (a name starting with NUL) is outside the language.
    let e = plan_errors("plan {\n  connect \"\\u0000warden\"\n}\n");
    assert!(
        e[0].message.ends_with("is not absolute"),
        "{}",
        e[0].message
    );
    // In a spec, the shorthand target is a socket path too.
    let e = spec_errors("spec \"s\" {\n  allow connect \"run/x.sock\"\n}\n");
    assert_eq!(e[0].message, "the socket path `run/x.sock` is not absolute");
    assert!(
        e[0].help.as_deref().unwrap().contains("`connect host =="),
        "{e:?}"
    );
    let e = spec_errors("spec \"s\" {\n  allow listen under \"/run/x.sock:99\"\n}\n");
    assert_eq!(e[0].message, "a unix socket path has no port");
}

#[test]
fn literal_errors() {
    let e = parse_spec(
        "spec \"s\" {\n  deny connect ip in 10.0.0.1/8\n}\n",
        "t.spec",
    )
    .unwrap_err()
    .diagnostics;
    assert_eq!(e[0].message, "cidr `10.0.0.1/8` has host bits set");
    assert_eq!(at(&e[0]), (2, 22, 10));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `10.0.0.0/8`?"));
    let e = parse_spec(
        "spec \"s\" {\n  deny connect ip in 10.0.0.0/40\n}\n",
        "t.spec",
    )
    .unwrap_err()
    .diagnostics;
    assert_eq!(e[0].message, "invalid prefix length `/40`");
    assert_eq!(at(&e[0]), (2, 31, 2));
    let e = parse_spec("spec \"s\" {\n  let x = \"a\\qb\"\n}\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert_eq!(e[0].message, "unknown escape `\\q`");
    assert_eq!(at(&e[0]), (2, 13, 2));
    let e = parse_plan("plan {\n  repeat 0 { read \"/a\" }\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert_eq!(
        e[0].message,
        "the count of `repeat` must be a whole number, 1 or more"
    );
    assert_eq!(at(&e[0]), (2, 10, 1));
    let e = parse_plan("plan {\n  repeat 2.5 { read \"/a\" }\n}\n", "t.plan")
        .unwrap_err()
        .diagnostics;
    assert_eq!(
        e[0].message,
        "the count of `repeat` must be a whole number, 1 or more"
    );
    let e = parse_spec("spec \"s\" {\n  at most -1 read\n}\n", "t.spec")
        .unwrap_err()
        .diagnostics;
    assert_eq!(
        e[0].message,
        "the limit of `at most` must be a whole number, 0 or more"
    );
}

#[test]
fn many_errors_in_one_file_are_reported_together() {
    let e = spec_errors(
        "spec \"s\" {\n  let port = 1\n  deny connect ip in 10.0.0.1/8\n  allow read when pth under \"/x/\"\n  allow call f when a in \"b\"\n}\n",
    );
    let messages: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`let port` shadows the field `port`",
            "cidr `10.0.0.1/8` has host bits set",
            "unknown name `pth`",
            "expected a list or cidrs, found a string",
        ]
    );
    // In file order.
    let lines: Vec<u32> = e.iter().map(|d| d.span.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
}

#[test]
fn spans_point_at_the_step_and_the_rule() {
    let plan = load_plan_str(
        "plan \"p\" {\n  read \"/a\"\n  either { write \"/b\" } or { delete \"/c\" }\n}\n",
        "t.plan",
    )
    .unwrap();
    let s = &plan.steps[1];
    assert_eq!((s.span.line, s.span.col), (3, 3));
    assert_eq!(&*s.span.file, "t.plan");
    // A step's span ends at its last token, not at the next line.
    assert_eq!(
        s.span.len(),
        "either { write \"/b\" } or { delete \"/c\" }".len()
    );
    let spec = load_spec_str(
        "spec \"s\" {\n  allow read when path under \"/a/\" // why\n  deny write\n}\n",
        "t.spec",
    )
    .unwrap();
    let r: Vec<_> = spec.rules().collect();
    assert_eq!(
        (r[0].span.line, r[0].span.col, r[0].span.len()),
        (2, 3, "allow read when path under \"/a/\"".len())
    );
    assert_eq!((r[1].span.line, r[1].span.col), (3, 3));
}
