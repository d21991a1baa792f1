//! Text to syntax trees: the pest grammars of `grammar/` and the builder
//! that turns pest's pairs into [`crate::ast`] nodes with spans.
//!
//! Parsing checks syntax and literals only (a CIDR with host bits set, a bad
//! escape, a port-sized number); names stay [`RefKind::Unresolved`] until
//! loading (`crate::load`).

mod build;
mod grammar;
mod literal;
pub(crate) use literal::encode_string;
pub(crate) mod source;

use crate::ast::{Plan, Spec};
use crate::diag::{Diagnostic, Diagnostics};
use grammar::{Grammar, Rule};
use pest::Parser as _;
use source::LineIndex;

pub use source::{MAX_NESTING, MAX_SOURCE_BYTES};

/// Parses a plan (syntax only: names are left unresolved). `file` names the
/// text in spans and messages.
pub fn parse_plan(src: &str, file: &str) -> Result<Plan, Diagnostics> {
    let (plan, diags) = parse_plan_partial(src, file)?;
    into_result(plan, diags, file, src)
}

/// Parses a plan; `Err` only for syntax errors. Literal errors (a bad
/// escape, a cidr with host bits) come back beside a tree in which the bad
/// literals are placeholders, so loading can report name and type errors
/// too.
pub(crate) fn parse_plan_partial(
    src: &str,
    file: &str,
) -> Result<(Plan, Vec<Diagnostic>), Diagnostics> {
    parse_with(src, file, "plan", Rule::plan_file, |b, pair| {
        b.plan_file(pair)
    })
}

/// Parses a spec; `Err` only for syntax errors (see [`parse_plan_partial`]).
pub(crate) fn parse_spec_partial(
    src: &str,
    file: &str,
) -> Result<(Spec, Vec<Diagnostic>), Diagnostics> {
    parse_with(src, file, "spec", Rule::spec_file, |b, pair| {
        b.spec_file(pair)
    })
}

fn into_result<T>(
    tree: T,
    diags: Vec<Diagnostic>,
    file: &str,
    src: &str,
) -> Result<T, Diagnostics> {
    let mut ds = Diagnostics::new();
    ds.sources.insert(file, src);
    for d in diags {
        ds.push(d);
    }
    ds.sort();
    ds.into_result(tree)
}

/// Parses a spec (syntax only: names are left unresolved, `include`s are not
/// followed).
pub fn parse_spec(src: &str, file: &str) -> Result<Spec, Diagnostics> {
    let (spec, diags) = parse_spec_partial(src, file)?;
    into_result(spec, diags, file, src)
}

fn parse_with<T: Send>(
    src: &str,
    file: &str,
    what: &str,
    entry: Rule,
    build: impl FnOnce(&mut build::Builder<'_>, pest::iterators::Pair<'_, Rule>) -> T + Send,
) -> Result<(T, Vec<Diagnostic>), Diagnostics> {
    let index = LineIndex::new(file, src);
    let fail = |d: Diagnostic| Diagnostics::single(d, file, src);
    let depth = source::precheck(src, &index, what).map_err(fail)?;
    let run = || -> Result<(T, Vec<Diagnostic>), Diagnostics> {
        let mut pairs = match Grammar::parse(entry, src) {
            Ok(pairs) => pairs,
            Err(_) => {
                // Parse again, tracking literal tokens too, so the error can
                // say "expected `,` or `)`". Tracking slows every parse, so
                // it is on only for this one. (The switch is process-wide: a
                // parse on another thread meanwhile is only slower.)
                pest::set_error_detail(true);
                let detailed = Grammar::parse(entry, src);
                pest::set_error_detail(false);
                return Err(fail(match detailed {
                    Err(e) => syntax_error(src, &index, e),
                    Ok(_) => Diagnostic::error(
                        index.span(src, 0, 0),
                        format!("this {what} could not be parsed"),
                    )
                    .with_help("parse it again; if this persists, report a bug in planlang"),
                }));
            }
        };
        let Some(pair) = pairs.next() else {
            return Err(fail(Diagnostic::error(
                index.span(src, 0, 0),
                format!("expected a {what}"),
            )));
        };
        let mut builder = build::Builder::new(src, &index);
        let tree = build(&mut builder, pair);
        Ok((tree, builder.into_diagnostics()))
    };
    if depth <= INLINE_NESTING {
        return run();
    }
    // pest recurses a few rules per bracket, with large frames in debug
    // builds: deep (but allowed) nesting gets a thread with a stack sized
    // for MAX_NESTING, whatever the caller's stack is.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("planlang-parse".into())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, run)
            .map_err(|e| {
                fail(Diagnostic::error(
                    index.span(src, 0, 0),
                    format!("cannot start the parser: {e}"),
                ))
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(fail(
                    Diagnostic::error(
                        index.span(src, 0, 0),
                        "internal parser error: the parser stopped",
                    )
                    .with_help("this is a bug in planlang; please report it with the input"),
                ))
            })
    })
}

