//! Events of a run as the eBPF layers report them, decoded from the ring
//! buffer's `EventRecord`s into a JSON-serializable [`Event`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use enforcer_common::lsm::{
    EVENT_LSM, LSM_OP_CREATE, LSM_OP_EXEC, LSM_OP_OPEN, LSM_OP_PTRACE, LSM_OP_REMOVE, LSM_OP_SIGNAL,
};
use enforcer_common::{
    EVENT_EXEC, EVENT_EXIT, EVENT_FILE, EVENT_FORK, EVENT_NET, EVENT_SYSCALL_KILL,
    EVENT_SYSCALL_REFUSED, EventRecord, FAMILY_INET, FAMILY_INET6, FILE_COMPLETE, FILE_OP_EXEC,
    FILE_OP_OPEN, FMODE_READ, FMODE_WRITE, FileRecord, NET_OP_BIND, NET_OP_CONNECT, NET_OP_SENDMSG,
    O_DIRECTORY, O_PATH, VERDICT_ALLOWED, VERDICT_OBSERVED, VERDICT_REFUSED,
};
use serde::{Deserialize, Serialize};

/// A network operation the sock_addr programs judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetOp {
    Connect,
    Sendmsg,
    Bind,
}

/// What the layer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    /// Refused: EPERM to the caller, or SIGKILL for a syscall.
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

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A file the run opened or executed, with its path resolved by the
    /// kernel (symbolic links and `..` followed, mount points crossed).
    /// Reported when the run reports files (`warden learn`, `--events`).
    File {
        pid: u32,
        op: FileOp,
        /// The absolute path; when `complete` is false, only its last names
        /// (the directory walk stopped early), without a leading `/`.
        path: String,
        complete: bool,
        /// Opened for reading / for writing (both false: `O_PATH`).
        read: bool,
        write: bool,
        /// Opened as a directory (`O_DIRECTORY`).
        directory: bool,
        time_ns: u64,
    },
    /// A process of the run executed `filename`.
    Exec {
        pid: u32,
        ppid: u32,
        filename: String,
        time_ns: u64,
    },
    /// A process of the run forked `child`.
    Fork {
        pid: u32,
        child: u32,
        comm: String,
        time_ns: u64,
    },
    /// A process of the run exited with wait status `status`.
    Exit {
        pid: u32,
        status: i32,
        comm: String,
        time_ns: u64,
    },
    /// A connect, sendmsg or bind.
    Net {
        pid: u32,
        comm: String,
        op: NetOp,
        /// "tcp", "udp" or the IP protocol number.
        proto: String,
        addr: IpAddr,
        port: u16,
        verdict: Verdict,
        time_ns: u64,
    },
    /// A syscall outside the allowlist: the process was killed.
    SyscallKilled {
        pid: u32,
        comm: String,
        nr: u32,
        time_ns: u64,
    },
    /// A syscall of the run failed with EPERM or EACCES: some layer
    /// (Landlock, seccomp, the network programs) refused it.
    SyscallRefused {
        pid: u32,
        comm: String,
        nr: u32,
        /// The syscall's name on this architecture, when known.
        name: Option<String>,
        errno: i32,
        time_ns: u64,
    },
    /// An operation the BPF LSM layer refused (or, observing, let through):
    /// `op` is open, exec, create, remove, signal or ptrace; `target` the
    /// path (open, exec), the entry's name (create, remove) or the caller's
    /// command (signal, ptrace).
    Lsm {
        pid: u32,
        op: String,
        target: String,
        verdict: Verdict,
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
            | Event::SyscallKilled { pid, .. }
            | Event::SyscallRefused { pid, .. }
            | Event::Lsm { pid, .. } => *pid,
        }
    }

    /// Whether a layer refused something.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Event::Net {
                verdict: Verdict::Refused,
                ..
            } | Event::SyscallKilled { .. }
                | Event::SyscallRefused { .. }
                | Event::Lsm {
                    verdict: Verdict::Refused,
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
    if bytes.len() < size_of::<EventRecord>() {
        return None;
    }
    // SAFETY: the length is checked; EventRecord is plain data valid for any
    // bit pattern, and read_unaligned makes no alignment assumption.
    let r: EventRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let text = c_string(&r.filename);
    Some(match r.kind {
        EVENT_EXEC => Event::Exec {
            pid: r.pid,
            ppid: r.other_pid,
            filename: text,
            time_ns: r.time_ns,
        },
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
        EVENT_NET => {
            let addr = match r.family {
                FAMILY_INET => {
                    IpAddr::V4(Ipv4Addr::new(r.addr[0], r.addr[1], r.addr[2], r.addr[3]))
                }
                FAMILY_INET6 => IpAddr::V6(Ipv6Addr::from(r.addr)),
                _ => return None,
            };
            let op = match r.op {
                NET_OP_CONNECT => NetOp::Connect,
                NET_OP_SENDMSG => NetOp::Sendmsg,
                NET_OP_BIND => NetOp::Bind,
                _ => return None,
            };
            let verdict = match r.verdict {
                VERDICT_ALLOWED => Verdict::Allowed,
                VERDICT_REFUSED => Verdict::Refused,
                VERDICT_OBSERVED => Verdict::Observed,
                _ => return None,
            };
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
        EVENT_SYSCALL_KILL => Event::SyscallKilled {
            pid: r.pid,
            comm: text,
            nr: r.number,
            time_ns: r.time_ns,
        },
        EVENT_SYSCALL_REFUSED => Event::SyscallRefused {
            pid: r.pid,
            comm: text,
            nr: r.number,
            name: crate::policy::name_of(i64::from(r.number)).map(str::to_owned),
            errno: r.other_pid as i32,
            time_ns: r.time_ns,
        },
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
                VERDICT_REFUSED => Verdict::Refused,
                VERDICT_OBSERVED => Verdict::Observed,
                _ => return None,
            },
            time_ns: r.time_ns,
        },
        _ => return None,
    })
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

    fn bytes(r: &EventRecord) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain-data value.
        unsafe {
            std::slice::from_raw_parts(
                (r as *const EventRecord).cast::<u8>(),
                size_of::<EventRecord>(),
            )
        }
        .to_vec()
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

    #[test]
    fn decodes_exec_with_filename() {
        let mut r = record(EVENT_EXEC);
        r.filename[..9].copy_from_slice(b"/bin/true");
        assert_eq!(
            decode(&bytes(&r)),
            Some(Event::Exec {
                pid: 42,
                ppid: 7,
                filename: "/bin/true".into(),
                time_ns: 99
            })
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
            mode: FMODE_READ | FMODE_WRITE,
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
            ..
        }) = decode(bytes)
        else {
            panic!("not a file event");
        };
        assert_eq!(
            (path.as_str(), read, write, complete, op),
            ("/tmp/out.txt", true, true, true, FileOp::Open)
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

    #[test]
    fn refuses_short_or_unknown_records() {
        assert_eq!(decode(&[0u8; 8]), None);
        assert_eq!(decode(&bytes(&record(77))), None);
        let mut r = record(EVENT_NET);
        r.family = 99;
        assert_eq!(decode(&bytes(&r)), None);
    }
}
