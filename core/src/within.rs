//! Grants inside grants: whether every kernel-level grant of one envelope
//! (files, programs, network, unix sockets) lies inside another's, decided
//! without a solver.
//!
//! This is the check at run start (`enforcer::proven`): what the kernel
//! layers will let through must lie inside the enforced envelope the token
//! proves. Each grant of the inner envelope is first compared with the
//! outer grants as written ([`plainly_within`]: a tree covers the files and
//! trees below it, a cidr the addresses inside it, an unknown value any
//! value). One that no single outer grant covers is decided exactly over
//! the languages involved ([`grants_within`]): a path grant by a
//! breadth-first search of the product of DFAs (the inner grant's paths,
//! normalized paths, and the union of the outer grants of the same kind),
//! an address by the union of the outer networks on that port. A grant
//! that names a param, or an argument list not covered as written, is
//! refused as undecided (fail closed).
//!
//! ```
//! use warden_core::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! use warden_core::within::grants_within;
//! let grant = |target| FileGrant { access: FileAccess::Read, target };
//! let mut outer = Envelope::default();
//! outer.files.push(grant(PathTarget::Tree { dir: "/srv/a".into() }));
//! outer.files.push(grant(PathTarget::Glob { glob: "/srv/*".into() }));
//! let mut inner = Envelope::default();
//! // No single outer grant covers `/srv` and everything below it, but
//! // together they cover every path of `/srv/*` ... not `/srv/b/c`.
//! inner.files.push(grant(PathTarget::Glob { glob: "/srv/a/**".into() }));
//! assert!(grants_within(&outer, &inner).is_ok());
//! inner.files.push(grant(PathTarget::Tree { dir: "/srv".into() }));
//! let err = grants_within(&outer, &inner).unwrap_err();
//! assert!(err.to_string().starts_with("`read under \"/srv\"` is not inside"), "{err}");
//! ```

use crate::action::ConcreteAction;
use crate::cond::value_eq;
use crate::envelope::{Envelope, PathTarget, ValueMatch};
use crate::net::{cidr_contains, mapped};
use crate::path::{is_glob, normalize_glob, under_normal};
use crate::shape::{baseline_grants, describe_match, describe_target, target_regex};
use crate::value::Value;
use crate::vocab::ActionKind;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, Input, MatchKind};
use std::collections::HashMap;

/// A grant of one envelope that another does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotWithin {
    /// No grant of the outer envelope (nor all of them together) covers
    /// it; `action`: an action it lets through that the outer envelope
    /// does not, when one was found.
    #[error("`{grant}` is not inside the envelope{}", .action.as_ref().map(|a| format!(" (it lets `{a}` through)")).unwrap_or_default())]
    Outside {
        /// The inner grant, as the plan language writes it.
        grant: String,
        /// An action the grant lets through and the outer envelope does
        /// not, written as an action, when one was found.
        action: Option<String>,
    },
    /// The question could not be decided (refused all the same).
    #[error("whether `{grant}` is inside the envelope could not be decided: {reason}")]
    Undecided {
        /// The inner grant, as the plan language writes it.
        grant: String,
        /// Why it could not be decided: the paths' automata grew too large to
        /// compare, or an argument list no outer grant covers as written.
        reason: String,
    },
}

/// Whether every file, exec, connect, listen and unix socket grant of
/// `inner` lies inside `outer` (its grants, plus the grants its baseline's
/// plain path patterns amount to, [`baseline_grants`]); tool calls, params,
/// limits and ordering are not compared. `Err` names the first grant of
/// `inner` that is not, in `inner`'s order (files and unix sockets, exec,
/// connect, listen). Exact: a grant covered only by several outer grants
/// together is inside.
pub fn grants_within(outer: &Envelope, inner: &Envelope) -> Result<(), NotWithin> {
    within(outer, inner, true)
}

/// [`grants_within`] with each grant compared with the outer grants as
/// written, one at a time: a grant covered only by several outer grants
/// together is refused.
pub fn plainly_within(outer: &Envelope, inner: &Envelope) -> Result<(), NotWithin> {
    within(outer, inner, false)
}

