//! What the eBPF layers enforce, and its compilation into map entries.
//!
//! A [`NetPolicy`] is a list of [`NetRule`]s (CIDR, port range, protocol,
//! direction); everything it does not name is refused. It compiles into one
//! LPM trie per address family whose value is the list of port ranges allowed
//! under that prefix. Because an LPM lookup returns only the longest matching
//! prefix, each prefix also carries the ranges of every shorter prefix that
//! contains it, so the longest match alone decides.

use std::collections::{BTreeMap, BTreeSet};

#[cfg(test)]
use std::net::{Ipv4Addr, Ipv6Addr};

use enforcer_common::{
    DIR_BIND, DIR_CONNECT, MAX_PORT_RANGES, MAX_PREFIXES, PROTO_TCP, PROTO_UDP, PortRange, PortRule,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::error::EbpfError;
use crate::policy::{FileRights, FileScope, KernelPolicy, NetDirection, NetRule, Proto};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn proto_code(proto: Proto) -> u8 {
    match proto {
        Proto::Tcp => PROTO_TCP,
        Proto::Udp => PROTO_UDP,
    }
}

fn dir_code(dir: NetDirection) -> u8 {
    match dir {
        NetDirection::Connect => DIR_CONNECT,
        NetDirection::Bind => DIR_BIND,
    }
}

/// The network envelope of a run: the rules it allows, nothing else. A
/// connect rule covers `connect` and `sendto`/`sendmsg` with an address; an
/// IPv4 rule also covers the IPv4-mapped IPv6 form (`::ffff:a.b.c.d`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetPolicy {
    /// The allowed connects and binds.
    pub rules: Vec<NetRule>,
    /// Report operations outside the rules instead of refusing them
    /// (observation for `warden learn`).
    #[serde(default)]
    pub observe_only: bool,
}

impl NetPolicy {
    /// Refuses every connect, sendmsg and bind.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// A policy of `rules`.
    pub fn allow(rules: impl IntoIterator<Item = NetRule>) -> Self {
        Self {
            rules: rules.into_iter().collect(),
            observe_only: false,
        }
    }

    /// The network rules of a run's [`KernelPolicy`].
    pub fn from_kernel_policy(policy: &KernelPolicy) -> Self {
        Self::allow(policy.net.iter().cloned())
    }

    /// Whether the policy allows `op` to `addr`:`port` over `proto` (6 TCP,
    /// 17 UDP). The reference semantics the kernel maps must agree with;
    /// IPv4-mapped IPv6 addresses are judged as IPv4.
    pub fn allows(&self, addr: std::net::IpAddr, port: u16, proto: u8, dir: NetDirection) -> bool {
        let addr = match addr {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => std::net::IpAddr::V4(v4),
                None => std::net::IpAddr::V6(v6),
            },
            v4 => v4,
        };
        self.rules.iter().any(|r| {
            r.direction == dir
                && r.cidr.contains(&addr)
                && r.ports.contains(port)
                && proto_code(r.proto) == proto
        })
    }
}

/// The compiled network envelope: LPM trie entries per family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompiledNet {
    pub(crate) v4: Vec<(u32, [u8; 4], PortRule)>,
    pub(crate) v6: Vec<(u32, [u8; 16], PortRule)>,
}

type RangeKey = (u16, u16, u8, u8);

fn merged_rule(ranges: &BTreeSet<RangeKey>, cidr: &str) -> Result<PortRule, EbpfError> {
    let mut rule = PortRule::EMPTY;
    for &(lo, hi, proto, dirs) in ranges {
        let range = PortRange {
            lo,
            hi,
            proto,
            dirs,
            _pad: 0,
        };
        if !rule.push(range) {
            return Err(EbpfError::Policy(format!(
                "{cidr}: more than {MAX_PORT_RANGES} port ranges apply to this prefix"
            )));
        }
    }
    Ok(rule)
}

