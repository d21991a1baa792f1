//! The eBPF layers as the launcher's [`CgroupLayer`]s: one value per layer
//! the report names (`ebpf-cgroup-sock-addr`, `ebpf-tracepoints`, `bpf-lsm`),
//! all backed by the same [`EbpfLayers`]; whichever the launcher attaches
//! first puts the run into the node (its map entries, its cgroup links). The
//! BPF LSM rules are added with the `bpf-lsm` layer, where the kernel loads
//! the LSM programs; elsewhere that layer is reported missing with the
//! kernel's reason.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use super::error::EbpfError;
use super::layers::{EbpfLayers, Reports};
use super::policy::RunRules;
use super::stream::EventStream;
use crate::error::LayerError;
use crate::launch::CgroupLayer;
use crate::layer::Layer;
use crate::policy::KernelPolicy;

struct Shared {
    layers: EbpfLayers,
    attached: Option<Result<(), String>>,
}

/// One eBPF layer handed to [`crate::Run::with_layer`].
pub struct EbpfCgroupLayer {
    which: Layer,
    shared: Rc<RefCell<Shared>>,
}

/// What [`for_launcher`] returns: the layers for `Run::with_layer` and the
/// run's event stream (move it to a thread that writes `--events FILE`);
/// no stream for [`Reports::Nothing`].
pub struct LauncherLayers {
    /// The `cgroup/connect*`, `sendmsg*` and `bind*` programs' layer
    /// ([`Layer::EbpfCgroupSockAddr`]).
    pub sock_addr: EbpfCgroupLayer,
    /// The `sys_enter` and `sched_process_*` tracepoints' layer
    /// ([`Layer::EbpfTracepoints`]).
    pub tracepoints: EbpfCgroupLayer,
    /// The BPF LSM layer (exact paths, suffix shapes, exec by path, connect
    /// by address, no signal or ptrace outside the run).
    pub bpf_lsm: EbpfCgroupLayer,
    /// The run's events, as `reports` asked; `None` for
    /// [`Reports::Nothing`].
    pub events: Option<EventStream>,
}

/// The eBPF layers for `policy` (its network, exec and unix socket rules,
/// resolved on this machine). With `observe_only`, operations outside the
/// rules are reported, not refused (`warden learn`). The events report
/// refused syscalls ([`Reports::Refusals`]).
pub fn for_launcher(
    policy: &KernelPolicy,
    observe_only: bool,
) -> Result<LauncherLayers, EbpfError> {
    for_launcher_with(policy, observe_only, Reports::Refusals)
}

/// [`for_launcher`], reporting `reports`.
pub fn for_launcher_with(
    policy: &KernelPolicy,
    observe_only: bool,
    reports: Reports,
) -> Result<LauncherLayers, EbpfError> {
    let mut rules = RunRules::from_kernel_policy(policy)?;
    if observe_only {
        rules = rules.observe();
    }
    let mut layers = EbpfLayers::load(rules, reports)?;
    let events = match reports {
        Reports::Nothing => None,
        _ => Some(layers.events()?),
    };
    let shared = Rc::new(RefCell::new(Shared {
        layers,
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
    /// (refusals, lost events, statistics) after the run while the first
    /// handle goes to [`crate::Run::with_layer`]. The run stays in the node
    /// until every handle is dropped.
    pub fn share(&self) -> EbpfCgroupLayer {
        EbpfCgroupLayer {
            which: self.which,
            shared: self.shared.clone(),
        }
    }

    /// The layers (run pids, refusals, lost events, program statistics).
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
        let mut expected = RunRules::from_kernel_policy(policy)
            .map_err(|e| layer_error(self.which, e.to_string()))?;
        if shared.layers.rules().observe_only() {
            expected = expected.observe();
        }
        if &expected != shared.layers.rules() {
            return Err(layer_error(
                self.which,
                "the eBPF rules were made from another policy than this run's".into(),
            ));
        }
        if shared.attached.is_none() {
            let result = shared.layers.attach(cgroup).map_err(|e| e.to_string());
            shared.attached = Some(result);
        }
        if let Some(Err(message)) = &shared.attached {
            return Err(layer_error(self.which, message.clone()));
        }
        let rules = shared.layers.rules();
        let observe = if rules.observe_only() {
            " (observe only: reported, not refused)"
        } else {
            ""
        };
        Ok(match self.which {
            Layer::BpfLsm => {
                let lsm_rules = crate::lsm::LsmRules::for_launch(policy)
                    .map_err(|e| layer_error(self.which, crate::lsm::render(&e)))?;
                shared
                    .layers
                    .attach_lsm(&lsm_rules)
                    .map_err(|e| layer_error(self.which, crate::lsm::render(&e)))?;
                format!(
                    "{} hooks: open/exec/create/remove by resolved path ({} path, {} inode rules), \
                     connect by address, no signal or ptrace outside the run",
                    shared.layers.lsm_hooks().len(),
                    lsm_rules.path_entries(),
                    lsm_rules.inode_entries()
                )
            }
            Layer::EbpfCgroupSockAddr => format!(
                "connect/sendmsg/bind limited to {} rule(s), unix sockets to {} path(s), EPERM otherwise{observe}",
                rules.net.rules.len(),
                rules.unix.paths.len(),
            ),
            _ => {
                let events = match shared.layers.reports() {
                    Reports::Nothing => "no events (refusals counted)",
                    Reports::Processes => "exec/fork/exit events",
                    Reports::Refusals => "exec/fork/exit and refusal events",
                    Reports::Files => "exec/fork/exit, refusal and file open events",
                };
                let programs = if rules.exec.trees {
                    "the programs named by file checked by inode and arguments, the others left to Landlock"
                } else {
                    "only the programs of the envelope, checked by inode and arguments"
                };
                format!(
                    "exec: {programs}, SIGKILL before the first instruction otherwise{observe}; {events}"
                )
            }
        })
    }
}
