//! The BPF LSM layer, kernel side: the running kernel's offsets for the
//! programs, loading them into the node, and whether this machine can run
//! the layer at all ([`probe`]). What the layer enforces (the rules compiled
//! from an envelope's file grants) is [`crate::lsm`]; writing a run's rules
//! into the node's maps is [`super::lsm_run`].

use aya::programs::Lsm;
use aya::{Ebpf, EbpfLoader};

use super::btf::{self, Btf as KernelBtf};
use crate::lsm::{HOOKS, LsmError, LsmOffsets, OFFSETS_GLOBAL, aya_err, check_active, render};

/// The offsets the LSM programs read, from the running kernel's BTF.
pub(crate) fn offsets(btf: &KernelBtf) -> Result<LsmOffsets, LsmError> {
    let off = |s: &str, m: &str| btf.member_offset(s, m);
    let d_name = off("dentry", "d_name")?;
    Ok(LsmOffsets {
        file_f_path: off("file", "f_path")?,
        file_f_mode: off("file", "f_mode")?,
        file_f_flags: off("file", "f_flags")?,
        binprm_file: off("linux_binprm", "file")?,
        path_dentry: off("path", "dentry")?,
        dentry_d_parent: off("dentry", "d_parent")?,
        dentry_d_inode: off("dentry", "d_inode")?,
        dentry_d_name_name: d_name + off("qstr", "name")?,
        dentry_d_name_len: d_name + off("qstr", "len")?,
        inode_i_ino: off("inode", "i_ino")?,
        inode_i_sb: off("inode", "i_sb")?,
        sb_s_dev: off("super_block", "s_dev")?,
        socket_type: off("socket", "type")?,
        task_cgroups: off("task_struct", "cgroups")?,
        css_set_dfl_cgrp: off("css_set", "dfl_cgrp")?,
        cgroup_kn: off("cgroup", "kn")?,
        cgroup_self_parent: off("cgroup", "self")? + off("cgroup_subsys_state", "parent")?,
        css_cgroup: off("cgroup_subsys_state", "cgroup")?,
        kernfs_node_id: off("kernfs_node", "id")?,
    })
}

/// Sets the object's read-only offsets before it loads (the loader of the
/// eBPF layers does this for every run).
pub(crate) fn set_offsets<'a>(loader: &mut EbpfLoader<'a>, offsets: &'a LsmOffsets) {
    loader.override_global(OFFSETS_GLOBAL, offsets, true);
}

/// Loads every LSM program of the object (for the node, which pins them;
/// they are attached while a run needs them). Fails where the kernel does
/// not load `lsm` programs.
pub(crate) fn load_programs(ebpf: &mut Ebpf) -> Result<(), LsmError> {
    check_active()?;
    let btf = btf::kernel_aya().map_err(|e| LsmError::Aya {
        what: "read the kernel BTF for loading".into(),
        source: Box::new(e),
    })?;
    for &hook in HOOKS {
        let prog: &mut Lsm = ebpf
            .program_mut(hook)
            .ok_or_else(|| LsmError::Aya {
                what: format!("the eBPF object has no {hook} program"),
                source: "missing program".into(),
            })?
            .try_into()
            .map_err(aya_err(format!("{hook} is not an lsm program")))?;
        prog.load(hook, btf)
            .map_err(aya_err(format!("load lsm/{hook}")))?;
    }
    Ok(())
}

/// Whether this machine can run the layer, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// The programs loaded and attached.
    Available,
    /// Not in use: the reason.
    Unavailable(String),
}

/// Finds out whether the LSM programs load and attach here, by trying: the
/// bpf LSM must be active, the kernel's BTF must have every struct member the
/// programs read, and the kernel must accept the programs (some hypervisors
/// refuse BPF trampolines with EPERM). The last part is asked with a
/// two-instruction `lsm` program on `file_open` that allows everything,
/// loaded and attached with the raw `bpf(2)` syscall, then detached: a few
/// milliseconds, where loading the real programs would cost every
/// `warden exec` a second parse of the kernel's BTF. Attaching the real
/// programs can still fail; the run then lacks a layer its profile
/// requires and does not start.
pub fn probe() -> Support {
    let attempt = || -> Result<(), LsmError> {
        check_active()?;
        let btf = btf::kernel()?;
        offsets(btf).map_err(|e| LsmError::Offsets(render(&e)))?;
        let hook = "bpf_lsm_file_open";
        let id = btf
            .type_id(hook, btf::Kind::Func)
            .ok_or_else(|| LsmError::Offsets(format!("no {hook} in the kernel's BTF")))?;
        let prog = crate::bpf_probe::load(
            crate::bpf_probe::BPF_PROG_TYPE_LSM,
            crate::bpf_probe::BPF_LSM_MAC,
            id,
            0,
        )
        .map_err(aya_err("load lsm/file_open"))?;
        let link =
            crate::bpf_probe::attach_btf_program(&prog).map_err(aya_err("attach lsm/file_open"))?;
        drop((link, prog));
        Ok(())
    };
    match attempt() {
        Ok(()) => Support::Available,
        Err(e) => Support::Unavailable(render(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebpf::{EbpfLayers, Reports, RunRules};
    use crate::lsm::LsmRules;

    #[test]
    fn the_probe_agrees_with_attaching() {
        // Wherever this runs (the host, whose hypervisor refuses lsm
        // programs, or the guest, whose kernel loads them), the probe's
        // answer is what attaching the real programs does.
        let direct = (|| -> Result<(), LsmError> {
            check_active()?;
            let mut layers = EbpfLayers::load(RunRules::default(), Reports::Nothing)?;
            let cgroup = crate::cgroup::RunCgroup::create(
                &format!("lsm-probe-{}", std::process::id()),
                None,
            )
            .map_err(|e| LsmError::Offsets(e.to_string()))?;
            layers.attach(cgroup.path())?;
            layers.attach_lsm(&LsmRules::default())
        })();
        match (probe(), direct) {
            (Support::Available, Ok(())) => {}
            (Support::Unavailable(why), Err(e)) => {
                println!("bpf-lsm not in use: {why} (attaching: {})", render(&e));
                assert!(!why.is_empty());
            }
            (p, d) => panic!("probe says {p:?}, attaching says {d:?}"),
        }
    }
}
