//! The supervisor's seccomp filter: `SECCOMP_RET_USER_NOTIF` for the
//! syscalls that change a file's metadata and for the `ioctl` commands that
//! do, `SECCOMP_RET_ALLOW` for everything else (the allowlist filter decides
//! those; its `EPERM` takes precedence over a notification).
//!
//! The program is written out by hand (seccompiler has no `USER_NOTIF`
//! action) and is tiny: the architecture, the syscall number against each
//! supervised number, and for `ioctl` the command (the low 32 bits of the
//! second argument: the kernel's `cmd` is an `unsigned int`). For every
//! syscall but `ioctl` the result depends on the number alone, so the
//! kernel's seccomp action cache marks them "always allowed" for this filter
//! and never runs it for them: the filter costs the other syscalls nothing.

/// The syscalls that change a file's metadata: mode, owner, times, extended
/// attributes, and `file_setattr` (Linux 6.17: inode flags and project
/// attributes by path). Names missing on an architecture (aarch64 has no
/// `chmod`, `chown`, `utime`...) are skipped there.
pub const SUPERVISED: &[&str] = &[
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "setxattrat",
    "removexattrat",
    "file_setattr",
];

/// `FS_IOC_SETFLAGS`: `_IOW('f', 2, long)`; the kernel reads an `int`.
pub const FS_IOC_SETFLAGS: u32 = 0x4008_6602;
/// `FS_IOC32_SETFLAGS`: `_IOW('f', 2, int)`.
pub const FS_IOC32_SETFLAGS: u32 = 0x4004_6602;
/// `FS_IOC_SETVERSION`: `_IOW('v', 2, long)`, sets the inode generation.
pub const FS_IOC_SETVERSION: u32 = 0x4008_7602;
/// `FS_IOC32_SETVERSION`: `_IOW('v', 2, int)`.
pub const FS_IOC32_SETVERSION: u32 = 0x4004_7602;
/// `EXT4_IOC_SETVERSION`: `_IOW('f', 4, long)`, ext4's own name for it.
pub const EXT4_IOC_SETVERSION: u32 = 0x4008_6604;
/// `FS_IOC_FSSETXATTR`: `_IOW('X', 32, struct fsxattr)`.
pub const FS_IOC_FSSETXATTR: u32 = 0x401c_5820;

/// The supervised `ioctl` commands, their names, and how many bytes of the
/// argument the kernel reads.
pub const IOCTLS: &[(u32, &str, usize)] = &[
    (FS_IOC_SETFLAGS, "FS_IOC_SETFLAGS", 4),
    (FS_IOC32_SETFLAGS, "FS_IOC32_SETFLAGS", 4),
    (FS_IOC_SETVERSION, "FS_IOC_SETVERSION", 4),
    (FS_IOC32_SETVERSION, "FS_IOC32_SETVERSION", 4),
    (EXT4_IOC_SETVERSION, "EXT4_IOC_SETVERSION", 4),
    (FS_IOC_FSSETXATTR, "FS_IOC_FSSETXATTR", FSXATTR_SIZE),
];

/// `sizeof(struct fsxattr)`.
pub const FSXATTR_SIZE: usize = 28;

#[cfg(target_arch = "x86_64")]
pub(crate) const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub(crate) const AUDIT_ARCH: u32 = 0xc000_00b7;

/// x32 syscalls carry this bit; the allowlist refuses them (their numbers
/// are not in it), so this filter lets them through to its `EPERM`.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: Option<u32> = Some(0x4000_0000);
#[cfg(not(target_arch = "x86_64"))]
const X32_SYSCALL_BIT: Option<u32> = None;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// The low 32 bits of `args[1]` in `struct seccomp_data`.
#[cfg(target_endian = "little")]
const OFF_ARG1_LOW: u32 = 24;
#[cfg(target_endian = "big")]
const OFF_ARG1_LOW: u32 = 28;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// One instruction before its jumps are resolved.
#[derive(Clone, Copy)]
enum Ins {
    Load(u32),
    /// Equal: notify; else the next instruction.
    NotifyIf(u32),
    /// Equal: the next instruction; else allow.
    AllowUnless(u32),
    /// Greater or equal: allow; else the next instruction.
    AllowIfAtLeast(u32),
    Ret(u32),
}

/// The filter for `numbers` (the supervised syscalls of this architecture)
/// and `ioctl` (its number and the supervised commands).
pub(crate) fn program(numbers: &[u32], ioctl: Option<(u32, &[u32])>) -> Vec<libc::sock_filter> {
    let mut ins = vec![
        Ins::Load(OFF_ARCH),
        Ins::AllowUnless(AUDIT_ARCH),
        Ins::Load(OFF_NR),
    ];
    if let Some(bit) = X32_SYSCALL_BIT {
        ins.push(Ins::AllowIfAtLeast(bit));
    }
    ins.extend(numbers.iter().map(|n| Ins::NotifyIf(*n)));
    if let Some((nr, commands)) = ioctl {
        ins.push(Ins::AllowUnless(nr));
        ins.push(Ins::Load(OFF_ARG1_LOW));
        ins.extend(commands.iter().map(|c| Ins::NotifyIf(*c)));
    }
    ins.push(Ins::Ret(libc::SECCOMP_RET_ALLOW));
    ins.push(Ins::Ret(libc::SECCOMP_RET_USER_NOTIF));
    let (allow, notify) = (ins.len() - 2, ins.len() - 1);
    // Jumps are relative to the next instruction and at most 255 ahead;
    // the program is a few dozen instructions long.
    let to = |from: usize, target: usize| u8::try_from(target - from - 1).unwrap_or(u8::MAX);
    ins.iter()
        .enumerate()
        .map(|(i, op)| match *op {
            Ins::Load(off) => filter(LD_W_ABS, 0, 0, off),
            Ins::NotifyIf(k) => filter(JEQ_K, to(i, notify), 0, k),
            Ins::AllowUnless(k) => filter(JEQ_K, 0, to(i, allow), k),
            Ins::AllowIfAtLeast(k) => filter(JGE_K, to(i, allow), 0, k),
            Ins::Ret(k) => filter(RET_K, 0, 0, k),
        })
        .collect()
}

