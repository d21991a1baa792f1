//! Refusal events: what a refused syscall named. When a syscall of the run
//! fails with EPERM or EACCES, the `sys_exit` programs read the arguments
//! that say what was refused (a path, a `dirfd`, a socket address) from the
//! syscall's saved registers and send a [`RefusalRecord`].
//!
//! Which argument holds what differs per syscall; user space writes one
//! [`ArgSpec`] per syscall number into the `REFUSAL_ARGS` array, so the
//! kernel side needs no syscall table of its own and does one lookup per
//! refusal (nothing at all on success).
//!
//! ```
//! use enforcer_common::refusal::ArgSpec;
//! // renameat(olddirfd, oldpath, newdirfd, newpath)
//! let spec = ArgSpec::NONE.dirfd(0).path(1).new_dirfd(2).new_path(3);
//! assert_eq!((spec.path_arg(), spec.dirfd_arg()), (Some(1), Some(0)));
//! assert_eq!((spec.new_path_arg(), spec.new_dirfd_arg()), (Some(3), Some(2)));
//! assert_eq!(spec.sockaddr_arg(), None);
//! ```

/// Name of the array map (syscall number → [`ArgSpec`] bits).
pub const REFUSAL_ARGS_MAP: &str = "REFUSAL_ARGS";

/// Bytes of each path buffer of a [`RefusalRecord`], NUL included; a longer
/// path is cut (and flagged [`FOUND_TRUNCATED`]).
pub const REFUSED_PATH_BUF: usize = 256;
/// Bytes of the socket address buffer: `sizeof(struct sockaddr_storage)`.
pub const SOCKADDR_BUF: usize = 128;

/// [`RefusalRecord::found`]: `path` holds the path argument.
pub const FOUND_PATH: u32 = 1;
/// [`RefusalRecord::found`]: `new_path` holds the second path argument.
pub const FOUND_NEW_PATH: u32 = 1 << 1;
/// [`RefusalRecord::found`]: `dirfd` holds the directory descriptor argument.
pub const FOUND_DIRFD: u32 = 1 << 2;
/// [`RefusalRecord::found`]: `new_dirfd` holds the second one.
pub const FOUND_NEW_DIRFD: u32 = 1 << 3;
/// [`RefusalRecord::found`]: `sockaddr` holds `sockaddr_len` bytes of the
/// socket address argument.
pub const FOUND_SOCKADDR: u32 = 1 << 4;
/// [`RefusalRecord::found`]: a path filled its whole buffer (it may be cut).
pub const FOUND_TRUNCATED: u32 = 1 << 5;
/// [`RefusalRecord::found`]: a 32-bit (`int 0x80`) syscall: `nr` is from
/// the 32-bit table and its arguments are in other registers, so nothing
/// else was read.
pub const FOUND_COMPAT: u32 = 1 << 6;

/// `AT_FDCWD`: an `*at` syscall's directory descriptor meaning "the cwd".
pub const AT_FDCWD: i32 = -100;

/// A syscall of the run that failed with EPERM or EACCES
/// (`EVENT_SYSCALL_REFUSED`), with what its arguments named.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RefusalRecord {
    /// `EVENT_SYSCALL_REFUSED`, at the same place as `EventRecord::kind`.
    pub kind: u32,
    /// Process (thread group) id.
    pub pid: u32,
    /// The syscall number.
    pub nr: u32,
    /// The errno (EPERM or EACCES).
    pub errno: u32,
    /// `bpf_ktime_get_ns` when the syscall returned.
    pub time_ns: u64,
    /// The task's `comm`, NUL-terminated.
    pub comm: [u8; 16],
    /// `FOUND_*` bits: which of the fields below were read.
    pub found: u32,
    /// The directory descriptor the path is relative to (`*at` syscalls).
    pub dirfd: i32,
    /// The directory descriptor of the second path.
    pub new_dirfd: i32,
    /// Bytes of `sockaddr` used.
    pub sockaddr_len: u32,
    /// The path as the syscall got it, NUL-terminated.
    pub path: [u8; REFUSED_PATH_BUF],
    /// The second path (rename, link, symlink: the new name), NUL-terminated.
    pub new_path: [u8; REFUSED_PATH_BUF],
    /// The socket address as the syscall got it (`struct sockaddr`).
    pub sockaddr: [u8; SOCKADDR_BUF],
}

/// Where a syscall's arguments hold what it names: six 4-bit fields, each an
/// argument index plus one (0: the syscall has no such argument), and a flag.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ArgSpec(pub u32);

const SHIFT_PATH: u32 = 0;
const SHIFT_DIRFD: u32 = 4;
const SHIFT_NEW_PATH: u32 = 8;
const SHIFT_NEW_DIRFD: u32 = 12;
const SHIFT_SOCKADDR: u32 = 16;
const SHIFT_SOCKADDR_LEN: u32 = 20;
const FLAG_MSGHDR: u32 = 1 << 24;

/// Arguments a syscall has on every architecture.
pub const SYSCALL_ARGS: usize = 6;

