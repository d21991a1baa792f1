//! The eBPF layers as the launcher's [`CgroupLayer`]s: one value per layer
//! the report names (`ebpf-cgroup-sock-addr`, `ebpf-tracepoints`, `bpf-lsm`),
//! all backed by the same loaded [`EbpfLayers`]; whichever the launcher
//! attaches first attaches the cgroup programs to the run's cgroup. The
//! BPF LSM programs attach with the `bpf-lsm` layer, where the kernel loads
//! them; elsewhere that layer is reported missing with the kernel's reason.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use super::{EbpfError, EbpfLayers, EventStream, NetPolicy, SyscallPolicy, TracingKind};
use crate::error::LayerError;
use crate::launch::CgroupLayer;
use crate::layer::Layer;
use crate::policy::KernelPolicy;

struct Shared {
    layers: EbpfLayers,
    net: NetPolicy,
    syscalls: SyscallPolicy,
    attached: Option<Result<(), String>>,
}

/// One eBPF layer handed to [`crate::Run::with_layer`].
pub struct EbpfCgroupLayer {
    which: Layer,
    shared: Rc<RefCell<Shared>>,
}

/// What [`for_launcher`] returns: the layers for `Run::with_layer` and the
/// run's event stream (move it to a thread that writes `--events FILE`).
pub struct LauncherLayers {
    pub sock_addr: EbpfCgroupLayer,
    pub tracepoints: EbpfCgroupLayer,
    /// The BPF LSM layer (exact paths, suffix shapes, exec by path, connect
    /// by address, no signal or ptrace outside the run).
    pub bpf_lsm: EbpfCgroupLayer,
    pub events: EventStream,
}

/// Loads the eBPF layers for `policy` (its network rules and, as a second
/// line behind seccomp, its syscall allowlist). With `observe_only`,
/// network operations outside the rules are reported, not refused
/// (`warden learn`). The events report refused syscalls
/// ([`Reports::Refusals`]).
pub fn for_launcher(
    policy: &KernelPolicy,
    observe_only: bool,
) -> Result<LauncherLayers, EbpfError> {
    for_launcher_with(policy, observe_only, Reports::Refusals)
}

/// What a run's event stream reports besides exec, fork, exit and network
/// verdicts, which it always does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reports {
    /// Nothing per syscall, for a run whose events nobody reads (`warden
    /// exec` without `--events`): no program observes every syscall.
    Processes,
    /// Every syscall of the run refused with EPERM or EACCES.
    Refusals,
    /// The refusals, and every file the run opens or executes
    /// ([`super::Event::File`]): a path walk per open (`warden learn`,
    /// `warden exec --events`).
    Files,
}

/// [`for_launcher`], reporting `reports`.
pub fn for_launcher_with(
    policy: &KernelPolicy,
    observe_only: bool,
    reports: Reports,
) -> Result<LauncherLayers, EbpfError> {
    let report_files = reports == Reports::Files;
    let mut net = NetPolicy::from_kernel_policy(policy);
    net.observe_only = observe_only;
    let syscalls = if observe_only {
        SyscallPolicy::Unrestricted
    } else {
        SyscallPolicy::from_allowlist(&policy.syscalls)?
    };
    let mut layers = EbpfLayers::load_full(
        net.clone(),
        syscalls.clone(),
        super::TracingPreference::default(),
        report_files,
    )?;
    layers.report_files(report_files)?;
    layers.report_refusals(reports != Reports::Processes);
    let events = layers.events()?;
    let shared = Rc::new(RefCell::new(Shared {
        layers,
        net,
        syscalls,
        attached: None,
    }));
    Ok(LauncherLayers {
        sock_addr: EbpfCgroupLayer {
            which: Layer::EbpfCgroupSockAddr,
            shared: shared.clone(),
        },
        tracepoints: EbpfCgroupLayer {
            which: Layer::EbpfTracepoints,
            shared: shared.clone(),
        },
        bpf_lsm: EbpfCgroupLayer {
            which: Layer::BpfLsm,
            shared,
        },
        events,
    })
}

impl EbpfCgroupLayer {
    /// Another handle on the same layer, to keep for reading its state
    /// (lost events, statistics) after the run while the first handle goes
    /// to [`crate::Run::with_layer`]. The programs stay attached until
    /// every handle is dropped.
    pub fn share(&self) -> EbpfCgroupLayer {
        EbpfCgroupLayer {
            which: self.which,
            shared: self.shared.clone(),
        }
    }

    /// The loaded layers (run pids, lost events, program statistics).
    pub fn with_layers<T>(&self, f: impl FnOnce(&EbpfLayers) -> T) -> T {
        f(&self.shared.borrow().layers)
    }
}

fn layer_error(which: Layer, message: String) -> LayerError {
    LayerError::Other {
        layer: which.name().to_owned(),
        message,
    }
}

impl CgroupLayer for EbpfCgroupLayer {
    fn layer(&self) -> Layer {
        self.which
    }

    fn attach(&mut self, cgroup: &Path, policy: &KernelPolicy) -> Result<String, LayerError> {
        let mut shared = self.shared.borrow_mut();
        let shared = &mut *shared;
        // Fail closed: the maps must hold the very policy of this run.
        let mut expected = NetPolicy::from_kernel_policy(policy);
        expected.observe_only = shared.net.observe_only;
        if expected != shared.net {
            return Err(layer_error(
                self.which,
                "the eBPF maps were filled from another policy than this run's".into(),
            ));
        }
        if shared.attached.is_none() {
            let result = shared.layers.attach(cgroup).map_err(|e| e.to_string());
            shared.attached = Some(result);
        }
        if let Some(Err(message)) = &shared.attached {
            return Err(layer_error(self.which, message.clone()));
        }
        Ok(match self.which {
            Layer::BpfLsm => {
                let rules = crate::lsm::LsmRules::for_launch(policy)
                    .map_err(|e| layer_error(self.which, crate::lsm::render(&e)))?;
                shared
                    .layers
                    .attach_lsm(&rules)
                    .map_err(|e| layer_error(self.which, crate::lsm::render(&e)))?;
                format!(
                    "{} hooks: open/exec/create/remove by resolved path ({} path, {} inode rules), \
                     connect by address, no signal or ptrace outside the run",
                    shared.layers.lsm_hooks().len(),
                    rules.path_entries(),
                    rules.inode_entries()
                )
            }
            Layer::EbpfCgroupSockAddr => format!(
                "connect/sendmsg/bind limited to {} rule(s), EPERM otherwise{}",
                shared.net.rules.len(),
                if shared.net.observe_only {
                    " (observe only: reported, not refused)"
                } else {
                    ""
                }
            ),
            _ => {
                let via = match shared.layers.tracing_kind() {
                    TracingKind::TpBtf => "tp_btf",
                    TracingKind::RawTp => "raw_tp",
                };
                let syscalls = match &shared.syscalls {
                    SyscallPolicy::Allow(set) => {
                        format!("{} syscalls allowed, SIGKILL otherwise", set.len())
                    }
                    SyscallPolicy::Unrestricted => "syscalls observed only".to_owned(),
                };
                let refusals = if shared.layers.reports_refusals() {
                    ", refusal"
                } else {
                    ""
                };
                let files = if shared.layers.reports_files() {
                    ", file open"
                } else {
                    ""
                };
                format!("{syscalls}; exec/fork/exit{refusals}{files} events ({via})")
            }
        })
    }
}
