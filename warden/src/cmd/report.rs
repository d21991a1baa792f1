//! Suites of expected verdicts, as `warden test` and batch `warden check`
//! report them: lines for people, JUnit XML for CI systems (one
//! `<testsuite>` per spec or manifest, one `<testcase>` per test or plan),
//! or one JSON object for tools.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The files under `p` (a file, or a directory searched recursively, in
/// name order) whose extension is `ext`; a file named itself is taken
/// whatever its extension.
pub fn collect(p: &Path, ext: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == ext) {
                collect(&e, ext, out)?;
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// What a suite's report is written as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `PASS`/`FAIL`/`ERROR` line per case, then the counts.
    #[default]
    Text,
    /// JUnit XML (`<testsuites>`), which CI systems display.
    Junit,
    /// One JSON object: `suites`, each with its `cases`, and the counts.
    Json,
}

/// How one case ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "message")]
pub enum Status {
    Passed,
    /// The verdict was not the expected one (or the check failed).
    Failed(String),
    /// The case could not be run: its plan or spec does not load.
    Error(String),
}

/// One test block, or one plan of a batch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Case {
    pub name: String,
    /// `FILE:LINE:COL` of the test, or the plan's file.
    pub location: String,
    pub file: String,
    pub line: u32,
    pub expected: Option<String>,
    pub got: Option<String>,
    #[serde(flatten)]
    pub status: Status,
    #[serde(serialize_with = "secs")]
    pub time: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The cases of one spec file or manifest; `error` when it does not load
/// at all (then it has no cases).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Suite {
    pub name: String,
    pub error: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    /// Cases that could not be run, and suites that did not load.
    pub errors: usize,
}

pub fn counts(suites: &[Suite]) -> Counts {
    let mut c = Counts::default();
    for s in suites {
        if s.error.is_some() {
            c.errors += 1;
        }
        for case in &s.cases {
            match case.status {
                Status::Passed => c.passed += 1,
                Status::Failed(_) => c.failed += 1,
                Status::Error(_) => c.errors += 1,
            }
        }
    }
    c
}

/// The suites as text for people.
pub fn text(suites: &[Suite]) -> String {
    let mut s = String::new();
    for suite in suites {
        if let Some(e) = &suite.error {
            let _ = writeln!(s, "ERROR {}: {e}", suite.name);
        }
        for c in &suite.cases {
            let _ = match &c.status {
                Status::Passed => writeln!(s, "PASS {} {:?}", c.location, c.name),
                Status::Failed(m) => writeln!(s, "FAIL {} {:?}: {m}", c.location, c.name),
                Status::Error(m) => writeln!(s, "ERROR {} {:?}: {m}", c.location, c.name),
            };
        }
    }
    let c = counts(suites);
    let _ = writeln!(
        s,
        "{} passed, {} failed, {} error{}",
        c.passed,
        c.failed,
        c.errors,
        if c.errors == 1 { "" } else { "s" }
    );
    s
}

/// The suites as one JSON object.
pub fn json(suites: &[Suite]) -> Result<String, serde_json::Error> {
    let c = counts(suites);
    let v = serde_json::json!({
        "passed": c.passed,
        "failed": c.failed,
        "errors": c.errors,
        "suites": suites,
    });
    serde_json::to_string_pretty(&v).map(|s| s + "\n")
}

