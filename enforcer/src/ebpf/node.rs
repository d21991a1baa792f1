//! The node: the eBPF programs of this machine, loaded and verified once
//! (per boot and per version of the object) and pinned on bpffs, so that a
//! run pays only for its own map entries and cgroup links.
//!
//! ```text
//! <bpffs>/warden/<version>/
//!     maps/NAME        every map of the object (CONFIG, RUNS, NET_V4, ...)
//!     progs/NAME       every program, loaded once
//!     links/NAME       attachments: the process tracepoints (always), and
//!                      `sys_exit` and the LSM hooks while a run needs them
//! ```
//!
//! The first `warden exec` of a boot creates the node in a directory of its
//! own and renames it into place, under a lock, so a node is either whole
//! or absent; every later run opens the pins (a few `bpf(2)` calls). The
//! version is a hash of the object built into this binary: another build
//! gets a node of its own. Only root can reach bpffs or load programs, and
//! a confined run cannot call `bpf(2)` at all (seccomp).
//!
//! Programs that run on every syscall or file operation of the machine
//! (`sys_exit`, the LSM hooks) are attached only while a run that needs
//! them lives: a shared pin under `links/`, counted from the runs' entries
//! in `RUNS` whose cgroup still exists (a run that crashed leaves an entry
//! whose cgroup is gone, which any later run or `warden doctor` purges).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData};
use aya::programs::{CgroupSockAddr, Lsm, RawTracePoint};
use aya::{Ebpf, EbpfLoader};
use enforcer_common::{CONFIG_INDEX, NodeConfig, RunEntry};

use super::error::{EbpfError, map_err, prog_err};
use super::liveness::{cgroup_id_and_level, cgroup_liveness, owner_alive};
use super::object::OBJECT;
use super::object::{compat_status_offset, inet_attach_type, open_object, with_file_offsets};
use super::{btf, loader};

/// The version of [`OBJECT`](super::object::OBJECT) (a hash computed by `build.rs`): the node's
/// directory name.
pub(crate) const VERSION: &str = env!("WARDEN_EBPF_VERSION");

/// The cgroup sock_addr programs: (program, attach type as aya names it).
pub(crate) const INET_PROGRAMS: [&str; 6] = [
    "connect4", "connect6", "sendmsg4", "sendmsg6", "bind4", "bind6",
];
/// The unix socket programs and their attach types.
pub(crate) const UNIX_PROGRAMS: [(&str, u32); 2] = [
    ("connect_unix", loader::ATTACH_UNIX_CONNECT),
    ("sendmsg_unix", loader::ATTACH_UNIX_SENDMSG),
];
/// The process tracepoints, attached for as long as the node exists.
pub(crate) const PROCESS_TRACEPOINTS: [&str; 3] = [
    "sched_process_exec",
    "sched_process_fork",
    "sched_process_exit",
];
/// The tracepoint that reports refused syscalls and opened files.
pub(crate) const SYS_EXIT: &str = "sys_exit";

/// A program attached only while a run needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shared {
    /// `sys_exit`, for runs that report refused syscalls or opened files.
    SysExit,
    /// The BPF LSM hooks.
    Lsm,
}

impl Shared {
    /// The `RunEntry` flags of runs that need it.
    fn flags(self) -> u32 {
        match self {
            Shared::SysExit => {
                enforcer_common::RUN_REPORT_SYSCALLS | enforcer_common::RUN_REPORT_FILES
            }
            Shared::Lsm => enforcer_common::RUN_LSM,
        }
    }
}

