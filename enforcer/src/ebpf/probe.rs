//! Which eBPF program types this kernel loads, for `warden doctor`: each
//! kind is tried with a minimal program (`r0 = verdict; exit`) through the
//! `bpf(2)` syscall, and the errno is reported when the kernel refuses it.
//! Some kernels and hypervisors refuse trampoline programs (`fentry`,
//! `lsm`) with EPERM even to root; that is detected here, never assumed.

use serde::Serialize;

use super::btf::{Btf, Kind};

/// The outcome of trying one program kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    /// The program kind as the project names it (`cgroup_sock_addr`,
    /// `tp_btf`, `raw_tp`, `lsm`, ...).
    pub kind: &'static str,
    /// Whether the kernel loaded it.
    pub loads: bool,
    /// The errno of the refusal.
    pub errno: Option<i32>,
    /// Why not, in words (empty when it loads).
    pub reason: String,
}

const BPF_PROG_LOAD: libc::c_long = 5;

const PROG_SOCKET_FILTER: u32 = 1;
const PROG_CGROUP_DEVICE: u32 = 15;
const PROG_RAW_TRACEPOINT: u32 = 17;
const PROG_CGROUP_SOCK_ADDR: u32 = 18;
const PROG_TRACING: u32 = 26;
const PROG_LSM: u32 = 29;

const ATTACH_CGROUP_DEVICE: u32 = 6;
const ATTACH_CGROUP_INET4_CONNECT: u32 = 10;
const ATTACH_TRACE_RAW_TP: u32 = 23;
const ATTACH_TRACE_FENTRY: u32 = 24;
const ATTACH_LSM_MAC: u32 = 27;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    _pad: u32,
}

/// Loads `r0 = ret; exit` as `prog_type`; Ok or the errno.
fn try_load(prog_type: u32, attach_type: u32, attach_btf_id: u32, ret: i32) -> Result<(), i32> {
    // BPF_ALU64 | BPF_MOV | BPF_K to r0, then BPF_JMP | BPF_EXIT.
    let insns: [u64; 2] = [0xb7 | (u64::from(ret as u32) << 32), 0x95];
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type,
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: attach_type,
        attach_btf_id,
        ..Default::default()
    };
    // SAFETY: bpf(BPF_PROG_LOAD) with a fully initialised attr whose
    // pointers outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            size_of::<ProgLoadAttr>() as u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: a descriptor this function owns.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

fn describe(errno: i32) -> String {
    let what = std::io::Error::from_raw_os_error(errno);
    let why = match errno {
        libc::EPERM => "not permitted (needs root, or refused by this kernel or hypervisor)",
        libc::EINVAL => "the kernel does not know this program type or attach point",
        libc::ENOSYS => "the kernel has no bpf(2)",
        libc::ESRCH | libc::ENOENT => "the attach point is not in the kernel's BTF",
        _ => "refused",
    };
    format!("{why}: {what}")
}

/// Tries every program kind the enforcer may use and says which load here.
pub fn probe() -> Vec<ProbeResult> {
    let btf = Btf::from_kernel().ok();
    let id = |name: &str, kind: Kind| btf.as_ref().and_then(|b| b.type_id(name, kind));
    let kinds: [(&'static str, u32, u32, Option<u32>, i32); 7] = [
        ("socket_filter", PROG_SOCKET_FILTER, 0, Some(0), 0),
        (
            "cgroup_sock_addr",
            PROG_CGROUP_SOCK_ADDR,
            ATTACH_CGROUP_INET4_CONNECT,
            Some(0),
            1,
        ),
        (
            "cgroup_device",
            PROG_CGROUP_DEVICE,
            ATTACH_CGROUP_DEVICE,
            Some(0),
            1,
        ),
        ("raw_tp", PROG_RAW_TRACEPOINT, 0, Some(0), 0),
        (
            "tp_btf",
            PROG_TRACING,
            ATTACH_TRACE_RAW_TP,
            id("btf_trace_sys_enter", Kind::Typedef),
            0,
        ),
        (
            "fentry",
            PROG_TRACING,
            ATTACH_TRACE_FENTRY,
            id("security_file_open", Kind::Func),
            0,
        ),
        (
            "lsm",
            PROG_LSM,
            ATTACH_LSM_MAC,
            id("bpf_lsm_file_open", Kind::Func),
            0,
        ),
    ];
    kinds
        .into_iter()
        .map(|(kind, prog_type, attach_type, btf_id, ret)| {
            let Some(btf_id) = btf_id else {
                return ProbeResult {
                    kind,
                    loads: false,
                    errno: None,
                    reason: "the kernel's BTF (/sys/kernel/btf/vmlinux) lacks the attach point"
                        .to_owned(),
                };
            };
            match try_load(prog_type, attach_type, btf_id, ret) {
                Ok(()) => ProbeResult {
                    kind,
                    loads: true,
                    errno: None,
                    reason: String::new(),
                },
                Err(errno) => ProbeResult {
                    kind,
                    loads: false,
                    errno: Some(errno),
                    reason: describe(errno),
                },
            }
        })
        .collect()
}
