//! [`KernelPolicy`]: what the kernel layers can express of an envelope.
//!
//! An envelope (the verifier's least privilege for a plan) speaks of paths,
//! globs, host names, argv and tool calls. The kernel layers speak of file
//! hierarchies, program paths, address ranges, ports and syscall numbers.
//! A `KernelPolicy` is the envelope compiled into the second vocabulary, plus
//! an honest list of every shape that had to be widened (and which layer, if
//! any, narrows it again) or could not be expressed at all.
//!
//! Who reads which field:
//! - Landlock: [`KernelPolicy::files`], [`KernelPolicy::exec`], the TCP
//!   entries of [`KernelPolicy::net`] (ports only);
//! - seccomp: [`KernelPolicy::syscalls`], and the presence of UDP rules in
//!   [`KernelPolicy::net`] (no UDP rule: UDP sockets are refused);
//! - eBPF cgroup programs: [`KernelPolicy::net`] (CIDR, ports, protocol,
//!   direction); eBPF `sys_enter`: [`KernelPolicy::syscalls`] through
//!   [`SyscallAllowlist::numbers`].

use crate::error::PolicyError;
use crate::syscall_table::SYSCALLS;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, PathBuf};

/// Everything the kernel layers enforce for one run.
///
/// Whatever it does not name is refused: no file rule, no access; no net
/// rule, no connection; a syscall outside the allowlist fails with `EPERM`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelPolicy {
    /// Files and directory trees and what may be done to them.
    pub files: Vec<FileRule>,
    /// Programs that may be executed (absolute paths). Executing a program
    /// also lets it be read (the kernel opens it for reading to load it).
    pub exec: Vec<PathBuf>,
    /// Programs of [`KernelPolicy::exec`] whose arguments are checked: the
    /// argument lists (`argv[1..]`) each may run with, exactly. A program
    /// not named here runs with any arguments. Enforced by the eBPF exec
    /// check (by the executed file's inode); Landlock sees programs only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exec_args: BTreeMap<PathBuf, BTreeSet<Vec<String>>>,
    /// Pathname unix sockets that may be connected to (and sent datagrams to
    /// by name), enforced by the eBPF unix socket programs against the path
    /// as the caller names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unix: Vec<UnixRule>,
    /// Network rules: who may be connected to, what may be bound.
    pub net: Vec<NetRule>,
    /// Syscalls the run may make.
    pub syscalls: SyscallAllowlist,
    /// Shapes the layers enforce more widely than the envelope says.
    pub widenings: Vec<Widening>,
    /// Shapes no layer can express; the kernel layers grant nothing for
    /// them (another check, the orchestrator's, covers them).
    pub unexpressed: Vec<Unexpressed>,
    /// Host names of the envelope and the addresses they were pinned to.
    #[serde(default)]
    pub pinned: Vec<PinnedHost>,
}

impl KernelPolicy {
    /// An empty policy: nothing but the baseline syscalls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `access` on the file or tree at `path` (which must be absolute
    /// and normalized: no `.` or `..` segments).
    pub fn allow_path(
        &mut self,
        path: impl Into<PathBuf>,
        scope: FileScope,
        access: FileRights,
    ) -> Result<&mut Self, PolicyError> {
        self.push_file(path.into(), scope, access, None)
    }

    /// Grants `access` on the tree at `dir`, a widening (for Landlock) of the
    /// envelope's exact shape `exact` (`/tmp/out/*.tmp`, `/d/new-file`),
    /// which the BPF LSM layer enforces as it is.
    pub fn allow_widened(
        &mut self,
        dir: impl Into<PathBuf>,
        access: FileRights,
        exact: &str,
    ) -> Result<&mut Self, PolicyError> {
        self.push_file(dir.into(), FileScope::Tree, access, Some(exact.to_owned()))
    }

