//! The seccomp layer: the policy's syscall allowlist as a BPF filter, with
//! `EPERM` (not a kill) for everything else.
//!
//! Two filters are compiled before `fork` ([`prepare`]) and installed in the
//! child just before `exec` ([`PreparedSeccomp::install`], async-signal-safe):
//! 1. the allowlist, with argument checks where a syscall's arguments decide
//!    what it reaches: `socket` (address families and socket types the policy
//!    needs; raw and packet sockets never), `clone` (no new namespaces),
//!    `ioctl` (no `TIOCSTI`/`TIOCLINUX` terminal injection), `memfd_create`
//!    (only with `MFD_NOEXEC_SEAL`: an anonymous file is on no path that
//!    Landlock checks, so it must never become executable);
//! 2. `clone3` answered with `ENOSYS`: its flags live in memory that seccomp
//!    cannot read, and C libraries fall back to `clone`, whose flags it can.
//!
//! `socket(AF_UNIX, ...)` is refused unless the policy has a unix socket
//! rule (a connect, or a directory where sockets may be bound): without the
//! eBPF unix socket programs, any unix socket could connect to any pathname
//! socket (`/var/run/docker.sock`). `socketpair` is not affected.
//!
//! `listen` is refused unless the envelope has a bind rule: on a socket that
//! was never bound, `listen` takes an ephemeral port without a `bind`, so
//! neither Landlock's bind check nor the cgroup `bind4`/`bind6` programs
//! see it.

use crate::error::LayerError;
use crate::policy::KernelPolicy;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Serialize;
use std::collections::BTreeMap;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// `clone` flags that create namespaces (refused: see `unshare`).
const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWTIME) as u64;

/// Terminal ioctls that inject input into (or take over) a terminal.
#[allow(clippy::unnecessary_cast)] // `Ioctl` is not u64 on every libc
const TIOCSTI: u64 = libc::TIOCSTI as u64;
#[allow(clippy::unnecessary_cast)]
const TIOCLINUX: u64 = libc::TIOCLINUX as u64;

/// `MFD_NOEXEC_SEAL` (Linux 6.3): the memfd can never be made executable.
const MFD_NOEXEC_SEAL: u64 = 0x0008;

/// The socket type without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
const SOCK_TYPE_MASK: u64 = 0xf;

/// What the seccomp layer enforces for one run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SeccompReport {
    /// Number of syscalls allowed.
    pub allowed: usize,
    /// Names of well-known dangerous syscalls that stay refused.
    pub refused: Vec<String>,
    /// Socket kinds allowed (`unix`, `tcp`, `udp`, `netlink-route`).
    pub sockets: Vec<String>,
}

/// The compiled filters, ready for [`PreparedSeccomp::install`].
#[derive(Debug)]
pub struct PreparedSeccomp {
    allowlist: BpfProgram,
    absent: BpfProgram,
    /// What it enforces.
    pub report: SeccompReport,
}

