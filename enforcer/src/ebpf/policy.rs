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
    DIR_BIND, DIR_CONNECT, MAX_PORT_RANGES, MAX_PREFIXES, MAX_SYSCALLS, PROTO_TCP, PROTO_UDP,
    PortRange, PortRule,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::EbpfError;
use crate::policy::{KernelPolicy, NetDirection, NetRule, Proto, SyscallAllowlist};

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

/// The syscalls processes of a run may make, as this architecture's numbers.
/// The second line behind seccomp: a syscall outside the list kills the
/// process (after the syscall, from `sys_enter`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyscallPolicy {
    /// No allowlist: syscalls are only observed.
    #[default]
    Unrestricted,
    /// Only these syscall numbers.
    Allow(BTreeSet<u32>),
}

impl SyscallPolicy {
    /// The second line for a run's seccomp allowlist: the same syscalls.
    pub fn from_allowlist(allowlist: &SyscallAllowlist) -> Result<Self, EbpfError> {
        Self::allow_numbers(allowlist.numbers())
    }

    /// An allowlist of syscall numbers (as `libc::SYS_*` or
    /// `SyscallAllowlist::numbers` give them).
    pub fn allow_numbers(numbers: impl IntoIterator<Item = i64>) -> Result<Self, EbpfError> {
        let mut set = BTreeSet::new();
        for nr in numbers {
            let ok = u32::try_from(nr).ok().filter(|n| *n < MAX_SYSCALLS);
            let nr = ok.ok_or_else(|| {
                EbpfError::Policy(format!(
                    "syscall number {nr} is outside 0..{MAX_SYSCALLS} of the allowlist map"
                ))
            })?;
            set.insert(nr);
        }
        Ok(SyscallPolicy::Allow(set))
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
        assert!(SyscallPolicy::allow_numbers([0, 1, 600]).is_err());
        assert!(SyscallPolicy::allow_numbers([-1]).is_err());
        assert_eq!(
            SyscallPolicy::allow_numbers([1, 0, 1]).unwrap(),
            SyscallPolicy::Allow([0, 1].into())
        );
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