/// Compiles `policy` into trie entries, or refuses it when it does not fit
/// the maps (fail closed: never a narrower or wider envelope than asked).
pub(crate) fn compile_net(policy: &NetPolicy) -> Result<CompiledNet, EbpfError> {
    let mut v4: BTreeMap<Ipv4Net, BTreeSet<RangeKey>> = BTreeMap::new();
    let mut v6: BTreeMap<Ipv6Net, BTreeSet<RangeKey>> = BTreeMap::new();
    for rule in &policy.rules {
        if rule.ports.first > rule.ports.last {
            return Err(EbpfError::Policy(format!(
                "{}: empty port range {}-{}",
                rule.cidr, rule.ports.first, rule.ports.last
            )));
        }
        let key = (
            rule.ports.first,
            rule.ports.last,
            proto_code(rule.proto),
            dir_code(rule.direction),
        );
        match rule.cidr.trunc() {
            IpNet::V4(net) => v4.entry(net).or_default().insert(key),
            IpNet::V6(net) => v6.entry(net).or_default().insert(key),
        };
    }
    if v4.len() > MAX_PREFIXES as usize || v6.len() > MAX_PREFIXES as usize {
        return Err(EbpfError::Policy(format!(
            "more than {MAX_PREFIXES} distinct prefixes in one address family"
        )));
    }

    let mut out = CompiledNet::default();
    for net in v4.keys() {
        let mut ranges = BTreeSet::new();
        for (outer, r) in &v4 {
            if outer.contains(net) {
                ranges.extend(r.iter().copied());
            }
        }
        let rule = merged_rule(&ranges, &net.to_string())?;
        out.v4
            .push((u32::from(net.prefix_len()), net.addr().octets(), rule));
    }
    for net in v6.keys() {
        let mut ranges = BTreeSet::new();
        for (outer, r) in &v6 {
            if outer.contains(net) {
                ranges.extend(r.iter().copied());
            }
        }
        let rule = merged_rule(&ranges, &net.to_string())?;
        out.v6
            .push((u32::from(net.prefix_len()), net.addr().octets(), rule));
    }
    Ok(out)
}

/// Looks `addr` up in compiled entries the way the kernel's LPM trie does
/// (longest matching prefix); for tests and the reference check.
#[cfg(test)]
pub(crate) fn lookup_v4(c: &CompiledNet, addr: Ipv4Addr) -> Option<&PortRule> {
    c.v4.iter()
        .filter(|(len, net, _)| {
            Ipv4Net::new(Ipv4Addr::from(*net), *len as u8).is_ok_and(|n| n.contains(&addr))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, _, r)| r)
}

#[cfg(test)]
pub(crate) fn lookup_v6(c: &CompiledNet, addr: Ipv6Addr) -> Option<&PortRule> {
    c.v6.iter()
        .filter(|(len, net, _)| {
            Ipv6Net::new(Ipv6Addr::from(*net), *len as u8).is_ok_and(|n| n.contains(&addr))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, _, r)| r)
}

/// Programs of a run, by the file the kernel executes (device and inode,
/// resolved when the run starts), and how each may run: what the exec check
/// at `sched_process_exec` enforces.
///
/// A `#!` script runs its interpreter: the kernel executes the interpreter
/// with the script's path (as the caller named it) and the script's
/// arguments after the interpreter's own argument from the `#!` line. So a
/// granted script adds to its interpreter's rule the lists (or, for any
/// arguments, the prefix) `[interpreter argument, script path, arguments]`;
/// the interpreter itself runs only if the envelope grants it too (Landlock
/// needs it), and a script called by another name than the envelope's is
/// refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecPolicy {
    /// (device in the kernel's encoding, inode) → rule.
    pub programs: BTreeMap<(u64, u64), ProgramRule>,
    /// Some envelope grant executes a directory tree: a file the map does
    /// not list is left to Landlock instead of killed.
    pub trees: bool,
}

