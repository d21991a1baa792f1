//! The eBPF layers of a run, user side: load the programs built from
//! `enforcer-ebpf/`, fill their maps from the envelope, attach them to the
//! run's cgroup and stream their events.
//!
//! - Network layer: cgroup sock_addr programs on `connect4/6`, `sendmsg4/6`,
//!   `bind4/6` allow only the CIDR + port + protocol of a [`NetPolicy`]; any
//!   other operation fails with EPERM in the caller.
//! - Syscall and process layer: `tp_btf` programs (or `raw_tp` where the
//!   kernel lacks `tp_btf`) on `sys_enter` and the `sched_process_*`
//!   tracepoints, scoped to the run's cgroup: a syscall outside the
//!   [`SyscallPolicy`] kills the process (a second line behind seccomp,
//!   armed at the run's first exec), and exec, fork, exit and every judged
//!   network operation become [`Event`]s on a ring buffer.
//!
//! ```no_run
//! use enforcer::NetRule;
//! use enforcer::ebpf::{EbpfLayers, NetPolicy, SyscallPolicy};
//! # fn main() -> Result<(), enforcer::ebpf::EbpfError> {
//! let net = NetPolicy::allow([NetRule::tcp_connect("127.0.0.1/32".parse().unwrap(), 8080)]);
//! let mut layers = EbpfLayers::load(net, SyscallPolicy::Unrestricted)?;
//! layers.attach(std::path::Path::new("/sys/fs/cgroup/warden/run-1"))?;
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
mod policy;
mod probe;
mod refusal;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aya::maps::{Array, HashMap as BpfHashMap, LpmTrie, MapData, RingBuf, lpm_trie::Key};
use aya::programs::{BtfTracePoint, CgroupAttachMode, CgroupSockAddr, RawTracePoint};
use aya::{Ebpf, EbpfLoader};
use enforcer_common::{CONFIG_INDEX, PortRule, RunConfig, STATE_ARMED, STATE_LOST_EVENTS};

pub use event::{Event, FileOp, NetOp, Verdict};
pub use launcher::{EbpfCgroupLayer, LauncherLayers, for_launcher, for_launcher_with};
pub use policy::{NetPolicy, SyscallPolicy};
pub use probe::{ProbeResult, probe};

/// The eBPF object built by `build.rs` (aya-build), aligned for parsing.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/enforcer-ebpf"));

/// The bytes of the eBPF object compiled from `enforcer-ebpf/`; empty when the
/// build skipped it (`AYA_BUILD_SKIP=1`).
pub fn object_bytes() -> &'static [u8] {
    OBJECT
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
    NeedsRoot(#[source] Box<aya::EbpfError>),
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
    #[error("network or syscall policy: {0}")]
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
    #[error("the event stream was already taken")]
    EventsTaken,
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

/// How the syscall and process programs are attached on this kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TracingKind {
    /// BTF-typed raw tracepoints.
    TpBtf,
    /// Raw tracepoints (kernels without `tp_btf`).
    RawTp,
}

/// Which kind of tracepoint program to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TracingPreference {
    /// `raw_tp`: loads without the kernel's BTF (parsing it costs ~12 ms
    /// of start-up) and runs the same programs at the same cost.
    #[default]
    RawTp,
    /// `tp_btf` where the kernel loads it, else `raw_tp`.
    TpBtf,
}

/// What a run's event stream reports besides exec, fork, exit and refused
/// network operations, which it always does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reports {
    /// Nothing per syscall, for a run whose events nobody reads (`warden
    /// exec` without `--events`): no program observes every syscall, and
    /// an allowed connect, sendmsg or bind is not recorded.
    Processes,
    /// Every syscall of the run refused with EPERM or EACCES, and every
    /// network operation with its verdict.
    Refusals,
    /// The refusals, and every file the run opens or executes
    /// ([`Event::File`]): a path walk per open (`warden learn`,
    /// `warden exec --events`).
    Files,
}

/// Program names in the object: cgroup sock_addr programs.
const SOCK_ADDR_PROGRAMS: [&str; 6] = [
    "connect4", "connect6", "sendmsg4", "sendmsg6", "bind4", "bind6",
];
/// A tracepoint of the syscall and process programs: its `tp_btf` program
/// and that program's `raw_tp` twin, and where the tracepoint has them, the
/// twins that also report files (a path walk each; they cost the kernel
/// verifier ~45 ms each at load, so only runs that report files load them).
struct Tracepoint {
    name: &'static str,
    /// Runs on every syscall of the machine to observe (not enforce): left
    /// unattached when nothing reads what it reports.
    observes_syscalls: bool,
    tp_btf: &'static str,
    raw_tp: &'static str,
    files: Option<(&'static str, &'static str)>,
}