fn within(outer: &Envelope, inner: &Envelope, exact: bool) -> Result<(), NotWithin> {
    let (base, _) = baseline_grants(&outer.baseline);
    let mut all = outer.clone();
    all.files.extend(base.files);
    all.exec.extend(base.exec);
    all.unix.extend(base.unix);
    all.baseline.clear();
    // A likely witness first: one `all` does not permit refutes the grant
    // at once.
    let likely = |candidates: Vec<ConcreteAction>| -> Option<String> {
        candidates
            .iter()
            .find(|a| all.permits(a).is_err())
            .map(|a| a.to_string())
    };
    let refuted = |grant: String, candidates: Vec<ConcreteAction>| -> Result<(), NotWithin> {
        Err(NotWithin::Outside {
            grant,
            action: likely(candidates),
        })
    };
    // Files and unix sockets: a path grant of one kind of action.
    let paths = inner
        .files
        .iter()
        .map(|g| (g.access.kind(), &g.target))
        .chain(inner.unix.iter().map(|g| (g.op.kind(), &g.target)));
    for (kind, target) in paths {
        let outers: Vec<&PathTarget> = all
            .files
            .iter()
            .map(|o| (o.access.kind(), &o.target))
            .chain(all.unix.iter().map(|o| (o.op.kind(), &o.target)))
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| t)
            .collect();
        if outers.iter().any(|o| target_covers_plainly(o, target)) {
            continue;
        }
        let grant = format!("{kind} {}", describe_target(target));
        // Rights on a tree reach what is inside it; the directory itself
        // is created and removed in its parent.
        let strict = matches!(kind, ActionKind::Write | ActionKind::Delete);
        if exact {
            match paths_within(&outers, target, strict) {
                Ok(None) => continue,
                Ok(Some(path)) => {
                    // The shortest path outside, unless the grant reaches a
                    // socket that gives the machine away: that one.
                    let privileged = privileged_sockets(kind, target)
                        .iter()
                        .filter_map(|p| ConcreteAction::path_action(kind, p).ok())
                        .collect();
                    let found = ConcreteAction::path_action(kind, &path).ok();
                    return Err(NotWithin::Outside {
                        action: likely(privileged).or_else(|| found.map(|a| a.to_string())),
                        grant,
                    });
                }
                Err(reason) => return Err(NotWithin::Undecided { grant, reason }),
            }
        }
        refuted(grant, path_candidates(kind, target))?;
    }
    for g in &inner.exec {
        let plain = all.exec.iter().any(|o| {
            target_covers_plainly(&o.program, &g.program)
                && match (&o.argv, &g.argv) {
                    (None, _) => true,
                    (Some(o), Some(i)) => {
                        o.len() == i.len() && o.iter().zip(i).all(|(o, i)| covers_plainly(o, i))
                    }
                    (Some(_), None) => false,
                }
        });
        if plain {
            continue;
        }
        let grant = format!("exec {} with any arguments", describe_target(&g.program));
        if exact {
            if g.argv.is_some() {
                return Err(NotWithin::Undecided {
                    grant,
                    reason: "its argument list is covered by no grant as written".into(),
                });
            }
            // Programs with any arguments: the outer programs granted with
            // any arguments, as paths.
            let outers: Vec<&PathTarget> = all
                .exec
                .iter()
                .filter(|o| o.argv.is_none())
                .map(|o| &o.program)
                .collect();
            match paths_within(&outers, &g.program, false) {
                Ok(None) => continue,
                Ok(Some(path)) => {
                    return Err(NotWithin::Outside {
                        action: ConcreteAction::exec::<&str>(&path, &[])
                            .ok()
                            .map(|a| a.to_string()),
                        grant,
                    });
                }
                Err(reason) => return Err(NotWithin::Undecided { grant, reason }),
            }
        }
        let candidates = match &g.argv {
            None => path_candidates(ActionKind::Exec, &g.program),
            Some(_) => Vec::new(),
        };
        refuted(grant, candidates)?;
    }
    for g in &inner.connect {
        if all
            .connect
            .iter()
            .any(|o| covers_plainly(&o.host, &g.host) && covers_plainly(&o.port, &g.port))
        {
            continue;
        }
        let grant = format!(
            "connect {}:{}",
            describe_match(&g.host),
            describe_match(&g.port)
        );
        let port = match &g.port {
            ValueMatch::Exact {
                value: Value::Number(n),
            } => n.to_string().parse::<u16>().ok(),
            _ => Some(443),
        };
        let candidate = match (&g.host, port) {
            (
                ValueMatch::Exact {
                    value: Value::Cidr(net),
                },
                Some(port),
            ) => Some(ConcreteAction::connect_ip(net.network(), port)),
            _ => None,
        };
        if exact && addresses_within(&all, &g.host, &g.port) {
            continue;
        }
        refuted(grant, candidate.into_iter().collect())?;
    }
    for g in &inner.listen {
        if all.listen.iter().any(|o| covers_plainly(&o.port, &g.port)) {
            continue;
        }
        let candidate = match &g.port {
            ValueMatch::Exact {
                value: Value::Number(n),
            } => n
                .to_string()
                .parse::<u16>()
                .ok()
                .map(ConcreteAction::listen),
            _ => None,
        };
        refuted(
            format!("listen {}", describe_match(&g.port)),
            candidate.into_iter().collect(),
        )?;
    }
    Ok(())
}

