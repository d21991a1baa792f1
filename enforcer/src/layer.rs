//! The enforcement layers by name, and sets of them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One enforcement layer (docs/operator/layers.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Layer {
    /// Landlock: files, exec, TCP ports, scoping of signals and abstract
    /// unix sockets.
    #[serde(rename = "landlock")]
    Landlock,
    /// The seccomp syscall allowlist.
    #[serde(rename = "seccomp")]
    Seccomp,
    /// A cgroup v2 per run: descendants stay together and die together.
    #[serde(rename = "cgroup")]
    Cgroup,
    /// eBPF `cgroup/connect*`, `sendmsg*`, `bind*` on the run's cgroup.
    #[serde(rename = "ebpf-cgroup-sock-addr")]
    EbpfCgroupSockAddr,
    /// eBPF `sys_enter` and `sched_process_*` tracepoints.
    #[serde(rename = "ebpf-tracepoints")]
    EbpfTracepoints,
    /// eBPF LSM programs.
    #[serde(rename = "bpf-lsm")]
    BpfLsm,
}

impl Layer {
    /// Every layer, in the order they are reported.
    pub const ALL: [Layer; 6] = [
        Layer::Landlock,
        Layer::Seccomp,
        Layer::Cgroup,
        Layer::EbpfCgroupSockAddr,
        Layer::EbpfTracepoints,
        Layer::BpfLsm,
    ];

    /// The name used on the command line (`--require bpf-lsm`) and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Landlock => "landlock",
            Layer::Seccomp => "seccomp",
            Layer::Cgroup => "cgroup",
            Layer::EbpfCgroupSockAddr => "ebpf-cgroup-sock-addr",
            Layer::EbpfTracepoints => "ebpf-tracepoints",
            Layer::BpfLsm => "bpf-lsm",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A layer name that is not one of [`Layer::ALL`]; it holds the name as
/// given.

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown layer `{0}` (known: landlock, seccomp, cgroup, ebpf-cgroup-sock-addr, ebpf-tracepoints, bpf-lsm)"
)]
pub struct UnknownLayer(pub String);

impl FromStr for Layer {
    type Err = UnknownLayer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLayer(s.to_owned()))
    }
}

/// A set of layers.
pub type LayerSet = BTreeSet<Layer>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in Layer::ALL {
            assert_eq!(l.name().parse::<Layer>().unwrap(), l);
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.name())
            );
        }
        assert!("apparmor".parse::<Layer>().is_err());
    }
}
