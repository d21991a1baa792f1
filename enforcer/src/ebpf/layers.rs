//! The eBPF layers of one run: its rules written into the node's maps, its
//! cgroup attached, its event stream, and all of it taken out again.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use aya::maps::{
    HashMap as BpfHashMap, HashOfMaps, LpmTrie, Map, MapData, MapFd, RingBuf, lpm_trie::Key,
};
use enforcer_common::{
    ARGV_EXACT, ARGV_MAX, ARGV_PREFIX, ArgvKey, ArgvValue, EVENT_RING_BYTES, EXEC_ANY_ARGS,
    EXEC_EXACT_ARGS, EXEC_NEVER, EXEC_PREFIXES, ExecKey, ExecRule, NetKeyV4, NetKeyV6, PortRule,
    RUN_EXEC_TREES, RUN_KEY_LEN, RUN_LSM, RUN_OBSERVE_ONLY, RUN_REPORT_ALLOWED_NET,
    RUN_REPORT_FILES, RUN_REPORT_SYSCALLS, RunEntry, RunPid, UnixKey, argv_hash, run_keyed,
};

use super::error::{EbpfError, map_err};
use super::liveness::{cgroup_id_and_level, owner_pid};
use super::lsm_run;
use super::node;
use super::policy::{self, RunRules};
use super::stats::ProgramStats;
use super::stream::EventStream;

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
    /// ([`Event::File`](super::Event::File)): a path walk per open (`warden learn`,
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
    lsm: Option<lsm_run::Written>,
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
        let written = lsm_run::fill(rules, &self.node, run.id)?;
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
    /// counts them while statistics are on (see [`enable_program_stats`](super::enable_program_stats));
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
