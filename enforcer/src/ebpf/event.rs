//! Events of a run as the eBPF layers report them, decoded from the ring
//! buffer's `EventRecord`s into a JSON-serializable [`Event`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use enforcer_common::lsm::{
    EVENT_LSM, LSM_OP_CREATE, LSM_OP_EXEC, LSM_OP_OPEN, LSM_OP_PTRACE, LSM_OP_REMOVE, LSM_OP_SIGNAL,
};
use enforcer_common::refusal::{
    AT_FDCWD, FOUND_COMPAT, FOUND_DIRFD, FOUND_NEW_DIRFD, FOUND_NEW_PATH, FOUND_PATH,
    FOUND_SOCKADDR, FOUND_TRUNCATED, RefusalRecord,
};
use enforcer_common::{
    EVENT_EXEC, EVENT_EXIT, EVENT_FILE, EVENT_FORK, EVENT_NET, EVENT_SYSCALL_REFUSED,
    EXEC_REFUSED_ARGV, EXEC_REFUSED_ARGV_UNREADABLE, EXEC_REFUSED_PROGRAM, EventRecord, ExecRecord,
    FAMILY_INET, FAMILY_INET6, FAMILY_UNIX, FILE_COMPLETE, FILE_OP_EXEC, FILE_OP_OPEN,
    FMODE_CREATED, FMODE_READ, FMODE_WRITE, FileRecord, NET_OP_BIND, NET_OP_CONNECT,
    NET_OP_SENDMSG, O_DIRECTORY, O_PATH, VERDICT_ALLOWED, VERDICT_OBSERVED, VERDICT_REFUSED,
};
use serde::{Deserialize, Serialize};

/// A network operation the sock_addr programs judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetOp {
    /// The `connect` of a socket.
    Connect,
    /// A `sendto` or `sendmsg` that names its destination.
    Sendmsg,
    /// The `bind` of a socket.
    Bind,
}

/// What the layer did with an operation (a plan's verdict is
/// `verifier::Verdict`; this is not one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Inside the envelope, let through.
    Allowed,
    /// Refused: EPERM to the caller, or SIGKILL for an exec.
    Refused,
    /// Outside the envelope, let through because the run only observes.
    Observed,
}

/// What a process of the run did with a file ([`Event::File`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOp {
    /// Opened it (successfully).
    Open,
    /// Executed it: the program itself, or after `#!` its interpreter.
    Exec,
}

