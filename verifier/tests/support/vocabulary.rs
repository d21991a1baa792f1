//! The vocabulary of random plans and specs: actions, spec patterns with
//! the conditions that fit each, and steps with params. One copy, used by
//! the property tests (`verifier/tests/agree.rs`, with proptest) and by the
//! fuzz target `verify_plans` (`fuzz/fuzz_targets/verify_plans.rs`, with
//! libFuzzer's bytes), which include this file.

#![allow(dead_code)]

pub const PATHS: &[&str] = &[
    "/tmp/a",
    "/tmp/b/c.rs",
    "/etc/passwd",
    "/repo/src/x.rs",
    "/tmp/../etc/shadow",
    "/",
    "/tmp",
];
pub const CALLS: &[&str] = &["pay", "read_file", "login"];
pub const WHO: &[&str] = &["\"A\"", "\"B\"", "\"C\""];
pub const AMOUNTS: &[&str] = &["1", "500", "1000.5", "2000"];

/// Actions with fixed arguments: execs with argument lists, network and
/// unix socket connects and listens.
pub const OTHER_ACTIONS: &[&str] = &[
    "exec \"/usr/bin/git\" [\"status\"]",
    "exec \"/usr/bin/git\" [\"push\", \"-f\"]",
    "exec \"/usr/bin/git\" []",
    "exec \"/bin/sh\" [\"-c\", \"x\"]",
    "connect \"api.x.com\":443",
    "connect \"api.x.com\":80",
    "connect 10.0.0.1:443",
    "connect [::ffff:10.0.0.2]:443",
    "connect 8.8.8.8:53",
    "connect 10.0.0.0/7:443",
    "listen 8080",
    "connect \"/run/app/db.sock\"",
    "connect \"/run/app/../docker.sock\"",
    "connect \"/var/run/docker.sock\"",
    "listen \"/run/app/api.sock\"",
    "exec \"/usr/bin/git\" [\"-c\", \"core.pager=x\", \"log\"]",
];

pub const PATH_CONDS: &[&str] = &[
    "path under \"/tmp/\"",
    "not path under \"/tmp/\"",
    "path endswith \".rs\"",
    "path == \"/etc/passwd\"",
    "path startswith \"/tmp/\"",
];
pub const EXEC_CONDS: &[&str] = &[
    "argv[0] in [\"status\", \"diff\"]",
    "argv contains \"-f\"",
    "argv endswith \"s\"",
    "argv == []",
    "not argv[0] == \"push\"",
];
pub const NET_CONDS: &[&str] = &[
    "ip in 10.0.0.0/8",
    "not ip in 10.0.0.0/8",
    "host == \"api.x.com\"",
    "port == 443",
    "port < 100",
    "not port == 443",
    "ip in 10.1.0.0/16, 2001:db8::/32",
    "host endswith \".x.com\" or ip == 10.1.2.3",
    "has ip and not ip in ::ffff:10.0.0.0/104",
];
/// Conditions on a connect or listen, unix socket or network.
pub const SOCKET_CONDS: &[&str] = &[
    "path under \"/run/app/\"",
    "not path endswith \".sock\"",
    "path == \"/var/run/docker.sock\"",
    "path startswith \"/run/\"",
    "has path",
    "port == 443",
    "host == \"api.x.com\" or path under \"/run/\"",
];
pub const CALL_CONDS: &[&str] = &[
    "recipient in [\"A\", \"B\"]",
    "amount <= 1000",
    "amount > 1000",
    "has recipient",
    "not has amount",
    "recipient matches \"[AB]\"",
];

/// Patterns, each with the conditions that fit its action kind.
pub const PATTERNS: &[(&str, &[&str])] = &[
    ("read", PATH_CONDS),
    ("write under \"/tmp/\"", PATH_CONDS),
    ("read \"/etc/passwd\"", PATH_CONDS),
    ("delete", PATH_CONDS),
    ("exec \"/usr/bin/git\"", EXEC_CONDS),
    ("exec", PATH_CONDS),
    ("connect", NET_CONDS),
    ("listen", &["port == 8080", "not port < 1024"]),
    ("connect", SOCKET_CONDS),
    ("connect under \"/run/app/\"", SOCKET_CONDS),
    ("connect \"/var/run/docker.sock\"", &[]),
    ("listen under \"/run/\"", SOCKET_CONDS),
    (
        "exec \"/usr/bin/git\"",
        &[
            "argv == [\"-c\", \"core.pager=x\", \"log\"]",
            "argv[1] startswith \"core.\"",
        ],
    ),
    ("call *", CALL_CONDS),
    ("call pay", CALL_CONDS),
    ("call read_file, login", CALL_CONDS),
    ("any", &[]),
];

pub const PARAM_PLANS: &[(&str, &str)] = &[
    ("p: path where p startswith \"/tmp/\"", "write p"),
    ("p: path where p under \"/tmp/\"", "write p"),
    ("p: path where p endswith \".rs\"", "read p"),
    ("p: path", "delete p"),
    (
        "r: string where r in [\"A\", \"C\"]",
        "call pay(recipient = r, amount = 1)",
    ),
    ("r: string", "call pay(recipient = r, amount = 5)"),
    (
        "r: string where r matches \"[A-C]\"",
        "call login(recipient = r)",
    ),
    (
        "a: number where a > 0 and a <= 1500",
        "call pay(recipient = \"A\", amount = a)",
    ),
    (
        "a: number where a >= 443 and a <= 444",
        "connect \"api.x.com\":a",
    ),
    ("p: path where p under \"/run/app/\"", "connect p"),
    ("p: path where p startswith \"/run/\"", "connect p"),
    ("p: path where p under \"/run/\"", "listen p"),
    ("p: path", "connect p"),
    (
        "a: string where a in [\"status\", \"push\"]",
        "exec \"/usr/bin/git\" [a]",
    ),
    ("a: string", "exec \"/usr/bin/git\" [\"-c\", a, \"log\"]"),
    // A port is a whole number: 1024 is the only port here.
    (
        "a: number where a > 1023 and a < 1025",
        "connect \"api.x.com\":a",
    ),
    // Raw spellings that fix (or do not fix) the normal form.
    (
        "p: path where p in [\"/tmp/a\", \"/tmp/../etc/passwd\"]",
        "read p",
    ),
    (
        "p: path where p startswith \"/tmp/\" and not p contains \"..\"",
        "write p",
    ),
    ("p: path where p matches \"/tmp/[a-z]+\\\\.rs\"", "read p"),
    ("p: path where p matches \"/tmp/[a-z.]+\"", "delete p"),
    (
        "p: path where p startswith \"/run/app/\" and not p contains \"..\"",
        "connect p",
    ),
    // Host params: names and addresses (IPv4, IPv6, IPv4-mapped).
    ("h: host where h in 10.0.0.0/7", "connect h:443"),
    (
        "h: host where h in 10.1.0.0/16 or h == \"api.x.com\"",
        "connect h:443",
    ),
    (
        "h: host where h in 2001:db8::/31, ::ffff:10.1.2.0/120 or h endswith \".x.com\"",
        "connect h:443",
    ),
    ("h: host where not h == 10.1.2.3", "connect h:22"),
    ("h: host", "connect h:443"),
    (
        "h: host where not h in 10.0.0.0/8",
        "call pay(recipient = h, amount = 1)",
    ),
];
