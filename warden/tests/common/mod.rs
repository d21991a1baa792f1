//! Helpers shared by the CLI tests: run the `warden` binary, name a file of
//! the repository, make a fresh scratch directory.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `warden ARGS...` without colours and returns what it did.
pub fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run warden")
}

/// A path of the repository (`specs/...`, `examples/...`) as text.
pub fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
        .display()
        .to_string()
}

/// A fresh, empty scratch directory for the test `name`, removed when
/// dropped (also when the test fails).
pub fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("warden-cli-{name}-"))
        .tempdir()
        .unwrap()
}