    fn push_file(
        &mut self,
        path: PathBuf,
        scope: FileScope,
        access: FileRights,
        exact: Option<String>,
    ) -> Result<&mut Self, PolicyError> {
        let path = checked_path(path)?;
        if access.is_empty() {
            return Err(PolicyError::EmptyAccess { path });
        }
        self.files.push(FileRule {
            path,
            scope,
            access,
            exact,
        });
        Ok(self)
    }

    /// Lets `program` be executed, with any arguments.
    pub fn allow_exec(&mut self, program: impl Into<PathBuf>) -> Result<&mut Self, PolicyError> {
        let program = checked_path(program.into())?;
        self.exec_args.remove(&program);
        if !self.exec.contains(&program) {
            self.exec.push(program);
        }
        Ok(self)
    }

    /// Lets `program` be executed with exactly the arguments `args`
    /// (`argv[1..]`), and with any other list granted the same way; a
    /// program already granted with any arguments stays so.
    pub fn allow_exec_args(
        &mut self,
        program: impl Into<PathBuf>,
        args: Vec<String>,
    ) -> Result<&mut Self, PolicyError> {
        let program = checked_path(program.into())?;
        if let Some(arg) = args.iter().find(|a| a.contains('\0')) {
            return Err(PolicyError::NulInArgument {
                program,
                argument: arg.replace('\0', "\\0"),
            });
        }
        if self.exec.contains(&program) && !self.exec_args.contains_key(&program) {
            return Ok(self);
        }
        if !self.exec.contains(&program) {
            self.exec.push(program.clone());
        }
        self.exec_args.entry(program).or_default().insert(args);
        Ok(self)
    }

    /// The argument lists `program` may run with: `None` for any.
    pub fn exec_args_of(&self, program: &std::path::Path) -> Option<&BTreeSet<Vec<String>>> {
        self.exec_args.get(program)
    }

    /// Lets the run connect (and send datagrams by name) to the pathname
    /// unix socket `path`, or to any below it with [`FileScope::Tree`].
    pub fn allow_unix_connect(
        &mut self,
        path: impl Into<PathBuf>,
        scope: FileScope,
    ) -> Result<&mut Self, PolicyError> {
        let path = checked_path(path.into())?;
        let rule = UnixRule { path, scope };
        if !self.unix.contains(&rule) {
            self.unix.push(rule);
        }
        Ok(self)
    }

    /// Adds a network rule.
    pub fn allow_net(&mut self, rule: NetRule) -> Result<&mut Self, PolicyError> {
        if rule.ports.first > rule.ports.last {
            return Err(PolicyError::EmptyPortRange {
                first: rule.ports.first,
                last: rule.ports.last,
            });
        }
        self.net.push(rule);
        Ok(self)
    }

    /// Records that `layer` is not in use after all: the widenings it would
    /// have narrowed are reported as they are.
    pub fn not_narrowed_by(&mut self, layer: crate::layer::Layer) {
        for w in &mut self.widenings {
            if w.narrowed_by.as_deref() == Some(layer.name()) {
                w.narrowed_by = None;
            }
        }
    }

    /// Whether the run may create unix sockets: a unix connect rule, or a
    /// directory where it may bind one (`FileRights::MAKE_SOCK`).
    pub fn uses_unix_sockets(&self) -> bool {
        !self.unix.is_empty()
            || self
                .files
                .iter()
                .any(|r| r.access.contains(FileRights::MAKE_SOCK))
    }

    /// Whether any rule allows UDP in either direction.
    pub fn has_udp(&self) -> bool {
        self.net.iter().any(|r| r.proto == Proto::Udp)
    }

    /// TCP ports that may be connected to (for Landlock, which cannot match
    /// addresses).
    pub fn tcp_connect_ports(&self) -> BTreeSet<u16> {
        self.tcp_ports(NetDirection::Connect)
    }

    /// TCP ports that may be bound (and listened on).
    pub fn tcp_bind_ports(&self) -> BTreeSet<u16> {
        self.tcp_ports(NetDirection::Bind)
    }