/// The node, opened from its pins.
pub(crate) struct Node {
    dir: PathBuf,
    /// What the programs read (written when the node was made).
    pub(crate) config: NodeConfig,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The node lock: held while the node is made and while shared
/// attachments are counted. Released on drop.
pub(crate) struct NodeLock(File);

impl Drop for NodeLock {
    fn drop(&mut self) {
        // SAFETY: an open descriptor; unlocking cannot fail in a way that
        // matters (closing it releases the lock anyway).
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn lock(dir: &Path) -> Result<NodeLock, EbpfError> {
    let file = File::open(dir).map_err(|source| EbpfError::Io {
        what: "opening for a lock",
        path: dir.into(),
        source,
    })?;
    loop {
        // SAFETY: flock on an open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(NodeLock(file));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(EbpfError::Io {
                what: "locking",
                path: dir.into(),
                source: e,
            });
        }
    }
}

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs with a valid NUL-terminated path and a zeroed buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
}

/// A bpffs already mounted: `/sys/fs/bpf`, or the first in mountinfo.
fn mounted_bpffs() -> Option<PathBuf> {
    let root = PathBuf::from("/sys/fs/bpf");
    if is_bpffs(&root) {
        return Some(root);
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next() != Some("bpf") {
            return None;
        }
        let mount_point = left.split_whitespace().nth(4)?;
        let path = PathBuf::from(crate::cgroup::unescape_octal(mount_point));
        is_bpffs(&path).then_some(path)
    })
}

/// The bpffs mount the node lives on: `/sys/fs/bpf`, mounted there (mode
/// 0700) when no bpffs is.
pub(crate) fn bpffs() -> Result<PathBuf, EbpfError> {
    if let Some(mounted) = mounted_bpffs() {
        return Ok(mounted);
    }
    let root = PathBuf::from("/sys/fs/bpf");
    std::fs::create_dir_all(&root).map_err(|source| EbpfError::Io {
        what: "creating the bpffs mount point",
        path: root.clone(),
        source,
    })?;
    // SAFETY: mount(2) with valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(),
            c"bpf".as_ptr(),
            0,
            c"mode=0700".as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(EbpfError::Io {
            what: "mounting bpffs (needs root)",
            path: root,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(root)
}

fn mkdir(path: &Path) -> Result<(), EbpfError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(EbpfError::Io {
            what: "creating",
            path: path.into(),
            source,
        }),
    }
}

impl Node {
    /// Opens this machine's node, making it first if this is the first run
    /// of this version since boot.
    pub(crate) fn open() -> Result<Node, EbpfError> {
        if OBJECT.is_empty() {
            return Err(EbpfError::ObjectMissing);
        }
        if !crate::launch::is_root() {
            return Err(EbpfError::NeedsRoot(
                "the node's programs are pinned on bpffs, which only root reaches".into(),
            ));
        }
        let root = bpffs()?.join("warden");
        let dir = root.join(VERSION);
        if !dir.is_dir() {
            mkdir(&root)?;
            let _lock = lock(&root)?;
            if !dir.is_dir() {
                create(&root, &dir)?;
                prune_other_versions(&root);
            }
        }
        let node = Node {
            config: NodeConfig::default(),
            dir,
        };
        let config: Array<MapData, NodeConfig> = node.typed_map("CONFIG")?;
        let config = config.get(&CONFIG_INDEX, 0).map_err(map_err("CONFIG"))?;
        Ok(Node { config, ..node })
    }

    /// This machine's node if a run made it this boot (nothing is made or
    /// mounted here): for clean-ups, which have nothing to do without one.
    pub(crate) fn open_existing() -> Result<Option<Node>, EbpfError> {
        if OBJECT.is_empty() || !crate::launch::is_root() {
            return Ok(None);
        }
        match mounted_bpffs() {
            Some(root) if root.join("warden").join(VERSION).is_dir() => Node::open().map(Some),
            _ => Ok(None),
        }
    }

    /// The node's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A map of the node, untyped.
    pub(crate) fn map(&self, name: &'static str) -> Result<MapData, EbpfError> {
        MapData::from_pin(self.dir.join("maps").join(name)).map_err(map_err(name))
    }

