//! The caller's credentials, and taking them on in a thread of the
//! supervisor.
//!
//! Linux keeps credentials per thread; glibc's `setresuid` and friends make
//! every thread of the process change together (a signal to each), so the
//! changes here are raw syscalls, made on a short-lived thread that does
//! one call's work and ends ([`super::as_caller`]): the supervisor's own
//! credentials never change.

use super::error::CallError;
use std::io;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Capability sets (bit `n` is capability `n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// What file operations check of a thread: its user and group ids (real,
/// effective, saved, filesystem), supplementary groups and capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Creds {
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Sorted (the kernel keeps them sorted).
    pub groups: Vec<u32>,
    pub caps: Caps,
}

/// A thread's credentials and the process it belongs to, from
/// `/proc/TID/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThreadStatus {
    pub tgid: libc::pid_t,
    pub creds: Creds,
}

fn field<'a>(status: &'a str, name: &str) -> Result<&'a str, CallError> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .ok_or_else(|| CallError::Other(format!("no `{name}` in the caller's status")))
}

fn numbers<const N: usize>(status: &str, name: &str) -> Result<[u32; N], CallError> {
    let bad = || CallError::Other(format!("bad `{name}` in the caller's status"));
    let values: Vec<u32> = field(status, name)?
        .split_whitespace()
        .map(|v| v.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    values.try_into().map_err(|_| bad())
}

fn hex(status: &str, name: &str) -> Result<u64, CallError> {
    u64::from_str_radix(field(status, name)?, 16)
        .map_err(|_| CallError::Other(format!("bad `{name}` in the caller's status")))
}

impl ThreadStatus {
    /// Parses the text of `/proc/TID/status`.
    pub fn parse(status: &str) -> Result<Self, CallError> {
        let [tgid] = numbers::<1>(status, "Tgid")?;
        let tgid = libc::pid_t::try_from(tgid)
            .map_err(|_| CallError::Other("bad `Tgid` in the caller's status".into()))?;
        let mut groups: Vec<u32> = field(status, "Groups")?
            .split_whitespace()
            .map(|g| {
                g.parse()
                    .map_err(|_| CallError::Other("bad `Groups` in the caller's status".into()))
            })
            .collect::<Result<_, _>>()?;
        groups.sort_unstable();
        Ok(Self {
            tgid,
            creds: Creds {
                uids: numbers(status, "Uid")?,
                gids: numbers(status, "Gid")?,
                groups,
                caps: Caps {
                    effective: hex(status, "CapEff")?,
                    permitted: hex(status, "CapPrm")?,
                    inheritable: hex(status, "CapInh")?,
                },
            },
        })
    }

    /// The status of thread `tid`, read now.
    pub fn of(tid: libc::pid_t) -> Result<Self, CallError> {
        let text = std::fs::read_to_string(format!("/proc/{tid}/status"))
            .map_err(|e| CallError::io("reading the caller's credentials", e))?;
        Self::parse(&text)
    }
}

fn check(rc: libc::c_long, what: &'static str) -> Result<(), CallError> {
    if rc < 0 {
        return Err(CallError::io(what, io::Error::last_os_error()));
    }
    Ok(())
}

fn ids(nr: libc::c_long, what: &'static str) -> Result<[u32; 3], CallError> {
    let mut v = [0u32; 3];
    // SAFETY: getresuid/getresgid write three ids to valid pointers.
    let rc = unsafe {
        libc::syscall(
            nr,
            &mut v[0] as *mut u32,
            &mut v[1] as *mut u32,
            &mut v[2] as *mut u32,
        )
    };
    check(rc, what)?;
    Ok(v)
}

/// `setfsuid`/`setfsgid` with an invalid id changes nothing and returns the
/// current one.
fn fs_id(nr: libc::c_long) -> u32 {
    // SAFETY: an integer argument; -1 is never a valid id.
    unsafe { libc::syscall(nr, u32::MAX) as u32 }
}

fn caps_now() -> Result<Caps, CallError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: a version-3 header and room for its two data words.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    check(rc, "capget")?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(Caps {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

fn set_caps(caps: Caps) -> Result<(), CallError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e, eh) = split(caps.effective);
    let (p, ph) = split(caps.permitted);
    let (i, ih) = split(caps.inheritable);
    let data = [
        CapData {
            effective: e,
            permitted: p,
            inheritable: i,
        },
        CapData {
            effective: eh,
            permitted: ph,
            inheritable: ih,
        },
    ];
    // SAFETY: a version-3 header and its two data words.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    check(rc, "capset")
}

fn groups_now() -> Result<Vec<u32>, CallError> {
    // SAFETY: size 0 asks for the count only.
    let n = unsafe { libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<u32>()) };
    check(n, "getgroups")?;
    let mut groups = vec![0u32; usize::try_from(n).unwrap_or(0)];
    // SAFETY: room for `n` groups.
    let n = unsafe { libc::syscall(libc::SYS_getgroups, n, groups.as_mut_ptr()) };
    check(n, "getgroups")?;
    groups.truncate(usize::try_from(n).unwrap_or(0));
    groups.sort_unstable();
    Ok(groups)
}

impl Creds {
    /// The calling thread's credentials.
    pub fn current() -> Result<Self, CallError> {
        let [ru, eu, su] = ids(libc::SYS_getresuid, "getresuid")?;
        let [rg, eg, sg] = ids(libc::SYS_getresgid, "getresgid")?;
        Ok(Self {
            uids: [ru, eu, su, fs_id(libc::SYS_setfsuid)],
            gids: [rg, eg, sg, fs_id(libc::SYS_setfsgid)],
            groups: groups_now()?,
            caps: caps_now()?,
        })
    }

