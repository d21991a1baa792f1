//! Completeness, checked by a property test beside the soundness one
//! (`agree.rs`): plans that are safe **by construction** against generated
//! specs must be accepted, never refused with "could not prove" or a
//! timeout.
//!
//! Each case is a spec and a plan built together from the constructs of
//! the fragment the verifier decides completely (docs/language.md, "What
//! the verifier decides, and where it stops"): path params whose `where`
//! puts them under an allowed tree with an allowed suffix, `matches` and
//! `in` on strings, list arguments with each-element conditions and
//! `contains`, `argv[i]`, unix socket paths (`connect PATH`, `listen
//! PATH`), `from call` on `let` results, `host` params (and `let` results
//! with an assumption) inside allowed cidrs or names, connected to or
//! passed to a call, and numbers inside bounds; orders
//! that satisfy `never`, `require` and `at most` rules, loops within their
//! counts. Every case is first checked by the reference evaluator on
//! concrete instantiations of its params and results (a generator bug that
//! makes an unsafe plan fails here, as such, and is not counted against the
//! verifier), then by the verifier.
//!
//! The seed is fixed; `WARDEN_COMPLETENESS_CASES=10000` runs a longer
//! series (`WARDEN_COMPLETENESS_SEED` another seed).

use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;
use verifier::answer::Witness;
use verifier::cfg::{self, Term};
use verifier::report::{Reason, Verdict};
use verifier::{CompiledSpec, reference};
use warden_core::value::{Field, Number, Value};

/// Cases in `cargo test` (each construct is in about half of them).
const CASES: usize = 600;
/// Cases each construct of the issue must reach.
const MIN_PER_CONSTRUCT: usize = 200;

const UNDER_SUFFIX: &str = "under + suffix";
const MATCHES_IN: &str = "matches + in";
const LIST_EACH: &str = "list each-element + contains";
const ARGV_INDEX: &str = "argv[i]";
const UNIX_SOCKET: &str = "unix socket paths";
const FROM_CALL: &str = "from call";
const NUMBERS: &str = "numbers in bounds";
const CIDR: &str = "cidr";
/// The constructs each default run must cover `MIN_PER_CONSTRUCT` times.
const REQUIRED: &[&str] = &[
    UNDER_SUFFIX,
    MATCHES_IN,
    LIST_EACH,
    ARGV_INDEX,
    UNIX_SOCKET,
    FROM_CALL,
    CIDR,
];

/// proptest's seeded ChaCha generator: the same cases on every machine.
struct Rng(TestRng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// A random subset (order kept), at least one element.
    fn subset<T: Clone>(&mut self, xs: &[T]) -> Vec<T> {
        loop {
            let out: Vec<T> = xs.iter().filter(|_| self.chance(50)).cloned().collect();
            if !out.is_empty() {
                return out;
            }
        }
    }
}

/// A spec and a plan made together.
#[derive(Default)]
struct Case {
    rules: Vec<String>,
    params: Vec<String>,
    /// Plan steps, in order; each a block of text.
    steps: Vec<Step>,
    /// Values each param may take (each meets its `where`).
    samples: BTreeMap<String, Vec<Value>>,
    constructs: BTreeSet<&'static str>,
    next_name: usize,
}

/// A step of the plan, with what the temporal rules may say about it.
struct Step {
    text: String,
    /// A pattern that matches this step (for every value), if the step may
    /// be counted or ordered.
    pattern: Option<String>,
}

impl Case {
    fn name(&mut self, stem: &str) -> String {
        self.next_name += 1;
        format!("{stem}{}", self.next_name)
    }

    fn param(&mut self, stem: &str, ty: &str, cond: Option<String>, samples: Vec<Value>) -> String {
        let n = self.name(stem);
        let decl = match cond {
            Some(c) => format!("param {n}: {ty} where {}", c.replace("{}", &n)),
            None => format!("param {n}: {ty}"),
        };
        self.params.push(decl);
        self.samples.insert(n.clone(), samples);
        n
    }

    fn step(&mut self, text: String, pattern: Option<String>) {
        self.steps.push(Step { text, pattern });
    }

    fn spec(&self) -> String {
        format!("spec \"complete\" {{\n  {}\n}}\n", self.rules.join("\n  "))
    }

    fn plan(&self) -> String {
        let mut body: Vec<String> = self.params.clone();
        body.extend(self.steps.iter().map(|s| s.text.clone()));
        format!("plan {{\n  {}\n}}\n", body.join("\n  "))
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn n(v: i64) -> Value {
    Value::Number(Number::from(v))
}

fn q(v: &str) -> String {
    serde_json::to_string(v).unwrap()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", ")
    )
}