    /// A map of the node as aya's typed map `M`.
    pub(crate) fn typed_map<M>(&self, name: &'static str) -> Result<M, EbpfError>
    where
        M: TryFrom<Map, Error = aya::maps::MapError>,
    {
        let data = self.map(name)?;
        let map = Map::from_map_data(data).map_err(map_err(name))?;
        M::try_from(map).map_err(map_err(name))
    }

    /// The pinned program `name`.
    pub(crate) fn program(&self, name: &str) -> Result<OwnedFd, EbpfError> {
        loader::open_pin(&self.dir.join("progs").join(name))
    }

    /// Whether the node loaded the BPF LSM programs (this kernel accepted
    /// them when the node was made), or why not.
    pub(crate) fn lsm(&self) -> Result<(), String> {
        if self
            .dir
            .join("progs")
            .join(format!("lsm-{}", crate::lsm::HOOKS[0]))
            .exists()
        {
            return Ok(());
        }
        let why = MapData::from_pin(self.dir.join("maps").join(LSM_STATUS))
            .ok()
            .and_then(|d| Map::from_map_data(d).ok())
            .and_then(|m| Array::<MapData, [u8; LSM_STATUS_BYTES]>::try_from(m).ok())
            .and_then(|a| a.get(&0, 0).ok())
            .map(|text| {
                let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
                String::from_utf8_lossy(&text[..end]).into_owned()
            })
            .unwrap_or_default();
        Err(if why.is_empty() {
            "the node was made without them".into()
        } else {
            why
        })
    }

    /// Takes the node lock.
    pub(crate) fn lock(&self) -> Result<NodeLock, EbpfError> {
        lock(&self.dir)
    }

    /// Attaches `which` for the machine if it is not already (a pinned
    /// link); call with the run's entry already in `RUNS`, under the lock.
    pub(crate) fn acquire(&self, which: Shared, _lock: &NodeLock) -> Result<(), EbpfError> {
        let links = self.dir.join("links");
        match which {
            Shared::SysExit => {
                let pin = links.join(SYS_EXIT);
                if pin.exists() {
                    return Ok(());
                }
                let mut prog = RawTracePoint::from_pin(self.dir.join("progs").join(SYS_EXIT))
                    .map_err(prog_err(SYS_EXIT))?;
                let id = prog.attach(SYS_EXIT).map_err(prog_err(SYS_EXIT))?;
                let link = prog.take_link(id).map_err(prog_err(SYS_EXIT))?;
                let link: aya::programs::links::FdLink = link.into();
                link.pin(&pin).map_err(|e| EbpfError::Pin {
                    path: pin.clone(),
                    message: e.to_string(),
                })?;
            }
            Shared::Lsm => {
                let btf = btf::kernel_aya()?;
                for hook in crate::lsm::HOOKS {
                    let name = format!("lsm-{hook}");
                    let pin = links.join(&name);
                    if pin.exists() {
                        continue;
                    }
                    let mut prog = Lsm::from_pin(self.dir.join("progs").join(&name))
                        .map_err(prog_err("lsm"))?;
                    let _ = btf;
                    let id = prog.attach().map_err(prog_err("lsm"))?;
                    let link = prog.take_link(id).map_err(prog_err("lsm"))?;
                    let link: aya::programs::links::FdLink = link.into();
                    link.pin(&pin).map_err(|e| EbpfError::Pin {
                        path: pin.clone(),
                        message: e.to_string(),
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Detaches `which` when no run other than `leaving` that needs it is
    /// alive; under the lock, with `leaving`'s entry still in `RUNS` or not.
    pub(crate) fn release(
        &self,
        which: Shared,
        leaving: u64,
        _lock: &NodeLock,
    ) -> Result<(), EbpfError> {
        let runs: BpfHashMap<MapData, u64, RunEntry> = self.typed_map("RUNS")?;
        let alive = cgroup_liveness()?;
        let needed = runs
            .iter()
            .filter_map(Result::ok)
            .any(|(id, entry)| id != leaving && entry.flags & which.flags() != 0 && alive(id));
        if needed {
            return Ok(());
        }
        let links = self.dir.join("links");
        let names: Vec<String> = match which {
            Shared::SysExit => vec![SYS_EXIT.to_owned()],
            Shared::Lsm => crate::lsm::HOOKS
                .iter()
                .map(|h| format!("lsm-{h}"))
                .collect(),
        };
        for name in names {
            let pin = links.join(name);
            match std::fs::remove_file(&pin) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(EbpfError::Io {
                        what: "unpinning",
                        path: pin,
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

impl Node {
    /// Takes out of every map the entries of runs whose cgroup is gone (a
    /// `warden exec` that was killed before it could take its run out);
    /// returns how many runs. Under the lock. A live run is never touched:
    /// a cgroup whose existence cannot be decided counts as alive.
    ///
    /// Stale: the cgroup is gone (a cgroup id is never reused within a
    /// boot, and a run whose cgroup is gone has no process left) and so is
    /// the launcher that owns the entries, which still reads them (its
    /// refusal count) after it removed the cgroup. The owner is recorded
    /// and looked up through `/proc` ([`owner_alive`]), so a
    /// launcher that is PID 1 of a PID namespace without a `/proc` of its
    /// own is known by its pid here. Launchers and cleaners that share a
    /// node must share a `/proc` (a pod's launchers have their own node;
    /// the node agent of `deploy/` has the host's `/proc`): otherwise an
    /// owner's pid names another process or none, and its entries stay too
    /// long or go before a live launcher read its counts.
    pub(crate) fn purge_stale(&self, _lock: &NodeLock) -> Result<usize, EbpfError> {
        use aya::maps::{HashOfMaps, LpmTrie, MapFd};
        use enforcer_common::lsm::{InodeKey, InodeRule, LsmKey, PathRule};
        use enforcer_common::{
            ArgvKey, ArgvValue, ExecKey, ExecRule, NetKeyV4, NetKeyV6, PortRule, RUN_KEY_LEN,
            RunPid, UnixKey,
        };
        let mut runs: BpfHashMap<MapData, u64, RunEntry> = self.typed_map("RUNS")?;
        let alive = cgroup_liveness()?;
        let stale: std::collections::BTreeSet<u64> = runs
            .iter()
            .filter_map(Result::ok)
            .filter(|(id, entry)| !alive(*id) && !owner_alive(entry.owner))
            .map(|(id, _)| id)
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        for id in &stale {
            let _ = runs.remove(id);
        }
        let prefixed = |data: &[u8]| {
            let mut id = [0u8; RUN_KEY_LEN];
            id.copy_from_slice(&data[..RUN_KEY_LEN]);
            stale.contains(&u64::from_be_bytes(id))
        };
        macro_rules! purge_trie {
            ($name:literal, $key:ty, $value:ty) => {{
                let mut m: LpmTrie<MapData, $key, $value> = self.typed_map($name)?;
                let keys: Vec<_> = m
                    .keys()
                    .filter_map(Result::ok)
                    .filter(|k| prefixed(&k.data()))
                    .collect();
                for k in keys {
                    let _ = m.remove(&k);
                }
            }};
        }
        purge_trie!("NET_V4", NetKeyV4, PortRule);
        purge_trie!("NET_V6", NetKeyV6, PortRule);
        purge_trie!("UNIX_PATHS", UnixKey, u32);
        purge_trie!("LSM_PATHS", LsmKey, PathRule);
        macro_rules! purge_hash {
            ($name:literal, $key:ty, $value:ty, |$k:ident, $v:ident| $stale:expr) => {{
                let mut m: BpfHashMap<MapData, $key, $value> = self.typed_map($name)?;
                let keys: Vec<$key> = m
                    .iter()
                    .filter_map(Result::ok)
                    .filter(|($k, $v)| {
                        let _ = (&$k, &$v);
                        $stale
                    })
                    .map(|(k, _)| k)
                    .collect();
                for k in keys {
                    let _ = m.remove(&k);
                }
            }};
        }
        purge_hash!("EXEC_PROGRAMS", ExecKey, ExecRule, |k, v| stale
            .contains(&k.run));
        purge_hash!("EXEC_ARGV", ArgvKey, ArgvValue, |k, v| stale
            .contains(&k.run));
        purge_hash!("LSM_INODES", InodeKey, InodeRule, |k, v| stale
            .contains(&k.run));
        purge_hash!("RUN_PIDS", u32, RunPid, |k, v| stale.contains(&v.run));
        let mut rings: HashOfMaps<MapData, u64, MapFd> = self.typed_map("RUN_RINGS")?;
        for id in &stale {
            let _ = rings.remove(id);
        }
        // Attachments only the purged runs needed.
        for which in [Shared::SysExit, Shared::Lsm] {
            self.release(which, 0, _lock)?;
        }
        Ok(stale.len())
    }
}

/// The node's [`NodeConfig`]: where runs sit and the kernel offsets.
fn node_config(kernel_btf: &btf::Btf) -> Result<NodeConfig, EbpfError> {
    let off = |s: &str, m: &str| kernel_btf.member_offset(s, m);
    let parent = crate::cgroup::run_parent().map_err(|e| EbpfError::Policy(e.to_string()))?;
    let dir = File::open(&parent).map_err(|source| EbpfError::Io {
        what: "opening the runs' cgroup",
        path: parent.clone(),
        source,
    })?;
    let (_, parent_level) = cgroup_id_and_level(&parent, &dir)?;
    let config = NodeConfig {
        run_level: parent_level + 1,
        off_task_pid: off("task_struct", "pid")?,
        off_task_tgid: off("task_struct", "tgid")?,
        off_task_exit_code: off("task_struct", "exit_code")?,
        off_task_real_parent: off("task_struct", "real_parent")?,
        off_task_mm: off("task_struct", "mm")?,
        off_mm_arg_start: off("mm_struct", "arg_start")?,
        off_mm_arg_end: off("mm_struct", "arg_end")?,
        off_binprm_filename: off("linux_binprm", "filename")?,
        off_binprm_file: off("linux_binprm", "file")?,
        off_file_f_inode: off("file", "f_inode")?,
        off_inode_i_ino: off("inode", "i_ino")?,
        off_inode_i_sb: off("inode", "i_sb")?,
        off_sb_s_dev: off("super_block", "s_dev")?,
        off_sock_addr_uaddr: off("bpf_sock_addr_kern", "uaddr")?,
        off_sock_addr_uaddrlen: off("bpf_sock_addr_kern", "uaddrlen")?,
        off_task_ti_status: compat_status_offset(kernel_btf)?,
        off_regs_syscall_nr: ["orig_ax", "syscallno"]
            .iter()
            .find_map(|m| kernel_btf.member_offset("pt_regs", m).ok())
            .unwrap_or(enforcer_common::OFFSET_UNKNOWN),
        ..NodeConfig::default()
    };
    let config = with_file_offsets(kernel_btf, config)?;
    Ok(super::refusal::with_arg_offsets(kernel_btf, config))
}

/// The pin of a map: its name, with the dots of the data sections
/// (`.rodata`) bpffs refuses replaced.
fn pin_name(map: &str) -> String {
    map.replace('.', "_")
}

/// The pin of the node's record of the cgroup its cgroup programs are
/// linked to (the runs' parent, `<cgroup2>/warden`).
const LINKED_CGROUP: &str = "LINKED_CGROUP";

impl Node {
    /// Makes sure the cgroup programs are linked to the runs' parent cgroup,
    /// which covers every run's cgroup below it (one link per program for
    /// the whole machine: a run pays no link of its own, and the kernel's
    /// static keys for these hooks stay on instead of being flipped, with a
    /// text patch on every CPU, at every run). Re-links when the parent was
    /// removed and made again since (its links went with it).
    pub(crate) fn ensure_links(&self) -> Result<(), EbpfError> {
        let parent = crate::cgroup::run_parent().map_err(|e| EbpfError::Policy(e.to_string()))?;
        let dir = File::open(&parent).map_err(|source| EbpfError::Io {
            what: "opening the runs' cgroup",
            path: parent.clone(),
            source,
        })?;
        let (id, _) = cgroup_id_and_level(&parent, &dir)?;
        let links = self.dir.join("links");
        let names = INET_PROGRAMS
            .iter()
            .copied()
            .chain(UNIX_PROGRAMS.iter().map(|(n, _)| *n));
        let linked_to = |node: &Node| -> Option<u64> {
            let map = MapData::from_pin(node.dir.join("maps").join(LINKED_CGROUP)).ok()?;
            let map = Array::<MapData, u64>::try_from(Map::from_map_data(map).ok()?).ok()?;
            map.get(&0, 0).ok()
        };
        let whole = |node: &Node| {
            linked_to(node) == Some(id)
                && names
                    .clone()
                    .all(|n| links.join(format!("cgroup-{n}")).exists())
        };
        if whole(self) {
            return Ok(());
        }
        let _lock = self.lock()?;
        if whole(self) {
            return Ok(());
        }
        for name in INET_PROGRAMS {
            let attach = inet_attach_type(name);
            self.link(&links, name, &dir, attach)?;
        }
        for (name, attach) in UNIX_PROGRAMS {
            self.link(&links, name, &dir, attach)?;
        }
        let mut record: Array<MapData, u64> =
            match MapData::from_pin(self.dir.join("maps").join(LINKED_CGROUP)) {
                Ok(m) => Array::try_from(Map::from_map_data(m).map_err(map_err(LINKED_CGROUP))?)
                    .map_err(map_err(LINKED_CGROUP))?,
                Err(_) => {
                    let def = aya_obj::Map::new_from_params(
                        aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_ARRAY as u32,
                        4,
                        8,
                        1,
                        0,
                    );
                    let data = MapData::create(def, LINKED_CGROUP, None)
                        .map_err(map_err(LINKED_CGROUP))?;
                    let path = self.dir.join("maps").join(LINKED_CGROUP);
                    data.pin(&path).map_err(|e| EbpfError::Pin {
                        path,
                        message: e.to_string(),
                    })?;
                    Array::try_from(Map::Array(data)).map_err(map_err(LINKED_CGROUP))?
                }
            };
        record.set(0, id, 0).map_err(map_err(LINKED_CGROUP))
    }

    fn link(&self, links: &Path, name: &str, cgroup: &File, attach: u32) -> Result<(), EbpfError> {
        let pin = links.join(format!("cgroup-{name}"));
        // A stale link (its cgroup gone) is replaced.
        let _ = std::fs::remove_file(&pin);
        let prog = self.program(name)?;
        let link = loader::link_cgroup(prog.as_fd(), cgroup.as_fd(), attach).map_err(|source| {
            EbpfError::Io {
                what: "linking to the runs' cgroup the program",
                path: PathBuf::from(name),
                source,
            }
        })?;
        loader::pin(link.as_fd(), &pin)
    }
}

/// The pin of the node's record of why the BPF LSM programs did not load.
const LSM_STATUS: &str = "LSM_STATUS";
/// Bytes of that record.
const LSM_STATUS_BYTES: usize = 512;

/// Pins a one-entry array holding why the LSM programs did not load
/// (empty: they did).
fn write_lsm_status(tmp: &Path, why: Option<String>) -> Result<(), EbpfError> {
    let mut status: Array<MapData, [u8; LSM_STATUS_BYTES]> =
        Array::create(1, 0).map_err(map_err(LSM_STATUS))?;
    let mut text = [0u8; LSM_STATUS_BYTES];
    if let Some(why) = why {
        let bytes = why.as_bytes();
        let n = bytes.len().min(LSM_STATUS_BYTES - 1);
        text[..n].copy_from_slice(&bytes[..n]);
    }
    status.set(0, text, 0).map_err(map_err(LSM_STATUS))?;
    let path = tmp.join("maps").join(LSM_STATUS);
    status.pin(&path).map_err(|e| EbpfError::Pin {
        path,
        message: e.to_string(),
    })
}

/// Removes the nodes of other versions (another build of warden ran before
/// this one) that no live run uses: their process tracepoints would cost
/// every exec of the machine a lookup for nothing. A node some live run
/// still uses is kept (its programs hold that run). Under the root lock.
fn prune_other_versions(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let Ok(alive) = cgroup_liveness() else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_str() == Some(VERSION) || !path.is_dir() {
            continue;
        }
        // A node being made is only ever made under this lock: one that is
        // here now was left by a crash.
        if name.to_str().is_some_and(|n| n.starts_with("new-")) {
            remove_pins(&path);
            continue;
        }
        let in_use = MapData::from_pin(path.join("maps").join("RUNS"))
            .ok()
            .and_then(|d| Map::from_map_data(d).ok())
            .and_then(|m| BpfHashMap::<MapData, u64, RunEntry>::try_from(m).ok())
            .is_none_or(|runs| runs.keys().filter_map(Result::ok).any(&alive));
        if !in_use {
            remove_pins(&path);
        }
    }
}

/// Removes a directory of pins (a node being made that failed).
fn remove_pins(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// Makes the node at `dir`: loads and verifies every program, fills the
/// configuration, pins everything in a fresh directory, attaches the
/// process tracepoints, and renames the directory into place. Called with
/// the lock held.
fn create(root: &Path, dir: &Path) -> Result<(), EbpfError> {
    // bpffs refuses names with a dot.
    let tmp = root.join(format!("new-{}", std::process::id()));
    remove_pins(&tmp);
    let made = make(&tmp);
    if let Err(e) = made {
        remove_pins(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir).map_err(|source| {
        remove_pins(&tmp);
        EbpfError::Io {
            what: "putting the node in place at",
            path: dir.into(),
            source,
        }
    })
}

fn make(tmp: &Path) -> Result<(), EbpfError> {
    for sub in ["", "maps", "progs", "links"] {
        mkdir(&tmp.join(sub))?;
    }
    // aya's loader reads and parses the kernel's BTF itself (~12 ms, in
    // `EbpfLoader::new`): on another core while this thread indexes the
    // same BTF for the offsets below.
    let loader = std::thread::spawn(EbpfLoader::new);
    let kernel_btf = btf::kernel()?;
    let config = node_config(kernel_btf)?;
    let (lsm_offsets, lsm_unavailable) = match super::lsm::offsets(kernel_btf) {
        Ok(o) => (o, None),
        Err(e) => (Default::default(), Some(crate::lsm::render(&e))),
    };
    let loader = loader
        .join()
        .map_err(|_| EbpfError::Btf("the eBPF loader's thread panicked".into()))?;
    let mut ebpf = open_object(loader, &lsm_offsets)?;
    {
        let mut map: Array<_, NodeConfig> =
            Array::try_from(ebpf.map_mut("CONFIG").ok_or(EbpfError::Missing("CONFIG"))?)
                .map_err(map_err("CONFIG"))?;
        map.set(CONFIG_INDEX, config, 0)
            .map_err(map_err("CONFIG"))?;
    }
    super::refusal::fill_arg_table(&mut ebpf)?;
    load_inet_programs(&mut ebpf)?;
    for name in PROCESS_TRACEPOINTS.iter().chain([&SYS_EXIT]) {
        let program: &mut RawTracePoint = ebpf
            .program_mut(name)
            .ok_or(EbpfError::Missing(name))?
            .try_into()
            .map_err(prog_err(name))?;
        program.load().map_err(prog_err(name))?;
    }
    // The BPF LSM programs, where this kernel loads them (never assumed);
    // why not is kept with the node, so no run asks the kernel again.
    let lsm_status = match lsm_unavailable {
        Some(why) => Err(why),
        None => super::lsm::load_programs(&mut ebpf).map_err(|e| crate::lsm::render(&e)),
    };
    let lsm = lsm_status.is_ok();
    write_lsm_status(tmp, lsm_status.err())?;

    // Pins: maps first (the unix programs are relocated against them).
    for (name, map) in ebpf.maps() {
        let path = tmp.join("maps").join(pin_name(name));
        map.pin(&path).map_err(|e| EbpfError::Pin {
            path,
            message: e.to_string(),
        })?;
    }
    for (name, attach_type) in UNIX_PROGRAMS {
        let maps: Vec<(String, OwnedFd)> = ebpf
            .maps()
            .map(|(n, _)| {
                loader::open_pin(&tmp.join("maps").join(pin_name(n))).map(|fd| (n.to_owned(), fd))
            })
            .collect::<Result<_, _>>()?;
        let borrowed: Vec<(&str, std::os::fd::BorrowedFd<'_>)> = maps
            .iter()
            .map(|(n, fd)| (n.as_str(), fd.as_fd()))
            .collect();
        let fd = loader::load_program(
            OBJECT,
            name,
            loader::PROG_TYPE_CGROUP_SOCK_ADDR,
            attach_type,
            &borrowed,
        )?;
        loader::pin(fd.as_fd(), &tmp.join("progs").join(name))?;
    }
    for name in INET_PROGRAMS
        .iter()
        .chain(PROCESS_TRACEPOINTS.iter())
        .chain([&SYS_EXIT])
    {
        let program = ebpf.program_mut(name).ok_or(EbpfError::Missing(name))?;
        let path = tmp.join("progs").join(name);
        program.pin(&path).map_err(|e| EbpfError::Pin {
            path,
            message: e.to_string(),
        })?;
    }
    if lsm {
        for hook in crate::lsm::HOOKS {
            let program = ebpf.program_mut(hook).ok_or(EbpfError::Missing(hook))?;
            let path = tmp.join("progs").join(format!("lsm-{hook}"));
            program.pin(&path).map_err(|e| EbpfError::Pin {
                path,
                message: e.to_string(),
            })?;
        }
    }
    // The process tracepoints stay attached for as long as the node exists:
    // they cost nothing but a lookup per exec, fork and exit of the machine.
    for name in PROCESS_TRACEPOINTS {
        let program: &mut RawTracePoint = ebpf
            .program_mut(name)
            .ok_or(EbpfError::Missing(name))?
            .try_into()
            .map_err(prog_err(name))?;
        let id = program.attach(name).map_err(prog_err(name))?;
        let link = program.take_link(id).map_err(prog_err(name))?;
        let link: aya::programs::links::FdLink = link.into();
        let path = tmp.join("links").join(name);
        link.pin(&path).map_err(|e| EbpfError::Pin {
            path,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Loads the cgroup sock_addr programs on two threads: the kernel
/// verifies a program in the thread that loads it (~1-4 ms each here), so
/// on two cores the six take half the wall time.
fn load_inet_programs(ebpf: &mut Ebpf) -> Result<(), EbpfError> {
    let mut programs: Vec<(&'static str, &mut CgroupSockAddr)> = Vec::new();
    let mut by_name: std::collections::HashMap<&str, &mut aya::programs::Program> =
        ebpf.programs_mut().collect();
    for name in INET_PROGRAMS {
        let program = by_name.remove(name).ok_or(EbpfError::Missing(name))?;
        programs.push((name, program.try_into().map_err(prog_err(name))?));
    }
    let load = |batch: &mut [(&'static str, &mut CgroupSockAddr)]| -> Result<(), EbpfError> {
        for (name, program) in batch {
            program.load().map_err(prog_err(name))?;
        }
        Ok(())
    };
    let (first, second) = programs.split_at_mut(INET_PROGRAMS.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| load(first));
        let here = load(second);
        other
            .join()
            .unwrap_or_else(|_| Err(EbpfError::Btf("a program loader thread panicked".into())))
            .and(here)
    })
}