impl ArgSpec {
    /// A syscall whose arguments name nothing the events report.
    pub const NONE: ArgSpec = ArgSpec(0);

    const fn with(self, shift: u32, arg: u32) -> ArgSpec {
        // An index past the sixth argument would alias another field.
        let arg = if arg < SYSCALL_ARGS as u32 {
            arg + 1
        } else {
            0
        };
        ArgSpec((self.0 & !(0xf << shift)) | (arg << shift))
    }

    #[inline(always)]
    const fn get(self, shift: u32) -> Option<u32> {
        match (self.0 >> shift) & 0xf {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// Argument `arg` (0-based) is a path (a user `const char *`).
    pub const fn path(self, arg: u32) -> ArgSpec {
        self.with(SHIFT_PATH, arg)
    }
    /// Argument `arg` is the directory descriptor `path` is relative to.
    pub const fn dirfd(self, arg: u32) -> ArgSpec {
        self.with(SHIFT_DIRFD, arg)
    }
    /// Argument `arg` is a second path (the new name).
    pub const fn new_path(self, arg: u32) -> ArgSpec {
        self.with(SHIFT_NEW_PATH, arg)
    }
    /// Argument `arg` is the directory descriptor of the second path.
    pub const fn new_dirfd(self, arg: u32) -> ArgSpec {
        self.with(SHIFT_NEW_DIRFD, arg)
    }
    /// Argument `addr` is a `struct sockaddr *` of `len` bytes.
    pub const fn sockaddr(self, addr: u32, len: u32) -> ArgSpec {
        self.with(SHIFT_SOCKADDR, addr)
            .with(SHIFT_SOCKADDR_LEN, len)
    }
    /// Argument `arg` is a `struct msghdr *` whose `msg_name` is the address.
    pub const fn msghdr(self, arg: u32) -> ArgSpec {
        ArgSpec(self.with(SHIFT_SOCKADDR, arg).0 | FLAG_MSGHDR)
    }

    /// See [`ArgSpec::path`].
    #[inline(always)]
    pub const fn path_arg(self) -> Option<u32> {
        self.get(SHIFT_PATH)
    }
    /// See [`ArgSpec::dirfd`].
    #[inline(always)]
    pub const fn dirfd_arg(self) -> Option<u32> {
        self.get(SHIFT_DIRFD)
    }
    /// See [`ArgSpec::new_path`].
    #[inline(always)]
    pub const fn new_path_arg(self) -> Option<u32> {
        self.get(SHIFT_NEW_PATH)
    }
    /// See [`ArgSpec::new_dirfd`].
    #[inline(always)]
    pub const fn new_dirfd_arg(self) -> Option<u32> {
        self.get(SHIFT_NEW_DIRFD)
    }
    /// The argument holding the socket address (or the `msghdr`).
    #[inline(always)]
    pub const fn sockaddr_arg(self) -> Option<u32> {
        self.get(SHIFT_SOCKADDR)
    }
    /// The argument holding the socket address's length.
    #[inline(always)]
    pub const fn sockaddr_len_arg(self) -> Option<u32> {
        self.get(SHIFT_SOCKADDR_LEN)
    }
    /// Whether [`ArgSpec::sockaddr_arg`] is a `struct msghdr *`.
    #[inline(always)]
    pub const fn is_msghdr(self) -> bool {
        self.0 & FLAG_MSGHDR != 0
    }
}

/// Byte offset of `msg_name` (a `void *`) in the user ABI's `struct msghdr`.
pub const MSGHDR_NAME: u64 = 0;
/// Byte offset of `msg_namelen` (a `socklen_t`) in a 64-bit `struct msghdr`.
pub const MSGHDR_NAMELEN: u64 = 8;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` data without implicit padding (every field
    // is 4- or 8-byte sized and aligned in order), valid for every bit pattern.
    unsafe impl aya::Pod for super::RefusalRecord {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_stay_apart() {
        let spec = ArgSpec::NONE.sockaddr(4, 5).path(0);
        assert_eq!(spec.sockaddr_arg(), Some(4));
        assert_eq!(spec.sockaddr_len_arg(), Some(5));
        assert_eq!(spec.path_arg(), Some(0));
        assert_eq!(spec.dirfd_arg(), None);
        assert!(!spec.is_msghdr());
        let msg = ArgSpec::NONE.msghdr(1);
        assert!(msg.is_msghdr());
        assert_eq!(
            (msg.sockaddr_arg(), msg.sockaddr_len_arg()),
            (Some(1), None)
        );
    }

    #[test]
    fn an_argument_past_the_sixth_is_no_argument() {
        assert_eq!(ArgSpec::NONE.path(6).path_arg(), None);
        assert_eq!(ArgSpec::NONE.path(2).path(9).path_arg(), None);
    }

    #[test]
    fn the_record_has_no_hidden_padding() {
        let fields = 4 * 4 + 8 + 16 + 4 * 4 + 2 * REFUSED_PATH_BUF + SOCKADDR_BUF;
        assert_eq!(size_of::<RefusalRecord>(), fields);
    }
}