/// A path param (or a glob, or a literal) under an allowed tree with an
/// allowed suffix, read, written or deleted.
fn under_suffix(r: &mut Rng, c: &mut Case) {
    let tree = *r.pick(&["/var/log/app", "/srv/data", "/home/u/proj"]);
    let sub = *r.pick(&["", "/a", "/b/c"]);
    let plan_tree = format!("{tree}{sub}");
    let suffix = *r.pick(&[".log", ".csv", ".tar.gz", "/out.log", "s"]);
    let plan_suffix = format!("{}{suffix}", r.pick(&["", "x", "-2024", ".old"]));
    let kind = *r.pick(&["read", "write", "delete"]);
    let slash = |r: &mut Rng, t: &str| {
        if r.chance(50) {
            format!("{t}/")
        } else {
            t.to_string()
        }
    };
    let spec_tree = slash(r, tree);
    c.rules.push(match r.below(4) {
        0 => format!("allow {kind} under {} when path endswith {}", q(&spec_tree), q(suffix)),
        1 => format!(
            "allow {kind} when path under {} and path endswith {}",
            q(&spec_tree),
            q(suffix)
        ),
        2 => format!(
            "allow {kind} when path endswith {} and not path under \"/etc/\"",
            q(suffix)
        ),
        _ => format!(
            "allow {kind} under {} when (path endswith {} or path endswith \".bak\") and not path endswith \".key\"",
            q(&spec_tree),
            q(suffix)
        ),
    });
    // Denies the plan stays clear of.
    if r.chance(50) {
        c.rules
            .push(format!("deny {kind} when path endswith \".key\""));
    }
    if r.chance(40) && !sub.is_empty() {
        c.rules.push(format!(
            "deny {kind} under {}",
            q(&format!("{tree}/secret/"))
        ));
    }
    if r.chance(30) {
        c.rules.push("deny any when path under \"/etc/\"".into());
    }
    let pattern = Some(format!("{kind} under {}", q(&spec_tree)));
    let samples = vec![
        s(&format!("{plan_tree}/x{plan_suffix}")),
        s(&format!("{plan_tree}/a/../b{plan_suffix}")),
        s(&format!("{plan_tree}//c/./d{plan_suffix}")),
        s(&format!("{plan_tree}/e/f/g{plan_suffix}")),
    ];
    match r.below(5) {
        // A glob: some file it matches.
        0 if plan_suffix.starts_with('.') => {
            let glob = format!("{plan_tree}/**/*{plan_suffix}");
            c.step(format!("{kind} {}", q(&glob)), pattern);
        }
        // A literal with `..` inside the tree.
        1 => {
            let p = format!("{plan_tree}/a/../lit{plan_suffix}");
            c.step(format!("{kind} {}", q(&p)), pattern);
        }
        // Raw spellings that imply the normal form stays in the tree.
        2 if r.chance(50) => {
            let t = format!("{plan_tree}/");
            let (cond, samples) = match r.below(4) {
                0 => (
                    format!(
                        "{{}} startswith {} and not {{}} contains \"..\" and {{}} endswith {}",
                        q(&t),
                        q(&plan_suffix)
                    ),
                    samples
                        .into_iter()
                        .filter(|v| !v.to_string().contains(".."))
                        .collect(),
                ),
                1 => (
                    format!(
                        "{{}} matches {}",
                        q(&format!(
                            "{}[a-z0-9_]+(/[a-z0-9_]+)*{}",
                            regex_syntax::escape(&t),
                            regex_syntax::escape(&plan_suffix)
                        ))
                    ),
                    vec![
                        s(&format!("{t}abc{plan_suffix}")),
                        s(&format!("{t}a/b_1{plan_suffix}")),
                    ],
                ),
                2 => {
                    let a = format!("{t}one{plan_suffix}");
                    let b = format!("{t}x/../two{plan_suffix}");
                    (
                        format!("{{}} in [{}, {}]", q(&a), q(&b)),
                        vec![s(&a), s(&b)],
                    )
                }
                _ => {
                    let a = format!("{t}./only{plan_suffix}");
                    (format!("{{}} == {}", q(&a)), vec![s(&a)])
                }
            };
            let f = c.param("f", "path", Some(cond), samples);
            c.step(format!("{kind} {f}"), pattern);
        }
        _ => {
            let t = slash(r, &plan_tree);
            let cond = if r.chance(50) {
                format!("{{}} under {} and {{}} endswith {}", q(&t), q(&plan_suffix))
            } else {
                format!("{{}} endswith {} and {{}} under {}", q(&plan_suffix), q(&t))
            };
            let f = c.param("f", "path", Some(cond), samples);
            c.step(format!("{kind} {f}"), pattern);
        }
    }
    c.constructs.insert(UNDER_SUFFIX);
}

const PEOPLE: &[&str] = &["alice", "bob", "carol", "dave"];

fn email(p: &str) -> String {
    format!("{p}@acme.com")
}

