//! Source text checks that run before the grammar: size, nesting depth,
//! unterminated strings and comments, and the line index that turns byte
//! offsets into line and column.

// A diagnostic is built once per file, on the error path; its size does not matter.
#![allow(clippy::result_large_err)]

use crate::diag::Diagnostic;
use crate::span::Span;
use std::sync::Arc;

/// The largest source text planlang reads (4 MiB). Plans and specs are
/// written by people or generated per task; anything larger is refused with a
/// clear error instead of being parsed slowly.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;

/// The deepest nesting of `{ ( [` planlang accepts. The grammar recurses
/// once per level, so this bounds the parser's stack use.
pub const MAX_NESTING: usize = 128;

/// Byte offsets to (line, column): lines count from 1, columns count
/// characters from 1.
pub(crate) struct LineIndex {
    file: Arc<str>,
    /// Byte offset of the first character of each line.
    starts: Vec<u32>,
    /// Whether each line is pure ASCII (then column = byte distance + 1).
    ascii: Vec<bool>,
}

impl LineIndex {
    pub(crate) fn new(file: &str, text: &str) -> LineIndex {
        let mut starts = vec![0u32];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                ascii.push(line_ascii);
                line_ascii = true;
                starts.push((i + 1) as u32);
            } else if b >= 0x80 {
                line_ascii = false;
            }
        }
        ascii.push(line_ascii);
        LineIndex {
            file: Arc::from(file),
            starts,
            ascii,
        }
    }

    /// The span of bytes `start..end` of `text` (the text this index was
    /// built from).
    pub(crate) fn span(&self, text: &str, start: usize, end: usize) -> Span {
        let start = start.min(text.len());
        let end = end.clamp(start, text.len());
        let line = self.starts.partition_point(|&s| s as usize <= start) - 1;
        let ls = self.starts[line] as usize;
        let col = if self.ascii[line] {
            start - ls
        } else {
            // `start` is a char boundary for every span the parser makes.
            text.get(ls..start)
                .map_or(start - ls, |s| s.chars().count())
        };
        Span {
            file: self.file.clone(),
            start: start as u32,
            end: end as u32,
            line: (line + 1) as u32,
            col: (col + 1) as u32,
        }
    }
}

/// Checks what the grammar cannot check cheaply or safely: the size, that the
/// text is not empty, that strings and block comments end, and that brackets
/// do not nest deeper than [`MAX_NESTING`]. Returns the deepest nesting
/// found, or the first problem.
pub(crate) fn precheck(text: &str, index: &LineIndex, what: &str) -> Result<usize, Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            index.span(text, 0, 0),
            format!(
                "this {what} is too large: {} bytes (the limit is {} bytes)",
                text.len(),
                MAX_SOURCE_BYTES
            ),
        )
        .with_label("the file starts here")
        .with_help(format!("split it into smaller {what}s")));
    }
    if text
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .is_empty()
    {
        let example = if what == "plan" {
            "plan \"NAME\" { ... }"
        } else {
            "spec \"NAME\" { ... }"
        };
        return Err(Diagnostic::error(
            index.span(text, 0, 0),
            format!("empty {what}: the file has no text"),
        )
        .with_label(format!("expected `{what}` here"))
        .with_help(format!("a {what} file holds one `{example}`")));
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<usize> = Vec::new();
    let mut deepest = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let open = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => {
                            return Err(Diagnostic::error(
                                index.span(text, open, open + 1),
                                "unterminated string",
                            )
                            .with_label("this string has no closing `\"`")
                            .with_help(
                                "strings end on the line they start; write `\\n` for a line break",
                            ));
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let open = i;
                match text[i + 2..].find("*/") {
                    Some(k) => i = i + 2 + k + 1,
                    None => {
                        return Err(Diagnostic::error(
                            index.span(text, open, open + 2),
                            "unterminated comment",
                        )
                        .with_label("this comment has no closing `*/`")
                        .with_help("close it with `*/`"));
                    }
                }
            }
            b'{' | b'(' | b'[' => {
                stack.push(i);
                deepest = deepest.max(stack.len());
                if stack.len() > MAX_NESTING {
                    return Err(Diagnostic::error(
                        index.span(text, i, i + 1),
                        format!("nesting too deep: more than {MAX_NESTING} levels of brackets"),
                    )
                    .with_label("this bracket is too deep")
                    .with_help(
                        "flatten the plan or spec: split nested `either`s, conditions or lists",
                    ));
                }
            }
            b'}' | b')' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let text = "ab\n\u{e9}\u{e9}x\n";
        let ix = LineIndex::new("f", text);
        let s = ix.span(text, 3 + 4, 3 + 5);
        assert_eq!((s.line, s.col), (2, 3));
        let s = ix.span(text, 1, 2);
        assert_eq!((s.line, s.col), (1, 2));
        let s = ix.span(text, text.len(), text.len());
        assert_eq!((s.line, s.col), (3, 1));
    }

    #[test]
    fn precheck_finds_each_problem() {
        let check = |t: &str| precheck(t, &LineIndex::new("f", t), "plan");
        assert!(check("plan { }").is_ok());
        let e = check("  \n ").unwrap_err();
        assert!(e.message.contains("empty plan"), "{}", e.message);
        let e = check("plan {\n read \"abc\n}").unwrap_err();
        assert_eq!(e.message, "unterminated string");
        assert_eq!((e.span.line, e.span.col), (2, 7));
        let e = check("plan { /* x ").unwrap_err();
        assert_eq!(e.message, "unterminated comment");
        assert_eq!((e.span.line, e.span.col), (1, 8));
        // Brackets inside strings and comments do not count.
        assert_eq!(
            check(&format!(
                "plan {{ read \"{}\" }} // {}",
                "{".repeat(500),
                "(".repeat(500)
            ))
            .ok(),
            Some(1)
        );
        let deep = "[".repeat(MAX_NESTING + 1);
        let e = check(&deep).unwrap_err();
        assert!(e.message.starts_with("nesting too deep"));
        assert_eq!(e.span.col as usize, MAX_NESTING + 1);
    }
}
