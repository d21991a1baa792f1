//! Rendering [`Diagnostics`] for people: the file, line and column, the
//! source line with a caret under the problem, the label, and the help, as a
//! compiler prints them (through `miette`'s graphical handler).
//!
//! Labels in other files (a counterexample that points at a plan step and at
//! a spec rule) are rendered as related reports with their own snippet, so
//! one call renders a diagnostic that spans several files:
//!
//! ```
//! # use planlang::{Diagnostic, Diagnostics, render};
//! let err = planlang::load_plan_str("plan { read nope }", "p.plan").unwrap_err();
//! let text = render::render(&err, false);
//! assert!(text.contains("unknown name `nope`"));
//! assert!(text.contains("p.plan:1:13"));
//! ```

use crate::diag::{Diagnostic, Diagnostics, Severity, SourceMap};
use crate::span::Span;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::fmt;

/// Renders every diagnostic with its source snippet; `color` adds ANSI
/// colors (for a terminal). Diagnostics are separated by a blank line.
pub fn render(diags: &Diagnostics, color: bool) -> String {
    render_with(diags.iter(), &diags.sources, color)
}

/// Renders diagnostics whose spans point into `sources` (which may hold
/// more files than the diagnostics name).
pub fn render_with<'a>(
    diags: impl IntoIterator<Item = &'a Diagnostic>,
    sources: &SourceMap,
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let mut out = String::new();
    for (i, d) in diags.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let report = Report::new(d, sources);
        // Writing into a String cannot fail; a formatting error from the
        // handler would only lose this diagnostic's snippet.
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&d.to_string());
            out.push('\n');
        }
    }
    out
}

/// One diagnostic (or one related label in another file) as miette sees it.
struct Report {
    severity: Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &SourceMap) -> Report {
        let text = source_of(&d.span, sources);
        let mut labels = Vec::new();
        if let Some(t) = text {
            labels.push(label(&d.span, &d.label, t, true));
        }
        let mut related = Vec::new();
        for r in &d.related {
            if r.span.file == d.span.file && text.is_some() {
                if let Some(t) = text {
                    labels.push(label(&r.span, &r.label, t, false));
                }
            } else {
                let rtext = source_of(&r.span, sources);
                related.push(Report {
                    severity: Severity::Advice,
                    message: format!("{}: {}", r.span, r.label),
                    help: None,
                    source: rtext.map(|t| named(&r.span, t)),
                    labels: rtext
                        .map(|t| vec![label(&r.span, &r.label, t, true)])
                        .unwrap_or_default(),
                    related: Vec::new(),
                });
            }
        }
        let message = if text.is_none() && !d.span.is_synthetic() {
            // No snippet to show: say where in the message itself.
            format!("{}: {}", d.span, d.message)
        } else {
            d.message.clone()
        };
        Report {
            severity: d.severity,
            message,
            help: d.help.clone(),
            source: text.map(|t| named(&d.span, t)),
            labels,
            related,
        }
    }
}

fn source_of<'s>(span: &Span, sources: &'s SourceMap) -> Option<&'s str> {
    if span.is_synthetic() {
        return None;
    }
    sources.get(&span.file).filter(|t| !t.is_empty())
}

fn named(span: &Span, text: &str) -> NamedSource<String> {
    NamedSource::new(&*span.file, text.to_string())
}

/// A label at `span`, clamped to the text and to character boundaries.
fn label(span: &Span, text: &str, source: &str, primary: bool) -> LabeledSpan {
    let mut start = (span.start as usize).min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (span.end as usize).clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    let text = (!text.is_empty()).then(|| text.to_string());
    if primary {
        LabeledSpan::new_primary_with_span(text, (start, end - start))
    } else {
        LabeledSpan::new_with_span(text, (start, end - start))
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_caret_under_the_problem() {
        let err = crate::load_plan_str("plan \"p\" {\n  read amout\n}\n", "p.plan").unwrap_err();
        let text = render(&err, false);
        assert!(text.contains("unknown name `amout`"), "{text}");
        assert!(text.contains("[p.plan:2:8]"), "{text}");
        assert!(text.contains("  read amout"), "{text}");
        assert!(text.contains("┬"), "{text}");
    }

    #[test]
    fn renders_labels_in_two_files() {
        let mut sources = SourceMap::new();
        sources.insert("a.plan", "plan {\n  read \"/etc/shadow\"\n}\n");
        sources.insert("b.spec", "spec \"s\" {\n  deny read under \"/etc/\"\n}\n");
        let plan_span = Span {
            file: "a.plan".into(),
            start: 9,
            end: 27,
            line: 2,
            col: 3,
        };
        let rule_span = Span {
            file: "b.spec".into(),
            start: 13,
            end: 35,
            line: 2,
            col: 3,
        };
        let d = Diagnostic::error(plan_span, "step denied")
            .with_label("this step")
            .with_related(rule_span, "by this rule");
        let text = render_with([&d], &sources, false);
        assert!(text.contains("[a.plan:2:3]"), "{text}");
        assert!(text.contains("[b.spec:2:3]"), "{text}");
        assert!(text.contains("deny read under"), "{text}");
        assert!(text.contains("by this rule"), "{text}");
    }

    #[test]
    fn a_diagnostic_without_source_names_its_place() {
        let d = Diagnostic::error(
            Span {
                file: "gone.plan".into(),
                start: 5,
                end: 6,
                line: 3,
                col: 4,
            },
            "lost",
        );
        let text = render_with([&d], &SourceMap::new(), false);
        assert!(text.contains("gone.plan:3:4: lost"), "{text}");
    }
}