/// A string param whose `in` list or `matches` regex fits the rule's
/// `matches`, `in` or `endswith`.
fn matches_in(r: &mut Rng, c: &mut Case) {
    let tool = c.name("notify");
    // The where, with the values it allows.
    let form = r.below(5);
    let (cond, allowed): (String, Vec<String>) = match form {
        0 => {
            let sub: Vec<String> = r.subset(&PEOPLE[..3]).iter().map(|p| email(p)).collect();
            (format!("{{}} in {}", list(&sub)), sub)
        }
        1 => (
            "{} matches \"(alice|bob)@acme\\\\.com\"".into(),
            vec![email("alice"), email("bob")],
        ),
        2 => ("{} == \"carol@acme.com\"".into(), vec![email("carol")]),
        // Digits, a `-`, a `!=`: only a few rules imply it.
        4 => (
            "{} matches \"(ops|dev)-[0-9]{2,3}@acme\\\\.com\" and {} != \"ops-00@acme.com\"".into(),
            vec!["ops-12@acme.com".into(), "dev-999@acme.com".into()],
        ),
        // Infinitely many values: only the regular rules imply it.
        _ => (
            "{} matches \"[a-c][a-z]{0,5}@acme\\\\.com\"".into(),
            vec![email("alice"), email("bob"), email("c"), email("abcdef")],
        ),
    };
    let finite = form < 3;
    let mut rules = vec![
        "to matches \"[a-z0-9-]+@acme\\\\.com\"".to_string(),
        "to endswith \"@acme.com\" and not to in [\"ops-00@acme.com\", \"x@acme.com\"]".to_string(),
    ];
    let letters = vec![
        "to matches \"[a-z]+@acme\\\\.com\"".to_string(),
        "to endswith \"@acme.com\"".to_string(),
        "not to matches \".*@evil\\\\.com\"".to_string(),
        "to matches \"(?i)[A-Z]+@ACME\\\\.COM\"".to_string(),
        "to contains \"@\" and (to startswith \"a\" or to startswith \"b\" or to startswith \"c\")"
            .to_string(),
        "to matches \"[a-z]{1,8}@[a-z]+\\\\.(com|org)\" and not to == \"\"".to_string(),
    ];
    if form != 4 {
        rules.extend(letters);
    }
    if finite {
        let all: Vec<String> = PEOPLE[..3].iter().map(|p| email(p)).collect();
        rules.push(format!("to in {}", list(&all)));
        rules.push("to in [\"alice@acme.com\", \"bob@acme.com\", \"carol@acme.com\"] and to matches \"[a-z]+@.*\"".into());
    }
    let rule = r.pick(&rules).clone();
    c.rules.push(format!("allow call {tool} when {rule}"));
    if r.chance(50) {
        c.rules.push(format!(
            "deny call {tool} when to in [\"dave@acme.com\", \"root@acme.com\"] or to matches \"(?i)ROOT.*\""
        ));
    }
    let t = c.param(
        "t",
        "string",
        Some(cond),
        allowed.iter().map(|a| s(a)).collect(),
    );
    let level = r.pick(&["\"info\"", "\"warn\""]);
    c.step(
        format!("call {tool}(to = {t}, level = {level})"),
        Some(format!("call {tool}")),
    );
    c.constructs.insert(MATCHES_IN);
}

/// A list argument with literal and param elements: each-element rules and
/// `contains`.
fn list_each(r: &mut Rng, c: &mut Case) {
    let tool = c.name("invite");
    let subset_form = r.chance(50);
    let mut any_suffix_only = false;
    let mut items: Vec<String> = vec!["\"boss@acme.com\"".into()];
    for _ in 0..=r.below(2) {
        let (cond, samples): (String, Vec<Value>) = if subset_form {
            let sub: Vec<String> = r.subset(&PEOPLE[..3]).iter().map(|p| email(p)).collect();
            let samples = sub.iter().map(|x| s(x)).collect();
            (format!("{{}} in {}", list(&sub)), samples)
        } else if r.chance(50) {
            any_suffix_only = true;
            (
                "{} endswith \"@acme.com\"".into(),
                vec![s("a@acme.com"), s("root@acme.com"), s("@acme.com")],
            )
        } else {
            (
                "{} matches \"[a-c][a-z]*@acme\\\\.com\"".into(),
                vec![s("a@acme.com"), s("bob@acme.com")],
            )
        };
        let u = c.param("u", "string", Some(cond), samples);
        let at = r.below(items.len() + 1);
        items.insert(at, u);
    }
    if r.chance(30) {
        items.push("\"carol@acme.com\"".into());
    }
    let mut conds = vec![
        "users endswith \"@acme.com\"".to_string(),
        "users contains \"boss@acme.com\"".to_string(),
        "users endswith \"@acme.com\" and users contains \"boss@acme.com\"".to_string(),
        "not users contains \"x@evil.com\"".to_string(),
    ];
    if !any_suffix_only {
        conds.push("users matches \"[a-z]+@acme\\\\.com\"".to_string());
    }
    if subset_form {
        conds.push(
            "users in [\"alice@acme.com\", \"bob@acme.com\", \"carol@acme.com\", \"boss@acme.com\"]"
                .into(),
        );
        conds.push("not users contains \"root@acme.com\" and users endswith \".com\"".into());
    }
    let cond = r.pick(&conds).clone();
    c.rules.push(format!("allow call {tool} when {cond}"));
    if r.chance(50) {
        c.rules.push(format!(
            "deny call {tool} when users contains \"x@evil.com\" or users == []"
        ));
    }
    c.step(
        format!("call {tool}(users = [{}])", items.join(", ")),
        Some(format!("call {tool}")),
    );
    c.constructs.insert(LIST_EACH);
}