/// How one executable file may run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramRule {
    /// A path it was granted by (for messages).
    pub path: PathBuf,
    /// With any arguments.
    pub any_args: bool,
    /// Never (the ELF loader of a granted program, run directly).
    pub never: bool,
    /// Exactly these argument lists (`argv[1..]`, each argument followed by
    /// its NUL).
    pub exact: BTreeSet<Vec<u8>>,
    /// These first arguments (each followed by its NUL), then any: a script
    /// run by its interpreter.
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// An argument list as the kernel lays it out: each argument followed by
/// its NUL.
pub fn encode_args<S: AsRef<[u8]>>(args: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_ref());
        out.push(0);
    }
    out
}

/// The kernel's encoding of a device number (`MKDEV`: major << 20 | minor).
pub(crate) fn kernel_dev(st_dev: u64) -> u64 {
    let major = ((st_dev >> 8) & 0xfff) | ((st_dev >> 32) & !0xfff);
    let minor = (st_dev & 0xff) | ((st_dev >> 12) & !0xff);
    (major << 20) | minor
}

/// A file's identity as the kernel's `inode->i_sb->s_dev` and `i_ino` name
/// it (`stat` encodes the device differently), following symlinks.
pub fn kernel_inode(path: &Path) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((kernel_dev(meta.dev()), meta.ino()))
}

/// The `#!` line of a script: the interpreter and its one optional
/// argument (the kernel passes the rest of the line as a single argument).
pub fn script_interpreter(path: &Path) -> Option<(PathBuf, Option<String>)> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .ok()?;
    let head = &head[..n];
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n')?];
    let line = std::str::from_utf8(line).ok()?.trim_matches([' ', '\t']);
    let (interp, arg) = match line.find([' ', '\t']) {
        Some(i) => (
            &line[..i],
            Some(line[i..].trim_matches([' ', '\t']).to_owned()),
        ),
        None => (line, None),
    };
    let arg = arg.filter(|a| !a.is_empty());
    Some((PathBuf::from(interp), arg))
}

impl ExecPolicy {
    /// The exec rules of a run's policy, resolved on this machine: every
    /// granted program by inode with its argument lists, the interpreter of
    /// every granted `#!` script with the script's lists, and the ELF
    /// loader of every granted program refused as a program of its own
    /// unless the envelope grants it. A file under an exec tree of the
    /// envelope keeps any arguments: the tree grants it so, and a script or
    /// an exact list naming the same file only adds to that.
    pub fn from_kernel_policy(policy: &KernelPolicy) -> Self {
        let mut out = ExecPolicy::default();
        let exec_files = policy
            .files
            .iter()
            .filter(|r| r.access.contains(FileRights::EXEC));
        let mut programs: Vec<&Path> = policy.exec.iter().map(PathBuf::as_path).collect();
        for rule in exec_files {
            match rule.scope {
                FileScope::File => programs.push(&rule.path),
                FileScope::Tree => out.trees = true,
            }
        }
        // A file under an exec tree of the envelope runs with any arguments
        // (as named, or as its symlinks resolve), whatever narrower rule a
        // file grant or a script adds for the same inode.
        let granted_by_tree = |path: &Path| {
            let under = |path: &Path| {
                policy.files.iter().any(|r| {
                    r.scope == FileScope::Tree
                        && r.access.contains(FileRights::EXEC)
                        && path.starts_with(&r.path)
                })
            };
            under(path) || path.canonicalize().is_ok_and(|c| under(&c))
        };
        for program in &programs {
            let Ok(id) = kernel_inode(program) else {
                continue;
            };
            let args = policy.exec_args_of(program);
            let rule = out.rule(id, program);
            match args {
                None => rule.any_args = true,
                Some(lists) => rule.exact.extend(lists.iter().map(|l| encode_args(l))),
            }
            if granted_by_tree(program) {
                rule.any_args = true;
            }
            if let Some((interp, interp_arg)) = script_interpreter(program)
                && let Ok(interp_id) = kernel_inode(&interp)
            {
                let mut head: Vec<String> = interp_arg.into_iter().collect();
                head.push(program.display().to_string());
                let interp_in_tree = granted_by_tree(&interp);
                let rule = out.rule(interp_id, &interp);
                if interp_in_tree {
                    rule.any_args = true;
                }
                match args {
                    None => {
                        rule.prefixes.insert(encode_args(&head));
                    }
                    Some(lists) => {
                        for list in lists {
                            let mut full = head.clone();
                            full.extend(list.iter().cloned());
                            rule.exact.insert(encode_args(&full));
                        }
                    }
                }
            }
        }
        for program in &programs {
            let Some(loader) = crate::landlock::elf_interpreter(program) else {
                continue;
            };
            let Ok(id) = kernel_inode(&loader) else {
                continue;
            };
            if out.programs.contains_key(&id) || granted_by_tree(&loader) {
                continue;
            }
            out.rule(id, &loader).never = true;
        }
        out
    }

