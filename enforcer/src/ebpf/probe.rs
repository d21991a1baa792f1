//! Which eBPF program types this kernel loads, for `warden doctor`: each
//! kind is tried with a minimal program (`r0 = verdict; exit`) through the
//! `bpf(2)` syscall, and the errno is reported when the kernel refuses it.
//! Some kernels and hypervisors refuse trampoline programs (`fentry`,
//! `lsm`) with EPERM even to root; that is detected here, never assumed.

use serde::Serialize;

use super::btf::Kind;
use crate::bpf_probe::{
    BPF_CGROUP_DEVICE, BPF_CGROUP_INET4_CONNECT, BPF_LSM_MAC, BPF_PROG_TYPE_CGROUP_DEVICE,
    BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_PROG_TYPE_LSM, BPF_PROG_TYPE_RAW_TRACEPOINT,
    BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, BPF_TRACE_RAW_TP,
};

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

/// Loads `r0 = ret; exit` as `prog_type`; Ok or the errno.
fn try_load(prog_type: u32, attach_type: u32, attach_btf_id: u32, ret: i32) -> Result<(), i32> {
    crate::bpf_probe::load(prog_type, attach_type, attach_btf_id, ret)
        .map(drop)
        .map_err(|e| e.raw_os_error().unwrap_or(0))
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
    let btf = crate::ebpf::btf::kernel().ok();
    let id = |name: &str, kind: Kind| btf.as_ref().and_then(|b| b.type_id(name, kind));
    let kinds: [(&'static str, u32, u32, Option<u32>, i32); 8] = [
        ("socket_filter", BPF_PROG_TYPE_SOCKET_FILTER, 0, Some(0), 0),
        (
            "cgroup_sock_addr",
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            BPF_CGROUP_INET4_CONNECT,
            Some(0),
            1,
        ),
        (
            "cgroup_sock_addr_unix",
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            super::loader::ATTACH_UNIX_CONNECT,
            Some(0),
            1,
        ),
        (
            "cgroup_device",
            BPF_PROG_TYPE_CGROUP_DEVICE,
            BPF_CGROUP_DEVICE,
            Some(0),
            1,
        ),
        ("raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, Some(0), 0),
        (
            "tp_btf",
            BPF_PROG_TYPE_TRACING,
            BPF_TRACE_RAW_TP,
            id("btf_trace_sys_enter", Kind::Typedef),
            0,
        ),
        (
            "fentry",
            BPF_PROG_TYPE_TRACING,
            BPF_TRACE_FENTRY,
            id("security_file_open", Kind::Func),
            0,
        ),
        (
            "lsm",
            BPF_PROG_TYPE_LSM,
            BPF_LSM_MAC,
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
