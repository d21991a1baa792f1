//! Run-time probes for the eBPF layers: load (and where it costs nothing,
//! attach) a two-instruction program of each type the enforcer uses, with
//! the raw `bpf(2)` syscall, and report what the kernel answered.
//!
//! These answer "does this kernel (and hypervisor) accept this program
//! type?" independently of the real programs, so `warden doctor` works on
//! any build. The eBPF loader can register finer probes through
//! [`crate::doctor::Doctor::with_probe`].

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;

const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_PROG_TYPE_LSM: u32 = 29;

const BPF_CGROUP_INET4_CONNECT: u32 = 10;
const BPF_TRACE_RAW_TP: u32 = 23;
const BPF_LSM_MAC: u32 = 27;

/// `bpf_attr` for `BPF_PROG_LOAD`, as far as the fields used here.
const ATTR_SIZE: usize = 148;

/// `r0 = imm; exit`.
fn return_program(imm: i32) -> [u64; 2] {
    // Instruction encoding: code u8, dst:4|src:4 u8, off i16, imm i32.
    let mov = 0xb7u64 | ((imm as u32 as u64) << 32);
    let exit = 0x95u64;
    [mov, exit]
}

fn bpf(cmd: libc::c_int, attr: &mut [u8]) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a zero-padded bpf_attr of the size passed.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn put_u32(attr: &mut [u8], off: usize, v: u32) {
    attr[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(attr: &mut [u8], off: usize, v: u64) {
    attr[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn load(prog_type: u32, expected_attach: u32, attach_btf_id: u32, ret: i32) -> io::Result<OwnedFd> {
    let insns = return_program(ret);
    let license = c"GPL";
    let mut attr = [0u8; ATTR_SIZE];
    put_u32(&mut attr, 0, prog_type);
    put_u32(&mut attr, 4, insns.len() as u32);
    put_u64(&mut attr, 8, insns.as_ptr() as u64);
    put_u64(&mut attr, 16, license.as_ptr() as u64);
    put_u32(&mut attr, 68, expected_attach);
    put_u32(&mut attr, 108, attach_btf_id);
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// Attaches a tracing or LSM program (name 0) or a raw tracepoint program
/// (by tracepoint name), then detaches it by closing the link.
fn raw_tracepoint_open(prog: &OwnedFd, name: Option<&std::ffi::CStr>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut attr = [0u8; 16];
    put_u64(&mut attr, 0, name.map_or(0, |n| n.as_ptr() as u64));
    put_u32(&mut attr, 8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr).map(drop)
}

fn explain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) if unsafe { libc::geteuid() } != 0 => {
            "refused (EPERM): needs root (CAP_BPF)".into()
        }
        Some(libc::EPERM) => "refused by the kernel or hypervisor (EPERM)".into(),
        Some(libc::EINVAL) => "this kernel does not know the program type (EINVAL)".into(),
        Some(libc::ENOSYS) => "no bpf(2) in this kernel (ENOSYS)".into(),
        _ => e.to_string(),
    }
}

/// Whether `cgroup/connect4` programs load here.
pub fn cgroup_sock_addr() -> Result<String, String> {
    load(
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        BPF_CGROUP_INET4_CONNECT,
        0,
        1,
    )
    .map(|_| "cgroup_sock_addr programs load".to_string())
    .map_err(|e| format!("cgroup_sock_addr: {}", explain(&e)))
}

/// Whether `raw_tp` programs load and attach to `sys_enter`, and whether
/// `tp_btf` programs load.
pub fn tracepoints() -> Result<String, String> {
    let raw = load(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, 0)
        .map_err(|e| format!("raw_tp: {}", explain(&e)))?;
    raw_tracepoint_open(&raw, Some(c"sys_enter"))
        .map_err(|e| format!("raw_tp attach to sys_enter: {}", explain(&e)))?;
    let tp_btf = match vmlinux_btf_id("btf_trace_sys_enter", BTF_KIND_TYPEDEF) {
        Ok(id) => match load(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id, 0) {
            Ok(_) => "tp_btf loads too".to_string(),
            Err(e) => format!("tp_btf: {}", explain(&e)),
        },
        Err(e) => format!("tp_btf: {e}"),
    };
    Ok(format!("raw_tp loads and attaches to sys_enter; {tp_btf}"))
}

/// Whether `lsm/file_open` programs load and attach.
pub fn bpf_lsm() -> Result<String, String> {
    let id = vmlinux_btf_id("bpf_lsm_file_open", BTF_KIND_FUNC)?;
    let prog = load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, id, 0)
        .map_err(|e| format!("lsm program load: {}", explain(&e)))?;
    raw_tracepoint_open(&prog, None)
        .map_err(|e| format!("lsm attach to file_open: {}", explain(&e)))?;
    Ok("lsm programs load and attach (file_open)".into())
}

const BTF_KIND_TYPEDEF: u32 = 8;
const BTF_KIND_FUNC: u32 = 12;

/// The BTF type id of `name` (of `kind`) in the running kernel's BTF.
pub fn vmlinux_btf_id(name: &str, kind: u32) -> Result<u32, String> {
    let path = "/sys/kernel/btf/vmlinux";
    let btf = std::fs::read(path).map_err(|e| format!("no kernel BTF ({path}: {e})"))?;
    find_btf_id(&btf, name, kind).ok_or_else(|| format!("`{name}` is not in the kernel's BTF"))
}

fn find_btf_id(btf: &[u8], name: &str, want_kind: u32) -> Option<u32> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(btf.get(o..o + 4)?.try_into().ok()?));
    if btf.get(0..2)? != [0x9f, 0xeb] {
        return None; // little-endian BTF only
    }
    let hdr_len = u32_at(4)? as usize;
    let (type_off, type_len) = (u32_at(8)? as usize, u32_at(12)? as usize);
    let str_off = u32_at(16)? as usize;
    let types = hdr_len.checked_add(type_off)?;
    let strings = hdr_len.checked_add(str_off)?;
    let end = types.checked_add(type_len)?;
    let (mut pos, mut id) = (types, 1u32);
    while pos + 12 <= end {
        let name_off = u32_at(pos)? as usize;
        let info = u32_at(pos + 4)?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        if kind == want_kind {
            let start = strings.checked_add(name_off)?;
            let s = btf.get(start..)?;
            let s = &s[..s.iter().position(|b| *b == 0)?];
            if s == name.as_bytes() {
                return Some(id);
            }
        }
        let extra = match kind {
            1 | 14 | 17 => 4,
            3 => 12,
            4 | 5 | 15 => vlen * 12,
            6 | 13 => vlen * 8,
            19 => vlen * 12,
            _ => 0,
        };
        pos += 12 + extra;
        id += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_encode_as_expected() {
        let [mov, exit] = return_program(1);
        assert_eq!(mov.to_le_bytes(), [0xb7, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(exit, 0x95);
    }

    #[test]
    fn kernel_btf_knows_the_hooks() {
        // Every kernel with BTF and BPF LSM built in has this function, even
        // where the LSM is not active.
        let id = vmlinux_btf_id("bpf_lsm_file_open", BTF_KIND_FUNC).unwrap();
        assert!(id > 0);
        assert!(vmlinux_btf_id("no_such_function_in_any_kernel", BTF_KIND_FUNC).is_err());
        assert_eq!(find_btf_id(b"not btf", "x", BTF_KIND_FUNC), None);
    }
}