fn cond(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, LayerError> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| LayerError::Seccomp(e.to_string()))
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, LayerError> {
    SeccompRule::new(conds).map_err(|e| LayerError::Seccomp(e.to_string()))
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, LayerError> {
    let filter = SeccompFilter::new(rules, mismatch, matched, ARCH)
        .map_err(|e| LayerError::Seccomp(e.to_string()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| LayerError::Seccomp(e.to_string()))
}

fn socket_rules(
    policy: &KernelPolicy,
    report: &mut SeccompReport,
) -> Result<Vec<SeccompRule>, LayerError> {
    use SeccompCmpArgLen::Dword;
    use SeccompCmpOp::{Eq, MaskedEq};
    // A unix socket can reach any pathname socket where no eBPF program
    // checks its path (the unprivileged profile): without a unix rule in the
    // policy, none is created at all (`socketpair` stays allowed).
    let mut rules = Vec::new();
    if policy.uses_unix_sockets() {
        rules.push(rule(vec![cond(0, Dword, Eq, libc::AF_UNIX as u64)?])?);
        report.sockets.push("unix".into());
    }
    let mut types = vec![(libc::SOCK_STREAM, "tcp")];
    if policy.has_udp() {
        types.push((libc::SOCK_DGRAM, "udp"));
    }
    for (ty, name) in types {
        for family in [libc::AF_INET, libc::AF_INET6] {
            rules.push(rule(vec![
                cond(0, Dword, Eq, family as u64)?,
                cond(1, Dword, MaskedEq(SOCK_TYPE_MASK), ty as u64)?,
            ])?);
        }
        report.sockets.push(name.into());
    }
    // glibc asks the routing netlink for local addresses (getaddrinfo).
    rules.push(rule(vec![
        cond(0, Dword, Eq, libc::AF_NETLINK as u64)?,
        cond(2, Dword, Eq, libc::NETLINK_ROUTE as u64)?,
    ])?);
    report.sockets.push("netlink-route".into());
    Ok(rules)
}

/// Compiles the filters for `policy`.
pub fn prepare(policy: &KernelPolicy) -> Result<PreparedSeccomp, LayerError> {
    use SeccompCmpArgLen::{Dword, Qword};
    use SeccompCmpOp::{MaskedEq, Ne};
    let mut report = SeccompReport::default();
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let may_bind = policy
        .net
        .iter()
        .any(|r| r.direction == crate::policy::NetDirection::Bind);
    for name in policy.syscalls.names() {
        if name == "listen" && !may_bind {
            continue;
        }
        let Some(nr) = crate::policy::number_of(name) else {
            return Err(LayerError::Seccomp(format!("unknown syscall `{name}`")));
        };
        let conditional = match name {
            "socket" => socket_rules(policy, &mut report)?,
            "clone" => vec![rule(vec![cond(0, Qword, MaskedEq(NAMESPACE_FLAGS), 0)?])?],
            "memfd_create" => vec![rule(vec![cond(
                1,
                Dword,
                MaskedEq(MFD_NOEXEC_SEAL),
                MFD_NOEXEC_SEAL,
            )?])?],
            "ioctl" => vec![rule(vec![
                cond(1, Dword, Ne, TIOCSTI)?,
                cond(1, Dword, Ne, TIOCLINUX)?,
            ])?],
            _ => Vec::new(),
        };
        rules.insert(nr, conditional);
    }
    report.allowed = rules.len();
    report.refused = crate::policy::ALWAYS_REFUSED
        .iter()
        .filter(|n| !policy.syscalls.allows(n) && crate::policy::number_of(n).is_some())
        .map(|n| (*n).to_owned())
        .collect();
    if !may_bind {
        report.refused.push("listen".into());
    }
    let allowlist = compile(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
    )?;

    let mut absent: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    if let Some(nr) = crate::policy::number_of("clone3") {
        absent.insert(nr, Vec::new());
    }
    let absent = compile(
        absent,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
    )?;
    Ok(PreparedSeccomp {
        allowlist,
        absent,
        report,
    })
}

fn install_one(prog: &BpfProgram) -> std::io::Result<()> {
    let Ok(len) = u16::try_from(prog.len()) else {
        return Err(std::io::Error::from_raw_os_error(libc::E2BIG));
    };
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the program; `prog` outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0u32,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl PreparedSeccomp {
    /// Sets `no_new_privs` and installs both filters on the calling thread.
    ///
    /// Async-signal-safe (no allocation): meant for the child between `fork`
    /// and `exec`, as the last step before `exec`.
    pub fn install(&self) -> std::io::Result<()> {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        install_one(&self.allowlist)?;
        install_one(&self.absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_compiles_and_reports() {
        let p = KernelPolicy::new();
        let s = prepare(&p).unwrap();
        assert!(s.report.allowed > 250);
        assert!(s.report.refused.iter().any(|n| n == "io_uring_setup"));
        assert!(s.report.refused.iter().any(|n| n == "ptrace"));
        assert_eq!(s.report.sockets, ["tcp", "netlink-route"]);
        assert!(!s.allowlist.is_empty() && !s.absent.is_empty());
    }

    #[test]
    fn unix_sockets_only_with_a_unix_rule() {
        let mut p = KernelPolicy::new();
        p.allow_unix_connect("/run/app.sock", crate::FileScope::File)
            .unwrap();
        assert_eq!(
            prepare(&p).unwrap().report.sockets,
            ["unix", "tcp", "netlink-route"]
        );
        let mut bind_only = KernelPolicy::new();
        bind_only
            .allow_path(
                "/run/app",
                crate::FileScope::Tree,
                crate::FileRights::MAKE_SOCK,
            )
            .unwrap();
        assert!(bind_only.uses_unix_sockets());
        assert!(!KernelPolicy::new().uses_unix_sockets());
    }

    #[test]
    fn listen_only_with_a_bind_rule() {
        let p = KernelPolicy::new();
        assert!(
            prepare(&p)
                .unwrap()
                .report
                .refused
                .iter()
                .any(|n| n == "listen")
        );
        let mut p = KernelPolicy::new();
        p.allow_net(crate::policy::NetRule {
            cidr: "127.0.0.1/32".parse().unwrap(),
            ports: crate::policy::PortRange::single(8080),
            proto: crate::policy::Proto::Tcp,
            direction: crate::policy::NetDirection::Bind,
        })
        .unwrap();
        assert!(
            !prepare(&p)
                .unwrap()
                .report
                .refused
                .iter()
                .any(|n| n == "listen")
        );
    }

    #[test]
    fn udp_only_with_a_udp_rule() {
        let mut p = KernelPolicy::new();
        p.allow_net(crate::policy::NetRule {
            cidr: "10.0.0.53/32".parse().unwrap(),
            ports: crate::policy::PortRange::single(53),
            proto: crate::policy::Proto::Udp,
            direction: crate::policy::NetDirection::Connect,
        })
        .unwrap();
        let s = prepare(&p).unwrap();
        assert!(s.report.sockets.iter().any(|k| k == "udp"));
    }
}
