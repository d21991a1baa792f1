//! Refusal events, user side: where each syscall's arguments name what it
//! refused (the `REFUSAL_ARGS` map the `sys_exit` programs read), and where
//! the running kernel saves those arguments in `pt_regs` (from its BTF).
//!
//! The table is by syscall name, resolved to this architecture's numbers
//! through the seccomp layer's syscall table; a name the architecture lacks
//! (`open` on arm64) is left out.

use aya::Ebpf;
use aya::maps::Array;
use enforcer_common::refusal::{ArgSpec, REFUSAL_ARGS_MAP, SYSCALL_ARGS};
use enforcer_common::{MAX_SYSCALLS, NodeConfig, OFFSET_UNKNOWN};

use super::btf;
use super::error::{EbpfError, map_err};

const NONE: ArgSpec = ArgSpec::NONE;
/// `f(path)`.
const PATH0: ArgSpec = NONE.path(0);
/// `f(dirfd, path)`.
const AT: ArgSpec = NONE.dirfd(0).path(1);
/// `f(old, new)`.
const TWO_PATHS: ArgSpec = NONE.path(0).new_path(1);
/// `f(olddirfd, old, newdirfd, new)`.
const TWO_AT: ArgSpec = NONE.dirfd(0).path(1).new_dirfd(2).new_path(3);

/// Every syscall whose refusal the events can name, and where its arguments
/// say what it named. Paths are reported as the syscall got them (relative
/// to the cwd, or to the `dirfd` of an `*at` syscall).
const ARGS: &[(&str, ArgSpec)] = &[
    // Open, create, exec.
    ("open", PATH0),
    ("creat", PATH0),
    ("openat", AT),
    ("openat2", AT),
    ("execve", PATH0),
    ("execveat", AT),
    ("mknod", PATH0),
    ("mknodat", AT),
    ("mkdir", PATH0),
    ("mkdirat", AT),
    // Remove, rename, link: the second path is the new name; a symlink's
    // target is its first path (the content, not a lookup).
    ("unlink", PATH0),
    ("unlinkat", AT),
    ("rmdir", PATH0),
    ("rename", TWO_PATHS),
    ("renameat", TWO_AT),
    ("renameat2", TWO_AT),
    ("link", TWO_PATHS),
    ("linkat", TWO_AT),
    ("symlink", TWO_PATHS),
    ("symlinkat", NONE.path(0).new_dirfd(1).new_path(2)),
    // Change a file or its metadata.
    ("truncate", PATH0),
    ("chmod", PATH0),
    ("fchmodat", AT),
    ("fchmodat2", AT),
    ("chown", PATH0),
    ("lchown", PATH0),
    ("fchownat", AT),
    ("utime", PATH0),
    ("utimes", PATH0),
    ("utimensat", AT),
    ("futimesat", AT),
    ("setxattr", PATH0),
    ("lsetxattr", PATH0),
    ("removexattr", PATH0),
    ("lremovexattr", PATH0),
    ("setxattrat", AT),
    ("removexattrat", AT),
    // Look at a file.
    ("access", PATH0),
    ("faccessat", AT),
    ("faccessat2", AT),
    ("stat", PATH0),
    ("lstat", PATH0),
    ("newfstatat", AT),
    ("statx", AT),
    ("statfs", PATH0),
    ("readlink", PATH0),
    ("readlinkat", AT),
    ("getxattr", PATH0),
    ("lgetxattr", PATH0),
    ("listxattr", PATH0),
    ("llistxattr", PATH0),
    ("getxattrat", AT),
    ("listxattrat", AT),
    ("name_to_handle_at", AT),
    ("inotify_add_watch", NONE.path(1)),
    ("fanotify_mark", NONE.dirfd(3).path(4)),
    // Directories, mounts, the system.
    ("chdir", PATH0),
    ("chroot", PATH0),
    ("pivot_root", TWO_PATHS),
    ("mount", NONE.path(1)),
    ("umount2", PATH0),
    ("open_tree", AT),
    ("move_mount", TWO_AT),
    ("fspick", AT),
    ("mount_setattr", AT),
    ("swapon", PATH0),
    ("swapoff", PATH0),
    ("acct", PATH0),
    ("uselib", PATH0),
    ("quotactl", NONE.path(1)),
    // Socket addresses.
    ("connect", NONE.sockaddr(1, 2)),
    ("bind", NONE.sockaddr(1, 2)),
    ("sendto", NONE.sockaddr(4, 5)),
    ("sendmsg", NONE.msghdr(1)),
];

/// `(syscall number, ArgSpec)` for every syscall of [`ARGS`] this
/// architecture has.
pub(crate) fn arg_table() -> Vec<(u32, ArgSpec)> {
    ARGS.iter()
        .filter_map(|(name, spec)| {
            let nr = u32::try_from(crate::policy::number_of(name)?).ok()?;
            (nr < MAX_SYSCALLS).then_some((nr, *spec))
        })
        .collect()
}

