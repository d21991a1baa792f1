//! The metadata supervisor: a change of a file's metadata (mode, owner,
//! times, extended attributes, inode flags) is made only where the run's
//! write rules reach, for root and unprivileged runs alike. The plan
//! language's `write PATH` covers it; a `read` never does. Landlock has no
//! right for it (under Landlock alone, `chmod` of a file the run may only
//! read succeeds), and BPF LSM is not on every machine.
//!
//! # Design
//!
//! A second seccomp filter ([`filter`]) returns `SECCOMP_RET_USER_NOTIF` for
//! exactly the syscalls that change metadata ([`SUPERVISED`]) and the
//! `ioctl` commands that do ([`IOCTLS`]); for everything else it returns
//! `ALLOW` and the allowlist filter decides. The command's process installs
//! it just before `exec` with `SECCOMP_FILTER_FLAG_NEW_LISTENER`
//! ([`Prepared::install_in_child`]), hands the listener to the launcher over
//! a socket pair made before the clone, and closes it: the confined program
//! never holds it. The launcher's [`Supervisor`] thread, outside the
//! confinement, receives each call and **makes or refuses the change
//! itself**; it never answers `SECCOMP_USER_NOTIF_FLAG_CONTINUE`, which
//! would let the kernel redo the call on the caller's memory after the
//! check. For each call:
//!
//! 1. every argument in the caller's memory (path, attribute name and
//!    value, times, the `ioctl` argument) is read **once** with
//!    `process_vm_readv` into the supervisor's own memory ([`call`]); the
//!    caller's thread credentials are read from `/proc/TID/status`; its
//!    working directory (`/proc/TID/cwd`) or the descriptor it names
//!    (`pidfd_getfd` on a pidfd of that very thread) is duplicated into
//!    the launcher; then `SECCOMP_IOCTL_NOTIF_ID_VALID` confirms that the
//!    thread is still blocked in that very call, so all of it belongs to
//!    the call (a pid cannot have been reused meanwhile);
//! 2. with the caller's credentials (when they differ from the
//!    supervisor's, a short-lived thread of the launcher takes them on,
//!    [`creds`]: supplementary groups, real/effective/saved/filesystem ids,
//!    then the capability sets exactly, with raw syscalls, which change one
//!    thread only), the path is resolved to an
//!    `O_PATH` descriptor ([`target`]): `openat2`, following the last
//!    symlink or not (`AT_SYMLINK_NOFOLLOW`, the `l*` calls), `AT_EMPTY_PATH`
//!    meaning the descriptor itself; a path with a symlink is walked one
//!    component at a time, its symlinks expanded by the supervisor; the
//!    kernel checks the caller's search permission on every directory, and
//!    its errors are the caller's. A path starting with the caller's own
//!    `/proc/self/{fd/N,cwd,root}` starts from what that link leads to,
//!    taken from the caller; no other link in `/proc` is followed (looked
//!    up in the launcher, `/proc/self` is the launcher), so a path reaching
//!    one through a symlink (`/dev/fd/N`) is refused, whatever descriptors
//!    the launcher happens to hold;
//! 3. the decision is made on that descriptor ([`Decide`], chosen by the
//!    launcher from the policy: [`WriteRules::landlock`], or
//!    [`WriteRules::bpf_lsm`] under the `root+bpf-lsm` profile): its path as
//!    the kernel names it (`/proc/self/fd/N`), walked again from `/` without
//!    following symlinks and checked to end at the same inode, gives the
//!    identity of every directory above it; a rule granting `write` on the
//!    file or on any of those directories allows the change, exactly as
//!    Landlock applies its rules (by inode, from the file up to the root);
//! 4. with the caller's credentials again, the change is made on **that
//!    descriptor** (`fchmodat2(fd, "", mode, AT_EMPTY_PATH)`, `fchownat`,
//!    `utimensat` likewise, `setxattr`/`removexattr`/`file_setattr` on
//!    `/proc/thread-self/fd/N`, which reaches the file itself and does not
//!    follow a symlink it holds; the `f*` calls and `ioctl` on the duplicate
//!    of the caller's descriptor), so the kernel's permission checks are
//!    the caller's: an unprivileged run cannot `chown` a file to root
//!    through the supervisor, and a root run that dropped `CAP_FOWNER`
//!    cannot `chmod` another user's file;
//! 5. the caller gets the result, or `EPERM` for a refusal (and a line
//!    `warden: refused SYSCALL "PATH": REASON` on stderr unless the run is
//!    quiet; the refusals are in [`SupervisorStats`]).
//!
//! # Why it is race-free
//!
//! The supervisor never reads the caller's memory twice, and the kernel
//! never reads it at all for these calls: a second thread of the caller
//! rewriting the path buffer after the call was made changes nothing the
//! supervisor uses (escape test `a_racing_thread_cannot_flip_the_path`).
//! The change is made on the descriptor the decision was made on, never on
//! a name looked up again, so renaming or replacing anything after the
//! check reaches nothing else; and the run cannot move a file between
//! directories at all (Landlock's `REFER` right, which cross-directory
//! renames and links need, is never granted), so the directories above the
//! file are the ones the decision saw. The caller's credentials are those
//! of the calling thread, which is blocked in the call: only it can change
//! them.
//!
//! # Fail closed
//!
//! The listener belongs to the supervisor thread. If it is gone (the
//! thread ended, the launcher was killed, the listener closed), the kernel
//! answers every such call `ENOSYS` (escape test
//! `with_the_supervisor_gone_the_calls_fail`, and `warden exec`'s
//! `an_unprivileged_run_is_supervised_and_fails_closed_without_its_launcher`).
//! Any error of the supervisor's own (the caller's memory or status cannot
//! be read, its descriptor cannot be taken, its credentials cannot be taken
//! on, the file has no path or changed while it was checked, the decision
//! panicked) refuses the call with `EPERM`. A file without a path (a pipe,
//! a socket, a deleted or anonymous file) is refused: no write rule names it.
//! A caller whose root directory is not the launcher's is refused (no run can
//! change its root: `chroot`, `pivot_root` and namespaces are refused).
//!
//! # Cost
//!
//! Only these calls stop; for every other syscall the filter's answer
//! depends on the syscall number alone, so the kernel's seccomp cache skips
//! it. A supervised call costs two switches to the launcher and back (the
//! kernel is asked to switch directly, `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`),
//! a read of `/proc/TID/status`, a few opens, and, for a caller whose
//! credentials are not the launcher's, two thread starts (docs/benchmarks.md,
//! "Metadata supervisor": 55-70 µs a `chmod` as the launcher's user, 0.5-0.7 ms as
//! another, against 2 µs unsupervised).
//!
//! # The envelope
//!
//! Metadata follows the write rules exactly: where the layers let the run
//! write, it may change metadata, and nowhere else. So
//! [`crate::proven::kernel_envelope`], which describes a rule granting
//! write as `write` on that file or tree (or, under BPF LSM, on its exact
//! shape), already describes what the supervisor allows: it needs no
//! change.

mod call;
mod creds;
mod error;
mod filter;
mod observe;
mod probe;
mod rules;
mod run;
mod target;

pub use error::SupervisorError;
pub use filter::{
    EXT4_IOC_SETVERSION, FS_IOC_FSSETXATTR, FS_IOC_SETFLAGS, FS_IOC_SETVERSION, FS_IOC32_SETFLAGS,
    FS_IOC32_SETVERSION, IOCTLS, SUPERVISED,
};
pub use observe::{ChangeKind, ENTRY_CALLS, MAX_OBSERVED, ObservedChange};
pub use probe::probe;
pub use rules::{Decide, FileId, Target, WriteRules};
pub use run::{MAX_KEPT, MetadataRefusal, MetadataReport, Prepared, Supervisor, SupervisorStats};