/// Text as XML character data or an attribute value: the five special
/// characters escaped, and the characters XML 1.0 cannot hold (most
/// control characters) replaced by U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => {
                let _ = write!(out, "&#{};", ch as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The test cases of a suite in JUnit's count: a suite that does not load
/// is one case in error.
fn tests(suite: &Suite) -> usize {
    suite.cases.len() + usize::from(suite.error.is_some())
}

/// The suites as JUnit XML: the common subset Jenkins, GitLab, GitHub
/// reporters and `junitparser` read.
pub fn junit(suites: &[Suite], root_name: &str) -> String {
    let total = counts(suites);
    let all: usize = suites.iter().map(tests).sum();
    let time: f64 = suites
        .iter()
        .flat_map(|s| &s.cases)
        .map(|c| c.time.as_secs_f64())
        .sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"{}\" tests=\"{all}\" failures=\"{}\" errors=\"{}\" time=\"{time:.6}\">",
        xml(root_name),
        total.failed,
        total.errors
    );
    for suite in suites {
        let c = counts(std::slice::from_ref(suite));
        let t: f64 = suite.cases.iter().map(|c| c.time.as_secs_f64()).sum();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{t:.6}\">",
            xml(&suite.name),
            tests(suite),
            c.failed,
            c.errors
        );
        if let Some(e) = &suite.error {
            // A suite that does not load is one case in error, so that
            // reporters that count only test cases still show it.
            let _ = writeln!(
                s,
                "    <testcase name=\"load\" classname=\"{0}\" file=\"{0}\" time=\"0\">\n      <error message=\"{1}\" type=\"load\">{1}</error>\n    </testcase>",
                xml(&suite.name),
                xml(e)
            );
        }
        for case in &suite.cases {
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.6}\"",
                xml(&case.name),
                xml(&suite.name),
                xml(&case.file),
                case.line,
                case.time.as_secs_f64()
            );
            match &case.status {
                Status::Passed => s.push_str("/>\n"),
                Status::Failed(m) => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{0}\" type=\"verdict\">{1}: {0}</failure>\n    </testcase>",
                        xml(m),
                        xml(&case.location)
                    );
                }
                Status::Error(m) => {
                    let _ = writeln!(
                        s,
                        ">\n      <error message=\"{0}\" type=\"load\">{1}: {0}</error>\n    </testcase>",
                        xml(m),
                        xml(&case.location)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Render `suites` in `format`, to `output` (a file) or stdout.
pub fn write(
    suites: &[Suite],
    format: Format,
    root_name: &str,
    output: Option<&Path>,
) -> Result<(), String> {
    let text = match format {
        Format::Text => text(suites),
        Format::Junit => junit(suites, root_name),
        Format::Json => json(suites).map_err(|e| format!("cannot write JSON: {e}"))?,
    };
    match output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        }
        None => {
            // A closed pipe (`| head`) is not a failure of the suite.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            Ok(())
        }
    }
}

/// The exit code of a suite: 2 when something did not load, 1 when a case
/// failed, 0 when every case passed.
pub fn exit_code(suites: &[Suite]) -> u8 {
    let c = counts(suites);
    if c.errors > 0 {
        crate::exit::BAD_INPUT
    } else if c.failed > 0 {
        crate::exit::REJECT
    } else {
        crate::exit::ACCEPT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status) -> Case {
        Case {
            name: name.into(),
            location: "a.spec:3:8".into(),
            file: "a.spec".into(),
            line: 3,
            expected: Some("accept".into()),
            got: Some("reject".into()),
            status,
            time: Duration::from_millis(5),
        }
    }

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(
            xml("a<b>&\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}&#10;"
        );
    }

    #[test]
    fn counts_and_exit_codes() {
        let ok = vec![Suite {
            name: "a.spec".into(),
            error: None,
            cases: vec![case("x", Status::Passed)],
        }];
        assert_eq!(exit_code(&ok), 0);
        let failed = vec![Suite {
            name: "a.spec".into(),
            error: None,
            cases: vec![
                case("x", Status::Passed),
                case("y", Status::Failed("expected accept, got reject".into())),
            ],
        }];
        assert_eq!(exit_code(&failed), 1);
        assert_eq!(
            counts(&failed),
            Counts {
                passed: 1,
                failed: 1,
                errors: 0
            }
        );
        let mut broken = failed.clone();
        broken.push(Suite {
            name: "b.spec".into(),
            error: Some("does not load".into()),
            cases: vec![],
        });
        assert_eq!(exit_code(&broken), 2);
        let x = junit(&broken, "warden test");
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
        assert!(
            x.contains("<failure message=\"expected accept, got reject\""),
            "{x}"
        );
        assert!(text(&broken).ends_with("1 passed, 1 failed, 1 error\n"));
    }
}