fn filter(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The numbers of [`SUPERVISED`] on this architecture.
pub(crate) fn numbers() -> Vec<u32> {
    SUPERVISED
        .iter()
        .filter_map(|n| crate::policy::number_of(n))
        .filter_map(|n| u32::try_from(n).ok())
        .collect()
}

/// The filter of this architecture.
pub(crate) fn for_this_arch() -> Vec<libc::sock_filter> {
    let commands: Vec<u32> = IOCTLS.iter().map(|(c, _, _)| *c).collect();
    let ioctl = crate::policy::number_of("ioctl").and_then(|n| u32::try_from(n).ok());
    program(&numbers(), ioctl.map(|n| (n, commands.as_slice())))
}

/// The filter of observe mode: also the calls that create or remove an
/// entry ([`super::ENTRY_CALLS`]).
pub(crate) fn for_this_arch_observing() -> Vec<libc::sock_filter> {
    let commands: Vec<u32> = IOCTLS.iter().map(|(c, _, _)| *c).collect();
    let ioctl = crate::policy::number_of("ioctl").and_then(|n| u32::try_from(n).ok());
    let mut numbers = numbers();
    numbers.extend(
        super::ENTRY_CALLS
            .iter()
            .filter_map(|n| crate::policy::number_of(n))
            .filter_map(|n| u32::try_from(n).ok()),
    );
    program(&numbers, ioctl.map(|n| (n, commands.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on `(arch, nr, args[1])` the way the kernel does
    /// for the instructions it uses.
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, arg1: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[24..32].copy_from_slice(&arg1.to_ne_bytes());
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = prog[pc];
            match ins.code {
                LD_W_ABS => {
                    let o = ins.k as usize;
                    acc = u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
                    pc += 1;
                }
                JEQ_K | JGE_K => {
                    let hit = if ins.code == JEQ_K {
                        acc == ins.k
                    } else {
                        acc >= ins.k
                    };
                    pc += 1 + usize::from(if hit { ins.jt } else { ins.jf });
                }
                RET_K => return ins.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    fn nr(name: &str) -> u32 {
        crate::policy::number_of(name).unwrap() as u32
    }

    #[test]
    fn exactly_the_metadata_calls_are_sent_to_the_supervisor() {
        let prog = for_this_arch();
        let notify = libc::SECCOMP_RET_USER_NOTIF;
        let allow = libc::SECCOMP_RET_ALLOW;
        for name in SUPERVISED {
            if crate::policy::number_of(name).is_some() {
                assert_eq!(run(&prog, AUDIT_ARCH, nr(name), 0), notify, "{name}");
            }
        }
        for name in [
            "openat",
            "newfstatat",
            "getxattr",
            "listxattr",
            "fgetxattr",
            "getxattrat",
            "file_getattr",
            "read",
            "execve",
        ] {
            if crate::policy::number_of(name).is_some() {
                assert_eq!(run(&prog, AUDIT_ARCH, nr(name), 0), allow, "{name}");
            }
        }
        let ioctl = nr("ioctl");
        for (cmd, name, _) in IOCTLS {
            assert_eq!(
                run(&prog, AUDIT_ARCH, ioctl, u64::from(*cmd)),
                notify,
                "{name}"
            );
            // The kernel reads `cmd` as an unsigned int: high bits do not hide it.
            let high = u64::from(*cmd) | 0xffff_ffff_0000_0000;
            assert_eq!(run(&prog, AUDIT_ARCH, ioctl, high), notify, "{name}");
        }
        const FS_IOC_GETFLAGS: u64 = 0x8008_6601;
        assert_eq!(run(&prog, AUDIT_ARCH, ioctl, FS_IOC_GETFLAGS), allow);
        #[allow(clippy::unnecessary_cast)]
        let tiocgwinsz = libc::TIOCGWINSZ as u64;
        assert_eq!(run(&prog, AUDIT_ARCH, ioctl, tiocgwinsz), allow);
        // Another architecture's numbers are the allowlist's business.
        assert_eq!(run(&prog, 0x4000_0003, nr("fchmodat"), 0), allow);
        if let Some(bit) = X32_SYSCALL_BIT {
            assert_eq!(run(&prog, AUDIT_ARCH, bit | nr("fchmodat"), 0), allow);
        }
    }

    #[test]
    fn the_supervised_calls_are_in_the_table_and_the_baseline() {
        let baseline = crate::policy::SyscallAllowlist::baseline();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(numbers().len(), SUPERVISED.len());
        for name in SUPERVISED {
            if crate::policy::number_of(name).is_some() {
                // The allowlist must let them through, or its EPERM wins.
                assert!(baseline.allows(name), "{name}");
            }
        }
        assert_eq!(crate::policy::number_of("file_setattr"), Some(469));
    }
}
