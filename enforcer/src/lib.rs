//! The enforcer: runs a command inside a token's envelope with kernel layers
//! (Landlock, seccomp, eBPF on the run's cgroup, and BPF LSM where the kernel
//! loads it). (Being built: issue 5.)
//!
//! The BPF LSM layer lives in [`lsm`]; struct offsets come from [`btf`]:
//!
//! ```no_run
//! let btf = enforcer::btf::KernelBtf::from_sys_fs()?;
//! let offsets = enforcer::lsm::offsets(&btf)?;
//! assert_ne!(offsets.file_f_path, offsets.file_f_mode);
//! # Ok::<(), enforcer::lsm::LsmError>(())
//! ```

pub mod btf;
pub mod lsm;