/// Whether a connect grant's addresses lie inside the union of `outer`'s
/// connect grants on the same port (or any port). A host name, a param or
/// an unknown host is inside only as written ([`covers_plainly`]).
fn addresses_within(outer: &Envelope, host: &ValueMatch, port: &ValueMatch) -> bool {
    let ValueMatch::Exact {
        value: Value::Cidr(net),
    } = host
    else {
        return false;
    };
    let mut ranges: Vec<(u128, u128)> = outer
        .connect
        .iter()
        .filter(|o| covers_plainly(&o.port, port))
        .filter_map(|o| match &o.host {
            ValueMatch::Exact {
                value: Value::Cidr(n),
            } => Some(range(n)),
            _ => None,
        })
        .collect();
    ranges.sort_unstable();
    let (lo, hi) = range(net);
    // Walk the merged ranges from `lo`: covered when they reach `hi`
    // without a gap.
    let mut reach = lo;
    for (a, b) in ranges {
        if a > reach {
            break;
        }
        if b >= reach {
            if b >= hi {
                return true;
            }
            reach = b + 1;
        }
    }
    false
}

/// The first and last address of a network, as IPv6 (IPv4 mapped).
fn range(net: &ipnet::IpNet) -> (u128, u128) {
    let (addr, prefix) = mapped(net);
    let span = if prefix == 0 {
        u128::MAX
    } else {
        (1u128 << (128 - u32::from(prefix))) - 1
    };
    (addr, addr | span)
}

/// Whether a parent value covers a sub value without any param.
pub fn covers_plainly(parent: &ValueMatch, sub: &ValueMatch) -> bool {
    match (parent, sub) {
        (ValueMatch::Exact { value: p }, ValueMatch::Exact { value: s }) => match (p, s) {
            (Value::Cidr(net), Value::Cidr(ip)) => cidr_contains(net, ip),
            (p, s) => value_eq(p, s),
        },
        (ValueMatch::Unknown { origin: None }, _) => true,
        (ValueMatch::Unknown { origin: Some(o) }, ValueMatch::Unknown { origin: Some(s) }) => {
            o == s
        }
        _ => false,
    }
}

/// Whether a parent path target covers a sub target as written.
pub fn target_covers_plainly(parent: &PathTarget, sub: &PathTarget) -> bool {
    match (parent, sub) {
        (PathTarget::Param { .. }, _) | (_, PathTarget::Param { .. }) => false,
        (PathTarget::Unknown { .. }, _) => true,
        (p, PathTarget::Exact { path }) => p.covers(path),
        (PathTarget::Tree { dir }, PathTarget::Tree { dir: d }) => under_normal(d, dir),
        (PathTarget::Tree { dir }, PathTarget::Glob { glob }) => {
            glob_prefix(glob).is_some_and(|pre| under_normal(&pre, dir))
        }
        // `/d/**` is the tree `/d` (it matches `/d` itself).
        (PathTarget::Glob { glob }, sub) if glob_tree(glob).is_some() => {
            glob_tree(glob).is_some_and(|dir| target_covers_plainly(&PathTarget::Tree { dir }, sub))
        }
        (PathTarget::Glob { glob: g }, PathTarget::Glob { glob }) => g == glob,
        _ => false,
    }
}

/// The directory of a glob that is a whole tree (`/d/**`, `/**`).
fn glob_tree(glob: &str) -> Option<String> {
    let g = normalize_glob(glob).ok()?;
    let dir = g.strip_suffix("/**")?;
    if is_glob(dir) || dir.contains('[') {
        return None;
    }
    Some(if dir.is_empty() {
        "/".into()
    } else {
        dir.into()
    })
}

/// The directory a glob cannot leave: its segments before the first
/// wildcard.
fn glob_prefix(glob: &str) -> Option<String> {
    let mut out = String::new();
    for seg in glob.split('/').skip(1) {
        if seg.contains(['*', '?', '[']) {
            return (!out.is_empty()).then_some(out);
        }
        out.push('/');
        out.push_str(seg);
    }
    None
}

/// Sockets that give away the machine, the likely witnesses of a wide unix
/// connect grant.
const PRIVILEGED_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/containerd/containerd.sock"];

