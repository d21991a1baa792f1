//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! A [`Diagnostic`] points at a [`Span`] with a message, a label (printed
//! under the caret) and an optional help line; it may carry [`Related`]
//! labels, in the same file or in others (a counterexample points at a plan
//! step and at a spec rule). [`Diagnostics`] is the error type of every
//! `parse_*`/`load_*` function: one or more diagnostics plus the source texts
//! they point into, so rendering needs nothing else. Rendering with source
//! snippets and carets lives in `crate::render` (feature `render`, which
//! pulls in `miette`); without it, `Display` prints one `file:line:col:
//! error: message` line per diagnostic.

use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The input is refused: [`Diagnostics::into_result`] fails.
    Error,
    /// Reported, but the input is accepted.
    Warning,
    /// A note that explains another diagnostic (the renderer's related
    /// places in other files).
    Advice,
}

impl Severity {
    /// `error`, `warning` or `advice`, as printed before the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "advice",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary label: another place that explains the diagnostic (the spec
/// rule a plan step breaks, the first definition of a duplicate name). It may
/// be in another file than the diagnostic's own span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// The other place.
    pub span: Span,
    /// Printed under its caret: "first one here".
    pub label: String,
}

/// One message about one place in a source file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{span}: {severity}: {message}")]
pub struct Diagnostic {
    /// Whether it refuses the input.
    pub severity: Severity,
    /// The headline: "unknown name `amout`".
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// Printed under the caret: "not a param or `let` of this plan".
    pub label: String,
    /// How to fix it: "did you mean `amount`?".
    pub help: Option<String>,
    /// Other places worth showing, possibly in other files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// An error at `span`; the label defaults to empty (miette then puts the
    /// caret without text).
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// The same diagnostic, with `label` under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// The same diagnostic, with a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// The same diagnostic, with one more related place.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    /// Whether its severity is [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Source texts by file name, as spans name them. Rendering looks up each
/// span's file here to print the line with a caret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    files: BTreeMap<Arc<str>, Arc<str>>,
}

impl SourceMap {
    /// A map with no file.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds (or replaces) the text of `file`.
    pub fn insert(&mut self, file: impl Into<Arc<str>>, text: impl Into<Arc<str>>) {
        self.files.insert(file.into(), text.into());
    }

    /// The text of `file`, if it was added.
    pub fn get(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(|t| &**t)
    }

    /// Every (file, text), in file-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(f, t)| (&**f, &**t))
    }

    /// Adds every file of `other` (its texts win on a clash).
    pub fn extend(&mut self, other: &SourceMap) {
        for (f, t) in &other.files {
            self.files.insert(f.clone(), t.clone());
        }
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The error of parsing or loading: one or more [`Diagnostic`]s (at least one
/// of them an error) and the texts they point into.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The diagnostics, in the order reported (see [`Diagnostics::sort`]).
    pub diagnostics: Vec<Diagnostic>,
    /// The texts of the files their spans (and related spans) name.
    pub sources: SourceMap,
}

impl Diagnostics {
    /// No diagnostic and no source.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Diagnostics about one source text.
    pub fn single(diag: Diagnostic, file: &str, text: &str) -> Diagnostics {
        let mut d = Diagnostics::new();
        d.sources.insert(file, text);
        d.push(diag);
        d
    }

    /// Adds a diagnostic (its file's text must be in
    /// [`Diagnostics::sources`] for it to render with a snippet).
    pub fn push(&mut self, diag: Diagnostic) {
        self.diagnostics.push(diag);
    }

    /// Adds the diagnostics and sources of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.diagnostics.extend(other.diagnostics);
        self.sources.extend(&other.sources);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The number of diagnostics.
    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    /// Whether there is no diagnostic.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The diagnostics, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.diagnostics.iter()
    }

    /// Sorts by file, then position, keeping the order of diagnostics at the
    /// same place; drops exact duplicates.
    pub fn sort(&mut self) {
        self.diagnostics
            .sort_by(|a, b| (&*a.span.file, a.span.start).cmp(&(&*b.span.file, b.span.start)));
        self.diagnostics.dedup_by(|a, b| {
            a.message == b.message && a.span.start == b.span.start && a.span.file == b.span.file
        });
    }

    /// `Ok(value)` when no diagnostic is an error, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(value)
        }
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.diagnostics.iter()
    }
}

impl fmt::Display for Diagnostics {
    /// One line per diagnostic: `file:line:col: error: message`, then the
    /// help, if any, indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
            if let Some(help) = &d.help {
                write!(f, "\n  help: {help}")?;
            }
        }
        Ok(())
    }
}

/// Edit distance counting a swap of two neighbours as one edit (optimal
/// string alignment), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The closest of `candidates` to `name`, if close enough to be a typo: the
/// "did you mean" of a diagnostic (an unknown name, a misspelt keyword).
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_typos_only() {
        assert_eq!(suggest("amout", ["amount", "payee"]), Some("amount"));
        assert_eq!(suggest("pth", ["path", "port"]), Some("path"));
        assert_eq!(suggest("zzzzzz", ["amount"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("raed", "read"), 1);
        assert_eq!(suggest("raed", ["read", "write"]), Some("read"));
    }
}
