//! Starting a run only inside a proven envelope.
//!
//! A token's `enforcement` claim lists, per enforcement profile, the digest
//! of the envelope that profile's layers enforce and whether the verifier
//! proved it inside the spec ([`verifier::enforced`]). Before a run starts,
//! [`select`] recomputes the enforced envelope of each profile this machine
//! can apply and picks the richest one whose digest the token lists as
//! proven; the launcher then requires that profile's layers, so a run never
//! starts with fewer layers than its proof assumed. With none, the run is
//! refused with what the token recorded (the counterexample) and what this
//! machine lacks.
//!
//! The layers are configured from the compiled [`KernelPolicy`]
//! (`enforcer::compile`), a second translation of the envelope. So before
//! the run starts, [`check`] reads what that policy lets through under the
//! selected profile ([`kernel_envelope`]) and proves it inside the proven
//! enforced envelope with the verifier's containment
//! ([`verifier::containment::grants_within`]); a grant outside refuses the
//! run, naming it. Machine-dependent grants outside the proof's terms (ELF
//! loaders, pinned host addresses, symlinked rule paths) are returned by
//! name as [`Exception`]s.
//!
//! ```
//! use enforcer::proven::select;
//! use verifier::enforced::Profile;
//! let claims: token::Claims = serde_json::from_str(r#"{"warden": 1, "iss": "warden",
//!   "jti": "00000000000000000000000000000001", "iat": "2026-01-01T00:00:00Z",
//!   "nbf": "2026-01-01T00:00:00Z", "exp": "2026-01-01T00:10:00Z",
//!   "plan_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
//!   "spec_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
//!   "envelope": {"version": 1, "files": [], "exec": [], "connect": [], "listen": [],
//!     "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []}}"#)?;
//! // A token without the claim starts nothing.
//! assert!(select(&claims, &[], |_| Ok(())).is_err());
//! # Ok::<(), serde_json::Error>(())
//! ```

use crate::layer::{Layer, LayerSet};
use crate::lsm::{self, Shape};
use crate::policy::{FileAccess, FileScope, KernelPolicy, NetDirection, Proto, SyscallAllowlist};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use token::Claims;
use token::claims::Digest;
use token::enforcement::profile_digest;
use verifier::action::Value;
use verifier::containment::{self, NotWithin};
use verifier::enforced::{self, Profile};
use verifier::envelope::{
    ConnectGrant, Envelope, ExecGrant, FileAccess as EnvAccess, FileGrant, ListenGrant, PathTarget,
    UnixGrant, UnixOp, ValueMatch,
};

/// The profile a run starts under, and the digest of its proven envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub profile: Profile,
    pub digest: Digest,
}

/// Why no profile may start the run: one line per profile, richest first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct NotProven {
    pub reasons: Vec<String>,
}

impl fmt::Display for NotProven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "refusing to start: no enforcement profile this machine can apply has a proven envelope in the token",
        )?;
        for r in &self.reasons {
            write!(f, "\n  {r}")?;
        }
        Ok(())
    }
}

/// The layers a profile's proof relies on: the run must not start without
/// them.
pub fn required_layers(profile: Profile) -> LayerSet {
    let mut set: LayerSet = [Layer::Landlock, Layer::Seccomp].into_iter().collect();
    if profile.addresses() {
        set.insert(Layer::EbpfCgroupSockAddr);
    }
    if profile.exact_files() {
        set.insert(Layer::BpfLsm);
    }
    set
}

/// Every layer of a profile.
pub fn profile_layers(profile: Profile) -> LayerSet {
    profile
        .layers()
        .iter()
        .filter_map(|l| l.parse::<Layer>().ok())
        .collect()
}

/// Picks the richest profile that the token proves and this machine can
/// apply. `available(profile)` says whether the machine can apply it (or
/// what it lacks); it is asked only of profiles the token proves, richest
/// first, so an expensive probe runs only when it matters. Profiles that
/// lack a layer of `require` are passed over.
pub fn select(
    claims: &Claims,
    require: &[Layer],
    mut available: impl FnMut(Profile) -> Result<(), String>,
) -> Result<Selected, NotProven> {
    let mut reasons = Vec::new();
    for profile in Profile::ALL.into_iter().rev() {
        let digest = profile_digest(&claims.envelope, profile);
        let name = profile.name();
        let layers = profile_layers(profile);
        if let Some(missing) = require.iter().find(|l| !layers.contains(l)) {
            reasons.push(format!("{name}: lacks the required layer {missing}"));
            continue;
        }
        match claims.proven_enforcement(&digest) {
            Some(_) => match available(profile) {
                Ok(()) => return Ok(Selected { profile, digest }),
                Err(why) => reasons.push(format!(
                    "{name}: proven, but this machine cannot apply it: {why}"
                )),
            },
            None => {
                let recorded = claims
                    .enforcement
                    .iter()
                    .find(|e| e.digest == digest && !e.proven);
                reasons.push(match recorded.and_then(|e| e.counterexample.as_deref()) {
                    Some(cx) => format!("{name}: not proven at issue time: {cx}"),
                    None => format!(
                        "{name}: the token holds no proof of the envelope these layers enforce ({digest})"
                    ),
                });
            }
        }
    }
    Err(NotProven { reasons })
}

// ───────────────────────── what the kernel lets through ─────────────────────────

/// What the kernel layers of a profile let through for a compiled
/// [`KernelPolicy`], in the envelope's terms ([`kernel_envelope`]), and the
/// machine-dependent grants they make outside those terms by design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelEnvelope {
    /// The profile whose layers are described.
    pub profile: Profile,
    /// Files per access and shape, programs (with any arguments: no layer
    /// sees argv), connects (an address or network, or the host name whose
    /// addresses were pinned, and a port) and listens.
    pub envelope: Envelope,
    /// What the layers grant beyond the envelope's terms, by name. After
    /// [`check`], only those the proven envelope does not cover.
    pub exceptions: Vec<Exception>,
}

