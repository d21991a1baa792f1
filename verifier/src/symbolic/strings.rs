//! The string theory: Z3 string literals (escaped, read back), regexes
//! translated from the regex's syntax tree, globs as regexes of normalized
//! paths, and the regex combinators the encoder builds languages with.

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use z3::Context;
use z3::ast::{Ast, Regexp};

pub(super) fn ctx() -> Context {
    Context::thread_local()
}

/// A Z3 string literal, exactly these characters (no escape processing).
pub fn zstr(s: &str) -> z3::ast::String {
    let c = ctx();
    let chars: Vec<u32> = s.chars().map(|c| c as u32).collect();
    // SAFETY: the context is live for the call; the pointer and length
    // describe `chars`; `wrap` takes a reference to the returned AST.
    unsafe {
        let raw = z3_sys::Z3_mk_u32string(c.get_z3_context(), chars.len() as u32, chars.as_ptr())
            .expect("Z3 returned no string");
        z3::ast::String::wrap(&c, raw)
    }
}

pub(super) fn zre_lit(s: &str) -> Regexp {
    let c = ctx();
    let st = zstr(s);
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_seq_to_re(c.get_z3_context(), st.get_z3_ast())
            .expect("Z3 returned no regex");
        Regexp::wrap(&c, raw)
    }
}

/// Z3's characters stop here (its default unicode encoding).
pub(super) const Z3_MAX_CHAR: u32 = 0x2FFFF;

pub(super) fn zre_range(lo: char, hi: char) -> Option<Regexp> {
    let lo = lo as u32;
    let hi = (hi as u32).min(Z3_MAX_CHAR);
    if lo > hi {
        return None;
    }
    let c = ctx();
    let (a, b) = (char_str(lo), char_str(hi));
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_re_range(c.get_z3_context(), a.get_z3_ast(), b.get_z3_ast())
            .expect("Z3 returned no range");
        Some(Regexp::wrap(&c, raw))
    }
}

pub(super) fn char_str(c: u32) -> z3::ast::String {
    let ctx = ctx();
    let chars = [c];
    // SAFETY: as for `zstr`.
    unsafe {
        let raw = z3_sys::Z3_mk_u32string(ctx.get_z3_context(), 1, chars.as_ptr())
            .expect("Z3 returned no string");
        z3::ast::String::wrap(&ctx, raw)
    }
}

/// Reads a string value of a model, unescaped.
pub(super) fn read_str(s: &z3::ast::String) -> Option<String> {
    let c = ctx();
    // SAFETY: `s` is a string constant of this context (checked first).
    unsafe {
        if !z3_sys::Z3_is_string(c.get_z3_context(), s.get_z3_ast()) {
            return None;
        }
        let n = z3_sys::Z3_get_string_length(c.get_z3_context(), s.get_z3_ast());
        let mut buf = vec![0u32; n as usize];
        z3_sys::Z3_get_string_contents(c.get_z3_context(), s.get_z3_ast(), n, buf.as_mut_ptr());
        Some(buf.into_iter().filter_map(char::from_u32).collect())
    }
}

/// Undoes Z3's `\u{..}` escapes in a printed string.
pub fn unescape_z3(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\u{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        match after.find('}').and_then(|j| {
            u32::from_str_radix(&after[..j], 16)
                .ok()
                .and_then(char::from_u32)
                .map(|c| (c, j))
        }) {
            Some((c, j)) => {
                out.push(c);
                rest = &after[j + 1..];
            }
            None => {
                out.push_str("\\u{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Translates a `matches` regex (whole value) to Z3; `None` when it uses a
/// feature without a Z3 counterpart (look-around, word boundaries).
pub fn regex_to_z3(pattern: &str) -> Option<Regexp> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    hir_to_z3(&hir, true, true)
}

pub(super) fn hir_to_z3(h: &Hir, at_start: bool, at_end: bool) -> Option<Regexp> {
    match h.kind() {
        HirKind::Empty => Some(zre_lit("")),
        HirKind::Literal(lit) => Some(zre_lit(std::str::from_utf8(&lit.0).ok()?)),
        HirKind::Class(Class::Unicode(cls)) => {
            let rs: Vec<Regexp> = cls
                .ranges()
                .iter()
                .filter_map(|r| zre_range(r.start(), r.end()))
                .collect();
            if rs.is_empty() {
                return Some(Regexp::empty());
            }
            Some(runion(&rs))
        }
        HirKind::Class(Class::Bytes(cls)) => {
            let rs: Vec<Regexp> = cls
                .ranges()
                .iter()
                .filter_map(|r| zre_range(r.start() as char, r.end() as char))
                .collect();
            if rs.is_empty() {
                return Some(Regexp::empty());
            }
            Some(runion(&rs))
        }
        HirKind::Look(look) => match look {
            // The value is matched whole: anchors at its ends are no-ops.
            Look::Start | Look::StartLF | Look::StartCRLF if at_start => Some(zre_lit("")),
            Look::End | Look::EndLF | Look::EndCRLF if at_end => Some(zre_lit("")),
            _ => None,
        },
        HirKind::Repetition(rep) => {
            let sub = hir_to_z3(&rep.sub, false, false)?;
            Some(match rep.max {
                Some(max) => sub.r#loop(rep.min, max),
                None if rep.min == 0 => sub.star(),
                None => rconcat(&[sub.power(rep.min), sub.star()]),
            })
        }
        HirKind::Capture(cap) => hir_to_z3(&cap.sub, at_start, at_end),
        HirKind::Concat(xs) => {
            let n = xs.len();
            let parts = xs
                .iter()
                .enumerate()
                .map(|(i, x)| hir_to_z3(x, at_start && i == 0, at_end && i + 1 == n))
                .collect::<Option<Vec<_>>>()?;
            Some(rconcat(&parts))
        }
        HirKind::Alternation(xs) => {
            let parts = xs
                .iter()
                .map(|x| hir_to_z3(x, at_start, at_end))
                .collect::<Option<Vec<_>>>()?;
            Some(runion(&parts))
        }
    }
}

/// `re.++` of the parts (Z3 wants two or more; one is itself).
pub(super) fn rconcat(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => zre_lit(""),
        [one] => one.clone(),
        many => Regexp::concat(many),
    }
}

/// `re.union` of the parts (none is the empty language).
pub(super) fn runion(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => Regexp::empty(),
        [one] => one.clone(),
        many => Regexp::union(many),
    }
}

/// `re.inter` of the parts (none is every string).
pub(super) fn rintersect(parts: &[Regexp]) -> Regexp {
    match parts {
        [] => Regexp::full(),
        [one] => one.clone(),
        many => Regexp::intersect(many),
    }
}
