//! Whether a run is still alive (its cgroup, its launcher), and where a
//! run's cgroup is in the cgroup2 tree.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::error::EbpfError;

/// This process as the `/proc` it sees names it (the first pid of `NSpid`
/// in `/proc/self/status`): a launcher that is PID 1 of a PID namespace
/// without a `/proc` of its own (`unshare --pid --fork`) is recorded by its
/// pid on the host, where the other launchers and `warden doctor` look it
/// up ([`owner_alive`]). Its own pid where the field is missing.
pub(crate) fn owner_pid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|pids| pids.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(std::process::id)
}

/// Whether the launcher recorded as a run's `owner` ([`owner_pid`]) still
/// lives, looked up in the same `/proc` (a zombie counts as alive: it is
/// gone once reaped).
pub(crate) fn owner_alive(owner: u32) -> bool {
    owner != 0 && Path::new(&format!("/proc/{owner}")).exists()
}

/// A test of whether a cgroup (by id) still exists, for purging the entries
/// of runs that ended without taking themselves out (a crash): opens the
/// cgroup by its kernfs file handle on the cgroup2 mount.
pub(crate) fn cgroup_liveness() -> Result<impl Fn(u64) -> bool, EbpfError> {
    let mount = crate::cgroup::cgroup2_mount().map_err(|e| EbpfError::Policy(e.to_string()))?;
    let root = File::open(&mount).map_err(|source| EbpfError::Io {
        what: "opening",
        path: mount.clone(),
        source,
    })?;
    Ok(move |id: u64| {
        #[repr(C)]
        struct Handle {
            bytes: u32,
            kind: i32,
            id: u64,
        }
        /// `FILEID_KERNFS`.
        const KERNFS: i32 = 0xfe;
        let mut handle = Handle {
            bytes: 8,
            kind: KERNFS,
            id,
        };
        // SAFETY: a file handle of the declared size; the result is closed.
        let fd = unsafe {
            libc::open_by_handle_at(
                root.as_raw_fd(),
                (&raw mut handle).cast(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a descriptor just opened here.
            unsafe { libc::close(fd) };
            true
        } else {
            // Only a handle the kernel no longer resolves is gone; anything
            // else (no permission) counts as alive, so nothing of a live run
            // is ever purged.
            std::io::Error::last_os_error().raw_os_error() != Some(libc::ESTALE)
        }
    })
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs with a valid NUL-terminated path and a zeroed buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// The cgroup id (the directory's inode number on cgroup2fs) and its depth
/// below the cgroup2 root, found by walking up while still on cgroup2fs.
pub(crate) fn cgroup_id_and_level(path: &Path, dir: &File) -> Result<(u64, u32), EbpfError> {
    let path = path.canonicalize().map_err(|source| EbpfError::Io {
        what: "resolving the run's cgroup",
        path: path.into(),
        source,
    })?;
    if !is_cgroup2(&path) {
        return Err(EbpfError::NotCgroup2(path));
    }
    let meta = dir.metadata().map_err(|source| EbpfError::Io {
        what: "reading the run's cgroup",
        path: path.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(EbpfError::NotCgroup2(path));
    }
    let mut level = 0u32;
    let mut at = path.as_path();
    while let Some(parent) = at.parent() {
        if !is_cgroup2(parent) {
            break;
        }
        level += 1;
        at = parent;
    }
    Ok((meta.ino(), level))
}
