//! Where a piece of syntax came from: file, byte range, line and column.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A region of one source file. Lines and columns count from 1; columns count
/// characters (not bytes), as editors do.
///
/// Spans never take part in equality or hashing: two syntax trees are equal
/// when they say the same thing, wherever they were written. This is what
/// makes `parse(fmt(ast)) == ast` a meaningful property.
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct Span {
    /// The file as the user named it (or `<input>` for text without a file).
    pub file: Arc<str>,
    /// Byte offset of the first character.
    pub start: u32,
    /// Byte offset one past the last character.
    pub end: u32,
    /// Line of the first character, from 1 (0 for a synthetic span).
    pub line: u32,
    /// Column of the first character, in characters from 1.
    pub col: u32,
}

impl Span {
    /// A span that points nowhere: for syntax built by programs (tests, the
    /// verifier's generated steps) rather than parsed from a file.
    pub fn synthetic() -> Span {
        Span {
            file: Arc::from("<generated>"),
            start: 0,
            end: 0,
            line: 0,
            col: 0,
        }
    }

    /// Whether the span points nowhere: its line is 0, as in a
    /// [`Span::synthetic`] one.
    pub fn is_synthetic(&self) -> bool {
        self.line == 0
    }

    /// The smallest span covering both (same file assumed).
    pub fn to(&self, other: &Span) -> Span {
        let (first, last) = if self.start <= other.start {
            (self, other)
        } else {
            (other, self)
        };
        Span {
            file: first.file.clone(),
            start: first.start,
            end: last.end.max(first.end),
            line: first.line,
            col: first.col,
        }
    }

    /// The number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// Whether no byte is covered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}
impl Hash for Span {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written (not part of equality).
    pub span: Span,
}

impl<T> Spanned<T> {
    /// `node`, written at `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
    /// `node` with a [`Span::synthetic`] span: built by a program, not
    /// parsed.
    pub fn synthetic(node: T) -> Self {
        Spanned {
            node,
            span: Span::synthetic(),
        }
    }
}

/// A name as written: a param, a `let`, a field, a call argument.
pub type Ident = Spanned<String>;