/// An exec with an argument list of literals and params: `argv[i]`,
/// `argv contains`.
fn argv_index(r: &mut Rng, c: &mut Case) {
    let prog = *r.pick(&["/usr/bin/git", "/usr/bin/tool"]);
    let subs = ["log", "status", "diff"];
    let mut items: Vec<String> = Vec::new();
    // argv[0]: the subcommand.
    if r.chance(30) {
        let sub = *r.pick(&subs);
        items.push(q(sub));
    } else {
        let (cond, sv): (String, Vec<Value>) = if r.chance(50) {
            let sub: Vec<String> = r.subset(&subs).iter().map(|x| x.to_string()).collect();
            let sv = sub.iter().map(|x| s(x)).collect();
            (format!("{{}} in {}", list(&sub)), sv)
        } else {
            ("{} matches \"log|diff\"".into(), vec![s("log"), s("diff")])
        };
        items.push(c.param("a", "string", Some(cond), sv));
    }
    // argv[1]: a flag.
    let flag = r.below(3);
    match flag {
        0 => {
            let flag = *r.pick(&["--oneline", "-p"]);
            items.push(q(flag));
        }
        1 => {
            let (cond, sv): (&str, Vec<Value>) = if r.chance(50) {
                (
                    "{} startswith \"--format=\"",
                    vec![s("--format="), s("--format=%H"), s("--format=-f")],
                )
            } else {
                (
                    "{} in [\"--oneline\", \"-p\", \"--stat\"]",
                    vec![s("--oneline"), s("-p"), s("--stat")],
                )
            };
            items.push(c.param("g", "string", Some(cond.into()), sv));
        }
        _ => {}
    }
    let has_flag = flag != 2;
    // argv[2]: a file in the repository.
    let extra = has_flag && r.chance(50);
    if extra {
        let p = c.param(
            "x",
            "string",
            Some("{} startswith \"/repo/\" and not {} contains \"..\"".into()),
            vec![s("/repo/a.rs"), s("/repo/"), s("/repo/.x")],
        );
        items.push(p);
    }
    let mut conds = vec![
        "argv[0] in [\"log\", \"status\", \"diff\"]".to_string(),
        "argv[0] matches \"log|status|diff\"".to_string(),
        "not argv contains \"--upload-pack\" and not argv contains \"-f\"".to_string(),
        "not argv[0] == \"push\"".to_string(),
    ];
    if has_flag {
        conds
            .push("argv[1] startswith \"-\" and argv[0] in [\"log\", \"status\", \"diff\"]".into());
    } else {
        conds.push("argv == [\"log\"] or argv == [\"status\"] or argv == [\"diff\"]".into());
        conds.push("not has argv or argv[0] endswith \"f\" or argv[0] endswith \"s\" or argv[0] endswith \"g\"".into());
    }
    if extra {
        conds.push("argv[2] startswith \"/repo/\" and not argv[2] contains \"..\"".into());
    }
    let cond = r.pick(&conds).clone();
    c.rules.push(format!("allow exec {} when {cond}", q(prog)));
    if r.chance(50) {
        c.rules.push(format!(
            "deny exec {} when argv[0] == \"push\" or argv contains \"--exec\"",
            q(prog)
        ));
    }
    // The program a path param too, spelled two ways.
    let program = if r.chance(25) {
        let other = prog.replacen("/bin/", "/bin/./", 1);
        c.param(
            "e",
            "path",
            Some(format!("{{}} in [{}, {}]", q(prog), q(&other))),
            vec![s(prog), s(&other)],
        )
    } else {
        q(prog)
    };
    c.step(
        format!("exec {program} [{}]", items.join(", ")),
        Some(format!("exec {}", q(prog))),
    );
    c.constructs.insert(ARGV_INDEX);
}

/// `connect PATH` and `listen PATH` on unix sockets, params and literals.
fn unix_socket(r: &mut Rng, c: &mut Case) {
    let tree = *r.pick(&["/run/app", "/run/app/db", "/run/app/cache"]);
    let listen = r.chance(30);
    let kind = if listen { "listen" } else { "connect" };
    let suffix = *r.pick(&[".sock", "/db.sock", "-app.sock"]);
    c.rules.push(match r.below(3) {
        0 => format!("allow {kind} under \"/run/app/\" when path endswith \".sock\""),
        1 => format!(
            "allow {kind} when path under \"/run/app/\" and path endswith \".sock\" or host == \"api.x.com\""
        ),
        _ => format!("allow {kind} under \"/run/app/\""),
    });
    if r.chance(50) {
        c.rules
            .push(format!("deny {kind} \"/var/run/docker.sock\""));
    }
    if r.chance(40) && tree != "/run/app" {
        c.rules
            .push(format!("deny {kind} under \"/run/app/admin/\""));
    }
    // `.sock` alone would let `docker.sock` through.
    if r.chance(30) && suffix != ".sock" {
        c.rules
            .push(format!("deny {kind} when path endswith \"/docker.sock\""));
    }
    if r.chance(30) {
        c.rules.push(format!("deny {kind} when port == 22"));
    }
    let pattern = Some(format!("{kind} under \"/run/app/\""));
    if r.chance(25) {
        let p = format!("{tree}/x/../lit{suffix}");
        c.step(format!("{kind} {}", q(&p)), pattern);
    } else {
        let t = if r.chance(50) {
            format!("{tree}/")
        } else {
            tree.to_string()
        };
        let p = c.param(
            "p",
            "path",
            Some(format!(
                "{{}} under {} and {{}} endswith {}",
                q(&t),
                q(suffix)
            )),
            vec![
                s(&format!("{tree}/x{suffix}")),
                s(&format!("{tree}/y/../z{suffix}")),
                s(&format!("{tree}//w/v{suffix}")),
            ],
        );
        c.step(format!("{kind} {p}"), pattern);
    }
    c.constructs.insert(UNIX_SOCKET);
}

