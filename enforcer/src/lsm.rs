//! The BPF LSM layer, user side: compile the file part of an envelope into
//! the maps of the LSM programs (`enforcer-ebpf/src/lsm.rs`), give them the
//! running kernel's struct offsets, load and attach them, and say whether
//! this kernel supports the layer at all.
//!
//! The layer is the most precise one: exact files and suffix patterns such as
//! `/tmp/out/*.tmp` after symlink resolution, exec by path, connect by
//! address, refused with EACCES/EPERM before they happen. Kernels (and
//! hypervisors) that refuse BPF trampoline programs cannot run it; [`probe`]
//! finds that out at run time by trying.
//!
//! ```no_run
//! use enforcer::lsm::{FileGrant, LsmRules, ACCESS_READ, ACCESS_WRITE};
//! let rules = LsmRules::compile(&[
//!     FileGrant::new("/repo/**", ACCESS_READ),
//!     FileGrant::new("/tmp/out/*.tmp", ACCESS_WRITE),
//! ])?;
//! assert!(rules.path_entries() > 0);
//! # Ok::<(), enforcer::lsm::LsmError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aya::maps::HashMap as BpfHashMap;
use aya::maps::MapData;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::programs::Lsm;
use aya::{Ebpf, EbpfLoader};

pub use enforcer_common::lsm::{
    ACCESS_CREATE, ACCESS_EXEC, ACCESS_READ, ACCESS_REMOVE, ACCESS_WRITE, InodeKey, InodeRule,
    LSM_NAME_MAX, LSM_NAME_RULES, LSM_PATH_MAX, LsmKey, LsmOffsets, NAME_EXACT, NAME_SUFFIX,
    NAME_SUFFIX_TREE, NameRule, PathRule,
};

use crate::ebpf::EbpfError;
use crate::ebpf::btf::Btf as KernelBtf;
use crate::policy::{FileAccess, FileScope, KernelPolicy};
use enforcer_common::RUN_KEY_LEN;

/// The LSM hooks of the layer, as named in the object and in the kernel.
pub const HOOKS: &[&str] = &[
    "file_open",
    "bprm_check_security",
    "socket_connect",
    "path_mknod",
    "path_mkdir",
    "path_symlink",
    "path_link",
    "path_unlink",
    "path_rmdir",
    "path_rename",
    "task_kill",
    "ptrace_access_check",
    "ptrace_traceme",
];

/// The global variable of the object holding [`LsmOffsets`].
pub const OFFSETS_GLOBAL: &str = "LSM_OFFSETS";

/// Why the layer cannot be compiled, loaded or attached.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    /// A file pattern this layer cannot express exactly.
    #[error("the BPF LSM layer cannot express {pattern:?}: {why}")]
    Unsupported {
        /// The pattern.
        pattern: String,
        /// Which part is the problem.
        why: &'static str,
    },
    /// More name rules on one directory than the programs carry.
    #[error("more than {max} suffix or name patterns in {dir}", max = LSM_NAME_RULES)]
    TooManyNames {
        /// The directory.
        dir: String,
    },
    /// The kernel's BTF lacks a struct member the programs read, or the
    /// shared eBPF object could not be loaded.
    #[error(transparent)]
    Ebpf(#[from] EbpfError),
    /// The kernel's BTF lacks a struct member the programs read.
    #[error("the kernel's BTF lacks what the LSM programs read: {0}")]
    Offsets(String),
    /// The kernel does not list `bpf` among its active LSMs.
    #[error("the kernel's active LSMs ({0}) do not include bpf: boot with lsm=...,bpf")]
    NotActive(String),
    /// The run is not attached to its cgroup yet.
    #[error("the eBPF layers are not attached to the run's cgroup yet")]
    NotAttached,
    /// The node has no LSM programs: this kernel did not load them.
    #[error("the BPF LSM programs are not loaded on this machine: {0}")]
    NotLoaded(String),
    /// Loading the object, a program, or a map failed.
    #[error("{what}: {source}")]
    Aya {
        /// What was being done.
        what: String,
        /// The error from aya.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn aya_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> LsmError {
    move |e| LsmError::Aya {
        what: what.into(),
        source: Box::new(e),
    }
}

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

/// One file grant of an envelope: a path pattern and the `ACCESS_*` bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// An absolute path or glob (`/a/b`, `/a/b/**`, `/a/b/*.tmp`, `/a/b/**/*.tmp`).
    pub pattern: String,
    /// `ACCESS_*` bits.
    pub access: u32,
}

