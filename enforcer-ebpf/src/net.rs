//! The network layer: cgroup sock_addr programs, attached to each run's
//! cgroup.
//!
//! - `connect4`, `connect6`, `sendmsg4`, `sendmsg6`, `bind4`, `bind6`: an
//!   address and port pass only if the run's network envelope in the LPM
//!   tries `NET_V4` / `NET_V6` names them; otherwise the program returns 0,
//!   which the kernel turns into EPERM. An IPv4-mapped IPv6 address
//!   (`::ffff:a.b.c.d`) is looked up in `NET_V4`.
//! - `connect_unix`, `sendmsg_unix` (kernel 6.7+): a connect, or a datagram
//!   sent by name, to a pathname unix socket passes only if `UNIX_PATHS`
//!   names the path, exactly or by a tree above it. The kernel resolves the
//!   path only after this hook, so the path must be in plain form
//!   (absolute; no empty, `.` or `..` segment): a relative or unnormalized
//!   path is refused. A symlink along the path leads elsewhere only where
//!   the run may create or remove entries, which the proof of the enforced
//!   envelope accounts for. Abstract sockets are left to Landlock's scope.
//!
//! The unix programs are compiled into `cgroup/connect4` and
//! `cgroup/sendmsg4` sections (the loader's parser knows no unix section),
//! and user space loads them with the unix attach types.

use aya_ebpf::{
    helpers::bpf_probe_read_kernel_buf, macros::cgroup_sock_addr, maps::lpm_trie::Key,
    programs::SockAddrContext,
};
use enforcer_common::{
    DIR_BIND, DIR_CONNECT, EVENT_NET, FAMILY_INET, FAMILY_INET6, FAMILY_UNIX, NET_OP_BIND,
    NET_OP_CONNECT, NET_OP_SENDMSG, NetKeyV4, NetKeyV6, PortRule, RUN_KEY_LEN, RUN_OBSERVE_ONLY,
    RUN_REPORT_ALLOWED_NET, RunEntry, UNIX_CONNECT, UNIX_PATH_MAX, UNIX_SENDMSG, VERDICT_ALLOWED,
    VERDICT_OBSERVED, VERDICT_REFUSED, run_keyed,
};

use crate::{
    BPF_RB_NO_WAKEUP, NET_V4, NET_V6, UNIX_PATHS, config, count_refusal, current_run, current_tgid,
    flags, new_event, put_comm, read_at,
};

const MAPPED_V4_PREFIX: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);

/// Reads a 32-bit context field with one 4-byte load, the access size the
/// verifier accepts for every `bpf_sock_addr` field.
#[inline(always)]
fn ctx_u32(field: *const u32) -> u32 {
    // SAFETY: `field` points into the program's context.
    unsafe { core::ptr::read_volatile(field) }
}

/// The verdict of an operation, reported on the run's ring when someone
/// reads it: `allowed`, or else refused (observed when the run only
/// observes). Returns what the program returns: 1 lets the call through,
/// 0 refuses it with EPERM.
#[inline(always)]
fn decide(
    run: u64,
    entry: *mut RunEntry,
    allowed: bool,
    fill: impl FnOnce(*mut enforcer_common::EventRecord),
) -> i32 {
    let run_flags = flags(entry);
    let verdict = if allowed {
        VERDICT_ALLOWED
    } else if run_flags & RUN_OBSERVE_ONLY != 0 {
        VERDICT_OBSERVED
    } else {
        VERDICT_REFUSED
    };
    if verdict != VERDICT_ALLOWED {
        count_refusal(entry);
    }
    if (verdict != VERDICT_ALLOWED || run_flags & RUN_REPORT_ALLOWED_NET != 0)
        && let Some(mut event) = new_event(run, entry, EVENT_NET, current_tgid())
    {
        let e = event.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).verdict = verdict };
        fill(e);
        // An allowed operation is routine: do not wake the reader for it
        // (it picks the event up at its next wake-up or poll timeout).
        let wake = if verdict == VERDICT_ALLOWED {
            BPF_RB_NO_WAKEUP
        } else {
            0
        };
        event.submit(wake);
    }
    if verdict == VERDICT_REFUSED { 0 } else { 1 }
}

