//! Loading: parse, follow `include`s, resolve names, check types.
//!
//! A loaded tree has no [`RefKind::Unresolved`] left. Constants are scoped to
//! their file: a rule sees the `let`s of the file it is written in, never
//! those of a file that includes it or that it includes.

use crate::ast::*;
use crate::diag::{Diagnostic, Diagnostics, SourceMap};
use crate::parse::{MAX_SOURCE_BYTES, parse_plan_partial, parse_spec_partial, source::LineIndex};
use crate::resolve;
use crate::span::{Span, Spanned};
use crate::value::Duration;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The deepest chain of `include`s followed (a longer one is almost surely a
/// generated loop through different file names).
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Reads a source file: it must exist, be at most
/// [`MAX_SOURCE_BYTES`](crate::MAX_SOURCE_BYTES) long and be UTF-8. The
/// error names the file (and, for bad UTF-8, the line and column).
pub fn read_source(path: &Path) -> Result<String, Diagnostics> {
    let file = path.display().to_string();
    let at_start = || Span {
        file: file.as_str().into(),
        start: 0,
        end: 0,
        line: 1,
        col: 1,
    };
    let fail = |d: Diagnostic| {
        let mut ds = Diagnostics::new();
        ds.sources.insert(file.as_str(), "");
        ds.push(d);
        ds
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(
            Diagnostic::error(at_start(), format!("cannot read `{file}`: {e}"))
                .with_label("this file"),
        )
    })?;
    if meta.is_dir() {
        return Err(fail(
            Diagnostic::error(at_start(), format!("`{file}` is a directory, not a file"))
                .with_label("this path"),
        ));
    }
    if meta.len() > MAX_SOURCE_BYTES as u64 {
        return Err(fail(
            Diagnostic::error(
                at_start(),
                format!(
                    "`{file}` is too large: {} bytes (the limit is {MAX_SOURCE_BYTES} bytes)",
                    meta.len()
                ),
            )
            .with_label("this file"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        fail(
            Diagnostic::error(at_start(), format!("cannot read `{file}`: {e}"))
                .with_label("this file"),
        )
    })?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            // The valid prefix gives the line and column of the bad byte.
            let prefix = String::from_utf8_lossy(&bytes[..bad]).into_owned();
            let index = LineIndex::new(&file, &prefix);
            let span = index.span(&prefix, bad, bad);
            let mut ds = Diagnostics::new();
            ds.sources.insert(file.as_str(), prefix.as_str());
            ds.push(
                Diagnostic::error(span, format!("`{file}` is not UTF-8 text"))
                    .with_label(format!("invalid byte 0x{:02x} here", bytes[bad]))
                    .with_help("plans and specs are UTF-8 text files"),
            );
            Err(ds)
        }
    }
}

/// Parses, resolves and type-checks a plan file.
pub fn load_plan(path: &Path) -> Result<Plan, Diagnostics> {
    let text = read_source(path)?;
    load_plan_str(&text, &path.display().to_string())
}

/// Parses, resolves and type-checks a plan given as text; `file` names it in
/// spans.
pub fn load_plan_str(src: &str, file: &str) -> Result<Plan, Diagnostics> {
    let (mut plan, mut diags) = parse_plan_partial(src, file)?;
    let mut more = Vec::new();
    resolve::resolve_plan(&mut plan, &mut more);
    merge_checks(&mut diags, more);
    let mut ds = Diagnostics::new();
    ds.sources.insert(file, src);
    for d in diags {
        ds.push(d);
    }
    ds.sort();
    ds.into_result(plan)
}

/// Adds the name and type errors, except those about a literal that
/// already has an error (its placeholder value would only confuse).
fn merge_checks(literal_errors: &mut Vec<Diagnostic>, checks: Vec<Diagnostic>) {
    let bad: Vec<(std::sync::Arc<str>, u32, u32)> = literal_errors
        .iter()
        .map(|d| {
            (
                d.span.file.clone(),
                d.span.start,
                d.span.end.max(d.span.start + 1),
            )
        })
        .collect();
    literal_errors.extend(checks.into_iter().filter(|d| {
        !bad.iter().any(|(f, s, e)| {
            *f == d.span.file && d.span.start < *e && *s < d.span.end.max(d.span.start + 1)
        })
    }));
}