impl FileGrant {
    /// A grant.
    pub fn new(pattern: impl Into<String>, access: u32) -> FileGrant {
        FileGrant {
            pattern: pattern.into(),
            access,
        }
    }

    /// The grants of a [`KernelPolicy`]'s files and programs (a program may
    /// be executed and read, as the policy says). A rule that widens an
    /// envelope shape for Landlock (`/tmp/out/*.tmp` as the tree
    /// `/tmp/out/`, [`crate::policy::FileRule::exact`]) is given in its exact
    /// form when this layer expresses it, so the layer enforces it as the
    /// envelope says (and as the `root+bpf-lsm` profile proved it).
    pub fn from_policy(policy: &KernelPolicy) -> Vec<FileGrant> {
        let mut out = Vec::with_capacity(policy.files.len() + policy.exec.len());
        for rule in &policy.files {
            if let Some(exact) = rule
                .exact
                .as_deref()
                .filter(|e| warden_core::shape::lsm_expresses(e))
            {
                out.push(FileGrant::new(exact, access_bits(rule.access)));
                continue;
            }
            let path = rule.path.display().to_string();
            let pattern = match rule.scope {
                FileScope::File => path,
                FileScope::Tree if path.ends_with('/') => format!("{path}**"),
                FileScope::Tree => format!("{path}/**"),
            };
            out.push(FileGrant::new(pattern, access_bits(rule.access)));
        }
        for program in &policy.exec {
            out.push(FileGrant::new(
                program.display().to_string(),
                ACCESS_EXEC | ACCESS_READ,
            ));
        }
        out
    }
}

/// The `ACCESS_*` bits of a policy's [`FileAccess`] (the same five rights).
fn access_bits(access: FileAccess) -> u32 {
    [
        (FileAccess::READ, ACCESS_READ),
        (FileAccess::WRITE, ACCESS_WRITE),
        (FileAccess::CREATE, ACCESS_CREATE),
        (FileAccess::REMOVE, ACCESS_REMOVE),
        (FileAccess::EXEC, ACCESS_EXEC),
    ]
    .iter()
    .filter(|(a, _)| access.contains(*a))
    .fold(0, |bits, (_, b)| bits | b)
}

/// The shape of a pattern that the layer enforces exactly: written once,
/// in the core, for this compiler and for the proof of the enforced
/// envelope alike.
pub use warden_core::shape::LsmShape as Shape;

// The core's bound on suffixes is this layer's.
const _: () = assert!(LSM_NAME_MAX == warden_core::shape::LSM_SUFFIX_MAX);

/// Classifies a pattern ([`warden_core::shape::lsm_shape`]), or says why
/// the layer cannot express it exactly (the proven-envelope step then
/// widens it or refuses the run).
pub fn shape(pattern: &str) -> Result<Shape, LsmError> {
    warden_core::shape::lsm_shape(pattern).map_err(|why| LsmError::Unsupported {
        pattern: pattern.to_string(),
        why,
    })
}

/// Resolves symlinks in the longest existing prefix of `path` (the kernel
/// sees resolved paths), keeping the components that do not exist yet.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for m in missing.iter().rev() {
                out.push(m);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The kernel's encoding of a device number (`MKDEV`: major << 20 | minor).
pub(crate) fn kernel_dev(st_dev: u64) -> u64 {
    let major = ((st_dev >> 8) & 0xfff) | ((st_dev >> 32) & !0xfff);
    let minor = (st_dev & 0xff) | ((st_dev >> 12) & !0xff);
    (major << 20) | minor
}

/// The inode of `path` as a key of `LSM_INODES` (the run is set when the
/// rules are written for a run).
fn inode_of(path: &Path) -> Option<InodeKey> {
    let (dev, ino) = crate::ebpf::kernel_inode(path).ok()?;
    Some(InodeKey { run: 0, dev, ino })
}