    /// Makes them the calling thread's: supplementary groups, group ids,
    /// user ids, then the capability sets exactly (so a caller that dropped
    /// `CAP_FOWNER` is without it here too). Only what differs is changed,
    /// so an unprivileged supervisor acting for a caller with its own
    /// credentials changes nothing. Fails unless the thread ends up with
    /// exactly these credentials. Only for a thread that ends after the
    /// call's work.
    pub fn assume(&self) -> Result<(), CallError> {
        let now = Self::current()?;
        if now == *self {
            return Ok(());
        }
        if now.caps.permitted != 0 && (now.uids != self.uids || now.gids != self.gids) {
            // Keep the capabilities through the id changes (the kernel
            // would drop them when the ids leave 0): they are set exactly
            // at the end.
            // SAFETY: prctl with integer arguments.
            let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS) };
            check(bits.into(), "PR_GET_SECUREBITS")?;
            let keep = bits | libc::SECBIT_NO_SETUID_FIXUP;
            // SAFETY: as above.
            let rc = unsafe { libc::prctl(libc::PR_SET_SECUREBITS, keep as libc::c_ulong) };
            check(rc.into(), "PR_SET_SECUREBITS")?;
        }
        if now.groups != self.groups {
            // SAFETY: a list of `len` groups.
            let rc = unsafe {
                libc::syscall(libc::SYS_setgroups, self.groups.len(), self.groups.as_ptr())
            };
            check(rc, "setgroups")?;
        }
        let [rg, eg, sg, fg] = self.gids;
        if now.gids[..3] != self.gids[..3] {
            // SAFETY: integer arguments.
            let rc = unsafe { libc::syscall(libc::SYS_setresgid, rg, eg, sg) };
            check(rc, "setresgid")?;
        }
        // SAFETY: an integer argument.
        unsafe { libc::syscall(libc::SYS_setfsgid, fg) };
        let [ru, eu, su, fu] = self.uids;
        if now.uids[..3] != self.uids[..3] {
            // SAFETY: integer arguments.
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, ru, eu, su) };
            check(rc, "setresuid")?;
        }
        // SAFETY: an integer argument.
        unsafe { libc::syscall(libc::SYS_setfsuid, fu) };
        if caps_now()? != self.caps {
            set_caps(self.caps)?;
        }
        let reached = Self::current()?;
        if reached != *self {
            return Err(CallError::Other(format!(
                "could not take on the caller's credentials ({self:?}; reached {reached:?})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP_CHOWN: u32 = 0;
    const CAP_FOWNER: u32 = 3;

    const STATUS: &str = "Name:\tprobe\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
        Ngid:\t0\nPid:\t4243\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1001\t1002\t1003\n\
        Gid:\t20\t21\t22\t23\nFDSize:\t64\nGroups:\t27 4 100 \nNStgid:\t4242\n\
        CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000008\n\
        CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";

    #[test]
    fn the_status_is_read_field_by_field() {
        let s = ThreadStatus::parse(STATUS).unwrap();
        assert_eq!(s.tgid, 4242);
        assert_eq!(s.creds.uids, [1000, 1001, 1002, 1003]);
        assert_eq!(s.creds.gids, [20, 21, 22, 23]);
        assert_eq!(s.creds.groups, [4, 27, 100]);
        assert_eq!(s.creds.caps.permitted, 0x1ff_ffff_ffff);
        assert_eq!(s.creds.caps.effective, 1 << CAP_FOWNER);
        assert_eq!(s.creds.caps.inheritable, 0);
        let empty = STATUS.replace("Groups:\t27 4 100 \n", "Groups:\t\n");
        assert!(ThreadStatus::parse(&empty).unwrap().creds.groups.is_empty());
        for broken in [
            STATUS.replace("Uid:\t1000\t1001\t1002\t1003", "Uid:\t1000\t1001"),
            STATUS.replace("CapEff:\t0000000000000008", "CapEff:\txyz"),
            STATUS.replace("Tgid:\t4242\n", ""),
        ] {
            assert!(ThreadStatus::parse(&broken).is_err());
        }
    }

    #[test]
    fn this_threads_status_matches_its_syscalls() {
        // SAFETY: gettid has no arguments.
        let tid = unsafe { libc::gettid() };
        let status = ThreadStatus::of(tid).unwrap();
        assert_eq!(status.tgid, std::process::id() as libc::pid_t);
        assert_eq!(status.creds, Creds::current().unwrap());
    }

    #[test]
    fn a_thread_takes_on_other_credentials_and_the_process_keeps_its_own() {
        let before = Creds::current().unwrap();
        if before.uids[1] != 0 {
            // Unprivileged: only one's own credentials can be taken on.
            std::thread::spawn(move || before.assume().unwrap())
                .join()
                .unwrap();
            return;
        }
        let nobody = Creds {
            uids: [65534; 4],
            gids: [65534; 4],
            groups: vec![65534],
            caps: Caps {
                effective: 1 << CAP_CHOWN,
                permitted: 1 << CAP_CHOWN,
                inheritable: 0,
            },
        };
        let wanted = nobody.clone();
        let reached = std::thread::spawn(move || {
            wanted.assume().unwrap();
            Creds::current().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(reached, nobody);
        // The other threads, this one included, are untouched.
        assert_eq!(Creds::current().unwrap(), before);
        // Capabilities it does not have cannot be taken back.
        let more = Creds {
            caps: before.caps,
            ..nobody.clone()
        };
        let err = std::thread::spawn(move || {
            nobody.assume().unwrap();
            more.assume()
        })
        .join()
        .unwrap();
        assert!(err.is_err());
    }
}
