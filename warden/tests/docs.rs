//! The docs are tests: every fenced code block of `README.md` and `docs/`
//! (with mdBook's `{{#include FILE}}` expanded) is checked.
//!
//! - ` ```plan ` and ` ```spec ` blocks load (names resolved, types
//!   checked); marked `fails`, they must not. A spec block's `test` blocks
//!   must pass, and a plan block with `expect=accept|reject|approve` gets
//!   that verdict against `spec=NAME` (the latest spec block of that name
//!   earlier on the page, else the first one below it) or `spec=FILE.spec`
//!   (a file of the repository).
//!   `path=FILE.spec` gives a spec block its file name, so that its
//!   `include`s resolve as they would there.
//! - ` ```console checked ` blocks are transcripts: each `$ COMMAND` runs
//!   with `sh -c` (stderr into stdout, `warden` on `PATH`) in a scratch
//!   directory holding `examples/` and `specs/` of the repository, and must
//!   print exactly the lines below it (trailing spaces aside).
//! - every other block carries a tag saying what it is (`console`, `sh`,
//!   `text`, `toml`, `json`, `proto`, `rust`, `python`), and a block that
//!   reads as a plan or a spec must be tagged as one.
//!
//! Beside them: every keyword of `grammar/*.pest` appears in code in the
//! language reference, and every relative link resolves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use verifier::CompiledSpec;
use verifier::report::Verdict;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// `README.md` and every page under `docs/`, in a stable order.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(&e, out);
            } else if e.extension().is_some_and(|x| x == "md") {
                out.push(e);
            }
        }
    }
    let root = repo();
    let mut out = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut out);
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap_or(p).display().to_string()
}