#[derive(Debug, Clone, Default)]
struct Entry {
    access: u32,
    names: Vec<NameRule>,
}

fn push_name(names: &mut Vec<NameRule>, rule: NameRule, dir: &str) -> Result<(), LsmError> {
    if let Some(same) = names
        .iter_mut()
        .find(|r| r.kind == rule.kind && r.len == rule.len && r.name == rule.name)
    {
        same.access |= rule.access;
        return Ok(());
    }
    if names.len() >= LSM_NAME_RULES {
        return Err(LsmError::TooManyNames {
            dir: dir.to_string(),
        });
    }
    names.push(rule);
    Ok(())
}

fn names_array(names: &[NameRule]) -> [NameRule; LSM_NAME_RULES] {
    let mut out = [NameRule::EMPTY; LSM_NAME_RULES];
    for (slot, rule) in out.iter_mut().zip(names) {
        *slot = *rule;
    }
    out
}

fn name_rule(name: &str, kind: u8, access: u32, pattern: &str) -> Result<NameRule, LsmError> {
    NameRule::new(name.as_bytes(), kind, access).ok_or_else(|| LsmError::Unsupported {
        pattern: pattern.to_string(),
        why: "a name the programs cannot carry",
    })
}

type InodeEntries = BTreeMap<InodeKey, (InodeRule, Vec<NameRule>)>;

fn dir_key(d: &Path) -> Vec<u8> {
    let mut k = d.as_os_str().as_encoded_bytes().to_vec();
    if k.last() != Some(&b'/') {
        k.push(b'/');
    }
    k
}

fn file_key(f: &Path) -> Vec<u8> {
    let mut k = f.as_os_str().as_encoded_bytes().to_vec();
    k.push(0);
    k
}

fn too_long(pattern: &str) -> LsmError {
    LsmError::Unsupported {
        pattern: pattern.to_string(),
        why: "a path longer than 255 bytes",
    }
}

/// A suffix grant: a name rule on the directory's trie entry and inode.
fn add_suffix(
    paths: &mut BTreeMap<Vec<u8>, Entry>,
    inodes: &mut InodeEntries,
    dir: &Path,
    suffix: &str,
    kind: u8,
    grant: &FileGrant,
) -> Result<(), LsmError> {
    let d = resolve(dir);
    let dk = dir_key(&d);
    if dk.len() > LSM_PATH_MAX {
        return Err(too_long(&grant.pattern));
    }
    let rule = name_rule(suffix, kind, grant.access, &grant.pattern)?;
    push_name(
        &mut paths.entry(dk).or_default().names,
        rule,
        &grant.pattern,
    )?;
    if let Some(k) = inode_of(&d) {
        push_name(&mut inodes.entry(k).or_default().1, rule, &grant.pattern)?;
    }
    Ok(())
}

/// The compiled file envelope: the entries of `LSM_PATHS` and `LSM_INODES`.
#[derive(Debug, Clone, Default)]
pub struct LsmRules {
    /// Trie entries: key bytes (a directory ends with `/`, a file with NUL).
    paths: BTreeMap<Vec<u8>, Entry>,
    /// Inode entries for the directory hooks.
    inodes: BTreeMap<InodeKey, InodeRule>,
}