/// Writes [`arg_table`] into the loaded object's `REFUSAL_ARGS` map.
pub(crate) fn fill_arg_table(ebpf: &mut Ebpf) -> Result<(), EbpfError> {
    let mut map: Array<_, u32> = Array::try_from(
        ebpf.map_mut(REFUSAL_ARGS_MAP)
            .ok_or(EbpfError::Missing(REFUSAL_ARGS_MAP))?,
    )
    .map_err(map_err(REFUSAL_ARGS_MAP))?;
    for (nr, spec) in arg_table() {
        map.set(nr, spec.0, 0).map_err(map_err(REFUSAL_ARGS_MAP))?;
    }
    Ok(())
}

/// `config` with `off_regs_args`: where `pt_regs` holds the six syscall
/// arguments on the running kernel. An argument the BTF lacks stays
/// `OFFSET_UNKNOWN` (its refusals then name nothing), never a guess.
pub(crate) fn with_arg_offsets(kernel_btf: &btf::Btf, config: NodeConfig) -> NodeConfig {
    NodeConfig {
        off_regs_args: arg_offsets(kernel_btf),
        ..config
    }
}

/// The x86-64 syscall ABI: `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`.
#[cfg(target_arch = "x86_64")]
fn arg_offsets(kernel_btf: &btf::Btf) -> [u32; SYSCALL_ARGS] {
    ["di", "si", "dx", "r10", "r8", "r9"].map(|reg| {
        kernel_btf
            .member_offset("pt_regs", reg)
            .unwrap_or(OFFSET_UNKNOWN)
    })
}

/// arm64: `x0`..`x5`; at `sys_exit`, `x0` holds the return value and the
/// first argument survives in `orig_x0`.
#[cfg(target_arch = "aarch64")]
fn arg_offsets(kernel_btf: &btf::Btf) -> [u32; SYSCALL_ARGS] {
    let regs = kernel_btf.member_offset("pt_regs", "regs").ok();
    let mut out = [OFFSET_UNKNOWN; SYSCALL_ARGS];
    out[0] = kernel_btf
        .member_offset("pt_regs", "orig_x0")
        .unwrap_or(OFFSET_UNKNOWN);
    for (i, slot) in out.iter_mut().enumerate().skip(1) {
        if let Some(base) = regs {
            *slot = base + 8 * i as u32;
        }
    }
    out
}

/// Other architectures: no argument is read.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn arg_offsets(_: &btf::Btf) -> [u32; SYSCALL_ARGS] {
    [OFFSET_UNKNOWN; SYSCALL_ARGS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_syscall_or_a_known_absence() {
        // Names missing from this architecture's table must be the legacy
        // ones other architectures dropped, never a typo.
        let legacy = [
            "open",
            "creat",
            "mknod",
            "mkdir",
            "unlink",
            "rmdir",
            "rename",
            "link",
            "symlink",
            "chmod",
            "chown",
            "lchown",
            "utime",
            "utimes",
            "futimesat",
            "access",
            "stat",
            "lstat",
            "readlink",
            "uselib",
        ];
        for (name, _) in ARGS {
            assert!(
                crate::policy::number_of(name).is_some() || legacy.contains(name),
                "{name} is not a syscall here"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_table_names_the_path_and_address_arguments() {
        let table: std::collections::BTreeMap<u32, ArgSpec> = arg_table().into_iter().collect();
        let spec = |name: &str| table[&(crate::policy::number_of(name).unwrap() as u32)];
        assert_eq!(spec("openat").path_arg(), Some(1));
        assert_eq!(spec("openat").dirfd_arg(), Some(0));
        assert_eq!(spec("open").dirfd_arg(), None);
        assert_eq!(spec("execve").path_arg(), Some(0));
        assert_eq!(spec("renameat2").new_path_arg(), Some(3));
        assert_eq!(spec("connect").sockaddr_arg(), Some(1));
        assert_eq!(spec("connect").sockaddr_len_arg(), Some(2));
        assert_eq!(spec("sendto").sockaddr_arg(), Some(4));
        assert!(spec("sendmsg").is_msghdr());
        assert!(!table.contains_key(&0), "read names nothing");
    }

    #[test]
    fn the_running_kernel_has_the_argument_registers() {
        let Ok(kernel_btf) = btf::kernel() else {
            // No BTF here: the eBPF layers refuse to load anyway.
            return;
        };
        let config = with_arg_offsets(kernel_btf, NodeConfig::default());
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(
                config
                    .off_regs_args
                    .iter()
                    .all(|o| *o != OFFSET_UNKNOWN && *o != 0),
                "{:?}",
                config.off_regs_args
            );
            let mut sorted = config.off_regs_args;
            sorted.sort_unstable();
            assert!(sorted.windows(2).all(|w| w[0] < w[1]), "distinct registers");
        }
    }
}