/// A spec with everything it includes, resolved and type-checked.
///
/// `root` is the spec that was loaded; `includes` holds every spec reached
/// through `include` (each file once, depth-first in the order written).
/// Constants are per file; [`LoadedSpec::constant`] looks one up with every
/// constant it mentions already substituted, and
/// [`LoadedSpec::substituted_rules`] gives rules whose conditions hold no
/// constant names at all. [`LoadedSpec::rules`] gives the rules as written
/// (their constant [`Ref`]s resolved to [`RefKind::Const`]).
#[derive(Clone, Debug)]
pub struct LoadedSpec {
    /// The spec that was loaded.
    pub root: Spec,
    /// Every spec reached through `include`, each file once, depth-first
    /// in the order written.
    pub includes: Vec<Spec>,
    /// The text of every file, for rendering diagnostics.
    pub sources: SourceMap,
    /// Constants by (file, name), substituted.
    constants: HashMap<(String, String), Spanned<ValueExpr>>,
}

impl LoadedSpec {
    /// The root spec, then every included one.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        std::iter::once(&self.root).chain(self.includes.iter())
    }

    /// Every rule of the root and its includes, as written. A rule's file is
    /// `rule.span.file`; look its constants up with [`LoadedSpec::constant`].
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.specs().flat_map(|s| s.rules())
    }

    /// Every rule with each constant replaced by its value (the replacement
    /// keeps the span of the name it replaces).
    pub fn substituted_rules(&self) -> Vec<Rule> {
        self.rules()
            .map(|r| {
                let mut r = r.clone();
                let file = r.span.file.to_string();
                self.substitute_rule(&mut r, &file);
                r
            })
            .collect()
    }

    /// Every baseline block of the root and its includes.
    pub fn baselines(&self) -> impl Iterator<Item = &Baseline> {
        self.specs().flat_map(|s| s.baselines())
    }

    /// Every `test` block of the root and its includes.
    pub fn tests(&self) -> impl Iterator<Item = &TestCase> {
        self.specs().flat_map(|s| s.tests())
    }

    /// The strictest `max ttl` of the root and its includes (the smallest),
    /// if any spec sets one.
    pub fn max_ttl(&self) -> Option<&Spanned<Duration>> {
        self.specs()
            .filter_map(|s| s.max_ttl())
            .min_by_key(|t| t.node)
    }

    /// The value of the constant `name` defined in `file` (as spans name
    /// files), with every constant it mentions substituted.
    pub fn constant(&self, file: &str, name: &str) -> Option<&Spanned<ValueExpr>> {
        self.constants.get(&(file.to_string(), name.to_string()))
    }

    /// Replaces every constant in `v` (written in `file`) by its value.
    pub fn substitute_value(&self, v: &mut Spanned<ValueExpr>, file: &str) {
        match &mut v.node {
            ValueExpr::Literal { .. } => {}
            ValueExpr::List { items } => {
                for it in items {
                    self.substitute_value(it, file);
                }
            }
            ValueExpr::Ref(r) => {
                if r.resolved != RefKind::Const {
                    return;
                }
                if let Some(c) = self.constant(file, &r.name.node) {
                    let mut value = c.node.clone();
                    if let (Some(i), ValueExpr::List { items }) = (&r.index, &value)
                        && let Some(item) = items.get(i.node as usize)
                    {
                        value = item.node.clone();
                    }
                    v.node = value;
                }
            }
        }
    }

    fn substitute_cond(&self, c: &mut Spanned<CondExpr>, file: &str) {
        match &mut c.node {
            CondExpr::And { all: cs } | CondExpr::Or { any: cs } => {
                for c in cs {
                    self.substitute_cond(c, file);
                }
            }
            CondExpr::Not { cond } => self.substitute_cond(cond, file),
            CondExpr::Compare { lhs, rhs, .. } => {
                self.substitute_value(lhs, file);
                self.substitute_value(rhs, file);
            }
            CondExpr::FromCall { value, .. } | CondExpr::Value { value } => {
                self.substitute_value(value, file)
            }
            CondExpr::Has { .. } => {}
        }
    }

    fn substitute_pattern(&self, p: &mut PatternExpr, file: &str) {
        if let PatternKind::Path {
            target: Some(PathTargetExpr::Exact { path } | PathTargetExpr::Under { path }),
            ..
        } = &mut p.matcher
        {
            self.substitute_value(path, file);
        }
        if let Some(c) = &mut p.condition {
            self.substitute_cond(c, file);
        }
    }

    fn substitute_rule(&self, r: &mut Rule, file: &str) {
        match &mut r.kind {
            RuleKind::Effect { pattern, .. }
            | RuleKind::AtMost { pattern, .. }
            | RuleKind::ApproveEach { pattern } => self.substitute_pattern(pattern, file),
            RuleKind::Never {
                action: a,
                after: b,
            }
            | RuleKind::Require { first: a, then: b } => {
                self.substitute_pattern(a, file);
                self.substitute_pattern(b, file);
            }
        }
    }
}