impl LsmRules {
    /// Compiles file grants. Paths are resolved (symlinks) as they are now;
    /// inode rules exist only for directories and files that exist now.
    pub fn compile(grants: &[FileGrant]) -> Result<LsmRules, LsmError> {
        let mut paths: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
        let mut inodes: InodeEntries = BTreeMap::new();
        for g in grants {
            let a = g.access;
            match shape(&g.pattern)? {
                Shape::Exact(p) => {
                    let p = resolve(Path::new(&p));
                    let key = file_key(&p);
                    if key.len() > LSM_PATH_MAX {
                        return Err(too_long(&g.pattern));
                    }
                    paths.entry(key).or_default().access |= a;
                    if let Some(k) = inode_of(&p) {
                        inodes.entry(k).or_default().0.itself |= a;
                    }
                    // By name in its directory: create and remove by name.
                    if let (Some(parent), Some(name)) = (p.parent(), p.file_name())
                        && let Some(k) = inode_of(parent)
                    {
                        let name = name.to_string_lossy();
                        if name.len() <= LSM_NAME_MAX {
                            let rule = name_rule(&name, NAME_EXACT, a, &g.pattern)?;
                            push_name(&mut inodes.entry(k).or_default().1, rule, &g.pattern)?;
                        }
                    }
                }
                Shape::Tree(d) => {
                    let d = resolve(Path::new(&d));
                    let (dk, fk) = (dir_key(&d), file_key(&d));
                    if dk.len() > LSM_PATH_MAX {
                        return Err(too_long(&g.pattern));
                    }
                    paths.entry(dk).or_default().access |= a;
                    if fk.len() <= LSM_PATH_MAX && d != Path::new("/") {
                        paths.entry(fk).or_default().access |= a;
                    }
                    if let Some(k) = inode_of(&d) {
                        let e = &mut inodes.entry(k).or_default().0;
                        e.itself |= a;
                        e.tree |= a;
                    }
                }
                Shape::Suffix(d, s) => {
                    add_suffix(&mut paths, &mut inodes, Path::new(&d), &s, NAME_SUFFIX, g)?;
                }
                Shape::TreeSuffix(d, s) => {
                    add_suffix(
                        &mut paths,
                        &mut inodes,
                        Path::new(&d),
                        &s,
                        NAME_SUFFIX_TREE,
                        g,
                    )?;
                }
            }
        }

        // Merge into every entry what the shorter entries containing it grant:
        // tree access, and the name rules that reach it.
        let snapshot = paths.clone();
        for (key, entry) in paths.iter_mut() {
            for (dk, d) in snapshot.range(..key.clone()) {
                if dk.last() != Some(&b'/') || !key.starts_with(dk) || dk == key {
                    continue;
                }
                entry.access |= d.access;
                let rest = &key[dk.len()..];
                if key.last() == Some(&0) {
                    // A file: evaluate the directory's name rules on it now.
                    let rest = &rest[..rest.len() - 1];
                    for r in &d.names {
                        if r.matches(rest) {
                            entry.access |= r.access;
                        }
                    }
                } else {
                    // A directory below: only tree suffixes reach its contents.
                    for r in d.names.iter().filter(|r| r.kind == NAME_SUFFIX_TREE) {
                        push_name(&mut entry.names, *r, &String::from_utf8_lossy(key))?;
                    }
                }
            }
        }
        let inodes = inodes
            .into_iter()
            .map(|(k, (mut rule, names))| {
                rule.names = names_array(&names);
                (k, rule)
            })
            .collect();
        Ok(LsmRules { paths, inodes })
    }

    /// The rules of a run launched under `policy`: its files and programs,
    /// and read access to each program's ELF interpreter, which the kernel
    /// opens to start it (running the interpreter directly stays refused).
    pub fn for_launch(policy: &KernelPolicy) -> Result<LsmRules, LsmError> {
        let mut grants = FileGrant::from_policy(policy);
        for program in &policy.exec {
            if let Some(interp) = crate::landlock::elf_interpreter(program) {
                grants.push(FileGrant::new(interp.display().to_string(), ACCESS_READ));
            }
        }
        LsmRules::compile(&grants)
    }

    /// Entries of `LSM_PATHS`.
    pub fn path_entries(&self) -> usize {
        self.paths.len()
    }

    /// Entries of `LSM_INODES`.
    pub fn inode_entries(&self) -> usize {
        self.inodes.len()
    }

    /// What the compiled envelope grants on `path` (already resolved), the
    /// way the `file_open` and `bprm_check_security` programs decide: the
    /// longest matching entry, then its name rules. The reference the
    /// kernel side is tested against.
    pub fn path_access(&self, path: &str) -> u32 {
        let mut bytes = path.as_bytes().to_vec();
        bytes.push(0);
        let key_len = bytes.len().min(LSM_PATH_MAX);
        let Some((key, entry)) = self
            .paths
            .iter()
            .filter(|(k, _)| k.len() <= key_len && bytes[..key_len].starts_with(k))
            .max_by_key(|(k, _)| k.len())
        else {
            return 0;
        };
        let mut access = entry.access;
        if bytes.len() <= LSM_PATH_MAX && key.last() == Some(&b'/') {
            let rest = &bytes[key.len()..bytes.len() - 1];
            for r in &entry.names {
                if r.matches(rest) {
                    access |= r.access;
                }
            }
        }
        access
    }

