//! Literal text to values: JSON-style strings, exact decimals, durations and
//! CIDRs. Each function returns the value or a message for a diagnostic; the
//! byte offset, when given, is relative to the literal's text.

use crate::value::{Cidr, Duration, Number};
use std::net::IpAddr;
use std::str::FromStr;

/// A literal that does not make sense, with where (byte range within the
/// literal's text) and how to fix it.
#[derive(Debug)]
pub(crate) struct LiteralError {
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    /// Byte range within the literal's text (None: the whole literal).
    pub range: Option<(usize, usize)>,
}

impl LiteralError {
    fn new(message: impl Into<String>, label: impl Into<String>) -> LiteralError {
        LiteralError {
            message: message.into(),
            label: label.into(),
            help: None,
            range: None,
        }
    }
    fn help(mut self, help: impl Into<String>) -> LiteralError {
        self.help = Some(help.into());
        self
    }
    fn at(mut self, start: usize, end: usize) -> LiteralError {
        self.range = Some((start, end));
        self
    }
}

/// Decodes the inside of a string literal (between the quotes): JSON escapes
/// `\" \\ \/ \b \f \n \r \t \uXXXX` (with surrogate pairs). Control
/// characters must be escaped.
pub(crate) fn decode_string(inner: &str) -> Result<String, LiteralError> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            if (c as u32) < 0x20 {
                return Err(LiteralError::new(
                    "control character in a string",
                    "write this character as an escape",
                )
                .help(format!(
                    "use `\\u{:04x}` (or `\\t`, `\\n`, `\\r`)",
                    c as u32
                ))
                .at(i, i + c.len_utf8()));
            }
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err(
                LiteralError::new("unfinished escape", "nothing follows this `\\`").at(i, i + 1),
            );
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(inner, i)?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by `\uDC00`..`\uDFFF`.
                    let j = i + 6;
                    if inner.get(j..j + 2) != Some("\\u") {
                        return Err(LiteralError::new(
                            "unpaired surrogate in a `\\u` escape",
                            "a high surrogate needs a low one after it",
                        )
                        .at(i, i + 6));
                    }
                    let lo = hex4(inner, j)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(LiteralError::new(
                            "unpaired surrogate in a `\\u` escape",
                            "expected a low surrogate (`\\uDC00` to `\\uDFFF`)",
                        )
                        .at(j, j + 6));
                    }
                    for _ in 0..6 {
                        chars.next();
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                for _ in 0..4 {
                    chars.next();
                }
                match char::from_u32(code) {
                    Some(c) => out.push(c),
                    None => {
                        return Err(LiteralError::new(
                            "unpaired surrogate in a `\\u` escape",
                            "not a character on its own",
                        )
                        .at(i, i + 6));
                    }
                }
            }
            other => {
                return Err(LiteralError::new(
                    format!("unknown escape `\\{other}`"),
                    "not a JSON escape",
                )
                .help("the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX")
                .at(i, i + 1 + other.len_utf8()));
            }
        }
    }
    Ok(out)
}

/// The four hex digits after `\u` at byte `i` of `inner`.
fn hex4(inner: &str, i: usize) -> Result<u32, LiteralError> {
    inner
        .get(i + 2..i + 6)
        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            LiteralError::new("bad `\\u` escape", "expected four hex digits after `\\u`")
                .at(i, (i + 6).min(inner.len()))
        })
}

/// Encodes a string as a literal the parser reads back to the same string.
pub(crate) fn encode_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An exact decimal.
pub(crate) fn number(text: &str) -> Result<Number, LiteralError> {
    Number::from_str(text).map_err(|_| {
        LiteralError::new(
            "number out of range",
            "numbers have at most 28 significant digits",
        )
    })
}

/// A whole number in `min..=u64::MAX`, for `version`, `at most`, `repeat`.
pub(crate) fn whole(text: &str, what: &str, min: u64) -> Result<u64, LiteralError> {
    let bad = || {
        let lowest = if min == 0 { "0 or more" } else { "1 or more" };
        LiteralError::new(
            format!("{what} must be a whole number, {lowest}"),
            format!("expected a whole number, {lowest}"),
        )
    };
    if text.contains('.') || text.starts_with('-') {
        return Err(bad());
    }
    let n = text.parse::<u64>().map_err(|_| {
        LiteralError::new(format!("{what} is too large"), "this number does not fit")
    })?;
    if n < min {
        return Err(bad());
    }
    Ok(n)
}