/// Why an exec was refused ([`Event::Exec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecRefusal {
    /// The file executed is not a program the run may execute (the ELF
    /// loader run directly, a copy, a memfd, a program the envelope lacks).
    Program,
    /// The program may run, but not with these arguments.
    Arguments,
    /// The arguments could not be read whole (longer than the check reads),
    /// and the program's arguments are checked.
    ArgumentsUnreadable,
}

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A file the run opened or executed, with its path resolved by the
    /// kernel (symbolic links and `..` followed, mount points crossed).
    /// Reported when the run reports files (`warden learn`, `--events`).
    File {
        /// The process (thread group id).
        pid: u32,
        /// Opened or executed.
        op: FileOp,
        /// The absolute path; when `complete` is false, only its last names
        /// (the directory walk stopped early), without a leading `/`.
        path: String,
        /// Whether `path` is the whole path.
        complete: bool,
        /// Opened for reading (`read` and `write` both false: `O_PATH`).
        read: bool,

        /// Opened for writing.
        write: bool,
        /// Opened as a directory (`O_DIRECTORY`).
        directory: bool,
        /// This open created the file (`O_CREAT` on a name that did not
        /// exist: the kernel's `FMODE_CREATED`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        created: bool,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A process of the run executed `filename` (as the exec named it)
    /// with `args` (`argv[1..]`, as far as the event carries them); when
    /// `verdict` is refused, the process was killed before the new
    /// program's first instruction, for `refusal`.
    Exec {
        /// The process that executed (thread group id).
        pid: u32,
        /// Its parent.
        ppid: u32,
        /// The file name the exec was given, as the caller wrote it.
        filename: String,
        /// The arguments after `argv[0]`, lossily decoded as UTF-8.
        args: Vec<String>,
        /// The arguments were longer than the event carries.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        args_cut: bool,
        /// Whether the exec went on, was killed, or was only observed.
        verdict: Disposition,
        /// Why it was refused, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<ExecRefusal>,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A process of the run forked `child`.
    Fork {
        /// The parent.
        pid: u32,
        /// The new process.
        child: u32,
        /// The parent's command name (`comm`, at most 15 bytes).
        comm: String,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A process of the run exited with wait status `status`.
    Exit {
        /// The process that exited.
        pid: u32,
        /// Its wait status, as `waitpid` would report it.
        status: i32,
        /// Its command name (`comm`).
        comm: String,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A connect, sendmsg or bind.
    Net {
        /// The process.
        pid: u32,
        /// Its command name (`comm`).
        comm: String,
        /// The operation.
        op: NetOp,
        /// "tcp", "udp" or the IP protocol number.
        proto: String,
        /// The remote address (connect, sendmsg) or the local one (bind).
        addr: IpAddr,
        /// The port, same side as `addr`.
        port: u16,
        /// What the layer did.
        verdict: Disposition,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A connect, or a datagram sent by name, to a pathname unix socket.
    Unix {
        /// The process.
        pid: u32,
        /// Connect, or sendmsg with a destination.
        op: NetOp,
        /// The socket's path as the caller named it.
        path: String,
        /// What the layer did.
        verdict: Disposition,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// A syscall of the run failed with EPERM or EACCES: some layer
    /// (Landlock, seccomp, the network programs) refused it.
    ///
    /// What the syscall named is read from its arguments (never resolved):
    /// `path` as the process gave it, relative to its cwd or, for an `*at`
    /// syscall given a descriptor, to `dirfd`; for a connect, bind, sendto
    /// or sendmsg, `addr` and `port` (a unix socket's path in `path`, `@`
    /// first for an abstract one). Fields the syscall has not are left out.
    SyscallRefused {
        /// The process.
        pid: u32,
        /// Its command name (`comm`).
        comm: String,
        /// The syscall number, from the native table unless `compat`.
        nr: u32,
        /// The syscall's name on this architecture, when known.
        name: Option<String>,
        /// The errno the syscall returned: `EPERM` or `EACCES`.
        errno: i32,
        /// The (first) path argument, as the process gave it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The directory descriptor `path` is relative to (absent for
        /// `AT_FDCWD`, the cwd).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dirfd: Option<i32>,
        /// The second path: the new name of a rename or link, the link a
        /// symlink creates (its target is `path`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_path: Option<String>,
        /// The directory descriptor `new_path` is relative to (absent for
        /// `AT_FDCWD`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_dirfd: Option<i32>,
        /// The address of a connect, bind, sendto or sendmsg.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addr: Option<IpAddr>,
        /// The port that goes with `addr`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// A path filled the event's buffer (255 bytes): it may be cut.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
        /// A 32-bit (`int 0x80`) syscall: `nr` is from the 32-bit table, so
        /// `name` is unknown, and its arguments were not read.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        compat: bool,
        /// The kernel's monotonic clock when the syscall returned, in
        /// nanoseconds since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
    /// An operation the BPF LSM layer refused (or, observing, let through):
    /// `op` is open, exec, create, remove, signal or ptrace; `target` the
    /// path (open, exec), the entry's name (create, remove) or the caller's
    /// command (signal, ptrace).
    Lsm {
        /// The process.
        pid: u32,
        /// `open`, `exec`, `create`, `remove`, `signal` or `ptrace`.
        op: String,
        /// The path, the entry's name or the caller's command, by `op`.
        target: String,
        /// Refused, or observed when the run only observes.
        verdict: Disposition,
        /// The kernel's monotonic clock when it happened, in nanoseconds
        /// since boot (`bpf_ktime_get_ns`).
        time_ns: u64,
    },
}

impl Event {
    /// The pid the event is about.
    pub fn pid(&self) -> u32 {
        match self {
            Event::File { pid, .. }
            | Event::Exec { pid, .. }
            | Event::Fork { pid, .. }
            | Event::Exit { pid, .. }
            | Event::Net { pid, .. }
            | Event::Unix { pid, .. }
            | Event::SyscallRefused { pid, .. }
            | Event::Lsm { pid, .. } => *pid,
        }
    }

    /// Whether a layer refused something.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Event::Net {
                verdict: Disposition::Refused,
                ..
            } | Event::Unix {
                verdict: Disposition::Refused,
                ..
            } | Event::Exec {
                verdict: Disposition::Refused,
                ..
            } | Event::SyscallRefused { .. }
                | Event::Lsm {
                    verdict: Disposition::Refused,
                    ..
                }
        )
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Decodes a ring buffer record; `None` for a record this version does not
/// know (never produced by its own programs).
pub(crate) fn decode(bytes: &[u8]) -> Option<Event> {
    let kind = u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?);
    if kind == EVENT_FILE {
        return decode_file(bytes);
    }
    if kind == EVENT_SYSCALL_REFUSED {
        return decode_refusal(bytes);
    }
    if kind == EVENT_EXEC {
        return decode_exec(bytes);
    }
    if bytes.len() < size_of::<EventRecord>() {
        return None;
    }
    // SAFETY: the length is checked; EventRecord is plain data valid for any
    // bit pattern, and read_unaligned makes no alignment assumption.
    let r: EventRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let text = c_string(&r.filename);
    Some(match r.kind {
        EVENT_FORK => Event::Fork {
            pid: r.pid,
            child: r.other_pid,
            comm: text,
            time_ns: r.time_ns,
        },
        EVENT_EXIT => Event::Exit {
            pid: r.pid,
            status: r.number as i32,
            comm: text,
            time_ns: r.time_ns,
        },
        EVENT_NET if r.family == FAMILY_UNIX => Event::Unix {
            pid: r.pid,
            op: net_op(r.op)?,
            path: text,
            verdict: verdict(r.verdict)?,
            time_ns: r.time_ns,
        },
        EVENT_NET => {
            let addr = match r.family {
                FAMILY_INET => {
                    IpAddr::V4(Ipv4Addr::new(r.addr[0], r.addr[1], r.addr[2], r.addr[3]))
                }
                FAMILY_INET6 => IpAddr::V6(Ipv6Addr::from(r.addr)),
                _ => return None,
            };
            let op = net_op(r.op)?;
            let verdict = verdict(r.verdict)?;
            let proto = match r.proto {
                6 => "tcp".to_owned(),
                17 => "udp".to_owned(),
                n => n.to_string(),
            };
            Event::Net {
                pid: r.pid,
                comm: text,
                op,
                proto,
                addr,
                port: r.port,
                verdict,
                time_ns: r.time_ns,
            }
        }
        EVENT_LSM => Event::Lsm {
            pid: r.pid,
            op: match r.number {
                LSM_OP_OPEN => "open",
                LSM_OP_EXEC => "exec",
                LSM_OP_CREATE => "create",
                LSM_OP_REMOVE => "remove",
                LSM_OP_SIGNAL => "signal",
                LSM_OP_PTRACE => "ptrace",
                _ => return None,
            }
            .to_owned(),
            target: text,
            verdict: match r.verdict {
                VERDICT_REFUSED => Disposition::Refused,
                VERDICT_OBSERVED => Disposition::Observed,
                _ => return None,
            },
            time_ns: r.time_ns,
        },
        _ => return None,
    })
}

fn net_op(op: u8) -> Option<NetOp> {
    Some(match op {
        NET_OP_CONNECT => NetOp::Connect,
        NET_OP_SENDMSG => NetOp::Sendmsg,
        NET_OP_BIND => NetOp::Bind,
        _ => return None,
    })
}

fn verdict(v: u8) -> Option<Disposition> {
    Some(match v {
        VERDICT_ALLOWED => Disposition::Allowed,
        VERDICT_REFUSED => Disposition::Refused,
        VERDICT_OBSERVED => Disposition::Observed,
        _ => return None,
    })
}

fn decode_exec(bytes: &[u8]) -> Option<Event> {
    if bytes.len() < size_of::<ExecRecord>() {
        return None;
    }
    // SAFETY: the length is checked; ExecRecord is plain data valid for any
    // bit pattern, and read_unaligned makes no alignment assumption.
    let r: ExecRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let carried = (r.args_len as usize).min(r.args.len());
    let mut args: Vec<String> = r.args[..carried]
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The bytes end with the last argument's NUL: no argument after it.
    if r.args[..carried].last() == Some(&0) || carried == 0 {
        args.pop();
    }
    Some(Event::Exec {
        pid: r.pid,
        ppid: r.ppid,
        filename: c_string(&r.filename),
        args,
        args_cut: r.args_len as usize > carried,
        verdict: verdict(r.verdict as u8)?,
        refusal: match r.reason {
            0 => None,
            EXEC_REFUSED_PROGRAM => Some(ExecRefusal::Program),
            EXEC_REFUSED_ARGV => Some(ExecRefusal::Arguments),
            EXEC_REFUSED_ARGV_UNREADABLE => Some(ExecRefusal::ArgumentsUnreadable),
            _ => return None,
        },
        time_ns: r.time_ns,
    })
}

fn decode_refusal(bytes: &[u8]) -> Option<Event> {
    if bytes.len() < size_of::<RefusalRecord>() {
        return None;
    }
    // SAFETY: the length is checked; RefusalRecord is plain data valid for
    // any bit pattern, and read_unaligned makes no alignment assumption.
    let r: RefusalRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let has = |bit: u32| r.found & bit != 0;
    let dirfd = |bit: u32, fd: i32| (has(bit) && fd != AT_FDCWD).then_some(fd);
    let mut path = has(FOUND_PATH).then(|| c_string(&r.path));
    let (mut addr, mut port) = (None, None);
    if has(FOUND_SOCKADDR) {
        let len = (r.sockaddr_len as usize).min(r.sockaddr.len());
        match decode_sockaddr(&r.sockaddr[..len]) {
            Some(SockAddr::Ip(ip, p)) => (addr, port) = (Some(ip), Some(p)),
            Some(SockAddr::Unix(p)) => path = Some(p),
            None => {}
        }
    }
    Some(Event::SyscallRefused {
        pid: r.pid,
        comm: c_string(&r.comm),
        nr: r.nr,
        name: (!has(FOUND_COMPAT))
            .then(|| crate::policy::name_of(i64::from(r.nr)))
            .flatten()
            .map(str::to_owned),
        errno: r.errno as i32,
        path,
        dirfd: dirfd(FOUND_DIRFD, r.dirfd),
        new_path: has(FOUND_NEW_PATH).then(|| c_string(&r.new_path)),
        new_dirfd: dirfd(FOUND_NEW_DIRFD, r.new_dirfd),
        addr,
        port,
        truncated: has(FOUND_TRUNCATED),
        compat: has(FOUND_COMPAT),
        time_ns: r.time_ns,
    })
}

/// What a `struct sockaddr` names.
#[derive(Debug, PartialEq, Eq)]
enum SockAddr {
    Ip(IpAddr, u16),
    /// A unix socket's path; an abstract name with `@` first.
    Unix(String),
}

/// Decodes the bytes of a `struct sockaddr` as the process passed them;
/// `None` for a family other than IPv4, IPv6 and unix, or too few bytes.
fn decode_sockaddr(b: &[u8]) -> Option<SockAddr> {
    const AF_UNIX: u16 = 1;
    let family = u16::from_ne_bytes(b.get(..2)?.try_into().ok()?);
    let port = || Some(u16::from_be_bytes(b.get(2..4)?.try_into().ok()?));
    match family {
        FAMILY_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SockAddr::Ip(IpAddr::V4(Ipv4Addr::from(a)), port()?))
        }
        FAMILY_INET6 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SockAddr::Ip(IpAddr::V6(Ipv6Addr::from(a)), port()?))
        }
        AF_UNIX => {
            let name = b.get(2..)?;
            match name.split_first() {
                // Abstract: every byte of the given length is the name.
                Some((0, rest)) if !rest.is_empty() => Some(SockAddr::Unix(format!(
                    "@{}",
                    String::from_utf8_lossy(rest).trim_end_matches('\0')
                ))),
                Some((b, _)) if *b != 0 => Some(SockAddr::Unix(c_string(name))),
                // Unnamed (autobind).
                _ => None,
            }
        }
        _ => None,
    }
}

