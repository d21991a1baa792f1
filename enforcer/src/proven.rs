//! Starting a run only inside a proven envelope.
//!
//! A token's `enforcement` claim lists, per enforcement profile, the digest
//! of the envelope that profile's layers enforce and whether the verifier
//! proved it inside the spec (`verifier::proof`). Before a run starts,
//! [`select`] recomputes the enforced envelope of each profile this machine
//! can apply and picks the richest one whose digest the token lists as
//! proven; the launcher then requires that profile's layers, so a run never
//! starts with fewer layers than its proof assumed. With none, the run is
//! refused with what the token recorded (the counterexample) and what this
//! machine lacks.
//!
//! The layers are configured from the compiled [`KernelPolicy`]
//! (`enforcer::translate`), a second translation of the envelope. So before
//! the run starts, [`check`] reads what that policy lets through under the
//! selected profile ([`kernel_envelope`]) and proves it inside the proven
//! enforced envelope with the verifier's containment
//! ([`warden_core::within::grants_within`]); a grant outside refuses the
//! run, naming it. Machine-dependent grants outside the proof's terms (ELF
//! loaders, pinned host addresses, symlinked rule paths) are returned by
//! name as [`Exception`]s.
//!
//! ```
//! use enforcer::proven::select;
//! use warden_core::shape::{Profile, describe_target};
//! let mut claims = warden_core::claims::example();
//! claims.enforcement.clear();
//! // A token without the claim starts nothing.
//! assert!(select(&claims, &[], |_| Ok(())).is_err());
//! ```

use crate::layer::{Layer, LayerSet};
use crate::lsm::{self, Shape};
use crate::policy::{FileRights, FileScope, KernelPolicy, NetDirection, Proto, SyscallAllowlist};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use token::Claims;
use warden_core::claims::{Digest, profile_digest};
use warden_core::envelope::ConnectGrant;
use warden_core::envelope::Envelope;
use warden_core::envelope::ExecGrant;
use warden_core::envelope::FileAccess;
use warden_core::envelope::FileGrant;
use warden_core::envelope::ListenGrant;
use warden_core::envelope::PathTarget;
use warden_core::envelope::UnixGrant;
use warden_core::envelope::UnixOp;
use warden_core::envelope::ValueMatch;
use warden_core::shape::{Profile, describe_target};
use warden_core::value::Value;
use warden_core::within::{self, NotWithin};

/// The profile a run starts under, and the digest of its proven envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// The richest profile the token proves and the machine can apply.
    pub profile: Profile,
    /// The digest of the envelope as that profile's layers enforce it
    /// (`profile_digest`), which the token's `enforcement` claim lists as
    /// proven.
    pub digest: Digest,
}

/// Why no profile may start the run: one line per profile, richest first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct NotProven {
    /// One line per profile, `<profile>: <why>`: it lacks a required
    /// layer, the token holds no proof for it (or a counterexample), or
    /// the machine cannot apply it.
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
/// deliberately outside the proof (docs/operator/exec.md, "The proven
/// envelope is the enforced one"). Reported per run, never silently
/// skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exception {
    /// The ELF loader (`PT_INTERP`) of dynamic programs, read by the kernel
    /// to start them. Under the root profiles, run as a program of its own
    /// it is killed by the eBPF exec check (Landlock must let it execute);
    /// without that check it is a grant of the unprivileged profile's
    /// envelope itself, not an exception.
    ElfLoader {
        /// The loader's path (`/lib64/ld-linux-x86-64.so.2`, say).
        loader: String,
        /// The granted programs that name it as their interpreter.
        programs: Vec<String>,
    },
    /// A host name resolved when the run starts: the layers enforce the
    /// addresses pinned then; the proof is about the name (it trusts the
    /// resolver at run start).
    PinnedHost {
        /// The name, as the envelope gives it.
        host: String,
        /// The addresses the rules hold for it.
        addresses: Vec<IpAddr>,
    },
    /// A rule's path leads through a symlink: the kernel grants the file or
    /// tree it resolves to (by inode), so the run reaches it under that
    /// name too; the proof is about the name the envelope gives.
    Alias {
        /// What the rule grants.
        access: FileRights,
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
        /// The rule's socket or tree, as the envelope names it.
        target: PathTarget,
        /// The same with the symlinks of its literal part resolved.
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
                push_rule(&mut out, target, FileRights::READ);
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
                describe_target(target),
                describe_target(resolved)
            ),
            Exception::SocketAlias { target, resolved } => write!(
                f,
                "connect {} reaches {} through a symlink: the socket is matched by the path the run gives and resolved by the kernel",
                describe_target(target),
                describe_target(resolved)
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
        /// The selected profile.
        profile: Profile,
        /// The envelope's grant, as the plan language writes it.
        grant: String,
        /// What about its path makes the kernel grant more: a directory
        /// where the grant reads, a missing file where it writes.
        situation: warden_core::shape::Situation,
        /// The wider grant the kernel layers would make.
        widened: String,
        /// The counterexample the token records for the wider grant, when
        /// its proof failed at issue time.
        counterexample: Option<String>,
    },
    /// A grant of the kernel layers outside the proven envelope.
    #[error("refusing to start: the kernel layers of profile {profile} would let {}", outside(.not_within))]
    Grant {
        /// The selected profile.
        profile: Profile,
        /// The kernel layers' grant that the proven envelope does not
        /// cover (or that could not be decided, which refuses too).
        not_within: NotWithin,
    },
    /// A syscall every run is refused ([`crate::policy::ALWAYS_REFUSED`]),
    /// which no envelope grants.
    #[error(
        "refusing to start: the kernel layers of profile {profile} would allow the syscall `{name}`, which every run is refused and no proof covers"
    )]
    Syscall {
        /// The selected profile.
        profile: Profile,
        /// The syscall's name.
        name: String,
    },
    /// A path of the policy the proof cannot speak of.
    #[error(
        "refusing to start: the kernel policy names {path:?}, which is not a normalized UTF-8 path"
    )]
    Path {
        /// The path, as the policy holds it.
        path: PathBuf,
    },
    /// A pattern of the BPF LSM layer it cannot express.
    #[error("refusing to start: {0}")]
    Shape(String),
    /// The envelope recomputed for the profile is not the one selected.
    #[error(
        "refusing to start: the enforced envelope of profile {profile} is not the one the token proves"
    )]
    Digest {
        /// The selected profile.
        profile: Profile,
    },
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
    warden_core::path::normalize_path(text).map_err(|_| bad())
}