impl Tracepoint {
    /// The (`tp_btf`, `raw_tp`) programs for a run that reports files or not.
    fn programs(&self, files: bool) -> (&'static str, &'static str) {
        match self.files {
            Some(with_files) if files => with_files,
            _ => (self.tp_btf, self.raw_tp),
        }
    }
}

const TRACEPOINTS: [Tracepoint; 5] = [
    Tracepoint {
        name: "sys_enter",
        observes_syscalls: false,
        tp_btf: "sys_enter",
        raw_tp: "raw_sys_enter",
        files: None,
    },
    Tracepoint {
        name: "sys_exit",
        observes_syscalls: true,
        tp_btf: "sys_exit",
        raw_tp: "raw_sys_exit",
        files: Some(("sys_exit_files", "raw_sys_exit_files")),
    },
    Tracepoint {
        name: "sched_process_exec",
        observes_syscalls: false,
        tp_btf: "sched_process_exec",
        raw_tp: "raw_sched_process_exec",
        files: Some(("sched_process_exec_files", "raw_sched_process_exec_files")),
    },
    Tracepoint {
        name: "sched_process_fork",
        observes_syscalls: false,
        tp_btf: "sched_process_fork",
        raw_tp: "raw_sched_process_fork",
        files: None,
    },
    Tracepoint {
        name: "sched_process_exit",
        observes_syscalls: false,
        tp_btf: "sched_process_exit",
        raw_tp: "raw_sched_process_exit",
        files: None,
    },
];

/// The loaded eBPF layers of one run. Dropping it detaches every program.
pub struct EbpfLayers {
    ebpf: Ebpf,
    tracing: TracingKind,
    config: RunConfig,
    cgroup: Option<PathBuf>,
    net_rules: usize,
    syscalls: Option<usize>,
    /// Why the BPF LSM programs cannot load here (offsets missing from the
    /// kernel's BTF), found at load time.
    lsm_unavailable: Option<String>,
    /// The LSM hooks attached by [`EbpfLayers::attach_lsm`].
    lsm_hooks: Vec<&'static str>,
    /// Why opened files cannot be reported here (offsets missing from the
    /// kernel's BTF).
    files_unavailable: Option<String>,
    /// What the loaded programs can report: [`Reports::Files`] loaded the
    /// programs that report files, [`Reports::Processes`] no `sys_exit`.
    reports: Reports,
}

impl std::fmt::Debug for EbpfLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfLayers")
            .field("tracing", &self.tracing)
            .field("cgroup", &self.cgroup)
            .field("net_rules", &self.net_rules)
            .field("syscalls", &self.syscalls)
            .finish_non_exhaustive()
    }
}