/// A grant the kernel layers make that depends on the machine and is
/// deliberately outside the proof (README, "The proven envelope is the
/// enforced one"). Reported per run, never silently skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exception {
    /// The ELF loader (`PT_INTERP`) of dynamic programs, read by the kernel
    /// to start them. Under the root profiles, run as a program of its own
    /// it is killed by the eBPF exec check (Landlock must let it execute);
    /// without that check it is a grant of the unprivileged profile's
    /// envelope itself, not an exception.
    ElfLoader {
        loader: String,
        programs: Vec<String>,
    },
    /// A host name resolved when the run starts: the layers enforce the
    /// addresses pinned then; the proof is about the name (it trusts the
    /// resolver at run start).
    PinnedHost {
        host: String,
        addresses: Vec<IpAddr>,
    },
    /// A rule's path leads through a symlink: the kernel grants the file or
    /// tree it resolves to (by inode), so the run reaches it under that
    /// name too; the proof is about the name the envelope gives.
    Alias {
        access: FileAccess,
        /// The rule's file, tree or glob, as the envelope names it.
        target: PathTarget,
        /// The same with the symlinks of its literal part resolved.
        resolved: PathTarget,
    },
    /// A unix socket rule's path leads through a symlink: the eBPF programs
    /// match the path as the caller names it, and the kernel then resolves
    /// it, so the run reaches the socket the symlink leads to (which a run
    /// that may write where the symlink lies could change: the proof's
    /// enforced envelope widens such a grant to every socket).
    SocketAlias {
        target: PathTarget,
        resolved: PathTarget,
    },
}

impl Exception {
    /// The grants of the exception, in the envelope's terms (empty for a
    /// pinned host, whose name the proof covers).
    fn grants(&self) -> Envelope {
        let mut out = Envelope::default();
        match self {
            Exception::ElfLoader { loader, .. } => {
                let target = PathTarget::Exact {
                    path: loader.clone(),
                };
                push_rule(&mut out, target, FileAccess::READ);
            }
            Exception::Alias {
                access, resolved, ..
            } => {
                push_rule(&mut out, resolved.clone(), *access);
            }
            Exception::SocketAlias { resolved, .. } => out.unix.push(UnixGrant {
                op: UnixOp::Connect,
                target: resolved.clone(),
            }),
            Exception::PinnedHost { .. } => {}
        }
        out
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exception::ElfLoader { loader, programs } => {
                let programs: Vec<String> = programs.iter().map(|p| format!("{p:?}")).collect();
                write!(
                    f,
                    "read {loader:?}, the ELF loader of {} (run directly, it is killed by the exec check)",
                    programs.join(", ")
                )
            }
            Exception::PinnedHost { host, addresses } => {
                let addrs: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
                write!(
                    f,
                    "connect {host:?} as the addresses it resolved to at run start ({})",
                    addrs.join(", ")
                )
            }
            Exception::Alias {
                access,
                target,
                resolved,
            } => write!(
                f,
                "{access} {} reaches {} through a symlink: the kernel grants the file itself, under each of its names",
                shown(target),
                shown(resolved)
            ),
            Exception::SocketAlias { target, resolved } => write!(
                f,
                "connect {} reaches {} through a symlink: the socket is matched by the path the run gives and resolved by the kernel",
                shown(target),
                shown(resolved)
            ),
        }
    }
}

/// Why a run may not start: the kernel layers would let through something
/// the proven envelope does not cover.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutsideProof {
    /// A grant's path is in the situation where the kernel grants a wider
    /// shape, and that shape was not proven at issue time.
    #[error(
        "refusing to start: {situation} for `{grant}`, so the kernel layers of profile {profile} would grant `{widened}`, which was not proven{}",
        counterexample.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    Unproven {
        profile: Profile,
        grant: String,
        situation: enforced::Situation,
        widened: String,
        counterexample: Option<String>,
    },
    /// A grant of the kernel layers outside the proven envelope.
    #[error("refusing to start: the kernel layers of profile {profile} would let {}", outside(.not_within))]
    Grant {
        profile: Profile,
        not_within: NotWithin,
    },
    /// A syscall every run is refused ([`crate::policy::ALWAYS_REFUSED`]),
    /// which no envelope grants.
    #[error(
        "refusing to start: the kernel layers of profile {profile} would allow the syscall `{name}`, which every run is refused and no proof covers"
    )]
    Syscall { profile: Profile, name: String },
    /// A path of the policy the proof cannot speak of.
    #[error(
        "refusing to start: the kernel policy names {path:?}, which is not a normalized UTF-8 path"
    )]
    Path { path: PathBuf },
    /// A pattern of the BPF LSM layer it cannot express.
    #[error("refusing to start: {0}")]
    Shape(String),
    /// The envelope recomputed for the profile is not the one selected.
    #[error(
        "refusing to start: the enforced envelope of profile {profile} is not the one the token proves"
    )]
    Digest { profile: Profile },
}

fn outside(n: &NotWithin) -> String {
    match n {
        NotWithin::Outside {
            grant,
            action: Some(a),
        } if a != grant => format!(
            "`{grant}` through (for instance `{a}`), which its proven envelope does not cover"
        ),
        NotWithin::Outside { grant, .. } => {
            format!("`{grant}` through, which its proven envelope does not cover")
        }
        NotWithin::Undecided { grant, reason } => format!(
            "`{grant}` through, which could not be checked against its proven envelope: {reason}"
        ),
    }
}

/// A policy path as the envelope spells it.
fn path_text(path: &Path) -> Result<String, OutsideProof> {
    let bad = || OutsideProof::Path {
        path: path.to_path_buf(),
    };
    let text = path.to_str().ok_or_else(bad)?;
    verifier::concrete::normalize_path(text).map_err(|_| bad())
}

/// Adds what `access` on `target` lets through: read (exec implies it: the
/// kernel opens a program to run it), write (writing and creating), delete
/// (removing), exec with any arguments.
fn push_rule(out: &mut Envelope, target: PathTarget, access: FileAccess) {
    let mut file = |access| {
        out.files.push(FileGrant {
            access,
            target: target.clone(),
        })
    };
    if access.contains(FileAccess::READ) || access.contains(FileAccess::EXEC) {
        file(EnvAccess::Read);
    }
    if access.contains(FileAccess::WRITE) || access.contains(FileAccess::CREATE) {
        file(EnvAccess::Write);
    }
    if access.contains(FileAccess::REMOVE) {
        file(EnvAccess::Delete);
    }
    if access.contains(FileAccess::EXEC) {
        out.exec.push(ExecGrant {
            program: target,
            argv: None,
        });
    }
}

