//! Syntax highlighting of plan text, on the server: the text is split into
//! tokens, and each token becomes the text of a `<span class=…>` that the
//! template engine escapes like any other string. No HTML is ever built from
//! the plan's text, so a plan cannot smuggle markup through the highlighter.

/// What a token is (its CSS class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Keyword,
    Str,
    Number,
    Comment,
    Ident,
    Punct,
    Space,
}

impl Class {
    pub fn css(self) -> &'static str {
        match self {
            Class::Keyword => "kw",
            Class::Str => "st",
            Class::Number => "nu",
            Class::Comment => "co",
            Class::Ident => "id",
            Class::Punct => "pu",
            Class::Space => "sp",
        }
    }
}

/// The plan language's keywords (grammar/plan.pest).
const KEYWORDS: &[&str] = &[
    "after",
    "agent",
    "and",
    "any",
    "at",
    "before",
    "call",
    "connect",
    "contains",
    "delete",
    "either",
    "endswith",
    "exec",
    "expect",
    "false",
    "from",
    "goal",
    "has",
    "host",
    "in",
    "let",
    "listen",
    "matches",
    "max",
    "most",
    "not",
    "or",
    "param",
    "path",
    "plan",
    "read",
    "repeat",
    "startswith",
    "true",
    "ttl",
    "under",
    "when",
    "where",
    "write",
];

/// One line of highlighted text: its tokens, in order.
pub type Line = Vec<(Class, String)>;

/// Splits `src` into lines of tokens. Joining the tokens of every line with
/// newlines gives back `src` (less a final newline, and with `\r\n` as `\n`).
pub fn highlight(src: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut in_block_comment = false;
    for raw in src.lines() {
        let chars: Vec<char> = raw.chars().collect();
        let mut line: Line = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let start = i;
            let c = chars[i];
            let class = if in_block_comment {
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                if i < chars.len() {
                    i += 2;
                    in_block_comment = false;
                }
                Class::Comment
            } else if c == '/' && chars.get(i + 1) == Some(&'/') {
                i = chars.len();
                Class::Comment
            } else if c == '/' && chars.get(i + 1) == Some(&'*') {
                in_block_comment = true;
                i += 2;
                continue_block(&chars, &mut i, &mut in_block_comment);
                Class::Comment
            } else if c == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i = (i + 1).min(chars.len());
                Class::Str
            } else if c.is_ascii_digit() {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                Class::Number
            } else if c.is_alphabetic() || c == '_' {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if KEYWORDS.contains(&word.as_str()) {
                    Class::Keyword
                } else {
                    Class::Ident
                }
            } else if c.is_whitespace() {
                while i < chars.len() && chars[i].is_whitespace() {
                    i += 1;
                }
                Class::Space
            } else {
                i += 1;
                Class::Punct
            };
            let text: String = chars[start..i.min(chars.len())].iter().collect();
            match line.last_mut() {
                Some((last, t)) if *last == class && class != Class::Keyword => t.push_str(&text),
                _ => line.push((class, text)),
            }
        }
        out.push(line);
    }
    out
}

/// Moves past the rest of a block comment that started on this line.
fn continue_block(chars: &[char], i: &mut usize, open: &mut bool) {
    while *i < chars.len() {
        if chars[*i] == '*' && chars.get(*i + 1) == Some(&'/') {
            *i += 2;
            *open = false;
            return;
        }
        *i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(line: &Line) -> Vec<(&'static str, &str)> {
        line.iter().map(|(c, t)| (c.css(), t.as_str())).collect()
    }

    #[test]
    fn tokens_cover_the_text_and_are_classified() {
        let src = "plan \"p<b>\" { // note </span>\n  call send(amount = 10, to = \"a\\\"b\")\n}";
        let lines = highlight(src);
        let joined: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
            .collect();
        assert_eq!(joined.join("\n"), src);
        assert_eq!(
            classes(&lines[0]),
            [
                ("kw", "plan"),
                ("sp", " "),
                ("st", "\"p<b>\""),
                ("sp", " "),
                ("pu", "{"),
                ("sp", " "),
                ("co", "// note </span>")
            ]
        );
        assert!(classes(&lines[1]).contains(&("st", "\"a\\\"b\"")));
        assert!(classes(&lines[1]).contains(&("nu", "10")));
        assert!(classes(&lines[1]).contains(&("id", "send")));
    }

    #[test]
    fn block_comments_span_lines_and_strings_may_be_unterminated() {
        let lines = highlight("a /* x\ny */ b\n\"open");
        assert_eq!(
            classes(&lines[0]),
            [("id", "a"), ("sp", " "), ("co", "/* x")]
        );
        assert_eq!(
            classes(&lines[1]),
            [("co", "y */"), ("sp", " "), ("id", "b")]
        );
        assert_eq!(classes(&lines[2]), [("st", "\"open")]);
    }
}