/// Nesting up to this depth parses on the caller's stack.
const INLINE_NESTING: usize = 8;

/// The parser thread's stack for deeper nesting (reserved, not committed:
/// only the pages used count).
const PARSER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Turns a pest error into a diagnostic that names what was expected in
/// words ("expected a string or `}`"), never in grammar rule names.
fn syntax_error(src: &str, index: &LineIndex, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let rule_pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let positives: Vec<&'static str> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| rule_words(*r)).collect()
        }
        ErrorVariant::CustomError { message } => {
            // Limits of the parser itself (its call or stack budget).
            let span = index.span(src, rule_pos, rule_pos);
            return Diagnostic::error(span, format!("cannot parse: {message}")).with_label("here");
        }
    };
    // A keyword where a name belongs: say so, at the keyword.
    let word = found_token(src, rule_pos);
    if positives.contains(&"a name") && KEYWORDS.contains(&word) {
        let span = index.span(src, rule_pos, rule_pos + word.len());
        return Diagnostic::error(span, format!("expected a name, found the keyword `{word}`"))
            .with_label("a keyword cannot be a name")
            .with_help(format!("`{word}` is a keyword; choose another name"));
    }
    // pest's rule positives stop at the last rule tried; the parse attempts
    // also track literal tokens (`,`, `)`, `}`), which may get further.
    let mut pos = rule_pos;
    let mut words: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let attempts = e.parse_attempts();
    match &attempts {
        Some(a) if a.max_position > rule_pos => pos = a.max_position,
        _ => words.extend(positives.iter().map(|w| w.to_string())),
    }
    if let Some(a) = attempts.filter(|a| a.max_position == pos) {
        for stack in a.call_stacks() {
            if let Some(w) = stack.parent.and_then(parent_words) {
                words.push(w.to_string());
            }
        }
        for t in a.expected_tokens() {
            // Literal tokens (`{`, `=`, ...); pest does not export the token
            // type, so tell them apart from ranges and built-ins by text.
            let t = t.to_string();
            let literal = !t.trim().is_empty()
                && !t.contains("..")
                && t != "BUILTIN_RULE"
                && t.chars().all(|c| c.is_ascii_graphic());
            if literal {
                tokens.push(t);
            }
        }
    }
    words.sort();
    words.dedup();
    let has_value = words
        .iter()
        .any(|w| w.starts_with("a value") || w.starts_with("a condition"));
    let units = ["d", "h", "m", "s"];
    if !tokens.is_empty() && tokens.iter().all(|t| units.contains(&t.as_str())) {
        words.push("a duration unit (`s`, `m`, `h` or `d`)".into());
        tokens.clear();
    }
    tokens.retain(|t| {
        // Comment starts and characters inside names and literals are noise.
        let noise = matches!(
            t.as_str(),
            "/*" | "//" | "_" | "-" | "\"" | "d" | "h" | "m" | "s"
        );
        let inside_value = has_value && matches!(t.as_str(), "[" | ":" | "true" | "false");
        let named = words.iter().any(|w| w.contains(&format!("`{t}`")));
        !(noise || inside_value || named)
    });
    tokens.sort();
    tokens.dedup();
    let mut expected: Vec<String> = words;
    if expected.len() + tokens.len() > 8 {
        // Too many keywords to list: keep the words and closing brackets.
        tokens.retain(|t| matches!(t.as_str(), "}" | ")" | "]" | "," | "{" | "=" | ":"));
    }
    expected.extend(tokens.into_iter().map(|t| format!("`{t}`")));
    let found = found_token(src, pos);
    let end = (pos + found.len()).min(src.len());
    let span = index.span(src, pos, end.max(pos));
    let what = match expected.len() {
        0 => "something else".to_string(),
        1 => expected[0].clone(),
        n => format!("{} or {}", expected[..n - 1].join(", "), expected[n - 1]),
    };
    let shown = match found {
        "" => "the end of the file".to_string(),
        "\n" | "\r" => "the end of the line".to_string(),
        f => format!("`{f}`"),
    };
    let mut d = Diagnostic::error(span, format!("expected {what}, found {shown}"))
        .with_label(format!("expected {what}"));
    if let Some(k) = crate::diag::suggest(found, KEYWORDS.iter().copied())
        && found.len() > 2
        && !KEYWORDS.contains(&found)
    {
        d = d.with_help(format!("did you mean `{k}`?"));
    }
    d
}