/// The name of the errno a refusal reports.
fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".to_owned(),
        libc::EACCES => "EACCES".to_owned(),
        n => format!("errno {n}"),
    }
}

impl Event {
    /// A refusal in one line, for people: `openat /etc/hostname: EACCES`,
    /// `connect 127.0.0.1:9999: EPERM`, `renameat2 a -> b (dirfd 3):
    /// EACCES`, `exec /usr/bin/cargo ["publish"]: killed (arguments)`,
    /// `connect unix /var/run/docker.sock: EPERM`; `None` for any other
    /// event.
    pub fn refusal_line(&self) -> Option<String> {
        match self {
            Event::Exec {
                filename,
                args,
                args_cut,
                verdict: Disposition::Refused,
                refusal,
                ..
            } => {
                let why = match refusal {
                    Some(ExecRefusal::Program) | None => "not a program of the envelope",
                    Some(ExecRefusal::Arguments) => "arguments outside the envelope",
                    Some(ExecRefusal::ArgumentsUnreadable) => "arguments too long to check",
                };
                let cut = if *args_cut { " …" } else { "" };
                return Some(format!(
                    "exec {filename} {}{cut}: killed ({why})",
                    serde_json::to_string(args).unwrap_or_default()
                ));
            }
            Event::Unix {
                op,
                path,
                verdict: Disposition::Refused,
                ..
            } => {
                let op = match op {
                    NetOp::Sendmsg => "sendmsg",
                    _ => "connect",
                };
                return Some(format!("{op} unix {path}: EPERM"));
            }
            _ => {}
        }
        let Event::SyscallRefused {
            nr,
            name,
            errno,
            path,
            dirfd,
            new_path,
            new_dirfd,
            addr,
            port,
            compat,
            ..
        } = self
        else {
            return None;
        };
        let mut line = match (name, compat) {
            (Some(name), _) => name.clone(),
            (None, true) => format!("32-bit syscall {nr}"),
            (None, false) => format!("syscall {nr}"),
        };
        let with_dirfd = |p: &str, fd: &Option<i32>| {
            // execveat(fd, "", AT_EMPTY_PATH) runs the descriptor itself.
            let p = if p.is_empty() { "\"\"" } else { p };
            match fd {
                Some(fd) => format!("{p} (dirfd {fd})"),
                None => p.to_owned(),
            }
        };
        if let Some(p) = path {
            line = format!("{line} {}", with_dirfd(p, dirfd));
        }
        if let Some(p) = new_path {
            line = format!("{line} -> {}", with_dirfd(p, new_dirfd));
        }
        if let (Some(a), Some(p)) = (addr, port) {
            line = format!("{line} {}", std::net::SocketAddr::new(*a, *p));
        }
        Some(format!("{line}: {}", errno_name(*errno)))
    }
}

