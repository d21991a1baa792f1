//! Run-time probes for the eBPF layers: load (and where it costs nothing,
//! attach) a two-instruction program of each type the enforcer uses, with
//! the raw `bpf(2)` syscall, and report what the kernel answered.
//!
//! These answer "does this kernel (and hypervisor) accept this program
//! type?" independently of the real programs, so `warden doctor` works on
//! any build. The eBPF loader can register finer probes through
//! [`crate::doctor::Doctor::with_probe`].

use std::io;

#[cfg(test)]
use crate::ebpf::btf::Kind;
use std::os::fd::{FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_int = 5;

pub(crate) const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
pub(crate) const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub(crate) const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
pub(crate) const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
pub(crate) const BPF_PROG_TYPE_TRACING: u32 = 26;
pub(crate) const BPF_PROG_TYPE_LSM: u32 = 29;

pub(crate) const BPF_CGROUP_DEVICE: u32 = 6;
pub(crate) const BPF_CGROUP_INET4_CONNECT: u32 = 10;
pub(crate) const BPF_TRACE_RAW_TP: u32 = 23;
pub(crate) const BPF_TRACE_FENTRY: u32 = 24;
pub(crate) const BPF_LSM_MAC: u32 = 27;

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

/// Loads `r0 = ret; exit` as `prog_type` (with an attach type and BTF id
/// where the type needs them).
pub(crate) fn load(
    prog_type: u32,
    expected_attach: u32,
    attach_btf_id: u32,
    ret: i32,
) -> io::Result<OwnedFd> {
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

const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;

/// Attaches a loaded tracing or `lsm` program at the BTF id it was loaded
/// for (`BPF_RAW_TRACEPOINT_OPEN` without a name); dropping the returned
/// link detaches it.
pub(crate) fn attach_btf_program(prog: &OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    // `raw_tracepoint { __u64 name; __u32 prog_fd; }`, padded.
    let mut attr = [0u8; 16];
    put_u32(&mut attr, 8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr)
}

/// The BTF type id of `name` (of `kind`) in the running kernel's BTF.
#[cfg(test)]
pub fn vmlinux_btf_id(name: &str, kind: Kind) -> Result<u32, String> {
    let btf = crate::ebpf::btf::kernel().map_err(|e| format!("no kernel BTF ({e})"))?;
    btf.type_id(name, kind)
        .ok_or_else(|| format!("`{name}` is not in the kernel's BTF"))
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
        let id = vmlinux_btf_id("bpf_lsm_file_open", Kind::Func).unwrap();
        assert!(id > 0);
        assert!(vmlinux_btf_id("no_such_function_in_any_kernel", Kind::Func).is_err());
    }
}
