//! The eBPF object: its bytes, opening it with the kernel's offsets, and the
//! attach types of its programs.

use aya::{Ebpf, EbpfLoader};
use enforcer_common::NodeConfig;

use super::btf;
use super::error::EbpfError;

/// The eBPF object built by `build.rs` (aya-build), aligned for parsing.
pub(crate) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/enforcer-ebpf"));

/// The bytes of the eBPF object compiled from `enforcer-ebpf/`; empty when the
/// build skipped it (`AYA_BUILD_SKIP=1`).
pub fn object_bytes() -> &'static [u8] {
    OBJECT
}

pub(crate) fn inet_attach_type(name: &str) -> u32 {
    use aya_obj::generated::bpf_attach_type::*;
    (match name {
        "connect4" => BPF_CGROUP_INET4_CONNECT,
        "connect6" => BPF_CGROUP_INET6_CONNECT,
        "sendmsg4" => BPF_CGROUP_UDP4_SENDMSG,
        "sendmsg6" => BPF_CGROUP_UDP6_SENDMSG,
        "bind4" => BPF_CGROUP_INET4_BIND,
        _ => BPF_CGROUP_INET6_BIND,
    }) as u32
}

/// `config` with the offsets and syscall numbers the file reports need, read
/// from the running kernel's BTF (where an open file's path lives).
pub(crate) fn with_file_offsets(
    kernel_btf: &btf::Btf,
    config: NodeConfig,
) -> Result<NodeConfig, EbpfError> {
    let off = |s: &str, m: &str| kernel_btf.member_offset(s, m);
    let nr = |name: &str| {
        crate::policy::number_of(name)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX)
    };
    let f_path = off("file", "f_path")?;
    Ok(NodeConfig {
        open_nrs: [nr("open"), nr("openat"), nr("openat2"), nr("creat")],
        off_task_files: off("task_struct", "files")?,
        off_files_fdt: off("files_struct", "fdt")?,
        off_fdtable_fd: off("fdtable", "fd")?,
        off_fdtable_max_fds: off("fdtable", "max_fds")?,
        off_file_path_mnt: f_path + off("path", "mnt")?,
        off_file_path_dentry: f_path + off("path", "dentry")?,
        off_file_f_mode: off("file", "f_mode")?,
        off_file_f_flags: off("file", "f_flags")?,
        off_binprm_file: off("linux_binprm", "file")?,
        off_dentry_parent: off("dentry", "d_parent")?,
        off_dentry_name: off("dentry", "d_name")? + off("qstr", "name")?,
        off_vfsmount_root: off("vfsmount", "mnt_root")?,
        off_mount_mnt: off("mount", "mnt")?,
        off_mount_parent: off("mount", "mnt_parent")?,
        off_mount_mountpoint: off("mount", "mnt_mountpoint")?,
        ..config
    })
}

/// Where `thread_info.status` (with `TS_COMPAT`) lives in `task_struct`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn compat_status_offset(kernel_btf: &btf::Btf) -> Result<u32, EbpfError> {
    Ok(kernel_btf.member_offset("task_struct", "thread_info")?
        + kernel_btf.member_offset("thread_info", "status")?)
}

/// Other architectures: no `TS_COMPAT` check (seccomp's architecture check
/// is the only guard against compat syscalls there).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn compat_status_offset(_: &btf::Btf) -> Result<u32, EbpfError> {
    Ok(enforcer_common::OFFSET_UNKNOWN)
}

/// Opens the eBPF object: its maps created and its read-only globals (the
/// LSM programs' kernel offsets) set; no program is loaded yet.
pub(crate) fn open_object<'a>(
    mut loader: EbpfLoader<'a>,
    lsm_offsets: &'a enforcer_common::lsm::LsmOffsets,
) -> Result<Ebpf, EbpfError> {
    super::lsm::set_offsets(&mut loader, lsm_offsets);
    loader.load(OBJECT).map_err(|e| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            EbpfError::NeedsRoot(e.to_string())
        } else {
            EbpfError::Object(Box::new(e))
        }
    })
}
