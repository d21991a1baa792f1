//! `doctor`: which enforcement layers this machine supports, and why the
//! others are missing, detected at run time (never assumed from the kernel
//! version).
//!
//! ```no_run
//! for status in enforcer::doctor::Doctor::new().run() {
//!     println!("{}: {} ({})", status.layer, status.supported, status.detail);
//! }
//! ```

use crate::layer::Layer;
use serde::Serialize;
use std::collections::BTreeMap;

/// One layer's support on this machine.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LayerStatus {
    /// The layer probed.
    pub layer: Layer,
    /// Whether the probe found the layer usable here.
    pub supported: bool,

    /// What was found: the version, the path, or why not.
    pub detail: String,
    /// The envelope shapes the layer enforces on this machine (empty when
    /// it is not supported).
    pub shapes: Vec<String>,
}

/// What a probe found: the detail line and the shapes the layer enforces.
pub type Found = (String, Vec<String>);

/// A run-time check for one layer: `Ok(what was found)` or `Err(why not)`.
pub type Probe = Box<dyn Fn() -> Result<Found, String>>;

/// The checks to run, one per layer; the built-in ones can be replaced
/// (the eBPF loader registers probes that load its real programs).
pub struct Doctor {
    probes: BTreeMap<Layer, Probe>,
}

impl Default for Doctor {
    fn default() -> Self {
        Self::new()
    }
}

impl Doctor {
    /// The built-in probes for every layer.
    pub fn new() -> Self {
        let mut probes: BTreeMap<Layer, Probe> = BTreeMap::new();
        probes.insert(Layer::Landlock, Box::new(landlock));
        probes.insert(Layer::Seccomp, Box::new(seccomp));
        probes.insert(Layer::Cgroup, Box::new(cgroup));
        probes.insert(Layer::EbpfCgroupSockAddr, Box::new(ebpf_sock_addr));
        probes.insert(Layer::EbpfTracepoints, Box::new(ebpf_tracepoints));
        probes.insert(Layer::BpfLsm, Box::new(bpf_lsm));
        Self { probes }
    }

    /// Replaces the probe of `layer`.
    pub fn with_probe(mut self, layer: Layer, probe: Probe) -> Self {
        self.probes.insert(layer, probe);
        self
    }

    /// Runs every probe, in the order of [`Layer::ALL`].
    pub fn run(&self) -> Vec<LayerStatus> {
        Layer::ALL
            .into_iter()
            .map(|layer| {
                let result = match self.probes.get(&layer) {
                    Some(probe) => probe(),
                    None => Err("no probe for this layer in this build".into()),
                };
                match result {
                    Ok((detail, shapes)) => LayerStatus {
                        layer,
                        supported: true,
                        detail,
                        shapes,
                    },
                    Err(detail) => LayerStatus {
                        layer,
                        supported: false,
                        detail,
                        shapes: Vec::new(),
                    },
                }
            })
            .collect()
    }
}

fn needs_root() -> Result<(), String> {
    // SAFETY: no arguments, no memory.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err("needs root".into())
    }
}

fn shapes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The kernel's answer for one program kind of [`crate::ebpf::probe`].
fn program_kind(kind: &str) -> Result<String, String> {
    needs_root()?;
    let result = crate::ebpf::probe()
        .into_iter()
        .find(|r| r.kind == kind)
        .ok_or_else(|| format!("{kind}: not probed by this build"))?;
    if result.loads {
        Ok(format!("{kind} programs load"))
    } else {
        Err(format!("{kind}: {}", result.reason))
    }
}

fn ebpf_object() -> Result<(), String> {
    if crate::ebpf::object_bytes().is_empty() {
        Err("the eBPF programs were not built into this enforcer (AYA_BUILD_SKIP)".into())
    } else {
        Ok(())
    }
}