/// An argument list as exact string matches.
fn literal_argv(args: &[String]) -> Vec<ValueMatch> {
    args.iter()
        .map(|a| ValueMatch::Exact {
            value: Value::String(a.clone()),
        })
        .collect()
}

/// With the eBPF exec check (the root profiles), a program the policy
/// grants only with argument lists runs only with those: its grant with any
/// arguments becomes one grant per list.
fn narrow_exec_args(out: &mut Envelope, policy: &KernelPolicy) {
    let mut narrowed = Vec::with_capacity(out.exec.len());
    for g in out.exec.drain(..) {
        let lists = match (&g.program, &g.argv) {
            (PathTarget::Exact { path }, None) => policy.exec_args_of(Path::new(path)),
            _ => None,
        };
        match lists {
            Some(lists) => narrowed.extend(lists.iter().map(|l| ExecGrant {
                program: g.program.clone(),
                argv: Some(literal_argv(l)),
            })),
            None => narrowed.push(g),
        }
    }
    out.exec = narrowed;
}

/// The policy's access set of the BPF LSM layer's `ACCESS_*` bits (the
/// same five rights, the same bits).
fn lsm_access(bits: u32) -> FileAccess {
    [
        (lsm::ACCESS_READ, FileAccess::READ),
        (lsm::ACCESS_WRITE, FileAccess::WRITE),
        (lsm::ACCESS_CREATE, FileAccess::CREATE),
        (lsm::ACCESS_REMOVE, FileAccess::REMOVE),
        (lsm::ACCESS_EXEC, FileAccess::EXEC),
    ]
    .into_iter()
    .filter(|(b, _)| bits & b != 0)
    .fold(FileAccess::NONE, |a, (_, x)| a | x)
}

fn exact_target(path: &str) -> PathTarget {
    PathTarget::Exact {
        path: path.to_owned(),
    }
}

/// A target as the envelope's text spells it.
fn shown(target: &PathTarget) -> String {
    match target {
        PathTarget::Exact { path } => format!("{path:?}"),
        PathTarget::Tree { dir } => format!("under {dir:?}"),
        PathTarget::Glob { glob } => format!("{glob:?}"),
        PathTarget::Param { param } => format!("(param `{param}`)"),
        PathTarget::Unknown { .. } => "any path".to_owned(),
    }
}

/// `target` with the symlinks of its literal part (`literal`) resolved,
/// when that differs.
fn resolved_target(target: &PathTarget, literal: &str) -> Option<PathTarget> {
    let real = resolved(literal)?;
    Some(match target {
        PathTarget::Exact { .. } => PathTarget::Exact { path: real },
        PathTarget::Tree { .. } => PathTarget::Tree { dir: real },
        PathTarget::Glob { glob } => match glob.strip_prefix(literal) {
            Some(rest) => PathTarget::Glob {
                glob: format!("{}{rest}", real.trim_end_matches('/')),
            },
            // A glob spelled otherwise than its directory: the directory
            // itself, the widest it reaches.
            None => PathTarget::Tree { dir: real },
        },
        _ => return None,
    })
}

/// The symlink-free name of `path` when it differs (the file exists).
fn resolved(path: &str) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let real = real.to_str()?;
    (real != path).then(|| real.to_owned())
}

/// A port range as one value match: one port, any port, or each port of a
/// short range (a longer one is described as any port: wider, never
/// narrower, than what the layers enforce).
fn port_matches(first: u16, last: u16) -> Vec<ValueMatch> {
    let number = |p: u16| ValueMatch::Exact {
        value: Value::Number(rust_decimal::Decimal::from(p)),
    };
    if last.saturating_sub(first) < 64 {
        (first..=last).map(number).collect()
    } else {
        vec![ValueMatch::Unknown { origin: None }]
    }
}

