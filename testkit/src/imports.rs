//! Which source files of a crate import each other: the module graph read
//! from the text of `src/`, so that a test can fail on a 2-cycle (file `a`
//! names something of file `b` and `b` of `a`) and keep it from coming
//! back.
//!
//! A file's module is its path (`src/a/b.rs` and `src/a/b/mod.rs` are
//! `a::b`; `src/lib.rs` is the crate root). A file names another when its
//! code (comments aside) holds a path into that file's module:
//! `crate::a::b::…`, `super::…` at the top level of the file, or `x::…`
//! for a child module `x` it declares (`mod x;`). A path resolves to the
//! deepest module that is a file. Paths inside an indented `use super::`
//! (an inline `mod tests`) name the file itself and are not edges.
//!
//! ```
//! let cycles = testkit::imports::mutual_imports(std::path::Path::new(
//!     concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
//! ))
//! .unwrap();
//! assert!(cycles.is_empty(), "{cycles:?}");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`["symbolic", "encode"]`).
type Module = Vec<String>;

/// The files of `src` by module.
fn modules(src: &Path) -> io::Result<BTreeMap<Module, PathBuf>> {
    fn walk(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, PathBuf>) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type()?.is_dir() {
                let mut m = prefix.clone();
                m.push(name);
                walk(&path, &m, out)?;
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut m = prefix.clone();
                if !(matches!(stem, "mod") || prefix.is_empty() && matches!(stem, "lib" | "main")) {
                    m.push(stem.to_owned());
                }
                out.insert(m, path);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(src, &Vec::new(), &mut out)?;
    Ok(out)
}

/// `text` without its comments (line comments and doc comments; block
/// comments are not used for code here).
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            }
            if !in_str && c == '/' && prev == '/' {
                cut = i - 1;
                break;
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifiers of the path that starts at byte `at` of `s`
/// (`a::b::C` gives `["a", "b", "C"]`); a `{` ends it.
fn path_at(s: &str, at: usize) -> Vec<String> {
    let mut segs = Vec::new();
    let mut rest = &s[at..];
    loop {
        let n = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if n == 0 {
            break;
        }
        segs.push(rest[..n].to_owned());
        rest = &rest[n..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    segs
}

/// The deepest module of `files` that `path` (from the crate root) lies in.
fn resolve(files: &BTreeMap<Module, PathBuf>, path: &[String]) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| files.contains_key(m))
}

/// The modules each file of `src` names.
pub fn edges(src: &Path) -> io::Result<BTreeMap<PathBuf, BTreeSet<PathBuf>>> {
    let files = modules(src)?;
    let mut out = BTreeMap::new();
    for (module, file) in &files {
        let text = code(&std::fs::read_to_string(file)?);
        let children: Vec<&str> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';')
            })
            .collect();
        let mut targets = BTreeSet::new();
        let mut add = |path: Vec<String>, top: bool| {
            let Some(first) = path.first() else { return };
            let full: Option<Vec<String>> = match first.as_str() {
                "crate" => Some(path[1..].to_vec()),
                "super" if top && !module.is_empty() => {
                    let mut m = module[..module.len() - 1].to_vec();
                    m.extend(path[1..].iter().cloned());
                    Some(m)
                }
                "self" => {
                    let mut m = module.clone();
                    m.extend(path[1..].iter().cloned());
                    Some(m)
                }
                c if children.contains(&c) => {
                    let mut m = module.clone();
                    m.extend(path.iter().cloned());
                    Some(m)
                }
                _ => None,
            };
            if let Some(target) = full.and_then(|p| resolve(&files, &p))
                && target != *module
            {
                targets.insert(files[&target].clone());
            }
        };
        for (i, _) in text.match_indices("::") {
            // The first segment of the path this `::` belongs to.
            let start = text[..i].rfind(|c: char| !is_ident(c)).map_or(0, |j| j + 1);
            if start == i || text[..start].ends_with("::") {
                continue;
            }
            let line_start = text[..start].rfind('\n').map_or(0, |j| j + 1);
            let top = !text[line_start..].starts_with(char::is_whitespace);
            let path = path_at(&text, start);
            let after = start + path.iter().map(|s| s.len() + 2).sum::<usize>();
            if text[..after.min(text.len())].ends_with("::") && text[after..].starts_with('{') {
                // `crate::{a::X, b::Y}`: each item is a path of its own.
                let body = &text[after + 1..];
                let mut depth = 0usize;
                let mut item = after + 1;
                for (j, c) in body.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            let mut p = path.clone();
                            p.extend(path_at(
                                &text,
                                item + text[item..].len() - text[item..].trim_start().len(),
                            ));
                            add(p, top);
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            let mut p = path.clone();
                            p.extend(path_at(
                                &text,
                                item + text[item..].len() - text[item..].trim_start().len(),
                            ));
                            add(p, top);
                            item = after + 1 + j + 1;
                        }
                        _ => {}
                    }
                }
            } else {
                add(path, top);
            }
        }
        out.insert(file.clone(), targets);
    }
    Ok(out)
}

/// The pairs of files of `src` that name each other, each pair once.
pub fn mutual_imports(src: &Path) -> io::Result<Vec<(PathBuf, PathBuf)>> {
    let edges = edges(src)?;
    let mut out = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    Ok(out)
}

/// Fails, naming them, when two files of the crate at `manifest_dir` (its
/// `CARGO_MANIFEST_DIR`) import each other: the check each crate's test
/// makes with `assert_none(env!("CARGO_MANIFEST_DIR"))`.
pub fn assert_none(manifest_dir: &str) {
    let src = Path::new(manifest_dir).join("src");
    let cycles = mutual_imports(&src)
        .unwrap_or_else(|e| panic!("{}: the source does not read: {e}", src.display()));
    assert!(
        cycles.is_empty(),
        "files that import each other: {cycles:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "testkit-imports-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_two_cycle_is_found_through_crate_super_and_child_paths() {
        let dir = tree(&[
            ("lib.rs", "mod a;\nmod b;\nmod s;\n"),
            (
                "a.rs",
                "use crate::{\n    b::X,\n    s,\n};\n// crate::s is a comment\n",
            ),
            ("b.rs", "fn f() { crate::a::g(\"//\"); }\n"),
            ("s/mod.rs", "mod c;\npub use c::Y;\n"),
            (
                "s/c.rs",
                "use super::Z;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
            ),
        ]);
        let cycles = mutual_imports(&dir).unwrap();
        let names: Vec<(String, String)> = cycles
            .iter()
            .map(|(a, b)| {
                let rel = |p: &PathBuf| p.strip_prefix(&dir).unwrap().display().to_string();
                (rel(a), rel(b))
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a.rs".to_owned(), "b.rs".to_owned()),
                ("s/c.rs".to_owned(), "s/mod.rs".to_owned())
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn one_way_imports_and_comments_are_no_cycle() {
        let dir = tree(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::X;\n"),
            ("b.rs", "//! see [`crate::a`]\nfn f() {}\n"),
        ]);
        assert_eq!(mutual_imports(&dir).unwrap(), []);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