/// The enclosing rule of a failed attempt, in words, when it helps ("in a
/// tool call"); top-level rules say nothing useful.
fn parent_words(r: Rule) -> Option<&'static str> {
    match r {
        Rule::plan | Rule::plan_file | Rule::spec | Rule::spec_file | Rule::step | Rule::rule => {
            None
        }
        r => rule_words(r),
    }
}

/// The token at `pos`, for "found `...`": a word, a number, or one character.
fn found_token(src: &str, pos: usize) -> &str {
    let rest = src.get(pos..).unwrap_or("");
    let mut chars = rest.char_indices();
    let Some((_, c)) = chars.next() else {
        return "";
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        return &rest[..end];
    }
    &rest[..c.len_utf8()]
}

/// Every keyword of both languages: reserved, so never a name.
pub const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "under",
    "startswith",
    "endswith",
    "contains",
    "matches",
    "has",
    "from",
    "call",
    "when",
    "after",
    "before",
    "true",
    "false",
    "where",
    "allow",
    "deny",
    "approve",
    "never",
    "require",
    "at",
    "most",
    "let",
    "include",
    "baseline",
    "test",
    "expect",
    "version",
    "max",
    "ttl",
    "param",
    "either",
    "repeat",
    "agent",
    "goal",
    "plan",
    "spec",
    "read",
    "write",
    "delete",
    "exec",
    "connect",
    "listen",
    "any",
];

