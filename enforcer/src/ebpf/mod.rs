//! The eBPF layers of a run, user side: the node's programs (loaded once per
//! machine, see [`node`]), the run's entries in their maps, its cgroup
//! links, and its event stream.
//!
//! - Network: cgroup sock_addr programs on `connect4/6`, `sendmsg4/6`,
//!   `bind4/6` allow only the CIDR + port + protocol of a [`NetPolicy`];
//!   `connect_unix`/`sendmsg_unix` (kernel 6.7+) only the pathname unix
//!   sockets of a [`UnixPolicy`]; anything else fails with EPERM.
//! - Exec: `sched_process_exec` checks every exec of the run, the program by
//!   the inode the kernel executes and its arguments exactly
//!   ([`ExecPolicy`]); a refused one is killed before its first instruction.
//! - Events: exec, fork, exit and every judged operation on the run's own
//!   ring buffer, for runs whose events someone reads ([`Reports`]); refused
//!   syscalls and opened files too where asked (`sys_exit`, attached only
//!   while such a run lives).
//!
//! ```no_run
//! use enforcer::NetRule;
//! use enforcer::ebpf::{EbpfLayers, NetPolicy, Reports, RunRules};
//! # fn main() -> Result<(), enforcer::ebpf::EbpfError> {
//! let mut rules = RunRules::default();
//! rules.net = NetPolicy::allow([NetRule::tcp_connect("127.0.0.1/32".parse().unwrap(), 8080)]);
//! rules.exec.trees = true; // programs left to Landlock in this example
//! let mut layers = EbpfLayers::load(rules, Reports::Processes)?;
//! let cgroup = enforcer::cgroup::RunCgroup::create("example", None).unwrap();
//! layers.attach(cgroup.path())?;
//! let mut events = layers.events()?;
//! // ... start the command in the cgroup, then:
//! for event in events.drain() {
//!     println!("{}", serde_json::to_string(&event).unwrap());
//! }
//! # Ok(()) }
//! ```

pub(crate) mod btf;
mod event;
mod launcher;
mod loader;
pub(crate) mod node;
mod policy;
mod probe;
mod refusal;
mod stream;

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aya::maps::{
    HashMap as BpfHashMap, HashOfMaps, LpmTrie, Map, MapData, MapFd, RingBuf, lpm_trie::Key,
};
use aya::{Ebpf, EbpfLoader};
use enforcer_common::{
    ARGV_EXACT, ARGV_MAX, ARGV_PREFIX, ArgvKey, ArgvValue, EVENT_RING_BYTES, EXEC_ANY_ARGS,
    EXEC_EXACT_ARGS, EXEC_NEVER, EXEC_PREFIXES, ExecKey, ExecRule, NetKeyV4, NetKeyV6, NodeConfig,
    PortRule, RUN_EXEC_TREES, RUN_KEY_LEN, RUN_LSM, RUN_OBSERVE_ONLY, RUN_REPORT_ALLOWED_NET,
    RUN_REPORT_FILES, RUN_REPORT_SYSCALLS, RunEntry, RunPid, UnixKey, argv_hash, run_keyed,
};

pub use event::{Event, ExecRefusal, FileOp, NetOp, Verdict};
pub use launcher::{EbpfCgroupLayer, LauncherLayers, for_launcher, for_launcher_with};
pub use policy::{
    ExecPolicy, NetPolicy, ProgramRule, RunRules, UnixPolicy, encode_args, kernel_inode,
    script_interpreter,
};
pub use probe::{ProbeResult, probe};
pub use stream::{EventReader, EventSink, EventStream, EventWriter, JsonLines, STREAM_POLL};

/// The bytes of the eBPF object compiled from `enforcer-ebpf/`; empty when the
/// build skipped it (`AYA_BUILD_SKIP=1`).
pub fn object_bytes() -> &'static [u8] {
    node::OBJECT
}