    fn rule(&mut self, id: (u64, u64), path: &Path) -> &mut ProgramRule {
        self.programs.entry(id).or_insert_with(|| ProgramRule {
            path: path.to_path_buf(),
            ..ProgramRule::default()
        })
    }

    /// Whether the rules let the file `id` run with `args` (each followed by
    /// its NUL): the reference semantics of the kernel side.
    pub fn allows(&self, id: (u64, u64), args: &[u8]) -> bool {
        let Some(rule) = self.programs.get(&id) else {
            return self.trees;
        };
        if rule.never {
            return false;
        }
        if rule.any_args || rule.exact.contains(args) {
            return true;
        }
        // A prefix ends with its last argument's NUL: whole arguments only.
        rule.prefixes.iter().any(|prefix| args.starts_with(prefix))
    }
}

/// The pathname unix sockets a run may connect to, as `UNIX_PATHS` keys: an
/// exact path with its NUL, a tree with a trailing `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnixPolicy {
    /// The key bytes (without the run key).
    pub paths: BTreeSet<Vec<u8>>,
}

impl UnixPolicy {
    /// The unix rules of a run's policy; a path the programs could never
    /// match (not plain, or longer than `sun_path`) is refused (fail closed:
    /// a rule the kernel cannot hold is an error, not a silent no-op).
    pub fn from_kernel_policy(policy: &KernelPolicy) -> Result<Self, EbpfError> {
        let mut out = UnixPolicy::default();
        for rule in &policy.unix {
            let path = rule.path.as_os_str().as_encoded_bytes();
            if !enforcer_common::unix_path_is_plain(path) {
                return Err(EbpfError::Policy(format!(
                    "unix socket rule {}: not a plain absolute path of at most {} bytes",
                    rule.path.display(),
                    enforcer_common::UNIX_PATH_MAX
                )));
            }
            let mut key = path.to_vec();
            match rule.scope {
                FileScope::File => key.push(0),
                FileScope::Tree if key != b"/" => key.push(b'/'),
                FileScope::Tree => {}
            }
            out.paths.insert(key);
        }
        Ok(out)
    }

    /// Whether a connect to `path` (as the caller names it) passes: the
    /// reference semantics of the kernel side.
    pub fn allows(&self, path: &[u8]) -> bool {
        if !enforcer_common::unix_path_is_plain(path) {
            return false;
        }
        let mut exact = path.to_vec();
        exact.push(0);
        self.paths
            .iter()
            .any(|k| exact.starts_with(k) && (k.last() == Some(&b'/') || *k == exact))
    }
}

/// Everything the eBPF layers enforce for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRules {
    /// Addresses and ports the run may connect to and bind.
    pub net: NetPolicy,
    /// The programs the run may execute.
    pub exec: ExecPolicy,
    /// The pathname unix sockets the run may connect to.
    pub unix: UnixPolicy,
}

impl RunRules {
    /// The rules of a run's policy, resolved on this machine.
    pub fn from_kernel_policy(policy: &KernelPolicy) -> Result<Self, EbpfError> {
        Ok(RunRules {
            net: NetPolicy::from_kernel_policy(policy),
            exec: ExecPolicy::from_kernel_policy(policy),
            unix: UnixPolicy::from_kernel_policy(policy)?,
        })
    }