/// The [`PRIVILEGED_SOCKETS`] a socket grant of `kind` on `target` reaches.
fn privileged_sockets(kind: ActionKind, target: &PathTarget) -> Vec<&'static str> {
    let socket = matches!(kind, ActionKind::Connect | ActionKind::Listen);
    match target {
        PathTarget::Tree { dir } if socket => PRIVILEGED_SOCKETS
            .iter()
            .copied()
            .filter(|s| under_normal(s, dir))
            .collect(),
        _ => Vec::new(),
    }
}

/// Concrete actions in a path grant, the likely witnesses of a wide one.
pub fn path_candidates(kind: ActionKind, target: &PathTarget) -> Vec<ConcreteAction> {
    let socket = matches!(kind, ActionKind::Connect | ActionKind::Listen);
    let paths: Vec<String> = match target {
        PathTarget::Tree { dir } => {
            let d = dir.trim_end_matches('/');
            let mut paths: Vec<String> = privileged_sockets(kind, target)
                .into_iter()
                .map(str::to_owned)
                .collect();
            let leaf = if socket { "evil.sock" } else { "evil.sh" };
            paths.extend([
                format!("{d}/{leaf}"),
                format!("{d}/x"),
                format!("{d}/sub/x"),
            ]);
            paths
        }
        PathTarget::Exact { path } => vec![path.clone()],
        _ => Vec::new(),
    };
    paths
        .iter()
        .filter_map(|p| ConcreteAction::path_action(kind, p).ok())
        .collect()
}

// ───────────────────────────── path languages ─────────────────────────────

/// Normalized absolute paths: `/`, or segments that are not empty, `.` or
/// `..`, without `/` or NUL.
const NORMAL: &str = r"/|(?:/(?:[^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+))+";

/// The most product states one question visits before it is undecided.
const MAX_STATES: usize = 200_000;

type Dfa = dense::DFA<Vec<u32>>;

fn dfa(pattern: &str) -> Result<Dfa, String> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(regex_automata::dfa::StartKind::Anchored)
                .dfa_size_limit(Some(16 << 20))
                .determinize_size_limit(Some(16 << 20)),
        )
        .build(pattern)
        .map_err(|e| format!("its paths' automaton could not be built: {e}"))
}

/// A regex without its `^...$` anchors, as an alternative of a union.
fn unanchored(re: &str) -> &str {
    let re = re.strip_prefix('^').unwrap_or(re);
    re.strip_suffix('$').unwrap_or(re)
}