/// A page's text with each `{{#include FILE}}` replaced by the file (its
/// path relative to the page, as mdBook reads it).
fn expanded(page: &Path) -> String {
    let text = std::fs::read_to_string(page).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("{{#include ") {
        // `\{{#include ...}}` is mdBook's escape: the text, without the `\`.
        if rest[..at].ends_with('\\') {
            out.push_str(&rest[..at - 1]);
            out.push_str("{{");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find("}}")
            .unwrap_or_else(|| panic!("{}: an unclosed {{{{#include", rel(page)));
        let target = rest[at + "{{#include ".len()..at + end].trim();
        assert!(
            !target.contains(':'),
            "{}: {{{{#include {target}}}}}: include whole files only",
            rel(page)
        );
        let file = page.parent().unwrap().join(target);
        let included = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {{{{#include {target}}}}}: {e}", rel(page)));
        out.push_str(included.strip_suffix('\n').unwrap_or(&included));
        rest = &rest[at + end + 2..];
    }
    out.push_str(rest);
    out
}

/// One fenced code block.
#[derive(Debug)]
struct Block {
    page: PathBuf,
    /// The line of its opening fence (1-based, in the expanded page).
    line: usize,
    /// The first word of its info string.
    tag: String,
    /// The other words: `fails`, `checked`, `key=value`.
    attrs: Vec<String>,
    text: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", rel(&self.page), self.line)
    }

    fn has(&self, attr: &str) -> bool {
        self.attrs.iter().any(|a| a == attr)
    }

    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }
}

fn blocks(page: &Path) -> Vec<Block> {
    let text = expanded(page);
    let mut out = Vec::new();
    // The open block and its fence.
    let mut open: Option<(String, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((fence, block)) = &mut open {
            let closes = trimmed.starts_with(fence.as_str())
                && trimmed.trim_end().trim_matches('`').is_empty();
            if !closes {
                block.text.push_str(line);
                block.text.push('\n');
                continue;
            }
            out.extend(open.take().map(|(_, b)| b));
            continue;
        }
        let fence: String = trimmed.chars().take_while(|c| *c == '`').collect();
        if fence.len() >= 3 {
            let mut words = trimmed[fence.len()..]
                .split([' ', ','])
                .filter(|w| !w.is_empty())
                .map(str::to_string);
            let block = Block {
                page: page.to_path_buf(),
                line: i + 1,
                tag: words.next().unwrap_or_default(),
                attrs: words.collect(),
                text: String::new(),
            };
            open = Some((fence, block));
        }
    }
    assert!(open.is_none(), "{}: an unclosed code fence", rel(page));
    out
}

const OTHER_TAGS: &[&str] = &[
    "console", "sh", "text", "toml", "json", "yaml", "proto", "rust", "python",
];

fn verdict_of(word: &str) -> Verdict {
    match word {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject,
        "approve" => Verdict::Approve,
        other => panic!("expect={other}: not accept, reject or approve"),
    }
}

fn load_spec(block: &Block) -> Result<planlang::LoadedSpec, String> {
    let path = match block.attr("path") {
        Some(p) => repo().join(p),
        None => block.page.with_extension("spec"),
    };
    planlang::load_spec_str(&block.text, &path.display().to_string())
        .map_err(|d| planlang::render::render(&d, false))
}

fn compile(block: &Block, loaded: &planlang::LoadedSpec) -> CompiledSpec {
    CompiledSpec::compile(loaded).unwrap_or_else(|e| panic!("{}: {e}", block.at()))
}

/// Runs a spec block's `test` blocks; returns how many passed.
fn run_tests(block: &Block, loaded: &planlang::LoadedSpec, spec: &CompiledSpec) -> usize {
    let mut n = 0;
    for t in loaded.root.tests() {
        let expect = match t.expect.node {
            planlang::ast::Expectation::Accept => Verdict::Accept,
            planlang::ast::Expectation::Reject => Verdict::Reject,
            planlang::ast::Expectation::Approve => Verdict::Approve,
        };
        let got = spec
            .check(&t.plan)
            .unwrap_or_else(|e| panic!("{}: test {:?}: {e}", block.at(), t.name.node));
        assert_eq!(
            got.verdict,
            expect,
            "{}: test {:?}: {got:#?}",
            block.at(),
            t.name.node
        );
        n += 1;
    }
    n
}

#[test]
fn every_plan_and_spec_block_loads_and_gets_its_stated_verdict() {
    let (mut plans, mut specs, mut verdicts, mut tests, mut failing) = (0, 0, 0, 0, 0);
    for page in pages() {
        // The spec blocks of this page so far, by name.
        let mut named: BTreeMap<String, CompiledSpec> = BTreeMap::new();
        // Those further down, for a plan shown before its spec (the first
        // block of each name).
        let mut later: BTreeMap<String, CompiledSpec> = BTreeMap::new();
        for block in blocks(&page).iter().rev() {
            if block.tag == "spec"
                && !block.has("fails")
                && let Ok(loaded) = load_spec(block)
            {
                later.insert(loaded.root.name.node.clone(), compile(block, &loaded));
            }
        }
        for block in blocks(&page) {
            let looks_like = |word: &str| {
                let t = block.text.trim_start();
                t.lines()
                    .find(|l| !l.trim_start().starts_with("//") && !l.trim().is_empty())
                    .is_some_and(|l| {
                        l.starts_with(&format!("{word} {{")) || l.starts_with(&format!("{word} \""))
                    })
            };
            match block.tag.as_str() {
                "spec" => {
                    specs += 1;
                    let loaded = load_spec(&block);
                    if block.has("fails") {
                        assert!(
                            loaded.is_err(),
                            "{}: loads, but is marked fails",
                            block.at()
                        );
                        failing += 1;
                        continue;
                    }
                    let loaded = loaded.unwrap_or_else(|e| panic!("{}:\n{e}", block.at()));
                    let compiled = compile(&block, &loaded);
                    tests += run_tests(&block, &loaded, &compiled);
                    named.insert(loaded.root.name.node.clone(), compiled);
                }
                "plan" => {
                    plans += 1;
                    let loaded = planlang::load_plan_str(&block.text, "docs.plan")
                        .map_err(|d| planlang::render::render(&d, false));
                    if block.has("fails") {
                        assert!(
                            loaded.is_err(),
                            "{}: loads, but is marked fails",
                            block.at()
                        );
                        failing += 1;
                        continue;
                    }
                    let plan = loaded.unwrap_or_else(|e| panic!("{}:\n{e}", block.at()));
                    let Some(expect) = block.attr("expect") else {
                        assert!(
                            block.attr("spec").is_none(),
                            "{}: spec= without expect=",
                            block.at()
                        );
                        continue;
                    };
                    let spec_name = block
                        .attr("spec")
                        .unwrap_or_else(|| panic!("{}: expect= without spec=", block.at()));
                    let from_file;
                    let spec = if spec_name.ends_with(".spec") {
                        let loaded = planlang::load_spec(&repo().join(spec_name))
                            .unwrap_or_else(|d| panic!("{}: {spec_name}: {d:?}", block.at()));
                        from_file = compile(&block, &loaded);
                        &from_file
                    } else {
                        named
                            .get(spec_name)
                            .or_else(|| later.get(spec_name))
                            .unwrap_or_else(|| {
                                panic!("{}: no spec block {spec_name:?} on the page", block.at())
                            })
                    };
                    let got = spec
                        .check(&plan)
                        .unwrap_or_else(|e| panic!("{}: {e}", block.at()));
                    assert_eq!(
                        got.verdict,
                        verdict_of(expect),
                        "{}: against {spec_name}: {got:#?}",
                        block.at()
                    );
                    verdicts += 1;
                }
                tag if OTHER_TAGS.contains(&tag) => {
                    assert!(
                        !looks_like("plan") && !looks_like("spec"),
                        "{}: reads as a plan or a spec: tag it ```plan or ```spec",
                        block.at()
                    );
                }
                tag => panic!(
                    "{}: a code block tagged {tag:?}: tag it plan, spec or one of {OTHER_TAGS:?}",
                    block.at()
                ),
            }
        }
    }
    println!(
        "{plans} plan blocks, {specs} spec blocks ({failing} marked fails), \
         {verdicts} stated verdicts, {tests} spec test blocks"
    );
    assert!(
        plans >= 10 && specs >= 10 && verdicts >= 5,
        "the docs lost their examples"
    );
}

/// A checked console block: `(command, expected output)` pairs. A command
/// goes on over lines that end with `\\`, and over a here-document (`<<'EOF'`
/// to a line `EOF`).
fn transcript(block: &Block) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = block.text.lines();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ ") else {
            let (_, expected) = out
                .last_mut()
                .unwrap_or_else(|| panic!("{}: output before any `$ ` command", block.at()));
            expected.push_str(line.trim_end());
            expected.push('\n');
            continue;
        };
        let mut cmd = cmd.to_string();
        if let Some(at) = cmd.find("<<'") {
            let marker: String = cmd[at + 3..].chars().take_while(|c| *c != '\'').collect();
            for next in lines.by_ref() {
                cmd.push('\n');
                cmd.push_str(next);
                if next == marker {
                    break;
                }
            }
        }
        while cmd.ends_with('\\') {
            let next = lines
                .next()
                .unwrap_or_else(|| panic!("{}: a `\\` at the end", block.at()));
            cmd.push('\n');
            cmd.push_str(next);
        }
        out.push((cmd, String::new()));
    }
    out
}