    /// Observation only (`warden learn`): everything runs, what is outside
    /// the rules is reported.
    pub fn observe(mut self) -> Self {
        self.net.observe_only = true;
        self
    }

    /// Whether operations outside the rules are reported, not refused.
    pub fn observe_only(&self) -> bool {
        self.net.observe_only
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::*;
    use crate::policy::PortRange as Ports;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn rule(
        cidr: &str,
        ports: std::ops::RangeInclusive<u16>,
        proto: Proto,
        direction: NetDirection,
    ) -> NetRule {
        NetRule {
            cidr: net(cidr),
            ports: Ports {
                first: *ports.start(),
                last: *ports.end(),
            },
            proto,
            direction,
        }
    }

    fn allows_compiled(
        c: &CompiledNet,
        addr: IpAddr,
        port: u16,
        proto: u8,
        dir: NetDirection,
    ) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        let rule = match addr {
            IpAddr::V4(a) => lookup_v4(c, a),
            IpAddr::V6(a) => lookup_v6(c, a),
        };
        rule.is_some_and(|r| r.allows(port, proto, dir_code(dir)))
    }

    #[test]
    fn a_program_under_an_exec_tree_keeps_any_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let interp = tree.join("sh");
        std::fs::copy("/bin/sh", &interp).unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(&script, format!("#!{}\n", interp.display())).unwrap();
        let git = tree.join("git");
        std::fs::write(&git, "").unwrap();
        let mut policy = KernelPolicy::new();
        policy.allow_exec(&script).unwrap();
        policy.allow_exec_args(&git, vec!["status".into()]).unwrap();
        let script_args = encode_args(&[script.to_str().unwrap(), "x"]);
        let other = encode_args(&["-c", "id"]);
        let id = |p: &Path| kernel_inode(p).unwrap();

        // Without the tree: the interpreter only for the script, git only
        // with its list.
        let narrow = ExecPolicy::from_kernel_policy(&policy);
        assert!(narrow.allows(id(&interp), &script_args));
        assert!(!narrow.allows(id(&interp), &other));
        assert!(narrow.allows(id(&git), &encode_args(&["status"])));
        assert!(!narrow.allows(id(&git), &encode_args(&["push"])));