/// Why the eBPF layers could not be set up. Every error leaves nothing
/// attached: the caller decides whether the run may go on without them.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error("the eBPF object was not built (AYA_BUILD_SKIP was set at build time)")]
    ObjectMissing,
    #[error("loading the eBPF object: {0}")]
    Object(#[source] Box<aya::EbpfError>),
    #[error("the eBPF layers need root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON): {0}")]
    NeedsRoot(String),
    #[error("program {program}: {source}{}", hint(source))]
    Program {
        program: &'static str,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    #[error("kernel BTF: {0}")]
    Btf(String),
    #[error("the run's rules: {0}")]
    Policy(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a cgroup v2 directory")]
    NotCgroup2(PathBuf),
    #[error("already attached to a cgroup")]
    AlreadyAttached,
    #[error("not attached to a run's cgroup yet")]
    NotAttached,
    #[error("the event stream was already taken, or the run reports no events")]
    EventsTaken,
    #[error("the eBPF object: {0}")]
    ObjectParse(String),
    #[error("loading {program}: {source}{}", if log.is_empty() { String::new() } else { format!("; the kernel's verifier said:\n{log}") })]
    Load {
        program: String,
        #[source]
        source: std::io::Error,
        log: String,
    },
    #[error("pinning {path}: {message}")]
    Pin { path: PathBuf, message: String },
    #[error(
        "the run's cgroup {path} is {level} levels below the cgroup2 root; this node's runs are at level {expected} (under the runs' cgroup `warden/`)"
    )]
    Level {
        path: PathBuf,
        level: u32,
        expected: u32,
    },
}

fn hint(source: &aya::programs::ProgramError) -> &'static str {
    let errno = match source {
        aya::programs::ProgramError::LoadError { io_error, .. } => io_error.raw_os_error(),
        aya::programs::ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
        _ => None,
    };
    match errno {
        Some(libc::EPERM) => " (loading eBPF programs needs root: CAP_BPF and CAP_SYS_ADMIN)",
        _ => "",
    }
}

/// What a run's event stream reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reports {
    /// No events: the run has no ring buffer (`warden exec` without
    /// `--events`); refusals are only counted ([`EbpfLayers::refusals`]).
    Nothing,
    /// Exec (allowed and killed), fork, exit, and refused network
    /// operations.
    Processes,
    /// Those, every network operation with its verdict, and every syscall of
    /// the run refused with EPERM or EACCES (whichever layer refused it).
    Refusals,
    /// The refusals, and every file the run opens or executes
    /// ([`Event::File`]): a path walk per open (`warden learn`,
    /// `warden exec --events`).
    Files,
}

impl Reports {
    fn flags(self) -> u32 {
        match self {
            Reports::Nothing | Reports::Processes => 0,
            Reports::Refusals => RUN_REPORT_SYSCALLS | RUN_REPORT_ALLOWED_NET,
            Reports::Files => RUN_REPORT_SYSCALLS | RUN_REPORT_ALLOWED_NET | RUN_REPORT_FILES,
        }
    }
}

pub(crate) fn map_err(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> EbpfError {
    move |source| EbpfError::Map {
        map,
        source: Box::new(source),
    }
}

pub(crate) fn prog_err(
    program: &'static str,
) -> impl FnOnce(aya::programs::ProgramError) -> EbpfError {
    move |source| EbpfError::Program {
        program,
        source: Box::new(source),
    }
}

/// What one run wrote into the node's maps, to take out again.
#[derive(Default)]
struct Written {
    net_v4: Vec<Key<NetKeyV4>>,
    net_v6: Vec<Key<NetKeyV6>>,
    unix: Vec<Key<UnixKey>>,
    exec: Vec<ExecKey>,
    argv: Vec<ArgvKey>,
}

impl std::fmt::Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("net", &(self.net_v4.len() + self.net_v6.len()))
            .field("unix", &self.unix.len())
            .field("exec", &self.exec.len())
            .field("argv", &self.argv.len())
            .finish()
    }
}

/// A run attached to its cgroup.
#[derive(Debug)]
struct Attached {
    id: u64,
    cgroup: PathBuf,
    written: Written,
    /// Programs attached for the machine while this run lives.
    shared: Vec<node::Shared>,
    lsm: Option<crate::lsm::Written>,
}

