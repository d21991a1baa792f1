//! `include`: relative to the including file, each file once, cycles and
//! missing files are errors pointing at the `include`, constants per file.

use planlang::ast::*;
use planlang::load_spec;
use std::path::{Path, PathBuf};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("planlang-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("common")).unwrap();
        Dir(d)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn includes_are_followed_relative_to_the_including_file() {
    let d = Dir::new("inc");
    d.write("common/net.spec", "spec \"net\" {\n  include \"base.spec\"\n  let hosts = [\"a.example\"]\n  allow connect host in hosts\n  max ttl 10m\n}\n");
    d.write("common/base.spec", "spec \"base\" {\n  baseline { read under \"/usr/lib/\" }\n  deny read under \"/etc/ssh/\"\n}\n");
    let root = d.write(
        "root.spec",
        "spec \"root\" {\n  include \"common/net.spec\"\n  include \"common/base.spec\"\n  let hosts = [\"b.example\"]\n  allow call f when to in hosts\n  max ttl 1h\n}\n",
    );
    let spec = load_spec(&root).unwrap();
    assert_eq!(spec.includes.len(), 2, "base.spec is loaded once");
    let names: Vec<&str> = spec.specs().map(|s| s.name.node.as_str()).collect();
    assert_eq!(names, ["root", "net", "base"]);
    assert_eq!(spec.rules().count(), 3);
    assert_eq!(spec.baselines().count(), 1);
    assert_eq!(
        spec.max_ttl().unwrap().node.secs,
        600,
        "the strictest max ttl wins"
    );
    // Constants are per file: each `hosts` is its own.
    let net_file = d.0.join("common/net.spec").display().to_string();
    let root_file = root.display().to_string();
    let net_hosts = spec.constant(&net_file, "hosts").unwrap();
    let root_hosts = spec.constant(&root_file, "hosts").unwrap();
    assert_ne!(net_hosts, root_hosts);
    // Substituted rules carry each file's own value.
    let rules = spec.substituted_rules();
    let in_net = rules.iter().find(|r| *r.span.file == *net_file).unwrap();
    let RuleKind::Effect { pattern, .. } = &in_net.kind else {
        panic!()
    };
    let CondExpr::Compare { rhs, .. } = &pattern.condition.as_ref().unwrap().node else {
        panic!()
    };
    assert_eq!(planlang::fmt_value(&rhs.node), "[\"a.example\"]");
    // Sources of every file are kept for rendering.
    assert_eq!(spec.sources.len(), 3);
}

#[test]
fn an_include_cycle_is_an_error_at_the_include() {
    let d = Dir::new("cycle");
    d.write("a.spec", "spec \"a\" {\n  include \"b.spec\"\n}\n");
    d.write(
        "b.spec",
        "spec \"b\" {\n  allow read\n  include \"a.spec\"\n}\n",
    );
    let e = load_spec(&d.0.join("a.spec")).unwrap_err().diagnostics;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].message, "`include` cycle: a.spec -> b.spec -> a.spec");
    assert!(e[0].span.file.ends_with("b.spec"));
    assert_eq!((e[0].span.line, e[0].span.col), (3, 11));
    // A file including itself.
    d.write("self.spec", "spec \"s\" {\n  include \"self.spec\"\n}\n");
    let e = load_spec(&d.0.join("self.spec")).unwrap_err().diagnostics;
    assert_eq!(e[0].message, "`include` cycle: self.spec -> self.spec");
}

#[test]
fn a_missing_include_is_an_error_at_the_include() {
    let d = Dir::new("missing");
    let root = d.write("root.spec", "spec \"r\" {\n  include \"nope.spec\"\n}\n");
    let e = load_spec(&root).unwrap_err().diagnostics;
    assert_eq!(e[0].message, "cannot include `nope.spec`");
    assert_eq!((e[0].span.line, e[0].span.col), (2, 11));
    assert!(e[0].label.starts_with("cannot read"), "{}", e[0].label);
}

#[test]
fn errors_in_an_included_file_point_into_it() {
    let d = Dir::new("inner");
    d.write(
        "bad.spec",
        "spec \"bad\" {\n  allow read when pth == \"x\"\n}\n",
    );
    let root = d.write("root.spec", "spec \"r\" {\n  include \"bad.spec\"\n}\n");
    let e = load_spec(&root).unwrap_err();
    assert_eq!(e.diagnostics[0].message, "unknown name `pth`");
    assert!(e.diagnostics[0].span.file.ends_with("bad.spec"));
    assert!(
        e.sources.get(&e.diagnostics[0].span.file).is_some(),
        "the included text is kept for rendering"
    );
}

#[test]
fn load_spec_str_reads_includes_next_to_the_named_file() {
    let d = Dir::new("str");
    d.write("common/x.spec", "spec \"x\" { deny write }");
    let name = d.0.join("root.spec");
    let spec = planlang::load_spec_str(
        "spec \"r\" { include \"common/x.spec\" }",
        &name.display().to_string(),
    )
    .unwrap();
    assert_eq!(spec.includes.len(), 1);
    assert!(Path::new(&*spec.includes[0].span.file).ends_with("common/x.spec"));
}