fn ebpf_sock_addr() -> Result<Found, String> {
    let loads = program_kind("cgroup_sock_addr")?;
    ebpf_object()?;
    // The unix socket hooks exist since Linux 6.7: the layer is whole only
    // with them (the root profiles' proof relies on them).
    let unix = program_kind("cgroup_sock_addr_unix")
        .map_err(|e| format!("{loads}, but the unix socket hooks do not: {e}"))?;
    let mount = crate::cgroup::cgroup2_mount().map_err(|e| format!("{loads}, but {e}"))?;
    Ok((
        format!(
            "{loads}, {unix}; linked to run cgroups under {}",
            mount.display()
        ),
        shapes(&[
            "connect and sendmsg by address (CIDR) and port, TCP and UDP",
            "bind by address and port",
            "pathname unix sockets by path: exact or tree (relative or unnormalized paths refused)",
        ]),
    ))
}

fn ebpf_tracepoints() -> Result<Found, String> {
    let how = program_kind("raw_tp")?;
    ebpf_object()?;
    Ok((
        format!(
            "{how}; sched_process_exec/fork/exit attached once per boot, sys_exit only while a run reports events"
        ),
        shapes(&[
            "exec by the executed file's inode: a program outside the envelope is killed before its first instruction",
            "exec arguments exactly (argv[1..], up to 4096 bytes), a `#!` script's through its interpreter",
            "the ELF loader run directly refused",
        ]),
    ))
}

fn bpf_lsm() -> Result<Found, String> {
    let loads = program_kind("lsm")?;
    Ok((
        format!("{loads}; attached while a run whose proven profile is root+bpf-lsm lives"),
        shapes(&[
            "exact files and suffix globs (`/d/*.tmp`, `/d/**/*.log`) after symlink resolution",
            "exec by path before it happens",
            "create and remove by name",
            "connect by address",
        ]),
    ))
}

fn landlock() -> Result<Found, String> {
    match crate::landlock::abi_version() {
        Ok(abi) => {
            let mut what = vec!["files"];
            let mut can = vec![
                "read, write, create, remove, exec per file or directory tree",
                "unix socket bind (make-sock) per directory tree",
            ];
            if abi >= 4 {
                what.push("TCP connect/bind ports");
                can.push("TCP connect and bind by port (any address)");
            }
            if abi >= 6 {
                what.push("signal and abstract unix socket scoping");
                can.push("abstract unix sockets: only the run's own");
            }
            Ok((format!("ABI {abi}: {}", what.join(", ")), shapes(&can)))
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOSYS) => Err("not built into this kernel".into()),
            Some(libc::EOPNOTSUPP) => {
                Err("built in but disabled (boot with lsm=...,landlock)".into())
            }
            _ => Err(e.to_string()),
        },
    }
}

fn seccomp() -> Result<Found, String> {
    // SAFETY: PR_GET_SECCOMP takes no pointer.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode < 0 {
        return Err(format!(
            "not available: {}",
            std::io::Error::last_os_error()
        ));
    }
    let policy = crate::policy::KernelPolicy::new();
    let compiled = crate::seccomp::prepare(&policy).map_err(|e| e.to_string())?;
    // Every run has the metadata supervisor with its seccomp layer.
    let supervisor = crate::supervisor::probe()?;
    Ok((
        format!(
            "filter mode available; the baseline allowlist compiles ({} syscalls); {supervisor}",
            compiled.report.allowed
        ),
        shapes(&[
            "a syscall allowlist (EPERM otherwise; 32-bit syscalls killed)",
            "socket families: no unix socket without a unix rule, UDP only with a UDP rule",
            "metadata changes (mode, owner, times, extended attributes, inode flags) only where the run may write, through the supervisor",
        ]),
    ))
}

fn cgroup() -> Result<Found, String> {
    let mount = crate::cgroup::cgroup2_mount().map_err(|e| e.to_string())?;
    needs_root().map_err(|e| format!("cgroup v2 at {}; {e}", mount.display()))?;
    let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
    let pids = if controllers.split_whitespace().any(|c| c == "pids") {
        "pids controller available (pids.max per run)".to_owned()
    } else {
        crate::cgroup::no_pids_reason(&mount)
    };
    Ok((
        format!("cgroup v2 at {}; {pids}", mount.display()),
        shapes(&["the run's process tree: killed and removed together"]),
    ))
}

