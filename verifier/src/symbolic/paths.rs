//! The path theory: normalized absolute paths as a regular language, the
//! trees under a directory, and `norm(raw)` (the normal form of a path
//! param, with the regular property of its raw spelling that only a `..`
//! can move it out of a tree).

use super::strings::{rconcat, rintersect, runion, zre_lit, zre_range};
use z3::ast::{Bool, Regexp};

/// The normalized paths under `d` (normal): `d` itself and below.
pub(super) fn under_re(d: &str) -> Regexp {
    if d == "/" {
        return rconcat(&[zre_lit("/"), Regexp::full()]);
    }
    runion(&[
        zre_lit(d),
        rconcat(&[zre_lit(&format!("{d}/")), Regexp::full()]),
    ])
}

/// The absolute paths without `..` segments whose normal form is `d`
/// (`under`: or is under `d`): `d`'s segments with empty and `.` segments
/// anywhere between them and a trailing `/`.
pub(super) fn raw_lang(d: &str, under: bool) -> Regexp {
    // Junk: empty or `.` segments.
    let junk = || runion(&[zre_lit("/"), zre_lit("/.")]).star();
    let mut parts = vec![junk()];
    for seg in d.split('/').filter(|s| !s.is_empty()) {
        parts.push(zre_lit(&format!("/{seg}")));
        parts.push(junk());
    }
    let tail = if under {
        // End here, or go on below (a `/` and anything).
        runion(&[zre_lit(""), rconcat(&[zre_lit("/"), Regexp::full()])])
    } else {
        runion(&[zre_lit(""), zre_lit("/")])
    };
    parts.push(tail);
    // A relative string is no path at all.
    rintersect(&[rconcat(&parts), rconcat(&[zre_lit("/"), Regexp::full()])])
}

/// One segment of a normalized path: not empty, no `/`, not `.` or `..`
/// (written without complement, which Z3 decides faster): it starts with a
/// character other than `.`, or is `.` and such a character, or `..` and
/// at least one more character.
pub(super) fn segment_re() -> Regexp {
    let not_slash = || {
        runion(&[
            zre_range('\0', '.').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    let not_slash_dot = || {
        runion(&[
            zre_range('\0', '-').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    runion(&[
        rconcat(&[not_slash_dot(), not_slash().star()]),
        rconcat(&[zre_lit("."), not_slash_dot(), not_slash().star()]),
        rconcat(&[zre_lit(".."), not_slash().plus()]),
    ])
}

/// The language of normalized absolute paths: `/` or `(/SEGMENT)+`.
pub(super) fn normal_re() -> Regexp {
    runion(&[zre_lit("/"), rconcat(&[zre_lit("/"), segment_re()]).plus()])
}

pub(super) fn normal_path(s: &z3::ast::String) -> Bool {
    s.regex_matches(&normal_re())
}

/// The Z3 regex of the normalized paths a (normalized) glob matches.
pub fn glob_to_z3(glob: &str) -> Regexp {
    let segs: Vec<&str> = glob.split('/').filter(|s| !s.is_empty()).collect();
    let not_slash = || {
        runion(&[
            zre_range('\0', '.').expect("range"),
            zre_range('0', char::MAX).expect("range"),
        ])
    };
    let seg_any = || rconcat(&[zre_lit("/"), segment_re()]);
    if segs.is_empty() {
        return zre_lit("/");
    }
    if segs.iter().all(|s| *s == "**") {
        return runion(&[zre_lit("/"), seg_any().plus()]);
    }
    let mut parts = Vec::new();
    for s in segs {
        if s == "**" {
            parts.push(seg_any().star());
            continue;
        }
        parts.push(zre_lit("/"));
        if s.chars().all(|c| c == '*') {
            parts.push(segment_re());
            continue;
        }
        let mut seg = Vec::new();
        let mut lit = String::new();
        for c in s.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        seg.push(zre_lit(&lit));
                        lit.clear();
                    }
                    seg.push(if c == '*' {
                        not_slash().star()
                    } else {
                        not_slash()
                    });
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            seg.push(zre_lit(&lit));
        }
        let seg = rconcat(&seg);
        // A segment of only wildcards and dots could spell `.` or `..`.
        if s.chars().all(|c| matches!(c, '*' | '?' | '.')) {
            parts.push(Regexp::intersect(&[seg, segment_re()]));
        } else {
            parts.push(seg);
        }
    }
    rconcat(&parts)
}

/// `n = norm(raw)` where `raw` is in normal form (otherwise `n` is only
/// a normal path: an over-approximation, witnesses are checked
/// concretely).
pub(super) fn norm_link(n: &z3::ast::String, raw: &z3::ast::String) -> Bool {
    normal_path(raw).implies(n.eq(raw))
}

/// For `n = norm(raw)`: when `raw` has no `..` segment, normalization only
/// drops empty and `.` segments and a trailing `/`, so whether `n` is under
/// (or equal to) the normal path `d` is exactly a regular property of
/// `raw`. Asserting that lets the solver see that only a `..` can move a
/// path out of a tree.
pub(super) fn raw_relation(
    n: &z3::ast::String,
    raw: &z3::ast::String,
    d: &str,
    under: bool,
) -> Bool {
    let n_in = n.regex_matches(&if under { under_re(d) } else { zre_lit(d) });
    let raw_in = raw.regex_matches(&raw_lang(d, under));
    let has_dotdot = raw.regex_matches(&rconcat(&[
        Regexp::full(),
        zre_lit("/.."),
        runion(&[zre_lit(""), rconcat(&[zre_lit("/"), Regexp::full()])]),
    ]));
    has_dotdot.not().implies(n_in.iff(raw_in))
}

/// For `n = norm(raw)`: an absolute `raw` that ends with `y` normalizes to
/// a path that ends with `y`, when [`warden_core::path::ending_survives_normalization`] says so
/// (normalization drops or pops only segments that come before the last
/// one, and the last one is a proper segment). `None` when `y` is not such
/// an ending. This is what lets the solver see that `f endswith ".log"` on
/// a path param holds of the path the action touches.
pub(super) fn suffix_relation(n: &z3::ast::String, raw: &z3::ast::String, y: &str) -> Option<Bool> {
    if !warden_core::path::ending_survives_normalization(y) {
        return None;
    }
    let y = super::strings::zstr(y);
    let raw_ends = Bool::and(&[super::strings::zstr("/").prefix(raw), y.suffix(raw)]);
    Some(raw_ends.implies(y.suffix(n)))
}