    fn tcp_ports(&self, direction: NetDirection) -> BTreeSet<u16> {
        self.net
            .iter()
            .filter(|r| r.proto == Proto::Tcp && r.direction == direction)
            .flat_map(|r| r.ports.first..=r.ports.last)
            .collect()
    }
}

fn checked_path(path: PathBuf) -> Result<PathBuf, PolicyError> {
    if !path.is_absolute() {
        return Err(PolicyError::RelativePath { path });
    }
    if path
        .components()
        .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return Err(PolicyError::UnnormalizedPath { path });
    }
    Ok(path)
}

/// Whether a file rule names one file or a directory and everything below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileScope {
    /// Exactly this file.
    File,
    /// This directory and everything below it.
    Tree,
}

/// A pathname unix socket (or a tree of them) the run may connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnixRule {
    /// Absolute, normalized path.
    pub path: PathBuf,
    /// The socket file itself, or every socket below a directory.
    pub scope: FileScope,
}

/// One file rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRule {
    /// Absolute, normalized path.
    pub path: PathBuf,
    /// The file itself, or the directory and everything below it.
    pub scope: FileScope,
    /// What the rule grants on `path` (nothing else is granted there).
    pub access: FileRights,
    /// When the rule widens an envelope shape Landlock cannot express: that
    /// shape (a glob or an exact file), for the BPF LSM layer, which
    /// enforces it exactly instead of the tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
}

/// The kernel rights on a file rule: read, write, create, remove, exec (what
/// the layers grant; an envelope says `FileAccess`, read, write or delete,
/// which `compile` maps to these).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileRights(u8);

impl FileRights {
    /// Open for reading (and, on a tree, list directories).
    pub const READ: Self = Self(1);
    /// Open for writing, truncate.
    pub const WRITE: Self = Self(2);
    /// Create files, directories and symlinks.
    pub const CREATE: Self = Self(4);
    /// Unlink files, remove directories.
    pub const REMOVE: Self = Self(8);
    /// Execute.
    pub const EXEC: Self = Self(16);
    /// Bind a unix socket (create its file), in a directory tree.
    pub const MAKE_SOCK: Self = Self(32);
    /// Nothing.
    pub const NONE: Self = Self(0);
    const NAMES: [(Self, &'static str); 6] = [
        (Self::READ, "read"),
        (Self::WRITE, "write"),
        (Self::CREATE, "create"),
        (Self::REMOVE, "remove"),
        (Self::EXEC, "exec"),
        (Self::MAKE_SOCK, "make-sock"),
    ];

    /// Whether every access of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// No access at all.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of both sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Parses `read`, `write`, `create`, `remove`, `exec`, `make-sock`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }

    /// The names of the accesses in the set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(a, _)| self.contains(*a))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for FileRights {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl fmt::Debug for FileRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for FileRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<_> = self.names().collect();
        f.write_str(&names.join("+"))
    }
}

/// Transport protocol of a net rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Whether a net rule is about reaching out or being reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetDirection {
    /// `connect` (TCP) or `connect`/`sendto` (UDP) to the CIDR and ports.
    Connect,
    /// `bind` (and `listen`) on a local address in the CIDR and ports.
    Bind,
}

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// The lowest port of the range.
    pub first: u16,
    /// The highest port of the range, included ([`KernelPolicy::allow_net`]
    /// refuses a range whose `last` is below its `first`).
    pub last: u16,
}

impl PortRange {
    /// One port.
    pub const fn single(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    /// Whether `port` is in the range.
    pub const fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// One network rule: addresses, ports, protocol, direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetRule {
    /// Remote addresses (connect) or local addresses (bind). IPv4 rules also
    /// match IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`).
    pub cidr: IpNet,
    /// Remote ports (connect) or local ports (bind).
    pub ports: PortRange,
    /// The transport the rule allows; the other one stays refused.
    pub proto: Proto,
    /// Reaching out to `cidr`, or being reached on it.
    pub direction: NetDirection,
}

impl NetRule {
    /// TCP connect to `cidr` on one port.
    pub fn tcp_connect(cidr: IpNet, port: u16) -> Self {
        Self {
            cidr,
            ports: PortRange::single(port),
            proto: Proto::Tcp,
            direction: NetDirection::Connect,
        }
    }