/// Loads a spec file and everything it includes.
pub fn load_spec(path: &Path) -> Result<LoadedSpec, Diagnostics> {
    let text = read_source(path)?;
    load_spec_str(&text, &path.display().to_string())
}

/// Loads a spec given as text. `include`s are read relative to the directory
/// of `file` (the current directory when it has none).
pub fn load_spec_str(src: &str, file: &str) -> Result<LoadedSpec, Diagnostics> {
    let mut loader = Loader {
        sources: SourceMap::new(),
        diags: Vec::new(),
        done: BTreeMap::new(),
        specs: Vec::new(),
    };
    loader.sources.insert(file, src);
    let (root, literal_errors) = parse_spec_partial(src, file)?;
    let mut stack = vec![canonical(Path::new(file))];
    let root = loader.resolve_and_follow(root, literal_errors, Path::new(file), &mut stack);
    let mut ds = Diagnostics::new();
    ds.sources = loader.sources.clone();
    for d in loader.diags {
        ds.push(d);
    }
    ds.sort();
    if ds.has_errors() {
        return Err(ds);
    }
    let mut loaded = LoadedSpec {
        root,
        includes: loader.specs,
        sources: loader.sources,
        constants: HashMap::new(),
    };
    // Constants in file order, so one that uses an earlier one finds it
    // already substituted.
    let mut constants = HashMap::new();
    let lets: Vec<(String, LetConst)> = loaded
        .specs()
        .flat_map(|s| s.lets().map(move |l| (s.span.file.to_string(), l.clone())))
        .collect();
    for (file, l) in lets {
        let mut v = l.value.clone();
        loaded.substitute_value(&mut v, &file);
        constants.insert((file.clone(), l.name.node.clone()), v.clone());
        loaded.constants = constants.clone();
    }
    loaded.constants = constants;
    Ok(loaded)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Loader {
    sources: SourceMap,
    diags: Vec<Diagnostic>,
    /// Files already loaded (canonical path), so a diamond loads once.
    done: BTreeMap<PathBuf, ()>,
    specs: Vec<Spec>,
}

impl Loader {
    /// Resolves `spec` (read from `path`) and loads its includes, depth
    /// first. `stack` holds the canonical paths of the include chain.
    fn resolve_and_follow(
        &mut self,
        mut spec: Spec,
        mut literal_errors: Vec<Diagnostic>,
        path: &Path,
        stack: &mut Vec<PathBuf>,
    ) -> Spec {
        let mut checks = Vec::new();
        resolve::resolve_spec(&mut spec, &mut checks);
        merge_checks(&mut literal_errors, checks);
        self.diags.extend(literal_errors);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let includes: Vec<Spanned<String>> = spec.includes().cloned().collect();
        for inc in includes {
            let target = dir.join(&inc.node);
            let canon = canonical(&target);
            if let Some(pos) = stack.iter().position(|p| *p == canon) {
                let chain: Vec<String> = stack[pos..]
                    .iter()
                    .chain(std::iter::once(&canon))
                    .map(|p| {
                        p.file_name().map_or_else(
                            || p.display().to_string(),
                            |n| n.to_string_lossy().into_owned(),
                        )
                    })
                    .collect();
                self.diags.push(
                    Diagnostic::error(
                        inc.span.clone(),
                        format!("`include` cycle: {}", chain.join(" -> ")),
                    )
                    .with_label("this include leads back to a file that includes it")
                    .with_help("remove one of the includes in the cycle"),
                );
                continue;
            }
            if self.done.contains_key(&canon) {
                continue;
            }
            if stack.len() >= MAX_INCLUDE_DEPTH {
                self.diags.push(
                    Diagnostic::error(
                        inc.span.clone(),
                        format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
                    )
                    .with_label("this include is too deep"),
                );
                continue;
            }
            let name = target.display().to_string();
            let text = match read_source(&target) {
                Ok(t) => t,
                Err(e) => {
                    let why = e
                        .diagnostics
                        .first()
                        .map(|d| d.message.clone())
                        .unwrap_or_default();
                    self.diags.push(
                        Diagnostic::error(
                            inc.span.clone(),
                            format!("cannot include `{}`", inc.node),
                        )
                        .with_label(why)
                        .with_help("`include` paths are relative to the including spec"),
                    );
                    continue;
                }
            };
            self.sources.insert(name.as_str(), text.as_str());
            self.done.insert(canon.clone(), ());
            match parse_spec_partial(&text, &name) {
                Ok((inner, errors)) => {
                    // Depth-first, in the order written: an include comes
                    // before the files it includes.
                    let at = self.specs.len();
                    stack.push(canon);
                    let inner = self.resolve_and_follow(inner, errors, &target, stack);
                    stack.pop();
                    self.specs.insert(at, inner);
                }
                Err(e) => {
                    self.sources.extend(&e.sources);
                    self.diags.extend(e.diagnostics);
                }
            }
        }
        spec
    }
}

/// Which language a file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A plan (`.plan`, or text that starts with `plan`).
    Plan,
    /// A spec (`.spec`, or text that starts with `spec`).
    Spec,
}

