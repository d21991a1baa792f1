//! `warden completions` and `warden man`: what `make install` installs,
//! generated from the CLI definition.

use std::process::Command;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

#[test]
fn completion_scripts_name_the_subcommands() {
    for (shell, marker) in [
        ("bash", "_warden()"),
        ("zsh", "#compdef warden"),
        ("fish", "complete -c warden"),
    ] {
        let out = Command::new(WARDEN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["check", "issue", "exec", "doctor"] {
            assert!(script.contains(sub), "{shell} lacks {sub}");
        }
    }
    let out = Command::new(WARDEN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad input");
}

#[test]
fn man_pages_cover_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(WARDEN)
        .arg("man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.1")));
    let top = page("warden").unwrap();
    assert!(top.starts_with(".ie"), "roff: {top}");
    assert!(top.contains("warden\\-check(1)"), "{top}");
    for name in [
        "warden-check",
        "warden-exec",
        "warden-audit-verify",
        "warden-doctor",
    ] {
        let text = page(name).unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert!(text.contains(".SH SYNOPSIS"), "{name}: {text}");
    }
    let exec = page("warden-exec").unwrap();
    assert!(exec.contains("\\-\\-token"), "{exec}");
}