#[test]
fn checked_console_blocks_print_what_they_show() {
    let warden_dir = Path::new(env!("CARGO_BIN_EXE_warden")).parent().unwrap();
    let path = format!(
        "{}:{}",
        warden_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut checked = 0;
    for page in pages() {
        for block in blocks(&page) {
            if block.tag != "console" || !block.has("checked") {
                continue;
            }
            // A scratch directory with the repository's examples and specs.
            let scratch = tempfile::tempdir().unwrap();
            for dir in ["examples", "specs"] {
                std::os::unix::fs::symlink(repo().join(dir), scratch.path().join(dir)).unwrap();
            }
            for (cmd, expected) in transcript(&block) {
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(format!("exec 2>&1\n{cmd}"))
                    .current_dir(scratch.path())
                    .env("PATH", &path)
                    .env("NO_COLOR", "1")
                    .env_remove("CLICOLOR_FORCE")
                    .output()
                    .unwrap();
                let got: String = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| format!("{}\n", l.trim_end()))
                    .collect();
                assert_eq!(
                    got,
                    expected,
                    "{}: `$ {cmd}` printed (left) other than the page shows (right)",
                    block.at()
                );
                checked += 1;
            }
        }
    }
    println!("{checked} commands of checked console blocks");
    assert!(checked >= 10, "the docs lost their checked transcripts");
}

/// The words of the grammars: every quoted literal of two or more letters
/// in `grammar/*.pest` (keywords, param types, expectations, booleans).
fn grammar_words() -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for f in ["plan.pest", "spec.pest"] {
        let text = std::fs::read_to_string(repo().join("grammar").join(f)).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap();
            for (i, piece) in code.split('"').enumerate() {
                if i % 2 == 1 && piece.len() >= 2 && piece.chars().all(|c| c.is_ascii_lowercase()) {
                    words.insert(piece.to_string());
                }
            }
        }
    }
    words
}

