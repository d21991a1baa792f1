//! Numbers as exact `Real`s, addresses as 128-bit vectors (IPv4 as
//! IPv4-mapped IPv6), and back.

use ipnet::IpNet;
use rust_decimal::Decimal;
use z3::ast::{Ast, BV, Bool, Real};

pub(super) fn decimal_real(d: &Decimal) -> Real {
    let d = d.normalize();
    let scale = d.scale();
    let mantissa = d.mantissa();
    let den = 10i128.pow(scale);
    Real::from_rational_str(&mantissa.to_string(), &den.to_string())
        .unwrap_or_else(|| Real::from_rational(0, 1))
}

pub(super) fn real_decimal(r: &Real) -> Option<Decimal> {
    let (n, d) = r.as_rational()?;
    if d == 0 {
        return None;
    }
    let v = Decimal::from(n).checked_div(Decimal::from(d))?;
    // Only exact decimals are values of the language.
    (v.checked_mul(Decimal::from(d))? == Decimal::from(n)).then_some(v)
}

pub(super) fn mapped_bv(net: &IpNet) -> (BV, u8) {
    let (addr, prefix) = warden_core::net::mapped(net);
    (
        BV::from_str(128, &addr.to_string()).expect("a 128-bit value"),
        prefix,
    )
}

pub(super) fn read_bv128(bv: &BV) -> Option<u128> {
    let hi = bv.extract(127, 64).simplify().as_u64()?;
    let lo = bv.extract(63, 0).simplify().as_u64()?;
    Some(((hi as u128) << 64) | lo as u128)
}

pub(super) fn in_net(ip: &BV, net: &IpNet) -> Bool {
    let (addr, prefix) = mapped_bv(net);
    if prefix == 0 {
        return Bool::from_bool(true);
    }
    let hi = 127;
    let lo = 128 - prefix as u32;
    ip.extract(hi, lo).eq(addr.extract(hi, lo))
}
