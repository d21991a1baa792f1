//! Addresses and host names: CIDRs compared as sets of addresses, IPv4 as
//! IPv4-mapped IPv6 (`::ffff:10.0.0.1` is in `10.0.0.0/8`).
//!
//! ```
//! use warden_core::net::{cidr_contains, parse_cidr};
//! let net = parse_cidr("10.0.0.0/8").unwrap();
//! assert!(cidr_contains(&net, &parse_cidr("::ffff:10.1.2.3").unwrap()));
//! ```

use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

// ───────────────────────────── addresses ─────────────────────────────

/// Parses an address or network: `10.0.0.0/8`, `::1`, `[::1]`,
/// `[2001:db8::/32]`, `192.168.1.7`. A bare address is a /32 or /128.
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// A host name as DNS allows it (letters, digits, `-`, `.`, `_`).
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A network as an IPv6 range: IPv4 becomes IPv4-mapped IPv6
/// (`10.0.0.0/8` is `::ffff:10.0.0.0/104`). Returns (first address, prefix).
pub fn mapped(net: &IpNet) -> (u128, u8) {
    match net {
        IpNet::V4(n) => {
            let a = u32::from(n.network()) as u128;
            (0xffff_0000_0000u128 | a, 96 + n.prefix_len())
        }
        IpNet::V6(n) => (u128::from(n.network()), n.prefix_len()),
    }
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

/// Every address of `inner` is in `outer`, IPv4-mapped IPv6 included.
pub fn cidr_contains(outer: &IpNet, inner: &IpNet) -> bool {
    let (oa, op) = mapped(outer);
    let (ia, ip) = mapped(inner);
    ip >= op && (ia & mask(op)) == (oa & mask(op))
}

/// The same set of addresses (IPv4 and IPv4-mapped IPv6 are the same).
pub fn cidr_eq(a: &IpNet, b: &IpNet) -> bool {
    mapped(a) == mapped(b)
}

/// The IPv6 address of a mapped value (for witnesses).
pub fn unmapped(addr: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}