impl FileKind {
    /// By extension (`.plan`, `.spec`), else by the first word of the text
    /// after comments (`plan` or `spec`). `None` when neither tells.
    pub fn detect(path: &Path, text: &str) -> Option<FileKind> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("plan") => return Some(FileKind::Plan),
            Some("spec") => return Some(FileKind::Spec),
            _ => {}
        }
        let mut rest = text.trim_start_matches('\u{feff}');
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("//") {
                rest = r.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(r) = rest.strip_prefix("/*") {
                rest = r.split_once("*/").map_or("", |(_, after)| after);
            } else {
                break;
            }
        }
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        match word.as_str() {
            "plan" => Some(FileKind::Plan),
            "spec" => Some(FileKind::Spec),
            _ => None,
        }
    }

    /// `plan` or `spec`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Plan => "plan",
            FileKind::Spec => "spec",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds() {
        let p = Path::new;
        assert_eq!(FileKind::detect(p("a.plan"), ""), Some(FileKind::Plan));
        assert_eq!(FileKind::detect(p("a.spec"), ""), Some(FileKind::Spec));
        assert_eq!(
            FileKind::detect(p("a.txt"), "// c\n/* d */ spec \"x\" {}"),
            Some(FileKind::Spec)
        );
        assert_eq!(FileKind::detect(p("a"), "  plan {}"), Some(FileKind::Plan));
        assert_eq!(FileKind::detect(p("a"), "hello"), None);
    }
}