    /// TCP bind/listen on `cidr` on one port.
    pub fn tcp_bind(cidr: IpNet, port: u16) -> Self {
        Self {
            cidr,
            ports: PortRange::single(port),
            proto: Proto::Tcp,
            direction: NetDirection::Bind,
        }
    }
}

/// Syscalls that are refused unless the envelope explicitly needs them:
/// each lets a process reach beyond its envelope (kernel attack surface
/// that bypasses other layers, other processes' memory, namespaces,
/// mounts, modules, keys).
pub const ALWAYS_REFUSED: &[&str] = &[
    // io_uring performs file and socket operations off the syscall path.
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // Other processes.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    // Kernel programs, tracing and handles.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "lookup_dcookie",
    // Mounts and namespaces.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "setns",
    "unshare",
    "open_tree",
    "open_tree_attr",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "statmount",
    "listmount",
    // Kernel images and modules.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    // Keys.
    "keyctl",
    "add_key",
    "request_key",
    // The machine itself.
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "vhangup",
    "nfsservctl",
    "uselib",
    "personality",
    "memfd_secret",
    "lsm_set_self_attr",
];

/// The syscalls a run may make, by name.
///
/// Built from the architecture's syscall table minus [`ALWAYS_REFUSED`]
/// ([`SyscallAllowlist::baseline`]); an envelope that needs one of the
/// refused syscalls adds it back with [`SyscallAllowlist::allow`], which is
/// recorded as such in the policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallAllowlist {
    names: BTreeSet<String>,
}

impl Default for SyscallAllowlist {
    fn default() -> Self {
        Self::baseline()
    }
}

impl SyscallAllowlist {
    /// Every syscall of this architecture except [`ALWAYS_REFUSED`].
    pub fn baseline() -> Self {
        let names = SYSCALLS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !ALWAYS_REFUSED.contains(n))
            .map(str::to_owned)
            .collect();
        Self { names }
    }

    /// Nothing at all (not even `exit`): a starting point for tight lists.
    pub fn empty() -> Self {
        Self {
            names: BTreeSet::new(),
        }
    }

    /// Adds a syscall by name.
    pub fn allow(&mut self, name: &str) -> Result<&mut Self, PolicyError> {
        if number_of(name).is_none() {
            return Err(PolicyError::UnknownSyscall {
                name: name.to_owned(),
            });
        }
        self.names.insert(name.to_owned());
        Ok(self)
    }

    /// Removes a syscall by name (no error if it was not there).
    pub fn refuse(&mut self, name: &str) -> &mut Self {
        self.names.remove(name);
        self
    }

    /// Whether `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The allowed names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The allowed syscall numbers of this architecture, sorted (for the
    /// seccomp filter and the eBPF `sys_enter` allowlist map).
    pub fn numbers(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.names.iter().filter_map(|n| number_of(n)).collect();
        v.sort_unstable();
        v
    }
}

/// The number of syscall `name` on this architecture.
pub fn number_of(name: &str) -> Option<i64> {
    SYSCALLS.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

/// The name of syscall number `nr` on this architecture.
pub fn name_of(nr: i64) -> Option<&'static str> {
    SYSCALLS.iter().find(|(_, x)| *x == nr).map(|(n, _)| *n)
}

/// A shape of the envelope that a layer enforces more widely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widening {
    /// The envelope's shape, in its own words (`write "/tmp/out/*.tmp"`).
    pub shape: String,
    /// What the layer enforces instead (`write under "/tmp/out/"`).
    pub enforced: String,
    /// The layer that widens.
    pub layer: String,
    /// A finer layer that narrows it back, if one is in use.
    pub narrowed_by: Option<String>,
}

