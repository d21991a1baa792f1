//! Paths and globs as the languages read them.
//!
//! - Paths are absolute and compared **after normalization**: `.` and `..`
//!   segments resolved (`..` above `/` stays at `/`), repeated `/` folded, a
//!   trailing `/` dropped. `under D` holds for `D` itself and everything below
//!   it; `/` is under `/`; `/repo2` is not under `/repo/`.
//! - Plan globs: `*` matches within one segment, `**` any number of segments
//!   (zero included), `?` one character; they match normalized paths.
//!
//! ```
//! use warden_core::path::{glob_matches, normalize_path, under};
//! assert_eq!(normalize_path("/tmp/../etc//passwd").unwrap(), "/etc/passwd");
//! assert!(under("/repo", "/repo/"));
//! assert!(!under("/repo/../etc/passwd", "/repo/"));
//! assert!(glob_matches("/repo/**/*.rs", "/repo/src/a/b.rs"));
//! ```

// ───────────────────────────── paths ─────────────────────────────

/// Why a string is not a usable path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path (as written) does not start with `/`.
    #[error("`{0}` is not an absolute path (paths start with `/`)")]
    NotAbsolute(String),
    /// The path contains a NUL byte, which no kernel path can.
    #[error("`{0}` contains a NUL character")]
    Nul(String),
    /// A glob with a `..` segment after a wildcard segment: what it climbs
    /// out of depends on what the wildcard matched, so it has no normal
    /// form.
    #[error("glob `{0}` has `..` after a wildcard segment; write the directory out")]
    DotDotAfterWildcard(String),
}

/// Normalizes an absolute path: resolves `.` and `..` (`..` above `/` stays
/// at `/`), folds repeated `/`, drops a trailing `/`.
pub fn normalize_path(p: &str) -> Result<String, PathError> {
    check_absolute(p)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    Ok(join(&segs))
}

fn check_absolute(p: &str) -> Result<(), PathError> {
    if !p.starts_with('/') {
        return Err(PathError::NotAbsolute(p.to_string()));
    }
    if p.contains('\0') {
        return Err(PathError::Nul(p.to_string()));
    }
    Ok(())
}

fn join(segs: &[&str]) -> String {
    if segs.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(segs.iter().map(|s| s.len() + 1).sum());
    for s in segs {
        out.push('/');
        out.push_str(s);
    }
    out
}

/// Whether every absolute path that ends with `y` keeps that ending when
/// normalized: `y`'s last piece is a whole segment no `..` can follow
/// (nothing comes after it), its pieces after the first `/` are proper
/// segments (not empty, `.` or `..`), and its first piece is a segment's
/// tail that cannot be `.` or `..` itself. `".log"`, `"/x.log"`,
/// `"app/x.log"` are kept; `"/"`, `"."`, `"x/"`, `"a/../b"` are not.
///
/// ```
/// use warden_core::path::{ending_survives_normalization as kept, normalize_path};
/// assert!(kept(".log") && !kept("a.log/.."));
/// assert!(normalize_path("/var/log/../x.log").unwrap().ends_with(".log"));
/// ```
pub fn ending_survives_normalization(y: &str) -> bool {
    let mut pieces = y.split('/');
    let first = pieces.next().unwrap_or("");
    let rest: Vec<&str> = pieces.collect();
    let proper = |s: &str| !s.is_empty() && s != "." && s != "..";
    if rest.is_empty() {
        return proper(first);
    }
    (first.is_empty() || (first != "." && first != "..")) && rest.iter().all(|s| proper(s))
}

/// Whether a path is already in normal form (what [`normalize_path`] returns).
pub fn is_normal(p: &str) -> bool {
    normalize_path(p).is_ok_and(|n| n == p)
}

/// `path under dir`: `dir` itself or anything below it, both normalized.
/// A relative path is under nothing.
pub fn under(path: &str, dir: &str) -> bool {
    match (normalize_path(path), normalize_path(dir)) {
        (Ok(p), Ok(d)) => under_normal(&p, &d),
        _ => false,
    }
}

/// [`under`] for paths already normalized.
#[inline]
pub fn under_normal(p: &str, d: &str) -> bool {
    d == "/" || p == d || (p.len() > d.len() && p.starts_with(d) && p.as_bytes()[d.len()] == b'/')
}

// ───────────────────────────── globs ─────────────────────────────

/// Whether a plan path is a glob (has `*` or `?`).
pub fn is_glob(p: &str) -> bool {
    p.contains('*') || p.contains('?')
}