/// The path of a `FileRecord`: its names are leaf first, one per `/`.
pub(crate) fn path_from_leaf_first(bytes: &[u8], complete: bool) -> String {
    let names: Vec<&[u8]> = bytes
        .split(|b| *b == b'/')
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for (i, name) in names.iter().rev().enumerate() {
        if complete || i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(name);
    }
    if out.is_empty() && complete {
        out.push(b'/');
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_file(bytes: &[u8]) -> Option<Event> {
    if bytes.len() < size_of::<FileRecord>() {
        return None;
    }
    // SAFETY: the length is checked; FileRecord is plain data valid for any
    // bit pattern, and read_unaligned makes no alignment assumption.
    let r: FileRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let op = match r.op {
        FILE_OP_OPEN => FileOp::Open,
        FILE_OP_EXEC => FileOp::Exec,
        _ => return None,
    };
    let len = (r.len as usize).min(r.path.len());
    let complete = r.flags & FILE_COMPLETE != 0;
    let path_only = r.f_flags & O_PATH != 0;
    Some(Event::File {
        pid: r.pid,
        op,
        path: path_from_leaf_first(&r.path[..len], complete),
        complete,
        read: !path_only && r.mode & FMODE_READ != 0,
        write: !path_only && r.mode & FMODE_WRITE != 0,
        directory: r.f_flags & O_DIRECTORY != 0,
        created: !path_only && r.mode & FMODE_CREATED != 0,
        time_ns: r.time_ns,
    })
}

#[cfg(test)]
mod tests {
    use enforcer_common::FILENAME_LEN;

    use super::*;

    fn record(kind: u32) -> EventRecord {
        EventRecord {
            kind,
            pid: 42,
            other_pid: 7,
            number: 0,
            time_ns: 99,
            family: 0,
            port: 0,
            op: 0,
            verdict: 0,
            proto: 0,
            _pad: 0,
            addr: [0; 16],
            filename: [0; FILENAME_LEN],
        }
    }

    /// The bytes of a record as the ring buffer carries them.
    fn bytes<T: aya::Pod>(r: &T) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain-data value.
        unsafe { std::slice::from_raw_parts((r as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    #[test]
    fn decodes_a_refused_mapped_connect() {
        let mut r = record(EVENT_NET);
        r.family = FAMILY_INET;
        r.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        r.port = 8081;
        r.op = NET_OP_CONNECT;
        r.verdict = VERDICT_REFUSED;
        r.proto = 6;
        r.filename[..4].copy_from_slice(b"curl");
        let e = decode(&bytes(&r)).unwrap();
        assert!(e.is_refusal());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "net");
        assert_eq!(json["addr"], "127.0.0.1");
        assert_eq!(json["port"], 8081);
        assert_eq!(json["verdict"], "refused");
        assert_eq!(json["proto"], "tcp");
        assert_eq!(json["comm"], "curl");
    }

    fn exec_record(filename: &[u8], args: &[u8], args_len: u32) -> ExecRecord {
        let mut r = ExecRecord {
            kind: EVENT_EXEC,
            pid: 42,
            ppid: 7,
            verdict: VERDICT_ALLOWED as u32,
            time_ns: 99,
            dev: 1,
            ino: 2,
            reason: 0,
            args_len,
            filename: [0; FILENAME_LEN],
            args: [0; enforcer_common::EXEC_ARGS_REPORT],
        };
        r.filename[..filename.len()].copy_from_slice(filename);
        r.args[..args.len()].copy_from_slice(args);
        r
    }

    #[test]
    fn decodes_exec_with_filename_and_arguments() {
        let r = exec_record(b"/bin/true", b"a\0b c\0", 6);
        assert_eq!(
            decode(&bytes(&r)),
            Some(Event::Exec {
                pid: 42,
                ppid: 7,
                filename: "/bin/true".into(),
                args: vec!["a".into(), "b c".into()],
                args_cut: false,
                verdict: Disposition::Allowed,
                refusal: None,
                time_ns: 99
            })
        );
        let none = exec_record(b"/bin/true", b"", 0);
        assert!(matches!(decode(&bytes(&none)), Some(Event::Exec { args, .. }) if args.is_empty()));
    }

    #[test]
    fn a_killed_exec_is_a_refusal_with_its_reason() {
        // Longer than the record carries: the last argument it has is cut.
        let mut long = b"publish\0".to_vec();
        long.resize(enforcer_common::EXEC_ARGS_REPORT, b'x');
        let mut r = exec_record(b"/usr/bin/cargo", &long, 9000);
        r.verdict = VERDICT_REFUSED as u32;
        r.reason = EXEC_REFUSED_ARGV;
        let e = decode(&bytes(&r)).unwrap();
        assert!(e.is_refusal());
        let line = e.refusal_line().unwrap();
        assert!(
            line.starts_with("exec /usr/bin/cargo [\"publish\",\"xxx"),
            "{line}"
        );
        assert!(
            line.ends_with("\"] …: killed (arguments outside the envelope)"),
            "{line}"
        );
    }

    #[test]
    fn decodes_a_refused_unix_connect() {
        let mut r = record(EVENT_NET);
        r.family = FAMILY_UNIX;
        r.op = NET_OP_CONNECT;
        r.verdict = VERDICT_REFUSED;
        r.filename[..20].copy_from_slice(b"/var/run/docker.sock");
        let e = decode(&bytes(&r)).unwrap();
        assert!(e.is_refusal());
        assert_eq!(
            e.refusal_line().unwrap(),
            "connect unix /var/run/docker.sock: EPERM"
        );
    }

    #[test]
    fn file_paths_are_reversed_leaf_first() {
        assert_eq!(path_from_leaf_first(b"passwd/etc/", true), "/etc/passwd");
        assert_eq!(path_from_leaf_first(b"", true), "/");
        assert_eq!(path_from_leaf_first(b"c/b/", false), "b/c");
        assert_eq!(path_from_leaf_first(b"x y/a b/", true), "/a b/x y");
    }

    #[test]
    fn decodes_a_file_record() {
        let mut r = FileRecord {
            kind: EVENT_FILE,
            pid: 5,
            op: FILE_OP_OPEN,
            fd: 3,
            time_ns: 1,
            mode: FMODE_READ | FMODE_WRITE | FMODE_CREATED,
            f_flags: 0,
            len: 0,
            flags: FILE_COMPLETE,
            path: [0; enforcer_common::FILE_PATH_BUF],
        };
        let p = b"out.txt/tmp/";
        r.path[..p.len()].copy_from_slice(p);
        r.len = p.len() as u32;
        // SAFETY: reading the bytes of a plain-data value.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&r as *const FileRecord).cast::<u8>(),
                size_of::<FileRecord>(),
            )
        };
        let Some(Event::File {
            path,
            read,
            write,
            complete,
            op,
            created,
            ..
        }) = decode(bytes)
        else {
            panic!("not a file event");
        };
        assert_eq!(
            (path.as_str(), read, write, complete, op, created),
            ("/tmp/out.txt", true, true, true, FileOp::Open, true)
        );
        r.f_flags = O_PATH;
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&r as *const FileRecord).cast::<u8>(),
                size_of::<FileRecord>(),
            )
        };
        let Some(Event::File { read, write, .. }) = decode(bytes) else {
            panic!("not a file event");
        };
        assert!(!read && !write, "O_PATH reads and writes nothing");
        assert_eq!(decode(&bytes[..100]), None);
    }

    fn refusal(nr: &str, errno: i32) -> RefusalRecord {
        let mut comm = [0u8; 16];
        comm[..3].copy_from_slice(b"cat");
        RefusalRecord {
            kind: EVENT_SYSCALL_REFUSED,
            pid: 42,
            nr: crate::policy::number_of(nr).unwrap() as u32,
            errno: errno as u32,
            time_ns: 5,
            comm,
            found: 0,
            dirfd: 0,
            new_dirfd: 0,
            sockaddr_len: 0,
            path: [0; enforcer_common::refusal::REFUSED_PATH_BUF],
            new_path: [0; enforcer_common::refusal::REFUSED_PATH_BUF],
            sockaddr: [0; enforcer_common::refusal::SOCKADDR_BUF],
        }
    }

    fn put(buf: &mut [u8], s: &[u8]) {
        buf[..s.len()].copy_from_slice(s);
    }

    #[test]
    fn a_refused_open_names_its_path_and_a_real_dirfd() {
        let mut r = refusal("openat", libc::EACCES);
        put(&mut r.path, b"/etc/hostname\0");
        r.found = FOUND_PATH | FOUND_DIRFD;
        r.dirfd = AT_FDCWD;
        let e = decode(&bytes(&r)).unwrap();
        assert!(e.is_refusal());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "syscall_refused");
        assert_eq!(json["name"], "openat");
        assert_eq!(json["path"], "/etc/hostname");
        assert_eq!(json["errno"], libc::EACCES);
        assert_eq!(json["comm"], "cat");
        for absent in ["dirfd", "new_path", "addr", "port", "truncated"] {
            assert!(json.get(absent).is_none(), "{absent} in {json}");
        }
        assert_eq!(e.refusal_line().unwrap(), "openat /etc/hostname: EACCES");
        // A relative path under a real descriptor keeps the descriptor.
        put(&mut r.path, b"secret.txt\0");
        r.dirfd = 3;
        let e = decode(&bytes(&r)).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap()["dirfd"], 3);
        assert_eq!(
            e.refusal_line().unwrap(),
            "openat secret.txt (dirfd 3): EACCES"
        );
        r.found |= FOUND_TRUNCATED;
        let json = serde_json::to_value(decode(&bytes(&r)).unwrap()).unwrap();
        assert_eq!(json["truncated"], true);
        r.found &= !FOUND_TRUNCATED;
        let e = decode(&bytes(&r)).unwrap();
        // Round trip through the JSON lines.
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_refused_rename_names_both_paths() {
        let mut r = refusal("renameat2", libc::EACCES);
        put(&mut r.path, b"a\0");
        put(&mut r.new_path, b"/x/b\0");
        r.found = FOUND_PATH | FOUND_NEW_PATH | FOUND_DIRFD | FOUND_NEW_DIRFD;
        r.dirfd = 4;
        r.new_dirfd = AT_FDCWD;
        let e = decode(&bytes(&r)).unwrap();
        assert_eq!(
            e.refusal_line().unwrap(),
            "renameat2 a (dirfd 4) -> /x/b: EACCES"
        );
        let mut r = refusal("execveat", libc::EACCES);
        r.found = FOUND_PATH | FOUND_DIRFD;
        r.dirfd = 5;
        let e = decode(&bytes(&r)).unwrap();
        assert_eq!(e.refusal_line().unwrap(), "execveat \"\" (dirfd 5): EACCES");
    }

    #[test]
    fn a_refused_connect_names_address_and_port() {
        let mut r = refusal("connect", libc::EPERM);
        let mut sa = Vec::new();
        sa.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        sa.extend_from_slice(&9999u16.to_be_bytes());
        sa.extend_from_slice(&[127, 0, 0, 1]);
        sa.extend_from_slice(&[0; 8]);
        put(&mut r.sockaddr, &sa);
        r.sockaddr_len = sa.len() as u32;
        r.found = FOUND_SOCKADDR;
        let e = decode(&bytes(&r)).unwrap();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (json["addr"].clone(), json["port"].clone()),
            ("127.0.0.1".into(), 9999.into())
        );
        assert_eq!(e.refusal_line().unwrap(), "connect 127.0.0.1:9999: EPERM");
        // Fewer bytes than a sockaddr_in: no address.
        r.sockaddr_len = 6;
        let Some(Event::SyscallRefused { addr, port, .. }) = decode(&bytes(&r)) else {
            panic!("not a refusal");
        };
        assert_eq!((addr, port), (None, None));
    }

    #[test]
    fn socket_addresses_of_every_family_decode() {
        let v6 = |addr: Ipv6Addr, port: u16| {
            let mut sa = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
            sa.extend_from_slice(&port.to_be_bytes());
            sa.extend_from_slice(&[0; 4]);
            sa.extend_from_slice(&addr.octets());
            sa.extend_from_slice(&[0; 4]);
            sa
        };
        let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            decode_sockaddr(&v6(mapped, 80)),
            Some(SockAddr::Ip(IpAddr::V6(mapped), 80))
        );
        let unix = |name: &[u8]| {
            let mut sa = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
            sa.extend_from_slice(name);
            sa
        };
        assert_eq!(
            decode_sockaddr(&unix(b"/run/x.sock\0\0\0")),
            Some(SockAddr::Unix("/run/x.sock".into()))
        );
        assert_eq!(
            decode_sockaddr(&unix(b"\0warden")),
            Some(SockAddr::Unix("@warden".into()))
        );
        assert_eq!(decode_sockaddr(&unix(b"")), None);
        assert_eq!(decode_sockaddr(&[0, 0, 1, 2]), None);
        assert_eq!(decode_sockaddr(&[2]), None);
    }

    #[test]
    fn a_refusal_without_arguments_names_the_syscall() {
        let mut r = refusal("io_uring_setup", libc::EPERM);
        let e = decode(&bytes(&r)).unwrap();
        assert_eq!(e.refusal_line().unwrap(), "io_uring_setup: EPERM");
        // A 32-bit syscall's number means something else: no name.
        r.found = FOUND_COMPAT;
        let e = decode(&bytes(&r)).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap()["compat"], true);
        assert_eq!(
            e.refusal_line().unwrap(),
            format!("32-bit syscall {}: EPERM", r.nr)
        );
        assert_eq!(decode(&bytes(&r)[..64]), None);
    }

    #[test]
    fn refuses_short_or_unknown_records() {
        assert_eq!(decode(&[0u8; 8]), None);
        assert_eq!(decode(&bytes(&record(77))), None);
        let mut r = record(EVENT_NET);
        r.family = 99;
        assert_eq!(decode(&bytes(&r)), None);
    }
}