/// Decides one IPv4/IPv6 sock_addr hook.
#[inline(always)]
fn inet_verdict(ctx: &SockAddrContext, v6: bool, op: u8) -> i32 {
    let Some(cfg) = config() else { return 0 };
    // The programs are linked to the runs' parent cgroup: a task there
    // without a run entry belongs to a run that has no eBPF layers (an
    // unprivileged profile started by root), which these programs are not
    // part of. A run with them has its entry before its command starts, and
    // until its cgroup is empty.
    let Some((run, entry)) = current_run(cfg) else {
        return 1;
    };
    let sa = ctx.sock_addr;
    let dir = if op == NET_OP_BIND {
        DIR_BIND
    } else {
        DIR_CONNECT
    };
    // SAFETY: the fields below are read with 4-byte loads from the context.
    let (port_raw, proto) = unsafe {
        (
            ctx_u32(&raw const (*sa).user_port),
            ctx_u32(&raw const (*sa).protocol),
        )
    };
    // The port is in network byte order in the low 16 bits.
    let port = u16::from_be(port_raw as u16);
    let proto = proto as u8;

    let mut addr = [0u8; 16];
    let mut family = FAMILY_INET;
    // The rule for the address, then one port check (one copy of the
    // port loop for the verifier to walk).
    let rule = if v6 {
        // SAFETY: four 4-byte loads of `user_ip6`.
        let w = unsafe {
            [
                ctx_u32(&raw const (*sa).user_ip6[0]),
                ctx_u32(&raw const (*sa).user_ip6[1]),
                ctx_u32(&raw const (*sa).user_ip6[2]),
                ctx_u32(&raw const (*sa).user_ip6[3]),
            ]
        };
        // One comparison, not three: each `&&` would be a branch after which
        // the kernel verifier knows something different about the words,
        // and it would verify all that follows once per branch.
        if (w[0] | w[1] | (w[2] ^ MAPPED_V4_PREFIX)) == 0 {
            // ::ffff:a.b.c.d reaches a.b.c.d: the IPv4 envelope decides.
            let v4 = w[3].to_ne_bytes();
            addr[..4].copy_from_slice(&v4);
            rule_v4(run, v4)
        } else {
            family = FAMILY_INET6;
            let mut i = 0;
            while i < 4 {
                let b = w[i].to_ne_bytes();
                addr[i * 4] = b[0];
                addr[i * 4 + 1] = b[1];
                addr[i * 4 + 2] = b[2];
                addr[i * 4 + 3] = b[3];
                i += 1;
            }
            let key: NetKeyV6 = run_keyed(run, &addr);
            NET_V6.get(Key::new((8 * (RUN_KEY_LEN + 16)) as u32, key))
        }
    } else {
        // SAFETY: one 4-byte load of `user_ip4`.
        let v4 = unsafe { ctx_u32(&raw const (*sa).user_ip4) }.to_ne_bytes();
        addr[..4].copy_from_slice(&v4);
        rule_v4(run, v4)
    };
    let allowed = rule.is_some_and(|r| r.allows(port, proto, dir));
    decide(run, entry, allowed, |e| {
        // SAFETY: a reserved record.
        unsafe {
            (*e).family = family;
            (*e).port = port;
            (*e).op = op;
            (*e).proto = proto;
            (*e).addr = addr;
        }
        put_comm(e);
    })
}

#[inline(always)]
fn rule_v4(run: u64, addr: [u8; 4]) -> Option<&'static PortRule> {
    let key: NetKeyV4 = run_keyed(run, &addr);
    NET_V4.get(Key::new((8 * (RUN_KEY_LEN + 4)) as u32, key))
}

/// TCP connect and UDP connect over IPv4.
#[cgroup_sock_addr(connect4)]
pub fn connect4(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, false, NET_OP_CONNECT)
}

/// TCP connect and UDP connect over IPv6 (and IPv4-mapped addresses).
#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, true, NET_OP_CONNECT)
}

/// UDP `sendto`/`sendmsg` with a destination address, IPv4.
#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg4(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, false, NET_OP_SENDMSG)
}

/// UDP `sendto`/`sendmsg` with a destination address, IPv6.
#[cgroup_sock_addr(sendmsg6)]
pub fn sendmsg6(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, true, NET_OP_SENDMSG)
}

/// `bind` over IPv4.
#[cgroup_sock_addr(bind4)]
pub fn bind4(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, false, NET_OP_BIND)
}

/// `bind` over IPv6.
#[cgroup_sock_addr(bind6)]
pub fn bind6(ctx: SockAddrContext) -> i32 {
    inet_verdict(&ctx, true, NET_OP_BIND)
}

/// Bytes of a socket path the program keys on: `sun_path`, with room for
/// the NUL after a path that fills it.
const PATH_BUF: usize = UNIX_PATH_MAX + 1;