fn map_err(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> EbpfError {
    move |source| EbpfError::Map {
        map,
        source: Box::new(source),
    }
}

fn prog_err(program: &'static str) -> impl FnOnce(aya::programs::ProgramError) -> EbpfError {
    move |source| EbpfError::Program {
        program,
        source: Box::new(source),
    }
}

impl EbpfLayers {
    /// Loads every program into the kernel and fills the maps with `net` and
    /// `syscalls`. Nothing is attached yet: see [`EbpfLayers::attach`].
    pub fn load(net: NetPolicy, syscalls: SyscallPolicy) -> Result<Self, EbpfError> {
        Self::load_with(net, syscalls, TracingPreference::default())
    }

    /// [`EbpfLayers::load`], choosing how the tracepoint programs attach.
    pub fn load_with(
        net: NetPolicy,
        syscalls: SyscallPolicy,
        tracing: TracingPreference,
    ) -> Result<Self, EbpfError> {
        Self::load_full(net, syscalls, tracing, Reports::Refusals)
    }

    /// [`EbpfLayers::load_with`], loading the programs that `reports`
    /// needs: with [`Reports::Files`] the ones that can report opened and
    /// executed files (see [`EbpfLayers::report_files`]), at a higher
    /// verification cost; with [`Reports::Processes`] no `sys_exit`
    /// program at all.
    pub fn load_full(
        net: NetPolicy,
        syscalls: SyscallPolicy,
        tracing: TracingPreference,
        reports: Reports,
    ) -> Result<Self, EbpfError> {
        if OBJECT.is_empty() {
            return Err(EbpfError::ObjectMissing);
        }
        let files = reports == Reports::Files;
        let refusals = reports != Reports::Processes;
        // aya's loader reads and parses the kernel's BTF itself (~12 ms, in
        // `EbpfLoader::new`): on another core while this thread indexes the
        // same BTF for the offsets below.
        let loader = std::thread::spawn(EbpfLoader::new);
        let compiled = policy::compile_net(&net)?;
        let kernel_btf = btf::kernel()?;
        let mut config = RunConfig {
            report_allowed_net: u32::from(refusals),
            cgroup_id: 0,
            cgroup_level: 0,
            observe_only: u32::from(net.observe_only),
            syscalls_enforced: u32::from(matches!(syscalls, SyscallPolicy::Allow(_))),
            off_task_pid: kernel_btf.member_offset("task_struct", "pid")?,
            off_task_tgid: kernel_btf.member_offset("task_struct", "tgid")?,
            off_task_exit_code: kernel_btf.member_offset("task_struct", "exit_code")?,
            off_task_real_parent: kernel_btf.member_offset("task_struct", "real_parent")?,
            off_binprm_filename: kernel_btf.member_offset("linux_binprm", "filename")?,
            off_task_ti_status: compat_status_offset(kernel_btf)?,
            off_regs_syscall_nr: ["orig_ax", "syscallno"]
                .iter()
                .find_map(|m| kernel_btf.member_offset("pt_regs", m).ok())
                .unwrap_or(enforcer_common::OFFSET_UNKNOWN),
            ..RunConfig::default()
        };
        let files_unavailable = match with_file_offsets(kernel_btf, config) {
            Ok(with_files) => {
                config = with_files;
                None
            }
            Err(e) => Some(e.to_string()),
        };
        // Refusal events: where the syscall arguments are (see `refusal`).
        config = refusal::with_arg_offsets(kernel_btf, config);

        // The BPF LSM programs read kernel structs at offsets from the
        // running kernel's BTF, passed as read-only globals at load time.
        let (lsm_offsets, lsm_unavailable) = match crate::lsm::offsets(kernel_btf) {
            Ok(o) => (o, None),
            Err(e) => (Default::default(), Some(crate::lsm::render(&e))),
        };
        let loader = loader
            .join()
            .map_err(|_| EbpfError::Btf("the eBPF loader's thread panicked".into()))?;
        let mut ebpf = open_object(loader, &lsm_offsets)?;
        load_sock_addr_programs(&mut ebpf)?;
        let tracing = load_tracing(&mut ebpf, tracing, files, refusals)?;

        {
            let mut v4: LpmTrie<_, [u8; 4], PortRule> =
                LpmTrie::try_from(ebpf.map_mut("NET_V4").ok_or(EbpfError::Missing("NET_V4"))?)
                    .map_err(map_err("NET_V4"))?;
            for (len, addr, rule) in &compiled.v4 {
                v4.insert(&Key::new(*len, *addr), rule, 0)
                    .map_err(map_err("NET_V4"))?;
            }
        }
        {
            let mut v6: LpmTrie<_, [u8; 16], PortRule> =
                LpmTrie::try_from(ebpf.map_mut("NET_V6").ok_or(EbpfError::Missing("NET_V6"))?)
                    .map_err(map_err("NET_V6"))?;
            for (len, addr, rule) in &compiled.v6 {
                v6.insert(&Key::new(*len, *addr), rule, 0)
                    .map_err(map_err("NET_V6"))?;
            }
        }
        let syscall_count = match &syscalls {
            SyscallPolicy::Unrestricted => None,
            SyscallPolicy::Allow(set) => {
                let mut allow: Array<_, u8> = Array::try_from(
                    ebpf.map_mut("SYSCALLS")
                        .ok_or(EbpfError::Missing("SYSCALLS"))?,
                )
                .map_err(map_err("SYSCALLS"))?;
                for nr in set {
                    allow.set(*nr, 1, 0).map_err(map_err("SYSCALLS"))?;
                }
                Some(set.len())
            }
        };
        // Refusal events: which argument of each syscall names what.
        refusal::fill_arg_table(&mut ebpf)?;

        let mut layers = EbpfLayers {
            ebpf,
            tracing,
            config,
            cgroup: None,
            net_rules: net.rules.len(),
            syscalls: syscall_count,
            lsm_unavailable,
            lsm_hooks: Vec::new(),
            files_unavailable,
            reports,
        };
        layers.write_config()?;
        Ok(layers)
    }

    fn write_config(&mut self) -> Result<(), EbpfError> {
        let mut config: Array<_, RunConfig> = Array::try_from(
            self.ebpf
                .map_mut("CONFIG")
                .ok_or(EbpfError::Missing("CONFIG"))?,
        )
        .map_err(map_err("CONFIG"))?;
        config
            .set(CONFIG_INDEX, self.config, 0)
            .map_err(map_err("CONFIG"))
    }

    /// Attaches every program to the run's cgroup (a cgroup v2 directory):
    /// the network programs to the cgroup itself (not overridable from
    /// below), the tracepoint programs globally, scoped to the cgroup and its
    /// descendants by id. Call it before the run's command starts.
    pub fn attach(&mut self, cgroup: &Path) -> Result<(), EbpfError> {
        if self.cgroup.is_some() {
            return Err(EbpfError::AlreadyAttached);
        }
        let dir = File::open(cgroup).map_err(|source| EbpfError::Io {
            what: "opening the run's cgroup",
            path: cgroup.into(),
            source,
        })?;
        let (id, level) = cgroup_id_and_level(cgroup, &dir)?;
        self.config.cgroup_id = id;
        self.config.cgroup_level = level;
        self.write_config()?;

        for tp in &TRACEPOINTS {
            let tracepoint = tp.name;
            if tp.observes_syscalls && !self.reports_refusals() {
                continue;
            }
            let (tp_btf, raw) = tp.programs(self.reports == Reports::Files);
            match self.tracing {
                TracingKind::TpBtf => {
                    let program: &mut BtfTracePoint = self
                        .ebpf
                        .program_mut(tp_btf)
                        .ok_or(EbpfError::Missing(tp_btf))?
                        .try_into()
                        .map_err(prog_err(tp_btf))?;
                    program.attach().map_err(prog_err(tp_btf))?;
                }
                TracingKind::RawTp => {
                    let program: &mut RawTracePoint = self
                        .ebpf
                        .program_mut(raw)
                        .ok_or(EbpfError::Missing(raw))?
                        .try_into()
                        .map_err(prog_err(raw))?;
                    program.attach(tracepoint).map_err(prog_err(raw))?;
                }
            }
        }
        for name in SOCK_ADDR_PROGRAMS {
            let program: &mut CgroupSockAddr = self
                .ebpf
                .program_mut(name)
                .ok_or(EbpfError::Missing(name))?
                .try_into()
                .map_err(prog_err(name))?;
            program
                .attach(dir.as_fd(), CgroupAttachMode::Single)
                .map_err(prog_err(name))?;
        }
        self.cgroup = Some(cgroup.to_path_buf());
        Ok(())
    }

    /// Loads and attaches the BPF LSM programs with the file part of the
    /// envelope (`rules`); the network part is the same `NET_V4`/`NET_V6`
    /// envelope as the cgroup programs', the run the same `CONFIG`. Call it
    /// after [`EbpfLayers::attach`], before the command starts. Fails (and
    /// the caller reports the layer as not in use) where the kernel does not
    /// load `lsm` programs.
    pub fn attach_lsm(&mut self, rules: &crate::lsm::LsmRules) -> Result<(), crate::lsm::LsmError> {
        if let Some(why) = &self.lsm_unavailable {
            return Err(crate::lsm::LsmError::Offsets(why.clone()));
        }
        self.lsm_hooks = crate::lsm::attach_programs(&mut self.ebpf, rules)?;
        Ok(())
    }

    /// Reports every successful open of the run and the file each exec
    /// runs, with resolved paths ([`Event::File`]), or stops reporting them.
    /// Costs a path walk per open of the run: on for `warden learn` and
    /// `warden exec --events`, off otherwise.
    pub fn report_files(&mut self, on: bool) -> Result<(), EbpfError> {
        if on && let Some(why) = &self.files_unavailable {
            return Err(EbpfError::Btf(format!("cannot report opened files: {why}")));
        }
        if on && self.reports != Reports::Files {
            return Err(EbpfError::Policy(
                "files can be reported only by layers loaded with `files` (EbpfLayers::load_full)"
                    .into(),
            ));
        }
        self.config.report_files = u32::from(on);
        self.write_config()
    }

    /// Whether refused syscalls are reported.
    pub fn reports_refusals(&self) -> bool {
        self.reports != Reports::Processes
    }

    /// Whether opened and executed files are reported.
    pub fn reports_files(&self) -> bool {
        self.config.report_files != 0
    }

    /// The LSM hooks attached (empty when the layer is not in use).
    pub fn lsm_hooks(&self) -> &[&'static str] {
        &self.lsm_hooks
    }

    /// The run's event stream. It can be taken once, and moved to a thread
    /// that writes the events out (`--events FILE`).
    pub fn events(&mut self) -> Result<EventStream, EbpfError> {
        let map = self.ebpf.take_map("EVENTS").ok_or(EbpfError::EventsTaken)?;
        let ring = RingBuf::try_from(map).map_err(map_err("EVENTS"))?;
        Ok(EventStream { ring })
    }

    /// How the syscall and process programs are attached here.
    pub fn tracing_kind(&self) -> TracingKind {
        self.tracing
    }

    /// Events lost because the ring buffer was full (a reader too slow).
    pub fn lost_events(&self) -> Result<u64, EbpfError> {
        self.state(STATE_LOST_EVENTS)
    }

    /// Whether the run's first exec has happened (the syscall allowlist
    /// applies from then on).
    pub fn armed(&self) -> Result<bool, EbpfError> {
        Ok(self.state(STATE_ARMED)? != 0)
    }

    fn state(&self, index: u32) -> Result<u64, EbpfError> {
        let state: Array<_, u64> =
            Array::try_from(self.ebpf.map("STATE").ok_or(EbpfError::Missing("STATE"))?)
                .map_err(map_err("STATE"))?;
        state.get(&index, 0).map_err(map_err("STATE"))
    }

    /// The live processes of the run the programs have seen (exec or fork
    /// inside the run's cgroup), as (pid, parent pid), sorted.
    pub fn run_pids(&self) -> Result<Vec<(u32, u32)>, EbpfError> {
        let pids: BpfHashMap<_, u32, u32> = BpfHashMap::try_from(
            self.ebpf
                .map("RUN_PIDS")
                .ok_or(EbpfError::Missing("RUN_PIDS"))?,
        )
        .map_err(map_err("RUN_PIDS"))?;
        let mut out = pids
            .iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err("RUN_PIDS"))?;
        out.sort_unstable();
        Ok(out)
    }

    /// Run count and total run time of each attached program, as the kernel
    /// counts them while statistics are on (see [`enable_program_stats`]).
    pub fn program_stats(&self) -> Result<Vec<ProgramStats>, EbpfError> {
        let mut out = Vec::new();
        for (name, program) in self.ebpf.programs() {
            let Ok(info) = program.info() else { continue };
            out.push(ProgramStats {
                name: name.to_owned(),
                runs: info.run_count(),
                run_time: info.run_time(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One line for `warden exec` saying what the layers enforce.
    pub fn describe(&self) -> String {
        let tracing = match self.tracing {
            TracingKind::TpBtf => "tp_btf",
            TracingKind::RawTp => "raw_tp",
        };
        let syscalls = match self.syscalls {
            Some(n) => format!("{n} syscalls allowed (SIGKILL otherwise)"),
            None => "syscalls observed only".to_owned(),
        };
        let lsm = if self.lsm_hooks.is_empty() {
            String::new()
        } else {
            format!("; BPF LSM on {} hooks", self.lsm_hooks.len())
        };
        format!(
            "eBPF: connect/sendmsg/bind limited to {} rule(s){}; {syscalls}; process events via {tracing}{lsm}",
            self.net_rules,
            if self.config.observe_only != 0 {
                " (observe only)"
            } else {
                ""
            }
        )
    }
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
fn with_file_offsets(kernel_btf: &btf::Btf, config: RunConfig) -> Result<RunConfig, EbpfError> {
    let off = |s: &str, m: &str| kernel_btf.member_offset(s, m);
    let nr = |name: &str| {
        crate::policy::number_of(name)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX)
    };
    let f_path = off("file", "f_path")?;
    Ok(RunConfig {
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
fn compat_status_offset(kernel_btf: &btf::Btf) -> Result<u32, EbpfError> {
    Ok(kernel_btf.member_offset("task_struct", "thread_info")?
        + kernel_btf.member_offset("thread_info", "status")?)
}

/// Other architectures: no `TS_COMPAT` check (seccomp's architecture check
/// is the only guard against compat syscalls there).
#[cfg(not(target_arch = "x86_64"))]
fn compat_status_offset(_: &btf::Btf) -> Result<u32, EbpfError> {
    Ok(enforcer_common::OFFSET_UNKNOWN)
}

/// Opens the eBPF object: its maps created and its read-only globals (the
/// LSM programs' kernel offsets) set; no program is loaded yet.
fn open_object<'a>(
    mut loader: EbpfLoader<'a>,
    lsm_offsets: &'a crate::lsm::LsmOffsets,
) -> Result<Ebpf, EbpfError> {
    crate::lsm::set_offsets(&mut loader, lsm_offsets);
    loader.load(OBJECT).map_err(|e| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            EbpfError::NeedsRoot(Box::new(e))
        } else {
            EbpfError::Object(Box::new(e))
        }
    })
}

/// Loads the cgroup sock_addr programs on two threads: the kernel
/// verifies a program in the thread that loads it (~1-4 ms each here), so
/// on two cores the six take half the wall time.
fn load_sock_addr_programs(ebpf: &mut Ebpf) -> Result<(), EbpfError> {
    let mut programs: Vec<(&'static str, &mut CgroupSockAddr)> = Vec::new();
    let mut by_name: std::collections::HashMap<&str, &mut aya::programs::Program> =
        ebpf.programs_mut().collect();
    for name in SOCK_ADDR_PROGRAMS {
        let program = by_name.remove(name).ok_or(EbpfError::Missing(name))?;
        programs.push((name, program.try_into().map_err(prog_err(name))?));
    }
    let load = |batch: &mut [(&'static str, &mut CgroupSockAddr)]| -> Result<(), EbpfError> {
        for (name, program) in batch {
            program.load().map_err(prog_err(name))?;
        }
        Ok(())
    };
    // Each half of the list has IPv4 and IPv6 programs (the IPv6 ones cost
    // the verifier most).
    let (first, second) = programs.split_at_mut(SOCK_ADDR_PROGRAMS.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| load(first));
        let here = load(second);
        other
            .join()
            .unwrap_or_else(|_| Err(EbpfError::Btf("a program loader thread panicked".into())))
            .and(here)
    })
}

/// Loads the tracepoint programs: `raw_tp` ones, or with
/// [`TracingPreference::TpBtf`] the `tp_btf` ones where the kernel loads
/// them (their twins otherwise).
fn load_tracing(
    ebpf: &mut Ebpf,
    pref: TracingPreference,
    files: bool,
    observe_syscalls: bool,
) -> Result<TracingKind, EbpfError> {
    let wanted = |tp: &&Tracepoint| observe_syscalls || !tp.observes_syscalls;
    if pref == TracingPreference::TpBtf
        && let Ok(btf) = btf::kernel_aya()
    {
        let mut loaded = true;
        for tp in TRACEPOINTS.iter().filter(wanted) {
            let (name, _) = tp.programs(files);
            let program: &mut BtfTracePoint = ebpf
                .program_mut(name)
                .ok_or(EbpfError::Missing(name))?
                .try_into()
                .map_err(prog_err(name))?;
            if program.load(tp.name, btf).is_err() {
                loaded = false;
                break;
            }
        }
        if loaded {
            return Ok(TracingKind::TpBtf);
        }
    }
    for tp in TRACEPOINTS.iter().filter(wanted) {
        let (_, raw) = tp.programs(files);
        let program: &mut RawTracePoint = ebpf
            .program_mut(raw)
            .ok_or(EbpfError::Missing(raw))?
            .try_into()
            .map_err(prog_err(raw))?;
        program.load().map_err(prog_err(raw))?;
    }
    Ok(TracingKind::RawTp)
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
fn cgroup_id_and_level(path: &Path, dir: &File) -> Result<(u64, u32), EbpfError> {
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

/// How long the event writer waits for the ring before it looks again:
/// routine events (allowed opens and connects) do not wake it, so they reach
/// the file within this time; refusals wake it at once.
pub const STREAM_POLL: Duration = Duration::from_millis(100);

/// The run's events, read from the ring buffer.
pub struct EventStream {
    ring: RingBuf<MapData>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next event already in the ring, if any (does not block).
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            let item = self.ring.next()?;
            if let Some(event) = event::decode(&item) {
                return Some(event);
            }
        }
    }

    /// Every event already in the ring (does not block).
    pub fn drain(&mut self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.try_next())
    }

    /// Waits up to `timeout` for the next event.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.try_next() {
                return Some(event);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut fd = libc::pollfd {
                fd: self.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut fd, 1, ms) };
            if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return None;
            }
        }
    }
}