/// The eBPF layers of one run. Dropping it takes the run out of the node
/// (after killing whatever is left in its cgroup: no process of the run
/// outlives its rules).
pub struct EbpfLayers {
    node: node::Node,
    rules: RunRules,
    reports: Reports,
    /// The run's ring, until the stream is taken (the map lives on in
    /// `RUN_RINGS` and in the stream).
    ring: Option<MapData>,
    ring_fd: Option<OwnedFd>,
    run: Option<Attached>,
    lsm_hooks: Vec<&'static str>,
}

impl std::fmt::Debug for EbpfLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfLayers")
            .field("node", &self.node)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl EbpfLayers {
    /// Opens the node (making it on the first run of a boot) and prepares
    /// the run's rules; nothing applies yet: see [`EbpfLayers::attach`].
    pub fn load(rules: RunRules, reports: Reports) -> Result<Self, EbpfError> {
        let node = node::Node::open()?;
        // Refuse what does not fit the maps before anything is written.
        policy::compile_net(&rules.net)?;
        let (ring, ring_fd) = if reports == Reports::Nothing {
            (None, None)
        } else {
            let obj = aya_obj::Map::new_from_params(
                aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32,
                0,
                0,
                EVENT_RING_BYTES,
                0,
            );
            let data = MapData::create(obj, "run_ring", None).map_err(map_err("run ring"))?;
            let fd = data
                .fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| EbpfError::Io {
                    what: "duplicating the run ring's descriptor",
                    path: PathBuf::from("run_ring"),
                    source,
                })?;
            (Some(data), Some(fd))
        };
        Ok(EbpfLayers {
            node,
            rules,
            reports,
            ring,
            ring_fd,
            run: None,
            lsm_hooks: Vec::new(),
        })
    }

    /// The rules the layers enforce.
    pub fn rules(&self) -> &RunRules {
        &self.rules
    }

    /// Applies the rules to the run's cgroup (a cgroup v2 directory under
    /// the runs' cgroup): the run's entries go into the node's maps, the
    /// cgroup programs are linked to the cgroup (not overridable from below),
    /// and last the run's entry in `RUNS`, from which on every exec, fork,
    /// exit and socket call of a process in the cgroup is judged. Call it
    /// before the run's command starts.
    pub fn attach(&mut self, cgroup: &Path) -> Result<(), EbpfError> {
        if self.run.is_some() {
            return Err(EbpfError::AlreadyAttached);
        }
        let dir = File::open(cgroup).map_err(|source| EbpfError::Io {
            what: "opening the run's cgroup",
            path: cgroup.into(),
            source,
        })?;
        let (id, level) = cgroup_id_and_level(cgroup, &dir)?;
        if level != self.node.config.run_level {
            return Err(EbpfError::Level {
                path: cgroup.into(),
                level,
                expected: self.node.config.run_level,
            });
        }
        let mut run = Attached {
            id,
            cgroup: cgroup.to_path_buf(),
            written: Written::default(),
            shared: Vec::new(),
            lsm: None,
        };
        // What runs killed before they could take themselves out left
        // behind: here, once this run's cgroup exists, so that the cgroups
        // of orphaned runs its creation removed are purged too.
        self.node.purge_stale(&self.node.lock()?)?;
        // Whatever fails from here on is undone by `remove`.
        let result = self.write_run(&mut run);
        if let Err(e) = result {
            self.remove(&mut run);
            return Err(e);
        }
        self.run = Some(run);
        Ok(())
    }

    fn run_flags(&self) -> u32 {
        let mut flags = self.reports.flags();
        if self.rules.observe_only() {
            flags |= RUN_OBSERVE_ONLY;
        }
        if self.rules.exec.trees {
            flags |= RUN_EXEC_TREES;
        }
        flags
    }

    fn write_run(&mut self, run: &mut Attached) -> Result<(), EbpfError> {
        let id = run.id;
        let compiled = policy::compile_net(&self.rules.net)?;
        {
            let mut v4: LpmTrie<MapData, NetKeyV4, PortRule> = self.node.typed_map("NET_V4")?;
            for (len, addr, rule) in &compiled.v4 {
                let key = Key::new(8 * RUN_KEY_LEN as u32 + len, run_keyed(id, addr));
                run.written.net_v4.push(key);
                v4.insert(&key, rule, 0).map_err(map_err("NET_V4"))?;
            }
            let mut v6: LpmTrie<MapData, NetKeyV6, PortRule> = self.node.typed_map("NET_V6")?;
            for (len, addr, rule) in &compiled.v6 {
                let key = Key::new(8 * RUN_KEY_LEN as u32 + len, run_keyed(id, addr));
                run.written.net_v6.push(key);
                v6.insert(&key, rule, 0).map_err(map_err("NET_V6"))?;
            }
        }
        {
            let mut unix: LpmTrie<MapData, UnixKey, u32> = self.node.typed_map("UNIX_PATHS")?;
            let ops = enforcer_common::UNIX_CONNECT | enforcer_common::UNIX_SENDMSG;
            for path in &self.rules.unix.paths {
                let mut data: UnixKey = [0; RUN_KEY_LEN + enforcer_common::UNIX_PATH_MAX + 1];
                data[..RUN_KEY_LEN].copy_from_slice(&id.to_be_bytes());
                data[RUN_KEY_LEN..RUN_KEY_LEN + path.len()].copy_from_slice(path);
                let key = Key::new((8 * (RUN_KEY_LEN + path.len())) as u32, data);
                run.written.unix.push(key);
                unix.insert(&key, ops, 0).map_err(map_err("UNIX_PATHS"))?;
            }
        }
        {
            let mut programs: BpfHashMap<MapData, ExecKey, ExecRule> =
                self.node.typed_map("EXEC_PROGRAMS")?;
            let mut argv: BpfHashMap<MapData, ArgvKey, ArgvValue> =
                self.node.typed_map("EXEC_ARGV")?;
            for (&(dev, ino), rule) in &self.rules.exec.programs {
                let key = ExecKey { run: id, dev, ino };
                let mut value = ExecRule::default();
                if rule.never {
                    value.flags |= EXEC_NEVER;
                } else if rule.any_args {
                    value.flags |= EXEC_ANY_ARGS;
                }
                if !rule.exact.is_empty() {
                    value.flags |= EXEC_EXACT_ARGS;
                }
                let lens: BTreeSet<u32> = rule.prefixes.iter().map(|p| p.len() as u32).collect();
                if lens.len() > EXEC_PREFIXES {
                    return Err(EbpfError::Policy(format!(
                        "{} runs more than {EXEC_PREFIXES} granted scripts whose paths differ in length",
                        rule.path.display()
                    )));
                }
                for (slot, len) in value.prefix_lens.iter_mut().zip(&lens) {
                    *slot = *len;
                }
                value.prefix_count = lens.len() as u32;
                let lists = rule
                    .exact
                    .iter()
                    .map(|b| (ARGV_EXACT, b.as_slice()))
                    .chain(rule.prefixes.iter().map(|b| (ARGV_PREFIX, b.as_slice())))
                    .collect::<Vec<_>>();
                for (kind, bytes) in lists {
                    if bytes.len() > ARGV_MAX {
                        return Err(EbpfError::Policy(format!(
                            "the arguments granted to {} are longer than {ARGV_MAX} bytes",
                            rule.path.display()
                        )));
                    }
                    let akey = ArgvKey {
                        run: id,
                        dev,
                        ino,
                        hash: argv_hash(bytes),
                        len: bytes.len() as u32,
                        kind,
                    };
                    let mut value = ArgvValue {
                        len: bytes.len() as u32,
                        _pad: 0,
                        bytes: [0; ARGV_MAX],
                    };
                    value.bytes[..bytes.len()].copy_from_slice(bytes);
                    run.written.argv.push(akey);
                    argv.insert(akey, value, 0).map_err(map_err("EXEC_ARGV"))?;
                }
                run.written.exec.push(key);
                programs
                    .insert(key, value, 0)
                    .map_err(map_err("EXEC_PROGRAMS"))?;
            }
        }
        if let Some(ring) = &self.ring_fd {
            let mut rings: HashOfMaps<MapData, u64, MapFd> = self.node.typed_map("RUN_RINGS")?;
            let ring = ring.try_clone().map_err(|source| EbpfError::Io {
                what: "duplicating the run ring's descriptor",
                path: PathBuf::from("run_ring"),
                source,
            })?;
            let ring = MapData::from_fd(ring).map_err(map_err("run ring"))?;
            rings
                .insert(id, ring.fd(), 0)
                .map_err(map_err("RUN_RINGS"))?;
        }
        // The cgroup programs: linked once to the runs' parent cgroup,
        // which holds this run's cgroup too.
        self.node.ensure_links()?;
        // Last, the run itself: from here on its processes are judged.
        let flags = self.run_flags();
        let mut runs: BpfHashMap<MapData, u64, RunEntry> = self.node.typed_map("RUNS")?;
        runs.insert(
            id,
            RunEntry {
                flags,
                owner: owner_pid(),
                ..RunEntry::default()
            },
            0,
        )
        .map_err(map_err("RUNS"))?;
        if flags & (RUN_REPORT_SYSCALLS | RUN_REPORT_FILES) != 0 {
            let lock = self.node.lock()?;
            run.shared.push(node::Shared::SysExit);
            self.node.acquire(node::Shared::SysExit, &lock)?;
        }
        Ok(())
    }

    /// Loads the BPF LSM rules of the run (the file part of the envelope)
    /// and attaches the LSM hooks for the machine while the run lives. Call
    /// it after [`EbpfLayers::attach`], before the command starts. Fails (and
    /// the caller reports the layer as not in use) where the kernel does not
    /// load `lsm` programs.
    pub fn attach_lsm(&mut self, rules: &crate::lsm::LsmRules) -> Result<(), crate::lsm::LsmError> {
        let Some(run) = self.run.as_mut() else {
            return Err(crate::lsm::LsmError::NotAttached);
        };
        crate::lsm::check_active()?;
        self.node.lsm().map_err(crate::lsm::LsmError::NotLoaded)?;
        let written = rules.fill(&self.node, run.id)?;
        run.lsm = Some(written);
        let mut runs: BpfHashMap<MapData, u64, RunEntry> = self
            .node
            .typed_map("RUNS")
            .map_err(crate::lsm::LsmError::from)?;
        let mut entry = runs
            .get(&run.id, 0)
            .map_err(|e| crate::lsm::LsmError::from(map_err("RUNS")(e)))?;
        entry.flags |= RUN_LSM;
        let lock = self.node.lock()?;
        run.shared.push(node::Shared::Lsm);
        self.node.acquire(node::Shared::Lsm, &lock)?;
        runs.insert(run.id, entry, 0)
            .map_err(|e| crate::lsm::LsmError::from(map_err("RUNS")(e)))?;
        self.lsm_hooks = crate::lsm::HOOKS.to_vec();
        Ok(())
    }

    /// The LSM hooks attached (empty when the layer is not in use).
    pub fn lsm_hooks(&self) -> &[&'static str] {
        &self.lsm_hooks
    }

    /// What the run reports.
    pub fn reports(&self) -> Reports {
        self.reports
    }

    /// The run's event stream. It can be taken once (and not at all for
    /// [`Reports::Nothing`]), and moved to a thread that writes the events
    /// out (`--events FILE`).
    pub fn events(&mut self) -> Result<EventStream, EbpfError> {
        let data = self.ring.take().ok_or(EbpfError::EventsTaken)?;
        let ring = RingBuf::try_from(Map::RingBuf(data)).map_err(map_err("run ring"))?;
        Ok(EventStream { ring })
    }

    fn entry(&self) -> Result<RunEntry, EbpfError> {
        let run = self.run.as_ref().ok_or(EbpfError::NotAttached)?;
        let runs: BpfHashMap<MapData, u64, RunEntry> = self.node.typed_map("RUNS")?;
        runs.get(&run.id, 0).map_err(map_err("RUNS"))
    }

    /// Events lost because the ring buffer was full (a reader too slow).
    pub fn lost_events(&self) -> Result<u64, EbpfError> {
        Ok(self.entry()?.lost_events)
    }

    /// Operations the programs refused (or, observing, would have refused)
    /// so far; counted even when nobody reads the events.
    pub fn refusals(&self) -> Result<u64, EbpfError> {
        Ok(self.entry()?.refusals)
    }

    /// The live processes of the run the programs have seen (exec or fork
    /// inside the run's cgroup), as (pid, parent pid), sorted.
    pub fn run_pids(&self) -> Result<Vec<(u32, u32)>, EbpfError> {
        let run = self.run.as_ref().ok_or(EbpfError::NotAttached)?;
        let pids: BpfHashMap<MapData, u32, RunPid> = self.node.typed_map("RUN_PIDS")?;
        let mut out: Vec<(u32, u32)> = pids
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, p)| p.run == run.id)
            .map(|(pid, p)| (pid, p.ppid))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Run count and total run time of the node's programs, as the kernel
    /// counts them while statistics are on (see [`enable_program_stats`]);
    /// for every run of the machine, not only this one.
    pub fn program_stats(&self) -> Result<Vec<ProgramStats>, EbpfError> {
        let mut out = Vec::new();
        let progs = self.node.dir().join("progs");
        let entries = std::fs::read_dir(&progs).map_err(|source| EbpfError::Io {
            what: "listing",
            path: progs.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let Ok(info) = aya::programs::ProgramInfo::from_pin(entry.path()) else {
                continue;
            };
            out.push(ProgramStats {
                name: entry.file_name().to_string_lossy().into_owned(),
                runs: info.run_count(),
                run_time: info.run_time(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One line for `warden exec` saying what the layers enforce.
    pub fn describe(&self) -> String {
        let lsm = if self.lsm_hooks.is_empty() {
            String::new()
        } else {
            format!("; BPF LSM on {} hooks", self.lsm_hooks.len())
        };
        format!(
            "eBPF: connect/sendmsg/bind limited to {} rule(s), unix sockets to {}; exec of {} program(s) checked by inode and arguments{}{}",
            self.rules.net.rules.len(),
            self.rules.unix.paths.len(),
            self.rules.exec.programs.len(),
            if self.rules.observe_only() {
                " (observe only)"
            } else {
                ""
            },
            lsm
        )
    }

    /// Takes the run out of the node: its processes killed if any are left,
    /// its entries removed, its links closed, shared attachments released.
    fn remove(&self, run: &mut Attached) {
        // Fail closed: nothing of the run may run on without its rules.
        crate::cgroup::kill_all(&run.cgroup);
        if let Ok(mut runs) = self
            .node
            .typed_map::<BpfHashMap<MapData, u64, RunEntry>>("RUNS")
        {
            let _ = runs.remove(&run.id);
        }
        if !run.shared.is_empty()
            && let Ok(lock) = self.node.lock()
        {
            for which in run.shared.drain(..) {
                let _ = self.node.release(which, run.id, &lock);
            }
        }
        if let Ok(mut rings) = self
            .node
            .typed_map::<HashOfMaps<MapData, u64, MapFd>>("RUN_RINGS")
        {
            let _ = rings.remove(&run.id);
        }
        let w = std::mem::take(&mut run.written);
        if let Ok(mut m) = self
            .node
            .typed_map::<LpmTrie<MapData, NetKeyV4, PortRule>>("NET_V4")
        {
            w.net_v4.iter().for_each(|k| drop(m.remove(k)));
        }
        if let Ok(mut m) = self
            .node
            .typed_map::<LpmTrie<MapData, NetKeyV6, PortRule>>("NET_V6")
        {
            w.net_v6.iter().for_each(|k| drop(m.remove(k)));
        }
        if let Ok(mut m) = self
            .node
            .typed_map::<LpmTrie<MapData, UnixKey, u32>>("UNIX_PATHS")
        {
            w.unix.iter().for_each(|k| drop(m.remove(k)));
        }
        if let Ok(mut m) = self
            .node
            .typed_map::<BpfHashMap<MapData, ExecKey, ExecRule>>("EXEC_PROGRAMS")
        {
            w.exec.iter().for_each(|k| drop(m.remove(k)));
        }
        if let Ok(mut m) = self
            .node
            .typed_map::<BpfHashMap<MapData, ArgvKey, ArgvValue>>("EXEC_ARGV")
        {
            w.argv.iter().for_each(|k| drop(m.remove(k)));
        }
        if let Some(lsm) = run.lsm.take() {
            lsm.remove(&self.node);
        }
        if let Ok(mut pids) = self
            .node
            .typed_map::<BpfHashMap<MapData, u32, RunPid>>("RUN_PIDS")
        {
            let mine: Vec<u32> = pids
                .iter()
                .filter_map(Result::ok)
                .filter(|(_, p)| p.run == run.id)
                .map(|(pid, _)| pid)
                .collect();
            mine.iter().for_each(|pid| drop(pids.remove(pid)));
        }
    }
}

impl Drop for EbpfLayers {
    fn drop(&mut self) {
        if let Some(mut run) = self.run.take() {
            self.remove(&mut run);
        }
    }
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

/// Whether this machine's node has the BPF LSM programs (they loaded when
/// the node was made), or why not: a cheap answer for a run start, where
/// [`crate::lsm::probe`] would parse the kernel's BTF and load a program.
pub fn lsm_support() -> Result<(), String> {
    crate::lsm::check_active().map_err(|e| crate::lsm::render(&e))?;
    node::Node::open().map_err(|e| e.to_string())?.lsm()
}

/// Takes out of this machine's node the entries of runs whose cgroup is
/// gone, and detaches what only they needed (`warden doctor --clean`, which
/// the watchdog of a launcher that died runs); nothing when no run made the
/// node this boot. Returns how many runs.
pub fn purge_stale_runs() -> Result<usize, EbpfError> {
    match node::Node::open_existing()? {
        Some(node) => node.purge_stale(&node.lock()?),
        None => Ok(0),
    }
}

/// The runs this machine's node holds entries for, by cgroup id (the inode
/// number of the run's cgroup directory); empty when no run made the node
/// this boot.
pub fn run_ids() -> Result<Vec<u64>, EbpfError> {
    let Some(node) = node::Node::open_existing()? else {
        return Ok(Vec::new());
    };
    let runs: BpfHashMap<MapData, u64, RunEntry> = node.typed_map("RUNS")?;
    Ok(runs.keys().filter_map(Result::ok).collect())
}

/// This process as the `/proc` it sees names it (the first pid of `NSpid`
/// in `/proc/self/status`): a launcher that is PID 1 of a PID namespace
/// without a `/proc` of its own (`unshare --pid --fork`) is recorded by its
/// pid on the host, where the other launchers and `warden doctor` look it
/// up ([`owner_alive`]). Its own pid where the field is missing.
fn owner_pid() -> u32 {
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

/// How often one program ran and for how long in total.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProgramStats {
    pub name: String,
    pub runs: u64,
    pub run_time: Duration,
}

impl ProgramStats {
    /// Mean time per run, in nanoseconds (0 when it never ran).
    pub fn mean_ns(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.run_time.as_nanos() as f64 / self.runs as f64
        }
    }
}

/// Turns on the kernel's run-time statistics of eBPF programs for as long
/// as the returned descriptor lives (`BPF_ENABLE_STATS`; needs root).
pub fn enable_program_stats() -> Result<std::os::fd::OwnedFd, EbpfError> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| EbpfError::Io {
        what: "enabling eBPF run-time statistics",
        path: PathBuf::from("bpf(BPF_ENABLE_STATS)"),
        source: e.io_error,
    })
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
    lsm_offsets: &'a crate::lsm::LsmOffsets,
) -> Result<Ebpf, EbpfError> {
    crate::lsm::set_offsets(&mut loader, lsm_offsets);
    loader.load(node::OBJECT).map_err(|e| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            EbpfError::NeedsRoot(e.to_string())
        } else {
            EbpfError::Object(Box::new(e))
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