/// What [`clean`] removed: what runs whose launcher died left behind.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Cleaned {
    /// Run cgroups whose launcher was gone: killed and removed.
    pub cgroups: Vec<std::path::PathBuf>,
    /// Runs whose entries were taken out of the eBPF maps (their cgroup
    /// gone), with what only they kept attached.
    pub ebpf_runs: usize,
    /// What could not be cleaned, and why.
    pub errors: Vec<String>,
}

impl Cleaned {
    /// Whether anything was removed or failed.
    pub fn is_empty(&self) -> bool {
        self.cgroups.is_empty() && self.ebpf_runs == 0 && self.errors.is_empty()
    }

    /// One line for people (nothing when there was nothing to do).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.cgroups.is_empty() || self.ebpf_runs > 0 {
            out.push_str(&format!(
                "warden: removed what runs whose launcher was gone left: {} cgroup(s), the eBPF entries of {} run(s)\n",
                self.cgroups.len(),
                self.ebpf_runs
            ));
        }
        for e in &self.errors {
            out.push_str(&format!("warden: clean-up: {e}\n"));
        }
        out
    }
}

/// Removes what runs whose launcher died left behind: their cgroups
/// (killed first: [`crate::cgroup::purge_orphans`]), then their entries in
/// the eBPF maps ([`crate::ebpf::purge_stale_runs`]). Root only (a run
/// without root leaves neither); makes nothing that is not there.
pub fn clean() -> Cleaned {
    let mut cleaned = Cleaned::default();
    if !crate::launch::is_root() {
        return cleaned;
    }
    match crate::cgroup::purge_orphans() {
        Ok(removed) => cleaned.cgroups = removed,
        Err(e) => cleaned.errors.push(e.to_string()),
    }
    match crate::ebpf::purge_stale_runs() {
        Ok(n) => cleaned.ebpf_runs = n,
        Err(e) => cleaned.errors.push(e.to_string()),
    }
    cleaned
}

/// Renders statuses as a table for people: one line per layer, then the
/// shapes it enforces here, indented.
pub fn render(statuses: &[LayerStatus]) -> String {
    let width = Layer::ALL.iter().map(|l| l.name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for s in statuses {
        out.push_str(&format!(
            "{:width$}  {:3}  {}\n",
            s.layer.name(),
            if s.supported { "yes" } else { "no" },
            s.detail
        ));
        for shape in &s.shapes {
            out.push_str(&format!("{:width$}       - {shape}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_is_reported_once_in_order() {
        let statuses = Doctor::new().run();
        let layers: Vec<Layer> = statuses.iter().map(|s| s.layer).collect();
        assert_eq!(layers, Layer::ALL);
        assert!(statuses.iter().all(|s| !s.detail.is_empty()));
        // Landlock and seccomp need no privilege and are on every machine
        // Warden supports (this one and CI: Linux 6.18).
        assert!(statuses[0].supported, "{:?}", statuses[0]);
        assert!(statuses[0].detail.starts_with("ABI "));
        assert!(statuses[1].supported, "{:?}", statuses[1]);
        assert!(
            statuses[1].detail.contains("metadata supervisor works"),
            "{:?}",
            statuses[1]
        );
    }

    #[test]
    fn probes_can_be_replaced() {
        let statuses = Doctor::new()
            .with_probe(
                Layer::BpfLsm,
                Box::new(|| Err("refused by the test".into())),
            )
            .run();
        let lsm = statuses.iter().find(|s| s.layer == Layer::BpfLsm).unwrap();
        assert!(!lsm.supported);
        assert_eq!(lsm.detail, "refused by the test");
        let table = render(&statuses);
        assert!(table.contains("bpf-lsm"), "{table}");
        let shapes: usize = statuses.iter().map(|s| s.shapes.len()).sum();
        assert_eq!(table.lines().count(), Layer::ALL.len() + shapes);
        assert!(lsm.shapes.is_empty());
    }
}