/// Normalizes a glob like a path: `.` and repeated `/` go, `..` removes the
/// segment before it when that one is literal; `..` after a wildcard segment
/// is refused (it could climb anywhere).
pub fn normalize_glob(g: &str) -> Result<String, PathError> {
    check_absolute(g)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in g.split('/') {
        match s {
            "" | "." => {}
            ".." => match segs.last() {
                Some(prev) if is_glob(prev) => {
                    return Err(PathError::DotDotAfterWildcard(g.to_string()));
                }
                _ => {
                    segs.pop();
                }
            },
            s => segs.push(s),
        }
    }
    Ok(join(&segs))
}

/// Whether the glob `glob` matches the path `path` (normalized first). A
/// glob that is not absolute matches nothing.
pub fn glob_matches(glob: &str, path: &str) -> bool {
    let (Ok(g), Ok(p)) = (normalize_glob(glob), normalize_path(path)) else {
        return false;
    };
    let gs: Vec<&str> = segments(&g);
    let ps: Vec<&str> = segments(&p);
    glob_segs(&gs, &ps)
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

fn glob_segs(g: &[&str], p: &[&str]) -> bool {
    // Dynamic programming over (glob segment, path segment).
    let (n, m) = (g.len(), p.len());
    let mut dp = vec![vec![false; m + 1]; n + 1];
    dp[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            dp[i][j] = if g[i] == "**" {
                dp[i + 1][j] || (j < m && dp[i][j + 1])
            } else {
                j < m && segment_matches(g[i], p[j]) && dp[i + 1][j + 1]
            };
        }
    }
    dp[0][0]
}

/// One glob segment against one path segment: `*` any run of characters,
/// `?` exactly one character.
pub fn segment_matches(pat: &str, s: &str) -> bool {
    let pat: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while si < s.len() {
        if pi < pat.len() && (pat[pi] == '?' || (pat[pi] != '*' && pat[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < pat.len() && pat[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < pat.len() && pat[pi] == '*' {
        pi += 1;
    }
    pi == pat.len()
}

/// The regular expression (Rust `regex` syntax, anchored) of the normalized
/// paths a glob matches.
pub fn glob_to_regex(glob: &str) -> Result<String, PathError> {
    let g = normalize_glob(glob)?;
    let segs = segments(&g);
    if segs.is_empty() {
        return Ok("^/$".to_string());
    }
    let mut re = String::from("^");
    for s in &segs {
        if *s == "**" {
            // Zero or more whole segments.
            // `/a/**` also matches `/a` itself; a bare `/**` matches `/`.
            if segs.iter().all(|s| *s == "**") {
                return Ok("^(?:/|(?:/[^/]+)+)$".to_string());
            }
            re.push_str("(?:/[^/]+)*");
            continue;
        }
        re.push('/');
        // A segment is never `.` or `..` in a normalized path and never
        // empty, so a segment of only `*` needs at least one character.
        if s.chars().all(|c| c == '*') {
            re.push_str("[^/]+");
            continue;
        }
        for c in s.chars() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
    }
    re.push('$');
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::ending_survives_normalization as suffix_survives_norm;

    /// The rule agrees with [`warden_core::path::normalize_path`] on every
    /// path built from a small alphabet of segments, for each ending.
    #[test]
    fn kept_suffixes_survive_normalization() {
        let segs = ["", ".", "..", "a", "x.log", ".log", "..log", "app"];
        let endings = [
            ".log",
            "log",
            "/x.log",
            "app/x.log",
            "/app/x.log",
            ".",
            "..",
            "/",
            "x/",
            "a/../b",
            "a/./x.log",
            "/..",
            "g",
            "..log",
        ];
        let mut paths = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &paths {
                for s in segs {
                    next.push(format!("{p}/{s}"));
                }
            }
            paths.extend(next);
        }
        for y in endings {
            if !suffix_survives_norm(y) {
                continue;
            }
            for p in paths.iter().filter(|p| p.ends_with(y)) {
                let n = super::normalize_path(p).unwrap();
                assert!(
                    n.ends_with(y),
                    "{p} ends with {y}, its normal form {n} does not"
                );
            }
        }
        assert!(suffix_survives_norm(".log") && suffix_survives_norm("app/x.log"));
        for y in ["", "/", ".", "..", "x/", "a/../b", "a//b"] {
            assert!(!suffix_survives_norm(y), "{y}");
        }
    }
}