/// Where a run's events go while it runs ([`EventStream::read_into`]).
pub trait EventSink: Send + 'static {
    /// Takes one event.
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
    /// Called after each batch of events: make them durable.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes events as JSON lines (`--events FILE`), flushed after each batch.
pub struct JsonLines<W: std::io::Write>(std::io::BufWriter<W>);

impl<W: std::io::Write> JsonLines<W> {
    /// JSON lines to `out`.
    pub fn new(out: W) -> Self {
        Self(std::io::BufWriter::new(out))
    }
}

impl<W: std::io::Write + Send + 'static> EventSink for JsonLines<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, event).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut self.0, b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.0)
    }
}

/// Both sinks get every event.
impl<A: EventSink, B: EventSink> EventSink for (A, B) {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.event(event)?;
        self.1.event(event)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// A sink that may be absent.
impl<A: EventSink> EventSink for Option<A> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match self {
            Some(s) => s.event(event),
            None => Ok(()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Some(s) => s.flush(),
            None => Ok(()),
        }
    }
}

impl EventStream {
    /// Gives every event to `sink` on a thread of its own while the run
    /// runs, flushing after each batch, until [`EventReader::finish`]. A
    /// refusal wakes the thread at once; routine events reach the sink
    /// within [`STREAM_POLL`].
    pub fn read_into<S: EventSink>(mut self, mut sink: S) -> EventReader<S> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut written = 0u64;
            loop {
                // Read the flag before draining, so nothing submitted before
                // `finish` is left behind.
                let stopping = flag.load(std::sync::atomic::Ordering::Acquire);
                let before = written;
                // Once stopping, take what is in the ring without waiting.
                if !stopping && let Some(event) = self.next_timeout(STREAM_POLL) {
                    sink.event(&event)?;
                    written += 1;
                }
                for event in self.drain() {
                    sink.event(&event)?;
                    written += 1;
                }
                // Streamed, not kept until the end: what was read from the
                // ring is handed on (for a file: written to the kernel)
                // before the next poll, so a crash of the command, or of this
                // process, loses nothing already observed.
                if written != before || stopping {
                    sink.flush()?;
                }
                if stopping {
                    return Ok((written, sink));
                }
            }
        });
        EventReader { stop, thread }
    }

    /// Writes every event as one JSON line to `out` ([`EventStream::read_into`]
    /// with [`JsonLines`]; `warden exec --events FILE`).
    pub fn write_json_lines(self, out: impl std::io::Write + Send + 'static) -> EventWriter {
        EventWriter(self.read_into(JsonLines::new(
            Box::new(out) as Box<dyn std::io::Write + Send>
        )))
    }
}