/// `let` results passed on, and rules that ask where a value came from.
fn from_call(r: &mut Rng, c: &mut Case) {
    let src = c.name("read_inbox");
    let other = c.name("draft");
    let sink = c.name("summarize");
    let m = c.name("m");
    let d = c.name("d");
    c.rules.push(format!("allow call {src}, {other}"));
    c.step(
        format!("let {m} = call {src}(folder = \"in\")"),
        Some(format!("call {src}")),
    );
    let has_d = r.chance(50);
    if has_d {
        c.step(
            format!("let {d} = call {other}()"),
            Some(format!("call {other}")),
        );
    }
    let field = *r.pick(&["body", "subject"]);
    let arg = if r.chance(50) {
        format!("{m}.{field}")
    } else {
        m.clone()
    };
    c.rules.push(match r.below(3) {
        0 => format!("allow call {sink} when text from call {src}"),
        1 => format!("allow call {sink} when text from call {src} and has text"),
        _ => format!("allow call {sink} when text from call {src} or text from call nothing"),
    });
    if has_d {
        c.rules.push(format!(
            "deny call {sink} when text from call {other} and not has mode"
        ));
    }
    c.step(
        format!("call {sink}(text = {arg}, mode = \"short\")"),
        Some(format!("call {sink}")),
    );
    if has_d {
        let mail = c.name("send_mail");
        c.rules
            .push(format!("deny call {mail} when body from call {src}"));
        c.rules.push(format!(
            "allow call {mail} when body from call {other} and to endswith \"@acme.com\""
        ));
        c.step(
            format!("call {mail}(body = {d}.text, to = \"alice@acme.com\")"),
            Some(format!("call {mail}")),
        );
    }
    c.constructs.insert(FROM_CALL);
}

/// Number params inside the bounds of the rules: amounts and ports.
fn numbers(r: &mut Rng, c: &mut Case) {
    if r.chance(50) {
        let tool = c.name("pay");
        let hi = *r.pick(&[100i64, 500, 1000]);
        let limit = hi + *r.pick(&[0i64, 1, 900]);
        let a = c.param(
            "amt",
            "number",
            Some(if r.chance(30) {
                format!("{{}} in [5, 10.25, {hi}]")
            } else {
                format!("{{}} > 0 and {{}} <= {hi}")
            }),
            vec![n(5), n(hi), Value::Number(Number::new(1025, 2))],
        );
        c.rules.push(format!(
            "allow call {tool} when amount <= {limit} and amount > 0"
        ));
        if r.chance(50) {
            c.rules.push(format!(
                "deny call {tool} when amount > {limit} or amount < 0"
            ));
        }
        c.step(
            format!("call {tool}(amount = {a}, to = \"bob\")"),
            Some(format!("call {tool}")),
        );
    } else if r.chance(30) {
        let p = c.param(
            "lport",
            "number",
            Some("{} in [8080, 8081] or {} == 9000".into()),
            vec![n(8080), n(8081), n(9000)],
        );
        c.rules
            .push("allow listen port >= 8000 and port <= 9000 and not port == 8443".into());
        if r.chance(50) {
            c.rules.push("deny listen port < 1024".into());
        }
        c.step(format!("listen {p}"), Some("listen port >= 8000".into()));
    } else {
        let (cond, sv, rule) = match r.below(3) {
            0 => (
                "{} in [443, 8443]",
                vec![n(443), n(8443)],
                "allow connect host == \"api.x.com\" and (port == 443 or port == 8443)",
            ),
            1 => (
                "{} >= 8000 and {} <= 8080",
                vec![n(8000), n(8080), n(8042)],
                "allow connect host == \"api.x.com\" and port >= 8000 and port < 9000",
            ),
            // A port is whole: `> 1023` is `>= 1024`.
            _ => (
                "{} > 1023",
                vec![n(1024), n(65535)],
                "allow connect host == \"api.x.com\" and not port < 1024",
            ),
        };
        let p = c.param("port", "number", Some(cond.into()), sv);
        c.rules.push(rule.into());
        if r.chance(50) {
            c.rules.push("deny connect port == 22 or port == 23".into());
        }
        c.step(
            format!("connect \"api.x.com\":{p}"),
            Some("connect host == \"api.x.com\"".into()),
        );
    }
    c.constructs.insert(NUMBERS);
}

fn addr(x: &str) -> Value {
    Value::Cidr(warden_core::net::parse_cidr(x).unwrap())
}