/// `90s`, `15m`, `2h`, `1d`.
pub(crate) fn duration(text: &str) -> Result<Duration, LiteralError> {
    let (digits, unit) = text.split_at(text.len() - 1);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        _ => 86_400,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .map(Duration::from_secs)
        .ok_or_else(|| LiteralError::new("duration too long", "this duration does not fit"))
}

/// An address or CIDR: `10.0.0.0/8`, `192.168.1.7` (a /32), `::1/128`,
/// `2001:db8::/32`. Host bits must be zero.
pub(crate) fn cidr(text: &str) -> Result<Cidr, LiteralError> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = IpAddr::from_str(addr_text).map_err(|_| {
        let kind = if addr_text.contains(':') {
            "IPv6"
        } else {
            "IPv4"
        };
        LiteralError::new(
            format!("invalid {kind} address `{addr_text}`"),
            "not an address",
        )
        .at(0, addr_text.len())
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                let start = addr_text.len() + 1;
                return Err(LiteralError::new(
                    format!("invalid prefix length `/{p}`"),
                    format!("expected 0 to {max}"),
                )
                .at(start, text.len()));
            }
        },
    };
    let net = Cidr::new(addr, prefix)
        .map_err(|_| LiteralError::new(format!("invalid prefix length `/{prefix}`"), ""))?;
    let trunc = net.trunc();
    if trunc != net {
        return Err(LiteralError::new(
            format!("cidr `{text}` has host bits set"),
            "the address has bits set beyond the prefix",
        )
        .help(format!("did you mean `{trunc}`?")));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_decode_json_escapes() {
        assert_eq!(
            decode_string(r#"a\tb\"c\\d\/\u00e9\ud83d\ude00"#).unwrap(),
            "a\tb\"c\\d/\u{e9}\u{1F600}"
        );
        let e = decode_string(r"ab\qc").unwrap_err();
        assert_eq!(e.message, "unknown escape `\\q`");
        assert_eq!(e.range, Some((2, 4)));
        assert!(decode_string(r"\u12").is_err());
        assert!(decode_string(r"\ud83dx").is_err());
        assert!(decode_string(r"\ude00").is_err());
        assert!(decode_string("a\u{1}").is_err());
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for s in ["", "plain", "q\"uo\\te", "tab\tnl\n\r\u{1}\u{7f}é😀"] {
            let lit = encode_string(s);
            assert_eq!(decode_string(&lit[1..lit.len() - 1]).unwrap(), s);
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(cidr("192.168.1.7").unwrap().to_string(), "192.168.1.7/32");
        assert_eq!(cidr("::1").unwrap().to_string(), "::1/128");
        assert_eq!(cidr("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        let e = cidr("10.0.0.1/8").unwrap_err();
        assert_eq!(e.message, "cidr `10.0.0.1/8` has host bits set");
        assert_eq!(e.help.as_deref(), Some("did you mean `10.0.0.0/8`?"));
        assert!(
            cidr("10.0.0.0/33")
                .unwrap_err()
                .message
                .contains("prefix length")
        );
        assert!(
            cidr("300.0.0.0/8")
                .unwrap_err()
                .message
                .contains("invalid IPv4")
        );
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(number("-1").unwrap(), Number::from(-1));
        assert_eq!(number("98.7").unwrap().to_string(), "98.7");
        assert!(number("99999999999999999999999999999999").is_err());
        assert_eq!(duration("15m").unwrap().secs, 900);
        assert_eq!(duration("1d").unwrap().secs, 86_400);
        assert!(duration("99999999999999999999d").is_err());
        assert_eq!(whole("3", "v", 1).unwrap(), 3);
        assert!(whole("0", "repeat", 1).is_err());
        assert!(whole("1.5", "repeat", 1).is_err());
        assert!(whole("-2", "repeat", 0).is_err());
    }
}
