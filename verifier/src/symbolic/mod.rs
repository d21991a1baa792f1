//! Z3 encoding of the questions about steps whose values are not all known.
//!
//! A question starts as a spec condition evaluated **partially** on a plan
//! step ([`residual`]): known fields are folded to `true`/`false`, and what
//! remains mentions only *symbols* (params, `let` results, globs, unknown
//! argument lists). The residual is canonicalized ([`crate::canon`]) and
//! then encoded here:
//!
//! - strings (params of type `string`, `path`, `host`; glob paths) with the
//!   string theory; `matches` with Z3 regexes translated from the regex's
//!   syntax tree; globs as regexes of normalized paths;
//! - numbers as exact `Real`s; bools as `Bool`s;
//! - addresses as 128-bit vectors, IPv4 as IPv4-mapped IPv6;
//! - an unknown argument list as a bounded list (length and elements), with
//!   the each-element semantics;
//! - a `let` result as a value of unknown type: a string, a number or a bool.
//!
//! **Paths are sound.** The path an action touches is `norm(p)`. When `p` is
//! in normal form, `norm(p) = p`; otherwise `norm(p)` is a fresh string that
//! is only known to be a normal absolute path no longer than `p`. That is an
//! over-approximation (every real value is still possible), so no violation
//! is missed; a witness it produces is then checked concretely with
//! [`warden_core::cond`], and a spurious one is blocked and the solver asked
//! again (a bounded number of times; then the step is refused as "could not
//! prove"). Atoms that cannot be encoded exactly (a regex feature Z3 lacks,
//! a string compared with a cidr) become fresh booleans: again an
//! over-approximation settled by the concrete check of the witness.
//!
//! Every solver call is bounded by a timeout; a timeout refuses.
//!
//! ```
//! use verifier::symbolic::unescape_z3;
//! assert_eq!(unescape_z3(r"a\u{5c}b"), "a\\b");
//! ```
//!
//! Private modules by job: `residual` (partial evaluation of a condition
//! on a step: [`residual()`]), `strings` (string literals, regexes, globs),
//! `paths` (the path theory: normal forms, trees, `norm(raw)`), `scalars`
//! (numbers and addresses), `encode` (residuals to Z3 formulas:
//! [`Encoder`]), `session` (the solver of one check, with refinement:
//! [`Session`]), `model` (witnesses read from models). The answers
//! themselves are [`crate::answer`]'s.

mod encode;
mod model;
mod paths;
mod residual;
mod scalars;
mod session;
mod strings;

pub use encode::{Encoder, list_bound};
pub use paths::glob_to_z3;
pub use residual::{ResidualScope, residual, step_domain};
pub use session::Session;
pub use strings::{regex_to_z3, unescape_z3, zstr};

#[cfg(test)]
mod tests {
    use super::scalars::{in_net, mapped_bv};
    use super::strings::read_str;
    use super::*;
    use ipnet::IpNet;
    use z3::ast::{BV, Bool};
    use z3::{SatResult, Solver};

    fn solver_says(goal: Bool) -> SatResult {
        let s = Solver::new();
        s.assert(&goal);
        s.check()
    }

    #[test]
    fn strings_are_literal() {
        let s = z3::ast::String::new_const("s");
        let tricky = "a\\u{41}b\0c\u{e9}";
        let solver = Solver::new();
        solver.assert(s.eq(zstr(tricky)));
        assert_eq!(solver.check(), SatResult::Sat);
        let m = solver.get_model().unwrap();
        assert_eq!(read_str(&m.eval(&s, true).unwrap()).unwrap(), tricky);
    }

    #[test]
    fn regexes_agree_with_the_regex_crate() {
        let cases = [
            ("[A-Z]{2}[0-9]{3}", "UK123", true),
            ("[A-Z]{2}[0-9]{3}", "UK1234", false),
            ("^a.c$", "abc", true),
            ("a|bc", "bc", true),
            ("(ab)+", "abab", true),
            ("(ab)+", "", false),
            (".*\\.key", "/x/y.key", true),
        ];
        for (re, s, expect) in cases {
            let r = regex_to_z3(re).unwrap();
            let goal = zstr(s).regex_matches(&r);
            let got = solver_says(goal) == SatResult::Sat;
            assert_eq!(got, expect, "{re} on {s}");
            assert_eq!(warden_core::cond::regex(re).unwrap().is_match(s), expect);
        }
        assert!(
            regex_to_z3("a\\bb").is_none(),
            "word boundaries have no Z3 form"
        );
    }

    #[test]
    fn globs_as_z3_regexes() {
        for (g, p, expect) in [
            ("/repo/**/*.rs", "/repo/a/b.rs", true),
            ("/repo/**/*.rs", "/repo/b.rs", true),
            ("/repo/*.rs", "/repo/a/b.rs", false),
            ("/repo/**", "/repo", true),
            ("/tmp/?", "/tmp/ab", false),
        ] {
            let goal = zstr(p).regex_matches(&glob_to_z3(g));
            assert_eq!(solver_says(goal) == SatResult::Sat, expect, "{g} {p}");
            assert_eq!(warden_core::path::glob_matches(g, p), expect);
        }
    }

    #[test]
    fn cidr_membership_with_mapped_ipv4() {
        let ip = BV::new_const("ip", 128);
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        let (one, _) = mapped_bv(&warden_core::net::parse_cidr("::ffff:10.1.2.3").unwrap());
        assert_eq!(
            solver_says(Bool::and(&[ip.eq(&one), in_net(&ip, &net)])),
            SatResult::Sat
        );
        let (other, _) = mapped_bv(&"11.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(
            solver_says(Bool::and(&[ip.eq(&other), in_net(&ip, &net)])),
            SatResult::Unsat
        );
    }
}