/// `where`s that keep an address inside 10.0.0.0/8, 192.168.7.0/24 or
/// 2001:db8:5::/48 and out of 10.66.0.0/16 and 10.1.2.3 (the denied
/// ones), with addresses that meet each, at its ends among them. The last
/// two mention strings: not for a `let` assumption, whose field takes one
/// type.
/// A host may be a network (a cidr): some samples are.
const ADDRESSES: &[(&str, &[&str])] = &[
    (
        "{} in 10.2.0.0/16",
        &["10.2.0.0", "10.2.255.255", "10.2.3.4", "10.2.0.0/16"],
    ),
    (
        "{} in 10.128.0.0/9, 192.168.7.0/24",
        &[
            "10.128.0.0",
            "10.255.255.255",
            "192.168.7.0",
            "192.168.7.255",
            "10.128.0.0/9",
        ],
    ),
    (
        "{} in 10.0.0.0/8 and not {} in 10.66.0.0/16 and {} != 10.1.2.3",
        &[
            "10.0.0.0",
            "10.65.255.255",
            "10.67.0.0",
            "10.1.2.2",
            "10.1.2.4",
            "10.255.255.255",
            "10.0.0.0/8",
            "10.1.2.0/24",
        ],
    ),
    (
        "{} in 2001:db8:5::/48",
        &[
            "2001:db8:5::",
            "2001:db8:5:ffff:ffff:ffff:ffff:ffff",
            "2001:db8:5::1",
            "2001:db8:5:7::/64",
        ],
    ),
    // 10.4.0.0/16 spelled as IPv4-mapped IPv6.
    (
        "{} in ::ffff:10.4.0.0/112",
        &["10.4.0.0", "10.4.255.255", "10.4.128.0/17"],
    ),
    (
        "{} == 10.3.4.5 or {} == \"192.168.7.7\"",
        &["10.3.4.5", "192.168.7.7"],
    ),
    (
        "{} in [\"10.5.0.1\", 10.6.0.0/16] or ({} in 2001:db8:5::/64 and not {} == 2001:db8:5::)",
        &[
            "10.5.0.1",
            "10.6.255.255",
            "2001:db8:5::1",
            "2001:db8:5::ffff:ffff:ffff:ffff",
            "2001:db8:5::/64",
        ],
    ),
];

/// `host` params inside the allowed networks (and names, where the rule
/// allows names): connects to them, and call arguments, also `let`
/// results with an assumption.
fn cidr(r: &mut Rng, c: &mut Case) {
    let (form, samples) = *r.pick(ADDRESSES);
    let mut samples: Vec<Value> = samples.iter().map(|a| addr(a)).collect();
    let to_call = r.chance(35);
    // Rules that allow every address of ADDRESSES; `names` when they allow
    // `db.x.com` too.
    let (rule, names) = match (to_call, r.below(4)) {
        (true, 0) => ("src in 10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32", false),
        (true, 1) => (
            "src in [10.0.0.0/8, 192.168.7.0/24] or src in 2001:db8:5::/48",
            false,
        ),
        (true, _) => ("not src in 172.16.0.0/12 and src in ::/0", false),
        (false, 0) => (
            "ip in 10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32 and port == 443",
            false,
        ),
        (false, 1) => (
            "(ip in 10.0.0.0/8 or ip in 192.168.7.0/24 or ip in 2001:db8:5::/48 or host in [\"api.x.com\", \"db.x.com\"]) and port == 443",
            true,
        ),
        (false, 2) => (
            "has ip and not ip in 169.254.0.0/16, 172.16.0.0/12 and port == 443",
            false,
        ),
        _ => (
            "(host endswith \".x.com\" or ip in ::ffff:10.0.0.0/104, 192.168.0.0/16, 2001:db8::/32) and port >= 443 and port <= 443",
            true,
        ),
    };
    let mut cond = form.to_string();
    if names && r.chance(50) {
        cond = format!("{{}} in [\"db.x.com\"] or {cond}");
        samples.push(s("db.x.com"));
    }
    if to_call {
        let tool = c.name("fw.open");
        c.rules.push(format!("allow call {tool} when {rule}"));
        if r.chance(50) {
            c.rules.push(format!(
                "deny call {tool} when src in 10.66.0.0/16 or src == 10.1.2.3"
            ));
        }
        // A `let` result with an assumption, or a param.
        let value = if r.chance(40) && !form.contains('"') {
            let lookup = c.name("lookup");
            let res = c.name("r");
            let field = format!("{res}.addr");
            c.rules.push(format!("allow call {lookup}"));
            c.step(
                format!(
                    "let {res} = call {lookup}(name = \"db\") where {}",
                    form.replace("{}", &field)
                ),
                Some(format!("call {lookup}")),
            );
            c.samples.insert(field.clone(), samples);
            field
        } else {
            c.param("h", "host", Some(cond), samples)
        };
        c.step(
            format!("call {tool}(src = {value}, note = \"x\")"),
            Some(format!("call {tool}")),
        );
    } else {
        c.rules.push(format!("allow connect {rule}"));
        if r.chance(50) {
            c.rules
                .push("deny connect ip in 10.66.0.0/16, 169.254.0.0/16".into());
        }
        if r.chance(30) {
            c.rules.push("deny connect ip == 10.1.2.3".into());
        }
        if r.chance(30) {
            c.rules
                .push("deny connect host == \"evil.x.com\" or port == 22".into());
        }
        let h = c.param("h", "host", Some(cond), samples);
        // `api.x.com` is the numbers' host: a pattern of this step alone.
        c.step(
            format!("connect {h}:443"),
            Some("connect port == 443 and not host == \"api.x.com\"".into()),
        );
    }
    c.constructs.insert(CIDR);
}

type Gen = fn(&mut Rng, &mut Case);

const GENERATORS: &[(&str, Gen)] = &[
    (UNDER_SUFFIX, under_suffix),
    (MATCHES_IN, matches_in),
    (LIST_EACH, list_each),
    (ARGV_INDEX, argv_index),
    (UNIX_SOCKET, unix_socket),
    (FROM_CALL, from_call),
    (NUMBERS, numbers),
    (CIDR, cidr),
];