/// A thread handing a run's events to a sink.
pub struct EventReader<S> {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<std::io::Result<(u64, S)>>,
}

impl<S> EventReader<S> {
    /// Hands on what is still in the ring, stops, and returns how many
    /// events were read, and the sink.
    pub fn finish(self) -> Result<(u64, S), EbpfError> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let io = |source| EbpfError::Io {
            what: "handing on the events",
            path: PathBuf::from("--events"),
            source,
        };
        match self.thread.join() {
            Ok(result) => result.map_err(io),
            Err(_) => Err(io(std::io::Error::other("the event reader panicked"))),
        }
    }
}

/// A thread writing a run's events as JSON lines.
pub struct EventWriter(EventReader<JsonLines<Box<dyn std::io::Write + Send>>>);

impl<S> std::fmt::Debug for EventReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").finish_non_exhaustive()
    }
}

impl EventWriter {
    /// Writes what is still in the ring, stops, and returns how many events
    /// were written.
    pub fn finish(self) -> Result<u64, EbpfError> {
        self.0.finish().map(|(n, _)| n)
    }
}

impl Iterator for EventStream {
    type Item = Event;

    /// Blocks until the next event arrives.
    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.next_timeout(Duration::from_secs(3600)) {
                return Some(event);
            }
        }
    }
}