    /// Writes the rules of the run `run` (its cgroup id) into the node's
    /// `LSM_PATHS` and `LSM_INODES`; what was written, to take out again.
    pub(crate) fn fill(
        &self,
        node: &crate::ebpf::node::Node,
        run: u64,
    ) -> Result<Written, LsmError> {
        let mut written = Written::default();
        let result = self.fill_into(node, run, &mut written);
        if let Err(e) = result {
            written.remove(node);
            return Err(e);
        }
        Ok(written)
    }

    fn fill_into(
        &self,
        node: &crate::ebpf::node::Node,
        run: u64,
        written: &mut Written,
    ) -> Result<(), LsmError> {
        let mut trie: LpmTrie<MapData, LsmKey, PathRule> = node.typed_map("LSM_PATHS")?;
        for (key, entry) in &self.paths {
            let mut data: LsmKey = [0u8; RUN_KEY_LEN + LSM_PATH_MAX];
            data[..RUN_KEY_LEN].copy_from_slice(&run.to_be_bytes());
            data[RUN_KEY_LEN..RUN_KEY_LEN + key.len()].copy_from_slice(key);
            let value = PathRule {
                access: entry.access,
                prefix_len: key.len() as u32,
                names: names_array(&entry.names),
            };
            let key_bits = ((RUN_KEY_LEN + key.len()) * 8) as u32;
            let lpm = Key::new(key_bits, data);
            written.paths.push(lpm);
            trie.insert(&lpm, value, 0).map_err(aya_err(format!(
                "insert {} into LSM_PATHS",
                String::from_utf8_lossy(key)
            )))?;
        }
        let mut hash: BpfHashMap<MapData, InodeKey, InodeRule> = node.typed_map("LSM_INODES")?;
        for (key, rule) in &self.inodes {
            let key = InodeKey { run, ..*key };
            written.inodes.push(key);
            hash.insert(key, rule, 0)
                .map_err(aya_err("insert into LSM_INODES"))?;
        }
        Ok(())
    }
}

/// The entries one run wrote into the LSM maps.
#[derive(Default)]
pub(crate) struct Written {
    paths: Vec<Key<LsmKey>>,
    inodes: Vec<InodeKey>,
}

impl std::fmt::Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("paths", &self.paths.len())
            .field("inodes", &self.inodes.len())
            .finish()
    }
}

impl Written {
    /// Takes the entries out of the node's maps (what fails is ignored: the
    /// run is gone either way, and its entries match no process any more).
    pub(crate) fn remove(&self, node: &crate::ebpf::node::Node) {
        if let Ok(mut trie) = node.typed_map::<LpmTrie<MapData, LsmKey, PathRule>>("LSM_PATHS") {
            self.paths.iter().for_each(|k| drop(trie.remove(k)));
        }
        if let Ok(mut hash) =
            node.typed_map::<BpfHashMap<MapData, InodeKey, InodeRule>>("LSM_INODES")
        {
            self.inodes.iter().for_each(|k| drop(hash.remove(k)));
        }
    }
}

/// Sets the object's read-only offsets before it loads (the loader of the
/// eBPF layers does this for every run).
pub(crate) fn set_offsets<'a>(loader: &mut EbpfLoader<'a>, offsets: &'a LsmOffsets) {
    loader.override_global(OFFSETS_GLOBAL, offsets, true);
}

/// Refuses early when the kernel's list of active LSMs
/// (`/sys/kernel/security/lsm`) is readable and lacks `bpf`. Where securityfs
/// is not mounted the list is unknown, and loading the programs decides.
pub fn check_active() -> Result<(), LsmError> {
    let Ok(list) = std::fs::read_to_string("/sys/kernel/security/lsm") else {
        return Ok(());
    };
    let list = list.trim();
    if list.split(',').any(|l| l == "bpf") {
        Ok(())
    } else {
        Err(LsmError::NotActive(list.to_string()))
    }
}

