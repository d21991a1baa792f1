//! The eBPF layers as a [`CgroupLayer`] of a run: the policy's net rules and
//! syscall allowlist go into the maps, the programs attach to the run's
//! cgroup, and (with an events file) the run's events are written as JSON
//! lines when the run ends.

use crate::ebpf::{EbpfLayers, NetDir, NetPolicy, NetRule, Proto, SyscallPolicy};
use crate::error::LayerError;
use crate::launch::CgroupLayer;
use crate::layer::Layer;
use crate::policy::{self, KernelPolicy, NetDirection};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The eBPF layers for one run; dropping it writes the events and detaches
/// every program.
#[derive(Debug, Default)]
pub struct EbpfRunLayer {
    loaded: Option<EbpfLayers>,
    events: Option<PathBuf>,
    /// Only observe (report instead of refuse), for `warden learn`.
    pub observe_only: bool,
}

impl EbpfRunLayer {
    /// The eBPF layers, writing the run's events to `events` when given.
    pub fn new(events: Option<PathBuf>) -> Self {
        Self {
            loaded: None,
            events,
            observe_only: false,
        }
    }
}

/// The eBPF form of the policy's net rules.
pub fn net_policy(policy: &KernelPolicy) -> NetPolicy {
    NetPolicy::allow(policy.net.iter().map(|r| NetRule {
        cidr: r.cidr,
        ports: r.ports.first..=r.ports.last,
        proto: match r.proto {
            policy::Proto::Tcp => Proto::Tcp,
            policy::Proto::Udp => Proto::Udp,
        },
        dir: match r.direction {
            NetDirection::Connect => NetDir::Connect,
            NetDirection::Bind => NetDir::Bind,
        },
    }))
}

fn err(e: impl std::fmt::Display) -> LayerError {
    LayerError::Other {
        layer: "ebpf".into(),
        message: e.to_string(),
    }
}

impl CgroupLayer for EbpfRunLayer {
    fn layers(&self) -> Vec<Layer> {
        vec![Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints]
    }

    fn attach(&mut self, cgroup: &Path, policy: &KernelPolicy) -> Result<String, LayerError> {
        let mut net = net_policy(policy);
        net.observe_only = self.observe_only;
        let syscalls = if self.observe_only {
            SyscallPolicy::Unrestricted
        } else {
            SyscallPolicy::allow_numbers(policy.syscalls.numbers()).map_err(err)?
        };
        let mut layers = EbpfLayers::load(net, syscalls).map_err(err)?;
        layers.attach(cgroup).map_err(err)?;
        let detail = layers.describe();
        self.loaded = Some(layers);
        Ok(detail)
    }
}

impl Drop for EbpfRunLayer {
    fn drop(&mut self) {
        let (Some(layers), Some(path)) = (self.loaded.as_mut(), &self.events) else {
            return;
        };
        let Ok(mut stream) = layers.events() else {
            return;
        };
        let Ok(mut file) = std::fs::File::create(path) else {
            eprintln!("warden: cannot write the events to {}", path.display());
            return;
        };
        for event in stream.drain() {
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = writeln!(file, "{line}");
            }
        }
    }
}