/// Rule names in words, for "expected ..." messages. `None` hides a rule
/// that only groups others.
fn rule_words(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::EOI => "the end of the file",
        Rule::word | Rule::ident => "a name",
        Rule::qname => "a tool name",
        Rule::keyword => return None,
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_under => "`under`",
        Rule::kw_startswith => "`startswith`",
        Rule::kw_endswith => "`endswith`",
        Rule::kw_contains => "`contains`",
        Rule::kw_matches => "`matches`",
        Rule::kw_has => "`has`",
        Rule::kw_from => "`from`",
        Rule::kw_call => "`call`",
        Rule::kw_where => "`where`",
        Rule::kw_plan => "`plan`",
        Rule::kw_agent => "`agent`",
        Rule::kw_goal => "`goal`",
        Rule::kw_ttl => "`ttl`",
        Rule::kw_param => "`param`",
        Rule::kw_let => "`let`",
        Rule::kw_either => "`either`",
        Rule::kw_repeat => "`repeat`",
        Rule::kw_at => "`at`",
        Rule::kw_most => "`most`",
        Rule::kw_read => "`read`",
        Rule::kw_write => "`write`",
        Rule::kw_delete => "`delete`",
        Rule::kw_exec => "`exec`",
        Rule::kw_connect => "`connect`",
        Rule::kw_listen => "`listen`",
        Rule::kw_spec => "`spec`",
        Rule::kw_version => "`version`",
        Rule::kw_max => "`max`",
        Rule::kw_include => "`include`",
        Rule::kw_allow => "`allow`",
        Rule::kw_deny => "`deny`",
        Rule::kw_approve => "`approve`",
        Rule::kw_never => "`never`",
        Rule::kw_after => "`after`",
        Rule::kw_require => "`require`",
        Rule::kw_before => "`before`",
        Rule::kw_when => "`when`",
        Rule::kw_any => "`any`",
        Rule::kw_baseline => "`baseline`",
        Rule::kw_test => "`test`",
        Rule::kw_expect => "`expect`",
        Rule::string | Rule::string_inner => "a string",
        Rule::ipv6 | Rule::ipv4 => "an address or cidr",
        Rule::duration => "a duration (`90s`, `15m`, `2h`, `1d`)",
        Rule::number => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::list => "a list",
        Rule::index | Rule::index_number => "an index (`[0]`)",
        Rule::field => "a field (`.name`)",
        Rule::reference => "a name",
        Rule::value => "a value",
        Rule::cond
        | Rule::or_cond
        | Rule::and_cond
        | Rule::not_cond
        | Rule::paren_cond
        | Rule::value_cond => "a condition",
        Rule::has_cond => "`has`",
        Rule::from_cond => "`from call`",
        Rule::compare | Rule::cmp_op => "an operator (`==`, `in`, `under`, ...)",
        Rule::eq => "`==`",
        Rule::ne => "`!=`",
        Rule::le => "`<=`",
        Rule::ge => "`>=`",
        Rule::lt => "`<`",
        Rule::gt => "`>`",
        Rule::cidr_list => "a list of cidrs",
        Rule::plan_file | Rule::plan => "a plan (`plan \"NAME\" { ... }`)",
        Rule::agent_decl => "`agent`",
        Rule::goal_decl => "`goal`",
        Rule::ttl_decl => "`ttl`",
        Rule::param_decl => "`param`",
        Rule::param_type => "a type (`string`, `number`, `bool`, `path`, `host`)",
        Rule::step => "a step",
        Rule::block => "a block (`{ ... }`)",
        Rule::let_step => "`let`",
        Rule::either_step => "`either`",
        Rule::repeat_step => "`repeat`",
        Rule::at_most => "`at most`",
        Rule::read_step => "`read`",
        Rule::write_step => "`write`",
        Rule::delete_step => "`delete`",
        Rule::exec_step => "`exec`",
        Rule::exec_args => "an argument list (`[\"arg\", ...]`)",
        Rule::connect_step | Rule::connect_unix_step => "`connect`",
        Rule::host => "a host",
        Rule::listen_step => "`listen`",
        Rule::call_step => "`call`",
        Rule::call_expr => "a tool call (`NAME(ARG = VALUE, ...)`)",
        Rule::arg => "an argument (`NAME = VALUE`)",
        Rule::spec_file | Rule::spec => "a spec (`spec \"NAME\" { ... }`)",
        Rule::version_item => "`version`",
        Rule::max_ttl_item => "`max ttl`",
        Rule::let_const => "`let`",
        Rule::include_item => "`include`",
        Rule::rule => "a rule",
        Rule::effect_rule | Rule::effect => "`allow`, `deny` or `approve`",
        Rule::never_rule => "`never`",
        Rule::require_rule => "`require`",
        Rule::at_most_rule => "`at most`",
        Rule::pattern => "a pattern (`read`, `call NAME`, `any`, ...)",
        Rule::any_pattern => "`any`",
        Rule::call_pattern => "`call`",
        Rule::call_star => "`*`",
        Rule::path_pattern | Rule::path_kind => "`read`, `write`, `delete` or `exec`",
        Rule::under_target => "`under`",
        Rule::exact_target | Rule::socket_exact => "a path",
        Rule::connect_pattern => "`connect`",
        Rule::listen_pattern => "`listen`",
        Rule::bare_cond => "a condition",
        Rule::baseline => "`baseline`",
        Rule::test_case => "`test`",
        Rule::expectation => "`accept`, `reject` or `approve`",
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}