/// A host name of the envelope and the addresses it was pinned to when the
/// run started (the net rules hold these addresses, not the name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedHost {
    /// The host name as the envelope spells it.
    pub host: String,
    /// What the resolver returned for it when the policy was compiled
    /// (never empty: a name that resolves to nothing refuses the run).
    pub addresses: Vec<std::net::IpAddr>,
}

/// A shape of the envelope that no kernel layer can express.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unexpressed {
    /// The envelope's shape, in its own words.
    pub shape: String,
    /// Why no layer can express it.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_dotted_paths_are_refused() {
        let mut p = KernelPolicy::new();
        assert!(matches!(
            p.allow_path("etc/passwd", FileScope::File, FileRights::READ),
            Err(PolicyError::RelativePath { .. })
        ));
        assert!(matches!(
            p.allow_path("/repo/../etc", FileScope::Tree, FileRights::READ),
            Err(PolicyError::UnnormalizedPath { .. })
        ));
        assert!(matches!(
            p.allow_path("/repo", FileScope::Tree, FileRights::NONE),
            Err(PolicyError::EmptyAccess { .. })
        ));
        assert!(p.files.is_empty());
    }

    #[test]
    fn access_sets_compose_and_print() {
        let rw = FileRights::READ | FileRights::WRITE;
        assert!(rw.contains(FileRights::READ));
        assert!(!rw.contains(FileRights::EXEC));
        assert_eq!(rw.to_string(), "read+write");
        assert_eq!(FileRights::from_name("remove"), Some(FileRights::REMOVE));
        assert_eq!(FileRights::from_name("chmod"), None);
        assert_eq!(FileRights::NONE.to_string(), "none");
    }

    #[test]
    fn baseline_refuses_dangerous_syscalls() {
        let s = SyscallAllowlist::baseline();
        for name in ALWAYS_REFUSED {
            assert!(!s.allows(name), "{name} must be refused by default");
        }
        for name in ["read", "write", "openat", "execve", "exit_group", "clone"] {
            assert!(s.allows(name), "{name} must be allowed by default");
        }
        let nr = number_of("io_uring_setup");
        assert_eq!(nr, Some(425));
        assert!(!s.numbers().contains(&425));
    }

    #[test]
    fn unknown_syscalls_are_errors() {
        let mut s = SyscallAllowlist::empty();
        assert!(s.allow("not_a_syscall").is_err());
        s.allow("io_uring_setup").unwrap();
        assert_eq!(s.numbers(), vec![425]);
        assert_eq!(name_of(425), Some("io_uring_setup"));
    }

    #[test]
    fn tcp_ports_come_from_tcp_rules_only() {
        let mut p = KernelPolicy::new();
        let lo: IpNet = "127.0.0.1/32".parse().unwrap();
        p.allow_net(NetRule::tcp_connect(lo, 8080)).unwrap();
        p.allow_net(NetRule {
            cidr: lo,
            ports: PortRange {
                first: 53,
                last: 54,
            },
            proto: Proto::Udp,
            direction: NetDirection::Connect,
        })
        .unwrap();
        p.allow_net(NetRule::tcp_bind(lo, 9000)).unwrap();
        assert_eq!(
            p.tcp_connect_ports().into_iter().collect::<Vec<_>>(),
            [8080]
        );
        assert_eq!(p.tcp_bind_ports().into_iter().collect::<Vec<_>>(), [9000]);
        assert!(p.has_udp());
        let bad = NetRule {
            ports: PortRange { first: 10, last: 9 },
            ..NetRule::tcp_connect(lo, 1)
        };
        assert!(p.allow_net(bad).is_err());
    }

    #[test]
    fn policy_round_trips_through_json() {
        let mut p = KernelPolicy::new();
        p.allow_path("/srv", FileScope::Tree, FileRights::READ)
            .unwrap()
            .allow_exec("/usr/bin/git")
            .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: KernelPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(p, back);
    }
}