/// Loads every LSM program of the object (for the node, which pins them;
/// they are attached while a run needs them). Fails where the kernel does
/// not load `lsm` programs.
pub(crate) fn load_programs(ebpf: &mut Ebpf) -> Result<(), LsmError> {
    check_active()?;
    let btf = crate::ebpf::btf::kernel_aya().map_err(|e| LsmError::Aya {
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
        let btf = crate::ebpf::btf::kernel()?;
        offsets(btf).map_err(|e| LsmError::Offsets(render(&e)))?;
        let hook = "bpf_lsm_file_open";
        let id = btf
            .type_id(hook, crate::ebpf::btf::Kind::Func)
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

/// The error with its causes, on one line.
pub fn render(e: &LsmError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // aya's errors repeat their source in their own text: say it once.
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebpf::{EbpfLayers, Reports, RunRules};

    #[test]
    fn a_pattern_the_layer_cannot_express_is_refused_with_why() {
        assert_eq!(shape("/a/b/**").unwrap(), Shape::Tree("/a/b".into()));
        let err = shape("/a/*/*.tmp").unwrap_err().to_string();
        assert!(err.contains("a glob before the last component"), "{err}");
    }

    #[test]
    fn grants_from_a_kernel_policy() {
        let mut policy = KernelPolicy::new();
        policy
            .allow_path("/srv/data", FileScope::Tree, FileAccess::READ)
            .unwrap()
            .allow_path(
                "/etc/hosts",
                FileScope::File,
                FileAccess::READ | FileAccess::WRITE,
            )
            .unwrap()
            .allow_exec("/usr/bin/git")
            .unwrap();
        let grants = FileGrant::from_policy(&policy);
        assert_eq!(
            grants,
            vec![
                FileGrant::new("/srv/data/**", ACCESS_READ),
                FileGrant::new("/etc/hosts", ACCESS_READ | ACCESS_WRITE),
                FileGrant::new("/usr/bin/git", ACCESS_EXEC | ACCESS_READ),
            ]
        );
    }

    #[test]
    fn widened_shapes_reach_the_layer_exactly() {
        // `write "/tmp/out/*.tmp"` is the tree /tmp/out for Landlock, and
        // the suffix rule itself here: a .tmp write allowed, a .sh refused.
        let env: warden_core::envelope::Envelope = serde_json::from_value(serde_json::json!({
            "version": 1,
            "files": [{"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}},
                      {"access": "read", "target": {"shape": "glob", "glob": "/srv/*/x"}}],
            "exec": [], "connect": [], "listen": [], "calls": [], "params": [],
            "limits": [], "ordering": [], "baseline": []
        }))
        .unwrap();
        let layers = crate::layer::Layer::ALL.into_iter().collect();
        let policy = KernelPolicy::from_envelope(&env, &layers).unwrap();
        assert_eq!(policy.files[0].exact.as_deref(), Some("/tmp/out/*.tmp"));
        let grants = FileGrant::from_policy(&policy);
        assert_eq!(
            grants,
            vec![
                FileGrant::new("/tmp/out/*.tmp", ACCESS_WRITE | ACCESS_CREATE),
                // A glob the layer cannot express keeps its widened tree.
                FileGrant::new("/srv/**", ACCESS_READ),
            ]
        );
        let rules = LsmRules::compile(&grants).unwrap();
        assert_ne!(rules.path_access("/tmp/out/a.tmp") & ACCESS_WRITE, 0);
        assert_eq!(rules.path_access("/tmp/out/evil.sh") & ACCESS_WRITE, 0);
    }

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

    #[test]
    fn kernel_dev_encoding() {
        // 8:1 (/dev/sda1) is 0x801 for stat; the kernel encodes it as 8 << 20 | 1.
        assert_eq!(kernel_dev(0x801), (8 << 20) | 1);
        // 259:65536 uses the high bits on both sides.
        let (major, minor) = (259u64, 65536u64);
        let user = ((major & 0xfff) << 8)
            | ((major & !0xfff) << 32)
            | (minor & 0xff)
            | ((minor & !0xff) << 12);
        assert_eq!(kernel_dev(user), (major << 20) | minor);
    }

    #[test]
    fn exact_tree_and_suffix_grants() {
        // Non-existent paths: no inode rules, path rules only.
        let rules = LsmRules::compile(&[
            FileGrant::new("/nonexistent-warden/data/**", ACCESS_READ),
            FileGrant::new(
                "/nonexistent-warden/out/*.tmp",
                ACCESS_WRITE | ACCESS_CREATE,
            ),
            FileGrant::new("/nonexistent-warden/out/keep.txt", ACCESS_READ),
            FileGrant::new("/nonexistent-warden/logs/**/*.log", ACCESS_WRITE),
        ])
        .unwrap();
        let r = |p: &str| rules.path_access(p);
        assert_eq!(r("/nonexistent-warden/data/a/b"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/data"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/datab"), 0);
        assert_eq!(
            r("/nonexistent-warden/out/x.tmp"),
            ACCESS_WRITE | ACCESS_CREATE
        );
        assert_eq!(r("/nonexistent-warden/out/x.sh"), 0);
        assert_eq!(r("/nonexistent-warden/out/sub/x.tmp"), 0);
        assert_eq!(r("/nonexistent-warden/out/keep.txt"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/logs/a/b/c.log"), ACCESS_WRITE);
        assert_eq!(r("/nonexistent-warden/logs/a/b/c.log.gz"), 0);
        assert_eq!(r("/etc/passwd"), 0);
    }

    #[test]
    fn files_under_trees_merge_the_tree_and_the_names() {
        let rules = LsmRules::compile(&[
            FileGrant::new("/nonexistent-warden/**", ACCESS_READ),
            FileGrant::new("/nonexistent-warden/out/*.tmp", ACCESS_WRITE),
            FileGrant::new("/nonexistent-warden/out/a.tmp", ACCESS_REMOVE),
            FileGrant::new("/nonexistent-warden/**/*.log", ACCESS_WRITE),
            FileGrant::new("/nonexistent-warden/deep/x/**", ACCESS_EXEC),
        ])
        .unwrap();
        let r = |p: &str| rules.path_access(p);
        assert_eq!(
            r("/nonexistent-warden/out/a.tmp"),
            ACCESS_READ | ACCESS_WRITE | ACCESS_REMOVE
        );
        assert_eq!(
            r("/nonexistent-warden/out/b.tmp"),
            ACCESS_READ | ACCESS_WRITE
        );
        assert_eq!(
            r("/nonexistent-warden/deep/x/y.log"),
            ACCESS_READ | ACCESS_EXEC | ACCESS_WRITE
        );
        assert_eq!(
            r("/nonexistent-warden/deep/x/y.txt"),
            ACCESS_READ | ACCESS_EXEC
        );
    }

    #[test]
    fn too_many_names_in_one_directory_is_an_error() {
        let grants: Vec<_> = (0..=LSM_NAME_RULES)
            .map(|i| FileGrant::new(format!("/nonexistent-warden/*.s{i}"), ACCESS_WRITE))
            .collect();
        assert!(matches!(
            LsmRules::compile(&grants),
            Err(LsmError::TooManyNames { .. })
        ));
    }

    #[test]
    fn existing_directories_get_inode_rules() {
        let dir = std::env::temp_dir().join(format!("warden-lsm-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = LsmRules::compile(&[
            FileGrant::new(format!("{}/*.tmp", dir.display()), ACCESS_CREATE),
            FileGrant::new(format!("{}/**", dir.display()), ACCESS_READ),
        ])
        .unwrap();
        let key = inode_of(&dir).unwrap();
        let rule = rules.inodes.get(&key).unwrap();
        assert_eq!(rule.tree, ACCESS_READ);
        assert_eq!(rule.names[0].kind, NAME_SUFFIX);
        assert_eq!(rule.names[0].access, ACCESS_CREATE);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