/// Decides a connect or a named datagram send to a unix socket.
///
/// Every byte it works on is on its own stack, never in per-CPU scratch
/// memory: a cgroup program runs with migration disabled but preemptible
/// (on `preempt=full`, lazy and RT kernels), and a program of another task
/// run on this CPU meanwhile (an exec check, another connect) would
/// overwrite a shared buffer between the read of the path and its lookup,
/// and let this connect through under another path's rule.
///
/// The path is read straight into the lookup key and walked once, up to
/// its end: what a connect costs grows with its path, not with the buffer.
/// Bytes after the path's end never matter, because every rule's prefix
/// stops at or before it (an exact rule at the path's NUL, a tree at a `/`).
#[inline(always)]
fn unix_verdict(ctx: &SockAddrContext, op: u8) -> i32 {
    let Some(cfg) = config() else { return 0 };
    // As for the network programs: no run entry, not a run of these layers.
    let Some((run, entry)) = current_run(cfg) else {
        return 1;
    };
    // The context is the kernel's `struct bpf_sock_addr_kern`; its address
    // field points at the kernel's copy of the caller's `sockaddr_un`.
    let base = ctx.sock_addr as u64;
    let uaddr: u64 = read_at(base, cfg.off_sock_addr_uaddr);
    let addr_len: u32 = read_at(base, cfg.off_sock_addr_uaddrlen);
    // An unnamed address (the family alone) names no file.
    if uaddr == 0 || addr_len <= 2 {
        return 1;
    }
    let path_len = if addr_len - 2 > UNIX_PATH_MAX as u32 {
        UNIX_PATH_MAX
    } else {
        (addr_len - 2) as usize
    };
    let mut key = Key::new(
        (8 * (RUN_KEY_LEN + PATH_BUF)) as u32,
        [0u8; RUN_KEY_LEN + PATH_BUF],
    );
    // The kernel's copy is a whole `sockaddr_storage` (128 bytes), so the
    // fixed-size read stays inside it.
    // SAFETY: the helper checks the kernel address.
    if unsafe {
        bpf_probe_read_kernel_buf(
            (uaddr + 2) as *const u8,
            &mut key.data[RUN_KEY_LEN..RUN_KEY_LEN + UNIX_PATH_MAX],
        )
    }
    .is_err()
    {
        return 0;
    }
    // An abstract name starts with a NUL: Landlock's scope decides.
    if key.data[RUN_KEY_LEN] == 0 {
        return 1;
    }
    // The path ends at its first NUL or at the address's length (the
    // kernel's own reading of `sun_path`).
    if let Some(end) = key.data.get_mut(RUN_KEY_LEN + path_len) {
        *end = 0;
    }
    let plain = plain_path(&key.data);
    let id = run.to_be_bytes();
    let mut j = 0;
    while j < RUN_KEY_LEN {
        key.data[j] = id[j];
        j += 1;
    }
    let bit = if op == NET_OP_SENDMSG {
        UNIX_SENDMSG
    } else {
        UNIX_CONNECT
    };
    let allowed = plain && UNIX_PATHS.get(&key).is_some_and(|ops| *ops & bit != 0);
    decide(run, entry, allowed, |e| {
        // SAFETY: a reserved record; the path fits its file name buffer.
        unsafe {
            (*e).family = FAMILY_UNIX;
            (*e).op = op;
            // Up to its NUL: user space reads no further.
            let mut n = 0;
            while n < PATH_BUF {
                (*e).filename[n] = key.data[RUN_KEY_LEN + n];
                n += 1;
            }
        }
    })
}

/// Whether the NUL-terminated path after the run key in `data` is absolute
/// and plain (no empty, `.` or `..` segment, no trailing `/` except for `/`
/// itself): the form in which the kernel resolves it to the file the rules
/// name (`enforcer_common::unix_path_is_plain` is the reference). It stops
/// at the NUL; the bytes it looks ahead after a `/` are read only while the
/// ones before them are not the NUL, so what lies past the end never counts.
#[inline(always)]
fn plain_path(data: &[u8; RUN_KEY_LEN + PATH_BUF]) -> bool {
    let at = |k: usize| data.get(RUN_KEY_LEN + k).copied().unwrap_or(0);
    if at(0) != b'/' {
        return false;
    }
    if at(1) == 0 {
        return true;
    }
    let mut i = 0;
    while i < PATH_BUF {
        let c = at(i);
        if c == 0 {
            return true;
        }
        if c == b'/' {
            let a = at(i + 1);
            let empty = a == b'/' || a == 0;
            let dot = a == b'.' && matches!(at(i + 2), b'/' | 0);
            let dotdot = a == b'.' && at(i + 2) == b'.' && matches!(at(i + 3), b'/' | 0);
            if empty || dot || dotdot {
                return false;
            }
        }
        i += 1;
    }
    // No end within the buffer (the path's end is always set): refuse.
    false
}

/// `connect` to a pathname unix socket (stream, seqpacket, or a datagram
/// socket's default destination). Loaded with `BPF_CGROUP_UNIX_CONNECT`.
#[cgroup_sock_addr(connect4)]
pub fn connect_unix(ctx: SockAddrContext) -> i32 {
    unix_verdict(&ctx, NET_OP_CONNECT)
}

/// `sendto`/`sendmsg` to a pathname unix socket by name. Loaded with
/// `BPF_CGROUP_UNIX_SENDMSG`.
#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg_unix(ctx: SockAddrContext) -> i32 {
    unix_verdict(&ctx, NET_OP_SENDMSG)
}