/// What the kernel layers of `profile` let through for `policy`, in the
/// envelope's terms. Read from the compiled policy itself, never from the
/// envelope it came from, the way each layer reads it:
///
/// - files: Landlock grants each rule's path as a tree when it is one
///   (scope `tree`, or a `file` rule on a directory), each program of
///   `exec` as a file; under BPF LSM (`root+bpf-lsm`), which narrows
///   Landlock, each rule as that layer is given it
///   ([`lsm::FileGrant::from_policy`]: exact files, trees and suffix
///   globs). Read and exec let the file be read; write and create are
///   `write`; remove is `delete`; exec is `exec` with any arguments;
/// - connect: without the eBPF socket programs, Landlock matches TCP ports
///   only (any address on those ports; UDP, which Landlock does not see,
///   any address on any port); with them, each rule's network and ports
///   (a host name's pinned addresses are listed as exceptions, and
///   [`check`] reads the proof's host names as those addresses);
/// - listen: each bind rule's ports (any port for UDP without eBPF).
///
/// The exceptions list every ELF loader, pinned host and symlinked rule
/// path; [`check`] keeps those the proven envelope does not cover.
pub fn kernel_envelope(
    policy: &KernelPolicy,
    profile: Profile,
) -> Result<KernelEnvelope, OutsideProof> {
    let mut out = Envelope::default();
    let mut exceptions = Vec::new();
    let alias = |exceptions: &mut Vec<Exception>,
                 access: FileAccess,
                 target: &PathTarget,
                 literal: &str| {
        if let Some(resolved) = resolved_target(target, literal) {
            exceptions.push(Exception::Alias {
                access,
                target: target.clone(),
                resolved,
            });
        }
    };
    if profile.exact_files() {
        for g in lsm::FileGrant::from_policy(policy) {
            let (target, literal) = match lsm::shape(&g.pattern) {
                Ok(Shape::Exact(p)) => {
                    let path = path_text(&p)?;
                    (PathTarget::Exact { path: path.clone() }, path)
                }
                Ok(Shape::Tree(d)) => {
                    let dir = path_text(&d)?;
                    (PathTarget::Tree { dir: dir.clone() }, dir)
                }
                Ok(Shape::Suffix(d, _) | Shape::TreeSuffix(d, _)) => {
                    let glob = g.pattern.clone();
                    (PathTarget::Glob { glob }, path_text(&d)?)
                }
                Err(e) => return Err(OutsideProof::Shape(e.to_string())),
            };
            let access = lsm_access(g.access);
            alias(&mut exceptions, access, &target, &literal);
            push_rule(&mut out, target, access);
        }
    } else {
        for rule in &policy.files {
            let path = path_text(&rule.path)?;
            // Landlock's rule on a directory holds for everything below it.
            let target = match rule.scope {
                FileScope::File if !rule.path.is_dir() => PathTarget::Exact { path },
                _ => PathTarget::Tree { dir: path },
            };
            alias(
                &mut exceptions,
                rule.access,
                &target,
                &path_text(&rule.path)?,
            );
            push_rule(&mut out, target, rule.access);
        }
        for program in &policy.exec {
            let path = path_text(program)?;
            alias(
                &mut exceptions,
                FileAccess::EXEC,
                &exact_target(&path),
                &path,
            );
            push_rule(&mut out, exact_target(&path), FileAccess::EXEC);
        }
    }
    if profile.exec_argv() {
        narrow_exec_args(&mut out, policy);
    }
    // Unix sockets: binding is Landlock's make-sock right per directory tree;
    // a connect is held to its path by the eBPF unix programs, and without
    // them any unix socket reaches every path (seccomp refuses the socket
    // itself when the policy has no unix rule).
    for rule in policy
        .files
        .iter()
        .filter(|r| r.access.contains(FileAccess::MAKE_SOCK))
    {
        let dir = path_text(&rule.path)?;
        alias(
            &mut exceptions,
            FileAccess::MAKE_SOCK,
            &PathTarget::Tree { dir: dir.clone() },
            &dir,
        );
        out.unix.push(UnixGrant {
            op: UnixOp::Listen,
            target: PathTarget::Tree { dir },
        });
    }
    if profile.unix_paths() {
        for rule in &policy.unix {
            let path = path_text(&rule.path)?;
            let target = match rule.scope {
                FileScope::File => PathTarget::Exact { path: path.clone() },
                FileScope::Tree => PathTarget::Tree { dir: path.clone() },
            };
            if let Some(resolved) = resolved_target(&target, &path) {
                exceptions.push(Exception::SocketAlias {
                    target: target.clone(),
                    resolved,
                });
            }
            out.unix.push(UnixGrant {
                op: UnixOp::Connect,
                target,
            });
        }
    } else if policy.uses_unix_sockets() {
        out.unix.push(UnixGrant {
            op: UnixOp::Connect,
            target: PathTarget::Tree { dir: "/".into() },
        });
    }
    for program in &policy.exec {
        if let Some(loader) = crate::landlock::elf_interpreter(program) {
            let loader = path_text(&loader)?;
            if !profile.addresses() {
                // Without the eBPF exec check, Landlock lets the loader run
                // any ELF file the run may read: a grant of the unprivileged
                // profile's own, which its proof must cover.
                if !out.exec.iter().any(|g| g.program == exact_target(&loader)) {
                    alias(
                        &mut exceptions,
                        FileAccess::EXEC,
                        &exact_target(&loader),
                        &loader,
                    );
                    push_rule(&mut out, exact_target(&loader), FileAccess::EXEC);
                }
                continue;
            }
            // With it, the loader run as a program of its own is killed; it
            // is only read, by the kernel, to start a granted program.
            let program = path_text(program)?;
            let known = exceptions.iter_mut().find_map(|e| match e {
                Exception::ElfLoader {
                    loader: l,
                    programs,
                    ..
                } if *l == loader => Some(programs),
                _ => None,
            });
            match known {
                Some(programs) if programs.contains(&program) => {}
                Some(programs) => programs.push(program),
                None => exceptions.push(Exception::ElfLoader {
                    loader,
                    programs: vec![program],
                }),
            }
        }
    }
    let any_host = ["0.0.0.0/0", "::/0"].map(|net| ValueMatch::Exact {
        value: Value::Cidr(net.parse().unwrap_or_default()),
    });
    for rule in &policy.net {
        let by_address = profile.addresses();
        let udp_unseen = rule.proto == Proto::Udp && !by_address;
        let ports = if udp_unseen {
            vec![ValueMatch::Unknown { origin: None }]
        } else {
            port_matches(rule.ports.first, rule.ports.last)
        };
        match rule.direction {
            NetDirection::Bind => {
                for port in ports {
                    out.listen.push(ListenGrant { port });
                }
            }
            NetDirection::Connect => {
                let hosts: Vec<ValueMatch> = if by_address {
                    vec![ValueMatch::Exact {
                        value: Value::Cidr(rule.cidr),
                    }]
                } else {
                    any_host.to_vec()
                };
                for host in &hosts {
                    for port in &ports {
                        out.connect.push(ConnectGrant {
                            host: host.clone(),
                            port: port.clone(),
                        });
                    }
                }
            }
        }
    }
    for h in &policy.pinned {
        exceptions.push(Exception::PinnedHost {
            host: h.host.clone(),
            addresses: h.addresses.clone(),
        });
    }
    out.sort_grants();
    Ok(KernelEnvelope {
        profile,
        envelope: out,
        exceptions,
    })
}