/// The code of a page: its inline `code` spans and fenced blocks.
fn code_of(page: &Path) -> String {
    let mut code = String::new();
    for b in blocks(page) {
        code.push_str(&b.text);
        code.push('\n');
    }
    let text = expanded(page);
    let mut inline = text.split('`');
    inline.next();
    while let Some(span) = inline.next() {
        code.push_str(span);
        code.push('\n');
        inline.next();
    }
    code
}

#[test]
fn every_keyword_of_the_grammars_is_in_the_language_reference() {
    let reference = repo().join("docs/language.md");
    let code = code_of(&reference);
    let words: BTreeSet<&str> = code
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let missing: Vec<String> = grammar_words()
        .into_iter()
        .filter(|w| !words.contains(w.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "grammar words that docs/language.md never shows in code: {missing:?}"
    );
    assert!(grammar_words().len() > 40, "{:?}", grammar_words());
}

/// The pages another branch writes, which `docs/SUMMARY.md` names in a
/// comment (`<!-- drafts: architecture.md token-format.md -->`) beside their
/// draft chapters (`- [Architecture]()`): links to them may wait for them.
fn drafts() -> Vec<String> {
    let summary = std::fs::read_to_string(repo().join("docs/SUMMARY.md")).unwrap();
    summary
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<!-- drafts:")?.strip_suffix("-->"))
        .flat_map(|names| names.split_whitespace().map(str::to_string))
        .collect()
}

#[test]
fn relative_links_resolve_and_nothing_links_outside_the_repository() {
    let drafts = drafts();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for piece in text.split("](").skip(1) {
            let target = piece.split(')').next().unwrap();
            let target = target.split('#').next().unwrap();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let file = page.parent().unwrap().join(target);
            assert!(
                !target.contains(&["..", "shared"].join("/")),
                "{}: links to the internal brief: {target}",
                rel(&page)
            );
            match file.canonicalize() {
                Ok(f) => assert!(
                    f.starts_with(repo()),
                    "{}: links outside the repository: {target}",
                    rel(&page)
                ),
                Err(_) => {
                    let name = file.file_name().unwrap().to_string_lossy().to_string();
                    assert!(
                        drafts.contains(&name),
                        "{}: {target}: no such file (and not among the drafts {drafts:?} of docs/SUMMARY.md)",
                        rel(&page)
                    );
                }
            }
        }
    }
}

#[test]
fn the_api_reference_names_every_call_message_and_enum_of_the_proto() {
    let proto = std::fs::read_to_string(repo().join("proto/warden.proto")).unwrap();
    let api = code_of(&repo().join("docs/api.md"));
    let named: BTreeSet<&str> = api
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .collect();
    let mut missing = Vec::new();
    let mut seen = 0;
    for line in proto.lines() {
        let line = line.split("//").next().unwrap().trim();
        let mut words = line.split_whitespace();
        let (Some(kind), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        if !matches!(kind, "rpc" | "message" | "enum" | "service") {
            continue;
        }
        let name = name.split('(').next().unwrap();
        seen += 1;
        if !named.contains(name) {
            missing.push(format!("{kind} {name}"));
        }
    }
    assert!(seen > 30, "read {seen} definitions from the proto");
    assert!(missing.is_empty(), "docs/api.md never names: {missing:?}");
}

/// The project's internal design notes live beside the repository, not in
/// it: no file of the repository (tracked, or new and not ignored) may point
/// there, since a clone has nothing at that path. Only `.ci/` may read
/// shared data.
#[test]
fn nothing_in_the_repository_points_at_the_internal_notes() {
    let needle = ["..", "shared"].join("/");
    let out = Command::new("git")
        // Run by `make test` as another uid too, which git would otherwise
        // refuse a checkout it does not own.
        .args(["-c", "safe.directory=*", "ls-files", "-z", "--cached"])
        .args(["--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files: {out:?}");
    let files: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty() && !f.starts_with(".ci/"))
        .map(str::to_string)
        .collect();
    assert!(files.len() > 100, "git listed only {} files", files.len());
    let offending: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read(repo().join(f))
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .cloned()
        .collect();
    assert!(
        offending.is_empty(),
        "files that point at {needle}, which a clone does not have: {offending:?}"
    );
}