/// Loops within counts and orders that satisfy the temporal rules.
fn temporal(r: &mut Rng, c: &mut Case) {
    // A loop around some step, and an `at most` rule its count meets.
    if r.chance(50) {
        let i = r.below(c.steps.len());
        if !c.steps[i].text.starts_with("let ") {
            let k = 1 + r.below(3) as u64;
            let at_most = r.chance(50);
            let text = format!(
                "repeat {}{k} {{ {} }}",
                if at_most { "at most " } else { "" },
                c.steps[i].text
            );
            c.steps[i].text = text;
            if let Some(p) = c.steps[i].pattern.clone() {
                let limit = k + r.below(2) as u64;
                c.rules.push(format!("at most {limit} {p}"));
                c.constructs.insert("at most + repeat");
            }
        }
    }
    // A rule about what the plan never does: no step can match it.
    if r.chance(30) {
        c.rules.push(
            r.pick(&[
                "at most 0 write when path endswith \".key\"",
                "at most 0 connect \"/var/run/docker.sock\"",
                "at most 0 call * when to == \"root@acme.com\"",
                "at most 0 exec when argv contains \"--exec\"",
            ])
            .to_string(),
        );
        c.constructs.insert("at most 0");
    }
    // `require`: a login first, then the rest.
    if r.chance(40) {
        c.rules.push("allow call login".into());
        let targets: Vec<String> = c.steps.iter().filter_map(|s| s.pattern.clone()).collect();
        // `any` would match the login itself.
        let target = if targets.is_empty() || r.chance(30) {
            "any when not has user".to_string()
        } else {
            r.pick(&targets).clone()
        };
        let first = if r.chance(50) {
            "call login"
        } else {
            "call login when has user"
        };
        c.rules.push(format!("require {first} before {target}"));
        c.steps.insert(
            0,
            Step {
                text: "call login(user = \"u\")".into(),
                pattern: None,
            },
        );
        c.constructs.insert("require");
    }
    // `never`: nothing after the last step.
    if r.chance(40) {
        c.rules.push("allow call finish".into());
        let targets: Vec<String> = c.steps.iter().filter_map(|s| s.pattern.clone()).collect();
        let target = if targets.is_empty() || r.chance(30) {
            "any".to_string()
        } else {
            r.pick(&targets).clone()
        };
        c.rules.push(format!("never {target} after call finish"));
        c.step("call finish()".into(), None);
        c.constructs.insert("never");
    }
    // Two branches of the same steps.
    if r.chance(20) && c.steps.len() >= 2 {
        let i = r.below(c.steps.len() - 1);
        if !c.steps[i].text.starts_with("let ")
            && !c.steps[i + 1].text.starts_with("let ")
            && !c.steps[i].text.contains("login")
            && !c.steps[i + 1].text.contains("finish")
        {
            let b = c.steps.remove(i + 1);
            let a = &mut c.steps[i];
            a.text = format!("either {{ {} }} or {{ {} }}", a.text, b.text);
            a.pattern = None;
            c.constructs.insert("either");
        }
    }
}

fn generate(r: &mut Rng) -> Case {
    let mut c = Case::default();
    let mut chosen: Vec<usize> = (0..GENERATORS.len()).filter(|_| r.chance(50)).collect();
    if chosen.is_empty() {
        chosen.push(r.below(GENERATORS.len()));
    }
    for g in chosen {
        (GENERATORS[g].1)(r, &mut c);
    }
    temporal(r, &mut c);
    c
}

/// Why a case failed.
enum Failure {
    /// The generator made an unsafe plan (the reference refuses an
    /// instantiation), or one that does not load: a bug of this test.
    Generator(String),
    /// "could not prove" or a timeout.
    Undecided(String),
    /// A safe plan refused with a reason (a completeness bug of the
    /// verifier, or a generator bug its samples missed).
    Refused(String),
}

/// Returns the solver queries the check made (0: automata and intervals
/// decided every question).
fn run_case(c: &Case) -> Result<usize, Failure> {
    let spec_src = c.spec();
    let plan_src = c.plan();
    let both = || format!("spec:\n{spec_src}plan:\n{plan_src}");
    let loaded = planlang::load_spec_str(&spec_src, "c.spec")
        .map_err(|e| Failure::Generator(format!("{e:?}\n{}", both())))?;
    let spec = CompiledSpec::compile(&loaded)
        .map_err(|e| Failure::Generator(format!("{e:?}\n{}", both())))?;
    let plan = planlang::load_plan_str(&plan_src, "c.plan")
        .map_err(|e| Failure::Generator(format!("{e:?}\n{}", both())))?;
    let lowered = cfg::lower(&plan).map_err(|e| Failure::Generator(format!("{e}\n{}", both())))?;
    // Every sample meets its param's `where`.
    for p in &lowered.params {
        let Some(cond) = &p.condition else { continue };
        let cond = planlang::lower::cond(cond, &planlang::lower::Consts::new())
            .map_err(|e| Failure::Generator(format!("{e:?}\n{}", both())))?;
        for v in &c.samples[&p.name] {
            let scope = BTreeMap::from([(p.name.clone(), Field::new(v.clone()))]);
            if !cond.eval(&scope) {
                return Err(Failure::Generator(format!(
                    "sample {v} of `{}` does not meet its where\n{}",
                    p.name,
                    both()
                )));
            }
        }
    }
    // The reference on concrete instantiations: sample j of every param,
    // any content for `let` results, each glob one file it matches.
    let mut unknowns = BTreeMap::new();
    let mut globs = Vec::new();
    for st in &lowered.steps {
        for t in st.fields.values() {
            collect(t, &mut unknowns, &mut globs);
        }
    }
    let rounds = c.samples.values().map(Vec::len).max().unwrap_or(1).max(1);
    for j in 0..rounds {
        let w = Witness {
            params: c
                .samples
                .iter()
                .map(|(k, vs)| (k.clone(), vs[j % vs.len()].clone()))
                .collect(),
            unknowns: unknowns.clone(),
            globs: globs
                .iter()
                .map(|g: &String| (g.clone(), glob_file(g, j)))
                .collect(),
            argv: None,
        };
        let mut actions = Vec::new();
        for st in &lowered.steps {
            actions.push(w.action(st).ok_or_else(|| {
                Failure::Generator(format!("no action for {st} with {w:?}\n{}", both()))
            })?);
        }
        let out = reference::evaluate_actions(&spec, &lowered.graph, &actions)
            .map_err(|e| Failure::Generator(format!("{e}\n{}", both())))?;
        if out.verdict != Verdict::Accept {
            return Err(Failure::Generator(format!(
                "the reference refuses the instantiation {:?}: {:?}\n{}",
                w.shown(),
                out.violations,
                both()
            )));
        }
    }
    let out = spec
        .check(&plan)
        .map_err(|e| Failure::Generator(format!("{e}\n{}", both())))?;
    if out.verdict == Verdict::Accept {
        return Ok(out.stats.solver_queries);
    }
    let detail = format!("{:#?}\n{}", out.violations, both());
    if out
        .violations
        .iter()
        .any(|v| matches!(v.reason, Reason::CouldNotProve | Reason::Timeout))
    {
        Err(Failure::Undecided(detail))
    } else {
        Err(Failure::Refused(detail))
    }
}