/// The proven envelope in the kernel's terms: every `let` result read as
/// any value (the kernel layers cannot see where a value came from, and
/// neither `enforcer::compile`, which grants any value, nor the proof,
/// [`verifier::enforced::prove`], which asks about any value, does), and
/// each host name also as the addresses it was pinned to at run start
/// ([`Exception::PinnedHost`]: the proof is about the name).
fn in_kernel_terms(envelope: &Envelope, policy: &KernelPolicy) -> Envelope {
    let mut out = envelope.clone();
    let mut pinned = Vec::new();
    for g in &out.connect {
        let ValueMatch::Exact {
            value: Value::String(name),
        } = &g.host
        else {
            continue;
        };
        for h in policy.pinned.iter().filter(|h| &h.host == name) {
            for a in &h.addresses {
                pinned.push(ConnectGrant {
                    host: ValueMatch::Exact {
                        value: Value::Cidr(ipnet::IpNet::from(*a)),
                    },
                    port: g.port.clone(),
                });
            }
        }
    }
    out.connect.extend(pinned);
    let forget = |m: &mut ValueMatch| {
        if let ValueMatch::Unknown { origin } = m {
            *origin = None;
        }
    };
    for g in &mut out.connect {
        forget(&mut g.host);
        forget(&mut g.port);
    }
    for g in &mut out.listen {
        forget(&mut g.port);
    }
    out
}

/// The check at run start: what the kernel layers of the selected profile
/// let through for `policy` ([`kernel_envelope`]) lies inside the enforced
/// envelope the token proves for that profile (recomputed here, its digest
/// compared with the selected one). Containment is the verifier's
/// ([`containment::grants_within`]). The syscall allowlist must be the
/// baseline's or narrower (no envelope grants a syscall every run is
/// refused). Returns the description with the exceptions the proven
/// envelope does not cover.
pub fn check(
    policy: &KernelPolicy,
    claims: &Claims,
    selected: &Selected,
) -> Result<KernelEnvelope, OutsideProof> {
    let profile = selected.profile;
    let enforced = enforced::enforced_envelope(&claims.envelope, profile);
    if token::enforcement::digest(&enforced) != selected.digest {
        return Err(OutsideProof::Digest { profile });
    }
    // What the run may start under: every grant whose shape the file system
    // decides in its exact shape, or in its wide one where that was proven.
    let proofs = claims
        .enforcement
        .iter()
        .find(|e| e.profile == profile.name() && e.digest == selected.digest)
        .map(|e| e.alternatives.as_slice())
        .unwrap_or_default();
    let proven_wide = |g: &FileGrant| {
        let shown = enforced::describe_grant(g);
        proofs.iter().any(|a| a.proven && a.grant == shown)
    };
    let region = enforced::enforced_choosing(&claims.envelope, profile, &proven_wide);
    check_against(policy, profile, &region).map_err(|e| match e {
        // Name the step whose file system shape was not proven.
        OutsideProof::Grant { not_within, .. } => {
            let unproven = enforced::alternatives(&claims.envelope, profile)
                .into_iter()
                .filter(|a| !proven_wide(&a.grant))
                .find(|a| {
                    not_within
                        .to_string()
                        .contains(&enforced::describe_grant(&a.widened))
                });
            match unproven {
                Some(a) => OutsideProof::Unproven {
                    profile,
                    grant: enforced::describe_grant(&a.grant),
                    situation: a.situation,
                    widened: enforced::describe_grant(&a.widened),
                    counterexample: proofs
                        .iter()
                        .find(|p| p.grant == enforced::describe_grant(&a.grant))
                        .and_then(|p| p.counterexample.clone()),
                },
                None => OutsideProof::Grant {
                    profile,
                    not_within,
                },
            }
        }
        other => other,
    })
}