        // An exec tree above both grants them with any arguments.
        policy
            .allow_path(&tree, FileScope::Tree, FileRights::EXEC)
            .unwrap();
        let wide = ExecPolicy::from_kernel_policy(&policy);
        assert!(wide.trees);
        assert!(wide.allows(id(&interp), &script_args));
        assert!(wide.allows(id(&interp), &other));
        assert!(wide.allows(id(&git), &encode_args(&["push"])));
    }

    #[test]
    fn cidr_and_single_host_rules() {
        let policy = NetPolicy::allow([
            rule("10.0.0.0/8", 443..=443, Proto::Tcp, NetDirection::Connect),
            rule(
                "127.0.0.1/32",
                8080..=8080,
                Proto::Tcp,
                NetDirection::Connect,
            ),
            rule(
                "127.0.0.1/32",
                8080..=8080,
                Proto::Udp,
                NetDirection::Connect,
            ),
        ]);
        let c = compile_net(&policy).unwrap();
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(allows_compiled(
            &c,
            a("10.1.2.3"),
            443,
            6,
            NetDirection::Connect
        ));
        assert!(!allows_compiled(
            &c,
            a("10.1.2.3"),
            80,
            6,
            NetDirection::Connect
        ));
        assert!(!allows_compiled(
            &c,
            a("10.1.2.3"),
            443,
            17,
            NetDirection::Connect
        ));
        assert!(allows_compiled(
            &c,
            a("127.0.0.1"),
            8080,
            17,
            NetDirection::Connect
        ));
        assert!(!allows_compiled(
            &c,
            a("127.0.0.2"),
            8080,
            6,
            NetDirection::Connect
        ));
        assert!(allows_compiled(
            &c,
            a("::ffff:127.0.0.1"),
            8080,
            6,
            NetDirection::Connect
        ));
        assert!(!allows_compiled(
            &c,
            a("::ffff:127.0.0.1"),
            8081,
            6,
            NetDirection::Connect
        ));
        assert!(!allows_compiled(
            &c,
            a("127.0.0.1"),
            8080,
            6,
            NetDirection::Bind
        ));
    }

    #[test]
    fn nested_prefixes_keep_the_outer_ranges() {
        let policy = NetPolicy::allow([
            rule("10.0.0.0/8", 443..=443, Proto::Tcp, NetDirection::Connect),
            rule("10.1.0.0/16", 80..=80, Proto::Tcp, NetDirection::Connect),
        ]);
        let c = compile_net(&policy).unwrap();
        let inner = lookup_v4(&c, "10.1.9.9".parse().unwrap()).unwrap();
        assert!(inner.allows(443, 6, DIR_CONNECT));
        assert!(inner.allows(80, 6, DIR_CONNECT));
        let outer = lookup_v4(&c, "10.2.9.9".parse().unwrap()).unwrap();
        assert!(!outer.allows(80, 6, DIR_CONNECT));
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let rules = (0..=MAX_PORT_RANGES as u16)
            .map(|p| rule("10.0.0.0/8", p..=p, Proto::Tcp, NetDirection::Connect));
        assert!(compile_net(&NetPolicy::allow(rules)).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let empty = rule("10.0.0.0/8", 9..=8, Proto::Tcp, NetDirection::Connect);
        assert!(compile_net(&NetPolicy::allow([empty])).is_err());
    }

    #[test]
    fn exec_rules_by_inode_with_their_arguments_and_the_loader_refused() {
        let mut policy = KernelPolicy::new();
        policy
            .allow_exec_args("/usr/bin/true", vec!["build".into()])
            .unwrap()
            .allow_exec_args("/usr/bin/true", vec!["test".into(), "-q".into()])
            .unwrap()
            .allow_exec("/usr/bin/env")
            .unwrap();
        let rules = ExecPolicy::from_kernel_policy(&policy);
        let t = kernel_inode(Path::new("/usr/bin/true")).unwrap();
        let env = kernel_inode(Path::new("/usr/bin/env")).unwrap();
        assert!(!rules.trees);
        assert!(rules.allows(t, &encode_args(&["build"])));
        assert!(rules.allows(t, &encode_args(&["test", "-q"])));
        assert!(!rules.allows(t, &encode_args(&["publish"])));
        assert!(!rules.allows(t, &encode_args(&["build", "x"])));
        assert!(!rules.allows(t, b""));
        assert!(rules.allows(env, &encode_args(&["anything"])));
        // The loader of a dynamic program: never as a program of its own.
        if let Some(loader) = crate::landlock::elf_interpreter(Path::new("/usr/bin/true")) {
            let id = kernel_inode(&loader).unwrap();
            assert!(rules.programs[&id].never);
            assert!(!rules.allows(id, &encode_args(&["/usr/bin/true"])));
        }
        // A file the policy does not name: killed, unless trees are granted.
        let sh = kernel_inode(Path::new("/bin/sh")).unwrap();
        assert!(!rules.allows(sh, b""));
        let mut treed = policy.clone();
        treed
            .allow_path("/usr/local", FileScope::Tree, FileRights::EXEC)
            .unwrap();
        assert!(ExecPolicy::from_kernel_policy(&treed).allows(sh, b""));
    }

    #[test]
    fn a_script_grants_its_interpreter_the_script_then_its_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(&script, "#!/bin/sh -e\necho hi\n").unwrap();
        assert_eq!(
            script_interpreter(&script),
            Some((PathBuf::from("/bin/sh"), Some("-e".into())))
        );
        let name = script.display().to_string();
        let sh = kernel_inode(Path::new("/bin/sh")).unwrap();
        let mut exact = KernelPolicy::new();
        exact.allow_exec_args(&script, vec!["a".into()]).unwrap();
        let rules = ExecPolicy::from_kernel_policy(&exact);
        assert!(rules.allows(sh, &encode_args(&["-e", &name, "a"])));
        assert!(!rules.allows(sh, &encode_args(&["-e", &name, "b"])));
        assert!(!rules.allows(sh, &encode_args(&["-e", "./s.sh", "a"])));
        let mut any = KernelPolicy::new();
        any.allow_exec(&script).unwrap();
        let rules = ExecPolicy::from_kernel_policy(&any);
        assert!(rules.allows(sh, &encode_args(&["-e", &name, "b", "c"])));
        assert!(rules.allows(sh, &encode_args(&["-e", &name])));
        assert!(!rules.allows(sh, &encode_args(&["-e", &format!("{name}x")])));
        assert!(!rules.allows(sh, &encode_args(&["-c", "id"])));
    }

    #[test]
    fn unix_rules_match_exact_paths_and_trees_in_plain_form() {
        let mut policy = KernelPolicy::new();
        policy
            .allow_unix_connect("/run/app.sock", FileScope::File)
            .unwrap()
            .allow_unix_connect("/run/db", FileScope::Tree)
            .unwrap();
        let u = UnixPolicy::from_kernel_policy(&policy).unwrap();
        assert!(u.allows(b"/run/app.sock"));
        assert!(!u.allows(b"/run/app.sockx"));
        assert!(!u.allows(b"/run/app"));
        assert!(u.allows(b"/run/db/.s.PGSQL.5432"));
        assert!(u.allows(b"/run/db/a/b"));
        assert!(!u.allows(b"/run/dbx/s"));
        assert!(!u.allows(b"/run/db/../docker.sock"));
        assert!(!u.allows(b"/run//app.sock"));
        assert!(!u.allows(b"run/app.sock"));
        let mut long = KernelPolicy::new();
        long.allow_unix_connect(format!("/{}", "x".repeat(120)), FileScope::File)
            .unwrap();
        assert!(UnixPolicy::from_kernel_policy(&long).is_err());
    }

    fn arb_rule() -> impl Strategy<Value = NetRule> {
        let v4 = (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap()));
        let v6 = (any::<[u8; 16]>(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap()));
        let cidr = prop_oneof![v4.clone(), v4, v6];
        let proto = prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)];
        let dir = prop_oneof![Just(NetDirection::Connect), Just(NetDirection::Bind)];
        (cidr, any::<u16>(), 0u16..64, proto, dir).prop_map(|(cidr, lo, span, proto, dir)| {
            NetRule {
                cidr,
                ports: Ports {
                    first: lo,
                    last: lo.saturating_add(span),
                },
                proto,
                direction: dir,
            }
        })
    }

    proptest! {
        /// The compiled maps, looked up as the kernel does, agree with the
        /// policy's reference semantics on addresses near the rules.
        #[test]
        fn compiled_maps_agree_with_the_policy(
            rules in proptest::collection::vec(arb_rule(), 0..6),
            probes in proptest::collection::vec((any::<usize>(), any::<u32>(), any::<u16>(), any::<bool>(), any::<bool>()), 1..24),
        ) {
            let policy = NetPolicy::allow(rules.clone());
            let c = compile_net(&policy).unwrap();
            for (pick, noise, port, udp, bind) in probes {
                // An address inside or near one of the rules' prefixes.
                let addr = match rules.get(pick % rules.len().max(1)).map(|r| r.cidr) {
                    Some(IpNet::V4(n)) => IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) ^ (noise >> 3))),
                    Some(IpNet::V6(n)) => IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) ^ u128::from(noise >> 3))),
                    None => IpAddr::V4(Ipv4Addr::from(noise)),
                };
                let port = rules.get(pick % rules.len().max(1)).map_or(port, |r| r.ports.first.wrapping_add(port % 3));
                let proto = if udp { 17 } else { 6 };
                let dir = if bind { NetDirection::Bind } else { NetDirection::Connect };
                prop_assert_eq!(
                    policy.allows(addr, port, proto, dir),
                    allows_compiled(&c, addr, port, proto, dir),
                    "{} port {} proto {} {:?}", addr, port, proto, dir
                );
            }
        }
    }
}
