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
mod error;
mod event;
mod launcher;
mod layers;
mod liveness;
mod loader;
pub mod lsm;
mod lsm_run;
pub(crate) mod node;
mod object;
pub(crate) mod policy;
mod probe;
mod refusal;
mod runs;
mod stats;
mod stream;

pub use error::EbpfError;
pub use event::{Disposition, Event, ExecRefusal, FileOp, NetOp};
pub use launcher::{EbpfCgroupLayer, LauncherLayers, for_launcher, for_launcher_with};
pub use layers::{EbpfLayers, Reports};
pub use object::object_bytes;
pub use policy::{
    ExecPolicy, NetPolicy, ProgramRule, RunRules, UnixPolicy, encode_args, kernel_inode,
    script_interpreter,
};
pub use probe::{ProbeResult, probe};
pub use runs::{lsm_support, purge_stale_runs, run_ids};
pub use stats::{ProgramStats, enable_program_stats};
pub use stream::{EventReader, EventSink, EventStream, EventWriter, JsonLines, STREAM_POLL};