/// Whether every normalized path `target` covers (`strict`: inside a tree,
/// not the tree's directory itself) is covered by one of `outers`:
/// `Ok(None)` when it is, `Ok(Some(path))` with a path it covers that none
/// of `outers` does, `Err` when the question cannot be decided.
fn paths_within(
    outers: &[&PathTarget],
    target: &PathTarget,
    strict: bool,
) -> Result<Option<String>, String> {
    let inner = target_regex(target, strict)
        .ok_or_else(|| "a param's value is not known before the run".to_owned())?;
    let union: Vec<String> = outers
        .iter()
        .filter_map(|o| target_regex(o, false))
        .map(|re| format!("(?:{})", unanchored(&re)))
        .collect();
    let union = if union.is_empty() {
        // Matches nothing.
        r"[^\s\S]".to_owned()
    } else {
        union.join("|")
    };
    let dfas = [
        dfa(&format!("^(?:{})$", unanchored(&inner)))?,
        dfa(&format!("^(?:{NORMAL})$"))?,
        dfa(&format!("^(?:{union})$"))?,
    ];
    let input = Input::new("").anchored(Anchored::Yes);
    let mut start = [StateID::ZERO; 3];
    for (q, d) in start.iter_mut().zip(&dfas) {
        *q = d
            .start_state_forward(&input)
            .map_err(|e| format!("its paths' automaton has no start: {e}"))?;
    }
    let accepts = |i: usize, q: StateID| {
        let d = &dfas[i];
        d.is_match_state(d.next_eoi_state(q))
    };
    let mut seen: HashMap<[StateID; 3], ()> = HashMap::new();
    // Per state: its parent and the byte that led to it.
    let mut parent: Vec<(usize, u8)> = vec![(usize::MAX, 0)];
    let mut states: Vec<[StateID; 3]> = vec![start];
    seen.insert(start, ());
    let mut at = 0;
    while at < states.len() {
        let q = states[at];
        if accepts(0, q[0]) && accepts(1, q[1]) && !accepts(2, q[2]) {
            let mut bytes = Vec::new();
            let mut i = at;
            while parent[i].0 != usize::MAX {
                bytes.push(parent[i].1);
                i = parent[i].0;
            }
            bytes.reverse();
            return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
        }
        for b in 0..=255u8 {
            let next = [
                dfas[0].next_state(q[0], b),
                dfas[1].next_state(q[1], b),
                dfas[2].next_state(q[2], b),
            ];
            if dfas[0].is_dead_state(next[0]) || dfas[1].is_dead_state(next[1]) {
                continue;
            }
            if seen.insert(next, ()).is_none() {
                if states.len() >= MAX_STATES {
                    return Err(format!(
                        "its paths' automata have more than {MAX_STATES} product states"
                    ));
                }
                states.push(next);
                parent.push((at, b));
            }
        }
        at += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{ConnectGrant, ExecGrant, FileAccess, FileGrant};

    fn read(target: PathTarget) -> FileGrant {
        FileGrant {
            access: FileAccess::Read,
            target,
        }
    }
    fn tree(d: &str) -> PathTarget {
        PathTarget::Tree { dir: d.into() }
    }
    fn glob(g: &str) -> PathTarget {
        PathTarget::Glob { glob: g.into() }
    }
    fn exact(p: &str) -> PathTarget {
        PathTarget::Exact { path: p.into() }
    }
    fn env(files: Vec<FileGrant>) -> Envelope {
        Envelope {
            files,
            ..Envelope::default()
        }
    }

    #[test]
    fn a_union_covers_what_no_single_grant_does() {
        // `/d` itself, and everything below it, by two grants.
        let outer = env(vec![read(exact("/d")), read(glob("/d/**/*"))]);
        let inner = env(vec![read(tree("/d"))]);
        assert!(plainly_within(&outer, &inner).is_err());
        assert_eq!(grants_within(&outer, &inner), Ok(()));
    }

    #[test]
    fn a_gap_gives_a_witness() {
        let outer = env(vec![read(glob("/d/*.txt")), read(tree("/d/sub"))]);
        let inner = env(vec![read(tree("/d"))]);
        let err = grants_within(&outer, &inner).unwrap_err();
        let NotWithin::Outside {
            action: Some(action),
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        // The shortest path outside both: `/d` itself.
        assert_eq!(action, "read \"/d\"");
    }

    #[test]
    fn write_rights_on_a_tree_do_not_reach_its_directory() {
        let w = |target| FileGrant {
            access: FileAccess::Write,
            target,
        };
        let outer = env(vec![w(glob("/d/**/*"))]);
        let inner = env(vec![w(tree("/d"))]);
        // Strictly below `/d`: every path there matches `/d/**/*`.
        assert_eq!(grants_within(&outer, &inner), Ok(()));
    }

    #[test]
    fn exec_with_arguments_is_undecided_unless_covered_as_written() {
        let mut outer = Envelope::default();
        outer.exec.push(ExecGrant {
            program: exact("/bin/a"),
            argv: Some(vec![]),
        });
        let mut inner = Envelope::default();
        inner.exec.push(ExecGrant {
            program: exact("/bin/a"),
            argv: Some(vec![ValueMatch::Exact {
                value: Value::from("-x"),
            }]),
        });
        assert!(matches!(
            grants_within(&outer, &inner),
            Err(NotWithin::Undecided { .. })
        ));
        inner.exec[0].argv = None;
        outer.exec[0].argv = None;
        outer.exec[0].program = glob("/bin/*");
        assert_eq!(grants_within(&outer, &inner), Ok(()));
    }

    #[test]
    fn networks_are_unions_of_ranges() {
        let net = |s: &str| ValueMatch::Exact {
            value: Value::Cidr(s.parse().unwrap()),
        };
        let port = ValueMatch::Exact {
            value: Value::from(443),
        };
        let mut outer = Envelope::default();
        for n in ["10.0.0.0/9", "10.128.0.0/9"] {
            outer.connect.push(ConnectGrant {
                host: net(n),
                port: port.clone(),
            });
        }
        let mut inner = Envelope::default();
        inner.connect.push(ConnectGrant {
            host: net("10.0.0.0/8"),
            port: port.clone(),
        });
        assert!(plainly_within(&outer, &inner).is_err());
        assert_eq!(grants_within(&outer, &inner), Ok(()));
        inner.connect[0].host = net("10.0.0.0/7");
        assert!(grants_within(&outer, &inner).is_err());
        inner.connect[0].host = net("10.0.0.0/8");
        inner.connect[0].port = ValueMatch::Exact {
            value: Value::from(80),
        };
        assert!(grants_within(&outer, &inner).is_err());
    }
}
