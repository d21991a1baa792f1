//! The few `bpf(2)` commands the node needs beyond aya: loading the unix
//! socket programs with their attach types (aya's object parser knows no
//! `cgroup/connect_unix` section, so they are compiled into `connect4` /
//! `sendmsg4` sections, relocated here with `aya-obj` against the node's
//! maps and loaded with `BPF_CGROUP_UNIX_CONNECT` / `_SENDMSG`), pinning,
//! opening pins, and creating cgroup links by descriptor.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::error::EbpfError;

/// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
pub(crate) const PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
/// `BPF_CGROUP_UNIX_CONNECT` (Linux 6.7).
pub(crate) const ATTACH_UNIX_CONNECT: u32 = 49;
/// `BPF_CGROUP_UNIX_SENDMSG` (Linux 6.7).
pub(crate) const ATTACH_UNIX_SENDMSG: u32 = 50;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_CREATE: libc::c_long = 28;

/// Bytes of the attribute buffer passed to every command: larger than any
/// layout used here, zero where a command has no field.
const ATTR_BYTES: usize = 144;

#[repr(C, align(8))]
struct Attr([u8; ATTR_BYTES]);

impl Attr {
    fn new() -> Attr {
        Attr([0; ATTR_BYTES])
    }
    fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a zero-filled `union bpf_attr` of ATTR_BYTES with the
    // command's fields set; the kernel reads (and for some commands writes)
    // at most that many bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            ATTR_BYTES as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn c_path(path: &Path) -> Result<CString, EbpfError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| EbpfError::Io {
        what: "naming a pin",
        path: path.into(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}

/// Pins the object `fd` (map, program or link) at `path` on bpffs.
pub(crate) fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), EbpfError> {
    let name = c_path(path)?;
    let mut attr = Attr::new();
    attr.u64(0, name.as_ptr() as u64)
        .u32(8, fd.as_raw_fd() as u32);
    bpf(BPF_OBJ_PIN, &mut attr).map_err(|source| EbpfError::Io {
        what: "pinning",
        path: path.into(),
        source,
    })?;
    Ok(())
}

/// Opens the object pinned at `path`.
pub(crate) fn open_pin(path: &Path) -> Result<OwnedFd, EbpfError> {
    let name = c_path(path)?;
    let mut attr = Attr::new();
    attr.u64(0, name.as_ptr() as u64);
    bpf(BPF_OBJ_GET, &mut attr)
        .map(owned)
        .map_err(|source| EbpfError::Io {
            what: "opening the pinned",
            path: path.into(),
            source,
        })
}

/// Attaches the program `prog` to the cgroup `cgroup` with `attach_type`
/// through a link: detached when the returned descriptor (and every copy)
/// is closed, or when the cgroup is removed.
pub(crate) fn link_cgroup(
    prog: BorrowedFd<'_>,
    cgroup: BorrowedFd<'_>,
    attach_type: u32,
) -> std::io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, prog.as_raw_fd() as u32)
        .u32(4, cgroup.as_raw_fd() as u32)
        .u32(8, attach_type);
    bpf(BPF_LINK_CREATE, &mut attr).map(owned)
}

/// Loads one program of `object` with the given program and attach types,
/// relocated against the maps `maps` (name → descriptor of the node's map).
pub(crate) fn load_program(
    object: &[u8],
    program: &str,
    prog_type: u32,
    attach_type: u32,
    maps: &[(&str, BorrowedFd<'_>)],
) -> Result<OwnedFd, EbpfError> {
    let object_err = EbpfError::ObjectParse;
    let mut obj = aya_obj::Object::parse(object).map_err(|e| object_err(e.to_string()))?;
    let defs = obj.maps.clone();
    let fds: Vec<(&str, RawFd, &aya_obj::Map)> = maps
        .iter()
        .filter_map(|(name, fd)| defs.get(*name).map(|def| (*name, fd.as_raw_fd(), def)))
        .collect();
    // As aya does: every section that holds a function is code.
    let text: std::collections::HashSet<usize> =
        obj.functions.keys().map(|(section, _)| *section).collect();
    obj.relocate_maps(fds.into_iter(), &text)
        .map_err(|e| object_err(e.to_string()))?;
    obj.relocate_calls(&text)
        .map_err(|e| object_err(e.to_string()))?;
    let prog = obj
        .programs
        .get(program)
        .ok_or_else(|| object_err(format!("the object has no program {program}")))?;
    let function = obj
        .functions
        .get(&prog.function_key())
        .ok_or_else(|| object_err(format!("the object has no code for {program}")))?;
    let insns = &function.instructions;
    let license = CString::from(c"GPL");
    let mut log = vec![0u8; 1 << 24];
    let mut name = [0u8; 16];
    for (slot, b) in name.iter_mut().zip(program.bytes().take(15)) {
        *slot = b;
    }
    let load = |log_level: u32, log: &mut [u8]| {
        let mut attr = Attr::new();
        attr.u32(0, prog_type)
            .u32(4, insns.len() as u32)
            .u64(8, insns.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(24, log_level)
            .u32(28, log.len() as u32)
            // No buffer without a size (the kernel refuses a buffer of 0 bytes).
            .u64(
                32,
                if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
            )
            .u32(68, attach_type);
        attr.0[48..64].copy_from_slice(&name);
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    };
    match load(0, &mut []) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            // Load again with the verifier's log, to say why.
            let detail = match load(1, &mut log) {
                Ok(_) => String::new(),
                Err(_) => {
                    let text = String::from_utf8_lossy(&log);
                    let text = text.trim_end_matches('\0').trim_end();
                    let tail: Vec<&str> = text.lines().rev().take(6).collect();
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                }
            };
            Err(EbpfError::Load {
                program: program.to_owned(),
                source: first,
                log: detail,
            })
        }
    }
}