/// [`check`] against a given enforced envelope (already known to be the
/// proven one).
pub fn check_against(
    policy: &KernelPolicy,
    profile: Profile,
    enforced: &Envelope,
) -> Result<KernelEnvelope, OutsideProof> {
    let baseline = SyscallAllowlist::baseline();
    if let Some(name) = policy.syscalls.names().find(|n| !baseline.allows(n)) {
        return Err(OutsideProof::Syscall {
            profile,
            name: name.to_owned(),
        });
    }
    let mut kernel = kernel_envelope(policy, profile)?;
    let enforced = in_kernel_terms(enforced, policy);
    containment::grants_within(&enforced, &kernel.envelope).map_err(|not_within| {
        OutsideProof::Grant {
            profile,
            not_within,
        }
    })?;
    // Keep the exceptions the proven envelope does not cover as written.
    kernel.exceptions.retain(|e| match e {
        Exception::PinnedHost { .. } => true,
        Exception::Alias { .. } | Exception::SocketAlias { .. } | Exception::ElfLoader { .. } => {
            containment::plainly_within(&enforced, &e.grants()).is_err()
        }
    });
    Ok(kernel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verifier::CompiledSpec;

    fn claims_for(spec: &str, envelope: serde_json::Value) -> Claims {
        let loaded = planlang::load_spec_str(spec, "t.spec").unwrap();
        let mut compiled = CompiledSpec::compile(&loaded).unwrap();
        compiled.options.timeout_ms = 60_000;
        let mut env = serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        });
        for (k, v) in envelope.as_object().unwrap() {
            env[k] = v.clone();
        }
        let env: verifier::envelope::Envelope = serde_json::from_value(env).unwrap();
        let mut claims: Claims = serde_json::from_value(serde_json::json!({
            "warden": 1, "iss": "warden", "jti": "00000000000000000000000000000001",
            "iat": "2026-01-01T00:00:00Z", "nbf": "2026-01-01T00:00:00Z",
            "exp": "2026-01-01T00:10:00Z",
            "plan_hash": Digest::of_text("p").to_string(),
            "spec_hash": Digest::of_text("s").to_string(),
            "envelope": env
        }))
        .unwrap();
        claims.enforcement =
            token::enforcement::prove_profiles(&compiled, &claims.envelope).unwrap();
        claims
    }

    fn glob_claims() -> Claims {
        claims_for(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  deny write under "/tmp/out/" when path endswith ".sh"
}"#,
            serde_json::json!({"files": [
                {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}
            ]}),
        )
    }

    #[test]
    fn the_richest_proven_profile_the_machine_applies_is_chosen() {
        let claims = claims_for(
            r#"spec "s" { allow read under "/srv/" }"#,
            serde_json::json!({"files": [
                {"access": "read", "target": {"shape": "exact", "path": "/srv/a"}}
            ]}),
        );
        let s = select(&claims, &[], |_| Ok(())).unwrap();
        assert_eq!(s.profile, Profile::RootBpfLsm);
        let s = select(&claims, &[], |p| {
            if p == Profile::Unprivileged {
                Ok(())
            } else {
                Err("not root".into())
            }
        })
        .unwrap();
        assert_eq!(s.profile, Profile::Unprivileged);
        assert_eq!(required_layers(s.profile).len(), 2);
    }

    #[test]
    fn a_widening_refuses_to_start_without_the_lsm_with_the_counterexample() {
        let claims = glob_claims();
        let mut asked = Vec::new();
        let err = select(&claims, &[], |p| {
            asked.push(p);
            if p == Profile::RootBpfLsm {
                Err("the kernel refuses lsm programs (EPERM)".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        // Only the proven profile was probed.
        assert_eq!(asked, [Profile::RootBpfLsm]);
        let text = err.to_string();
        assert!(
            text.contains("root+bpf-lsm: proven, but this machine cannot apply it"),
            "{text}"
        );
        assert!(text.contains("root: not proven at issue time: the kernel would enforce `write under \"/tmp/out\"`"), "{text}");
        assert!(text.contains("lets `write \"/tmp/out/"), "{text}");
        // With the LSM, it starts, and requires the layer.
        let s = select(&claims, &[], |_| Ok(())).unwrap();
        assert_eq!(s.profile, Profile::RootBpfLsm);
        assert!(required_layers(s.profile).contains(&Layer::BpfLsm));
    }

    #[test]
    fn a_tampered_or_foreign_envelope_has_no_proof() {
        let mut claims = glob_claims();
        claims.envelope.files.clear();
        let err = select(&claims, &[], |_| Ok(())).unwrap_err();
        assert!(
            err.reasons.iter().all(|r| r.contains("holds no proof")),
            "{err}"
        );
        // --require narrows the candidates.
        let claims = glob_claims();
        let err = select(&claims, &[Layer::BpfLsm], |p| {
            if p == Profile::RootBpfLsm {
                Err("no".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(
            err.reasons[1].contains("lacks the required layer bpf-lsm"),
            "{err}"
        );
    }

    // ─────────────── what the kernel lets through ───────────────

    fn envelope(json: serde_json::Value) -> Envelope {
        let mut env = serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        });
        for (k, v) in json.as_object().unwrap() {
            env[k] = v.clone();
        }
        serde_json::from_value(env).unwrap()
    }

    fn dns(host: &str) -> std::io::Result<Vec<IpAddr>> {
        match host {
            "api.example" => Ok(vec!["192.0.2.7".parse().unwrap()]),
            _ => Err(std::io::Error::other("no such host")),
        }
    }

    fn compiled(env: &Envelope, profile: Profile) -> KernelPolicy {
        KernelPolicy::from_envelope_with(env, &profile_layers(profile), &dns).unwrap()
    }

    fn read(target: PathTarget) -> FileGrant {
        FileGrant {
            access: EnvAccess::Read,
            target,
        }
    }

    fn exact(path: &str) -> PathTarget {
        PathTarget::Exact { path: path.into() }
    }

    fn tree(dir: &str) -> PathTarget {
        PathTarget::Tree { dir: dir.into() }
    }

    fn cidr(net: &str) -> ValueMatch {
        ValueMatch::Exact {
            value: Value::Cidr(net.parse().unwrap()),
        }
    }

    fn port(p: u16) -> ValueMatch {
        ValueMatch::Exact {
            value: Value::Number(p.into()),
        }
    }

    /// An envelope of the escape tests' shape (read a tree, write a
    /// directory, run two programs, connect to one loopback port), with the
    /// demo spec's baseline.
    fn run_envelope() -> Envelope {
        let spec = planlang::load_spec_str(
            r#"spec "s" { baseline {
                read under "/usr/lib/"
                read under "/lib/"
                read under "/lib64/"
                read "/etc/ld.so.cache"
            } }"#,
            "b.spec",
        )
        .unwrap();
        let baseline = verifier::CompiledSpec::compile(&spec).unwrap().baseline;
        let mut env = envelope(serde_json::json!({
            "files": [
                {"access": "read", "target": {"shape": "tree", "dir": "/srv/warden-agree/in"}},
                {"access": "write", "target": {"shape": "glob", "glob": "/srv/warden-agree/out/*.tmp"}},
                {"access": "write", "target": {"shape": "exact", "path": "/srv/warden-agree/out/report.txt"}}
            ],
            "exec": [
                {"program": {"shape": "exact", "path": "/bin/sh"}, "argv": null},
                {"program": {"shape": "exact", "path": "/bin/cat"},
                 "argv": [{"match": "exact", "value": {"type": "string", "value": "-n"}}]}
            ],
            "connect": [
                {"host": {"match": "exact", "value": {"type": "cidr", "value": "127.0.0.1/32"}},
                 "port": {"match": "exact", "value": {"type": "number", "value": "8080"}}},
                {"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
                 "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}
            ],
            "listen": [{"port": {"match": "exact", "value": {"type": "number", "value": "9000"}}}]
        }));
        env.baseline = baseline;
        env
    }

    #[test]
    fn each_layer_set_is_described_as_it_enforces() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let file = file.to_str().unwrap().to_owned();
        let dir_text = dir.path().to_str().unwrap().to_owned();
        let mut p = KernelPolicy::new();
        p.allow_path(&file, FileScope::File, FileAccess::READ)
            .unwrap()
            .allow_path(dir.path(), FileScope::File, FileAccess::READ)
            .unwrap()
            .allow_path(
                "/srv/data",
                FileScope::Tree,
                FileAccess::WRITE | FileAccess::CREATE,
            )
            .unwrap()
            .allow_path("/srv/old", FileScope::Tree, FileAccess::REMOVE)
            .unwrap()
            .allow_exec("/opt/warden-none/tool")
            .unwrap()
            .allow_widened(
                "/tmp/out",
                FileAccess::WRITE | FileAccess::CREATE,
                "/tmp/out/*.tmp",
            )
            .unwrap()
            .allow_net(crate::policy::NetRule::tcp_connect(
                "192.0.2.0/24".parse().unwrap(),
                443,
            ))
            .unwrap()
            .allow_net(crate::policy::NetRule::tcp_bind(
                "0.0.0.0/0".parse().unwrap(),
                8080,
            ))
            .unwrap();

        let u = kernel_envelope(&p, Profile::Unprivileged).unwrap().envelope;
        let has = |e: &Envelope, access, target: PathTarget| {
            e.files.contains(&FileGrant { access, target })
        };
        assert!(has(&u, EnvAccess::Read, exact(&file)));
        // Landlock's rule on a directory holds for everything below it.
        assert!(has(&u, EnvAccess::Read, tree(&dir_text)));
        assert!(has(&u, EnvAccess::Write, tree("/srv/data")));
        assert!(has(&u, EnvAccess::Delete, tree("/srv/old")));
        assert!(has(&u, EnvAccess::Write, tree("/tmp/out")));
        // A program is run and read, with any arguments.
        assert!(has(&u, EnvAccess::Read, exact("/opt/warden-none/tool")));
        assert_eq!(
            u.exec,
            [ExecGrant {
                program: exact("/opt/warden-none/tool"),
                argv: None
            }]
        );
        // Landlock matches ports, not addresses.
        let hosts: Vec<_> = u
            .connect
            .iter()
            .map(|g| (g.host.clone(), g.port.clone()))
            .collect();
        assert_eq!(
            hosts,
            [(cidr("0.0.0.0/0"), port(443)), (cidr("::/0"), port(443))]
        );
        assert_eq!(u.listen, [ListenGrant { port: port(8080) }]);
        assert_eq!(u.files.len(), 6, "{:?}", u.files);

        // The eBPF socket programs match the network.
        let r = kernel_envelope(&p, Profile::Root).unwrap().envelope;
        assert_eq!(r.files, u.files);
        assert_eq!(r.connect.len(), 1);
        assert_eq!(r.connect[0].host, cidr("192.0.2.0/24"));

        // BPF LSM narrows the widened tree back to the glob, and names the
        // directory of a file rule exactly.
        let l = kernel_envelope(&p, Profile::RootBpfLsm).unwrap().envelope;
        let glob = PathTarget::Glob {
            glob: "/tmp/out/*.tmp".into(),
        };
        assert!(has(&l, EnvAccess::Write, glob));
        assert!(!has(&l, EnvAccess::Write, tree("/tmp/out")));
        assert!(has(&l, EnvAccess::Read, exact(&dir_text)));
    }

    #[test]
    fn what_compile_grants_is_inside_the_enforced_envelope_of_every_profile() {
        let env = run_envelope();
        for profile in Profile::ALL {
            let policy = compiled(&env, profile);
            let enforced = enforced::enforced_envelope(&env, profile);
            let k = check_against(&policy, profile, &enforced)
                .unwrap_or_else(|e| panic!("{profile}: {e}"));
            // The host name's pinned address, by name.
            assert!(k.exceptions.contains(&Exception::PinnedHost {
                host: "api.example".into(),
                addresses: vec!["192.0.2.7".parse().unwrap()],
            }));
            // The loader: only read under the root profiles (the exec check
            // kills it run directly), which the baseline covers here
            // (`read under "/lib64/"` or `/lib/`); a grant of the
            // unprivileged profile's proven envelope itself. No exception.
            let loaders: Vec<_> = k
                .exceptions
                .iter()
                .filter(|e| matches!(e, Exception::ElfLoader { .. }))
                .collect();
            assert!(loaders.is_empty(), "{profile}: {loaders:?}");
            if let Some(interp) = crate::landlock::elf_interpreter(Path::new("/bin/sh")) {
                let loader_runs = k.envelope.exec.iter().any(|g| {
                    g.program
                        == PathTarget::Exact {
                            path: interp.display().to_string(),
                        }
                });
                assert_eq!(loader_runs, profile == Profile::Unprivileged, "{profile}");
            }
            let shown: Vec<String> = k.exceptions.iter().map(|e| e.to_string()).collect();
            assert!(shown.iter().any(|s| s.contains("api.example")), "{shown:?}");
        }
    }

    #[test]
    fn a_policy_widened_by_hand_is_refused_naming_the_first_extra_grant() {
        let env = run_envelope();
        for profile in Profile::ALL {
            let enforced = enforced::enforced_envelope(&env, profile);
            let mut policy = compiled(&env, profile);
            policy
                .allow_path("/etc", FileScope::Tree, FileAccess::READ)
                .unwrap();
            let err = check_against(&policy, profile, &enforced).unwrap_err();
            assert!(
                matches!(&err, OutsideProof::Grant { not_within: NotWithin::Outside { grant, .. }, .. } if grant == "read under \"/etc\""),
                "{profile}: {err}"
            );
            assert!(err.to_string().contains(&format!(
                "the kernel layers of profile {profile} would let `read under \"/etc\"` through"
            )));

            let mut policy = compiled(&env, profile);
            policy.allow_exec("/usr/bin/python3").unwrap();
            let err = check_against(&policy, profile, &enforced).unwrap_err();
            assert!(
                err.to_string().contains("`read \"/usr/bin/python3\"`"),
                "{err}"
            );

            let mut policy = compiled(&env, profile);
            policy.syscalls.allow("ptrace").unwrap();
            let err = check_against(&policy, profile, &enforced).unwrap_err();
            assert!(
                matches!(&err, OutsideProof::Syscall { name, .. } if name == "ptrace"),
                "{err}"
            );

            // Another address on a granted port: Landlock alone cannot tell
            // it apart (and the proof of that profile covers any address),
            // the eBPF layers can, and must not let it through.
            let mut policy = compiled(&env, profile);
            policy
                .allow_net(crate::policy::NetRule::tcp_connect(
                    "10.0.0.0/8".parse().unwrap(),
                    8080,
                ))
                .unwrap();
            let r = check_against(&policy, profile, &enforced);
            if profile.addresses() {
                let err = r.unwrap_err().to_string();
                assert!(err.contains("`connect 10.0.0.0/8:8080`"), "{err}");
            } else {
                assert!(r.is_ok(), "{r:?}");
            }
        }
    }

    /// The claims of a one-grant plan under a spec, and the profile's
    /// selection (the root profile).
    fn one_write(spec: &str, path: &str) -> (Claims, Selected) {
        let claims = claims_for(
            spec,
            serde_json::json!({"files": [
                {"access": "write", "target": {"shape": "exact", "path": path}}
            ]}),
        );
        let profile = Profile::Root;
        let digest = profile_digest(&claims.envelope, profile);
        let selected = Selected { profile, digest };
        (claims, selected)
    }

    #[test]
    fn a_file_that_exists_is_written_exactly_and_needs_only_its_own_proof() {
        // /dev/null exists (a device): the kernel grants it alone, which the
        // spec allows; its directory tree is not allowed, and not needed.
        let spec = r#"spec "s" { allow write "/dev/null" }"#;
        let (claims, selected) = one_write(spec, "/dev/null");
        let root = claims
            .enforcement
            .iter()
            .find(|e| e.profile == "root")
            .unwrap();
        assert!(root.proven, "{root:?}");
        let [alt] = root.alternatives.as_slice() else {
            panic!("{root:?}")
        };
        assert_eq!(alt.widened, "write under \"/dev\"");
        assert!(!alt.proven && alt.counterexample.is_some(), "{alt:?}");
        let policy = compiled(&claims.envelope, Profile::Root);
        assert!(policy.files.iter().any(|r| r.path == Path::new("/dev/null")
            && r.scope == FileScope::File
            && r.access == FileAccess::WRITE));
        check(&policy, &claims, &selected).expect("/dev/null is written exactly");
    }

    #[test]
    fn a_new_file_needs_its_directory_and_is_refused_naming_the_step_when_that_was_not_proven() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        let new = format!("{d}/out.txt");
        let spec = format!(r#"spec "s" {{ allow write {new:?} }}"#);
        let (claims, selected) = one_write(&spec, &new);
        // Absent at run start: the kernel would grant the directory tree.
        let err = check(
            &compiled(&claims.envelope, Profile::Root),
            &claims,
            &selected,
        )
        .unwrap_err();
        assert!(
            matches!(
                &err,
                OutsideProof::Unproven {
                    situation: enforced::Situation::Absent,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("`write {new:?}`")), "{text}");
        assert!(text.contains(&format!("`write under {d:?}`")), "{text}");
        // Once the file exists, the same token starts the run.
        std::fs::write(&new, "").unwrap();
        check(
            &compiled(&claims.envelope, Profile::Root),
            &claims,
            &selected,
        )
        .expect("an existing file is written exactly");
        // A spec that allows the directory proves both shapes.
        let wide = format!(r#"spec "s" {{ allow write under {d:?} }}"#);
        std::fs::remove_file(&new).unwrap();
        let (claims, selected) = one_write(&wide, &new);
        check(
            &compiled(&claims.envelope, Profile::Root),
            &claims,
            &selected,
        )
        .expect("the directory tree was proven");
    }

    #[test]
    fn a_directory_named_as_a_file_is_a_tree_for_landlock_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        let env = Envelope {
            files: vec![read(exact(&d))],
            ..Envelope::default()
        };
        // Proven only as a file: the tree Landlock grants is outside.
        let err = check_against(
            &compiled(&env, Profile::Root),
            Profile::Root,
            &enforced::enforced_exact(&env, Profile::Root),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(&format!("`read under {d:?}`")),
            "{err}"
        );
        // The directory alternative, proven, covers it.
        assert!(
            check_against(
                &compiled(&env, Profile::Root),
                Profile::Root,
                &enforced::enforced_envelope(&env, Profile::Root),
            )
            .is_ok()
        );
        // BPF LSM names the directory alone.
        let lsm = Profile::RootBpfLsm;
        assert!(
            check_against(
                &compiled(&env, lsm),
                lsm,
                &enforced::enforced_envelope(&env, lsm)
            )
            .is_ok()
        );
    }

    #[test]
    fn the_check_recomputes_the_selected_digest() {
        let claims = glob_claims();
        let selected = select(&claims, &[], |_| Ok(())).unwrap();
        let policy = compiled(&claims.envelope, selected.profile);
        assert!(check(&policy, &claims, &selected).is_ok());
        let other = Selected {
            profile: Profile::Root,
            ..selected
        };
        let err = check(&compiled(&claims.envelope, Profile::Root), &claims, &other).unwrap_err();
        assert_eq!(
            err,
            OutsideProof::Digest {
                profile: Profile::Root
            }
        );
    }

    #[test]
    fn a_rule_through_a_symlink_is_listed_with_the_name_it_reaches() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (real, link) = (
            real.to_str().unwrap().to_owned(),
            link.to_str().unwrap().to_owned(),
        );
        let env = Envelope {
            files: vec![FileGrant {
                access: EnvAccess::Write,
                target: PathTarget::Glob {
                    glob: format!("{link}/*.tmp"),
                },
            }],
            ..Envelope::default()
        };
        for profile in Profile::ALL {
            let k = check_against(
                &compiled(&env, profile),
                profile,
                &enforced::enforced_envelope(&env, profile),
            )
            .unwrap();
            let (target, resolved) = if profile.exact_files() {
                let glob = |d: &str| PathTarget::Glob {
                    glob: format!("{d}/*.tmp"),
                };
                (glob(&link), glob(&real))
            } else {
                (tree(&link), tree(&real))
            };
            let alias = Exception::Alias {
                access: FileAccess::WRITE | FileAccess::CREATE,
                target,
                resolved,
            };
            assert!(
                k.exceptions.contains(&alias),
                "{profile}: {:?}",
                k.exceptions
            );
            let shown = alias.to_string();
            assert!(
                shown.contains(&format!(
                    "reaches {}",
                    super::shown(&alias_resolved(&alias))
                )),
                "{shown}"
            );
        }
    }

    fn alias_resolved(e: &Exception) -> PathTarget {
        match e {
            Exception::Alias { resolved, .. } => resolved.clone(),
            other => panic!("{other:?}"),
        }
    }
}