/// Adds what `access` on `target` lets through: read (exec implies it: the
/// kernel opens a program to run it), write (writing and creating), delete
/// (removing), exec with any arguments.
fn push_rule(out: &mut Envelope, target: PathTarget, access: FileRights) {
    let mut file = |access| {
        out.files.push(FileGrant {
            access,
            target: target.clone(),
        })
    };
    if access.contains(FileRights::READ) || access.contains(FileRights::EXEC) {
        file(FileAccess::Read);
    }
    if access.contains(FileRights::WRITE) || access.contains(FileRights::CREATE) {
        file(FileAccess::Write);
    }
    if access.contains(FileRights::REMOVE) {
        file(FileAccess::Delete);
    }
    if access.contains(FileRights::EXEC) {
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
fn lsm_access(bits: u32) -> FileRights {
    [
        (lsm::ACCESS_READ, FileRights::READ),
        (lsm::ACCESS_WRITE, FileRights::WRITE),
        (lsm::ACCESS_CREATE, FileRights::CREATE),
        (lsm::ACCESS_REMOVE, FileRights::REMOVE),
        (lsm::ACCESS_EXEC, FileRights::EXEC),
    ]
    .into_iter()
    .filter(|(b, _)| bits & b != 0)
    .fold(FileRights::NONE, |a, (_, x)| a | x)
}

fn exact_target(path: &str) -> PathTarget {
    PathTarget::Exact {
        path: path.to_owned(),
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
                 access: FileRights,
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
                    let path = path_text(Path::new(&p))?;
                    (PathTarget::Exact { path: path.clone() }, path)
                }
                Ok(Shape::Tree(d)) => {
                    let dir = path_text(Path::new(&d))?;
                    (PathTarget::Tree { dir: dir.clone() }, dir)
                }
                Ok(Shape::Suffix(d, _) | Shape::TreeSuffix(d, _)) => {
                    let glob = g.pattern.clone();
                    (PathTarget::Glob { glob }, path_text(Path::new(&d))?)
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
                FileRights::EXEC,
                &exact_target(&path),
                &path,
            );
            push_rule(&mut out, exact_target(&path), FileRights::EXEC);
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
        .filter(|r| r.access.contains(FileRights::MAKE_SOCK))
    {
        let dir = path_text(&rule.path)?;
        alias(
            &mut exceptions,
            FileRights::MAKE_SOCK,
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
                        FileRights::EXEC,
                        &exact_target(&loader),
                        &loader,
                    );
                    push_rule(&mut out, exact_target(&loader), FileRights::EXEC);
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
/// neither `enforcer::translate`, which grants any value, nor the proof,
/// [`verifier::proof::prove`], which asks about any value, does), and
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
/// ([`within::grants_within`]). The syscall allowlist must be the
/// baseline's or narrower (no envelope grants a syscall every run is
/// refused). Returns the description with the exceptions the proven
/// envelope does not cover.
pub fn check(
    policy: &KernelPolicy,
    claims: &Claims,
    selected: &Selected,
) -> Result<KernelEnvelope, OutsideProof> {
    let profile = selected.profile;
    let enforced = warden_core::shape::enforced_envelope(&claims.envelope, profile);
    if warden_core::claims::digest(&enforced) != selected.digest {
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
        let shown = warden_core::shape::describe_grant(g);
        proofs.iter().any(|a| a.proven && a.grant == shown)
    };
    let region = warden_core::shape::enforced_choosing(&claims.envelope, profile, &proven_wide);
    check_against(policy, profile, &region).map_err(|e| match e {
        // Name the step whose file system shape was not proven.
        OutsideProof::Grant { not_within, .. } => {
            let unproven = warden_core::shape::alternatives(&claims.envelope, profile)
                .into_iter()
                .filter(|a| !proven_wide(&a.grant))
                .find(|a| {
                    not_within
                        .to_string()
                        .contains(&warden_core::shape::describe_grant(&a.widened))
                });
            match unproven {
                Some(a) => OutsideProof::Unproven {
                    profile,
                    grant: warden_core::shape::describe_grant(&a.grant),
                    situation: a.situation,
                    widened: warden_core::shape::describe_grant(&a.widened),
                    counterexample: proofs
                        .iter()
                        .find(|p| p.grant == warden_core::shape::describe_grant(&a.grant))
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
    within::grants_within(&enforced, &kernel.envelope).map_err(|not_within| {
        OutsideProof::Grant {
            profile,
            not_within,
        }
    })?;
    // Keep the exceptions the proven envelope does not cover as written.
    kernel.exceptions.retain(|e| match e {
        Exception::PinnedHost { .. } => true,
        Exception::Alias { .. } | Exception::SocketAlias { .. } | Exception::ElfLoader { .. } => {
            within::plainly_within(&enforced, &e.grants()).is_err()
        }
    });
    Ok(kernel)
}