fn collect(t: &Term, unknowns: &mut BTreeMap<String, Value>, globs: &mut Vec<String>) {
    match t {
        Term::Unknown { name, .. } => {
            unknowns.insert(name.clone(), s("some text"));
        }
        Term::Glob(g) if !globs.contains(g) => globs.push(g.clone()),
        Term::List(ts) => ts.iter().for_each(|t| collect(t, unknowns, globs)),
        _ => {}
    }
}

/// A file a glob `DIR/**/*SUFFIX` (the generator's only shape) matches.
fn glob_file(g: &str, j: usize) -> String {
    let (dir, suffix) = g.split_once("/**/*").unwrap_or((g, ""));
    match j % 3 {
        0 => format!("{dir}/a{suffix}"),
        1 => format!("{dir}/b/c{suffix}"),
        _ => format!("{dir}/{suffix}"),
    }
}

#[test]
fn safe_plans_are_accepted_never_left_unproven() {
    let cases: usize = std::env::var("WARDEN_COMPLETENESS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let seed: u64 = std::env::var("WARDEN_COMPLETENESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let mut rng = Rng::seeded(seed);
    let started = Instant::now();
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let (mut generator, mut undecided, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    let mut with_z3 = 0;
    for _ in 0..cases {
        let c = generate(&mut rng);
        let result = run_case(&c);
        let ok = result.is_ok();
        for k in &c.constructs {
            let e = per.entry(k).or_default();
            e.0 += 1;
            e.1 += usize::from(!ok);
        }
        match result {
            Ok(queries) => with_z3 += usize::from(queries > 0),
            Err(Failure::Generator(m)) => generator.push(m),
            Err(Failure::Undecided(m)) => undecided.push(m),
            Err(Failure::Refused(m)) => refused.push(m),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let tested = cases - generator.len();
    println!(
        "completeness: {cases} cases (seed {seed}) in {secs:.1} s: {} accepted, {} could not prove or timed out ({:.2}%), {} refused, {} generator errors",
        tested - undecided.len() - refused.len(),
        undecided.len(),
        100.0 * undecided.len() as f64 / tested.max(1) as f64,
        refused.len(),
        generator.len()
    );
    println!("  accepted cases that asked Z3 at all: {with_z3}");
    for (k, (count, failed)) in &per {
        println!("  {k:<30} {count:>6} cases, {failed} not accepted");
    }
    for (what, list) in [
        ("generator error", &generator),
        ("could not prove", &undecided),
        ("refused", &refused),
    ] {
        for m in list {
            let first = m.lines().find(|l| l.contains("message")).unwrap_or("");
            let step = m.lines().find(|l| l.contains("note")).unwrap_or("");
            println!("{what}: {} {}", first.trim(), step.trim());
        }
    }
    for (what, list) in [
        ("generator error", &generator),
        ("could not prove", &undecided),
        ("refused", &refused),
    ] {
        for m in list.iter().take(3) {
            println!("--- {what}:\n{m}");
        }
    }
    assert!(generator.is_empty(), "{} generator errors", generator.len());
    assert!(
        undecided.is_empty() && refused.is_empty(),
        "{} safe plans could not be proven, {} were refused",
        undecided.len(),
        refused.len()
    );
    // The fragment is decided by automata and intervals: Z3, and its
    // timeouts under load, are not needed for any of it.
    assert_eq!(with_z3, 0, "accepted cases that needed Z3");
    if cases >= CASES {
        for k in REQUIRED {
            let count = per.get(k).map_or(0, |e| e.0);
            assert!(
                count >= MIN_PER_CONSTRUCT,
                "only {count} cases of {k}, fewer than {MIN_PER_CONSTRUCT}"
            );
        }
    }
}
