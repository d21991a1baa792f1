//! The Landlock layer: files, exec and TCP ports by path and port, applied
//! to the run's first process just before `exec` and inherited by every
//! descendant.
//!
//! The handled-access set is everything the running kernel's Landlock ABI
//! knows ([`abi_version`]), so whatever the policy does not grant is refused.
//! The ruleset is built before `fork` ([`prepare`]); the child only calls
//! [`restrict_self`], which is async-signal-safe (two raw syscalls).

use crate::error::LayerError;
use crate::policy::{FileRights, FileScope, KernelPolicy, Widening};
use ::landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};
use serde::Serialize;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask the kernel for its ABI version.
const CREATE_RULESET_VERSION: libc::c_uint = 1;

/// The Landlock ABI version of the running kernel, or why there is none
/// (`ENOSYS`: not built in; `EOPNOTSUPP`: built in but disabled at boot).
pub fn abi_version() -> Result<i32, std::io::Error> {
    // SAFETY: with a null attribute and size 0, the kernel only reads the flag.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(v as i32)
    }
}

/// What the Landlock layer enforces for one run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LandlockReport {
    /// The kernel's Landlock ABI version.
    pub abi: i32,
    /// Handled file-system accesses (refused unless a rule grants them).
    pub handled_fs: Vec<String>,
    /// Handled network accesses.
    pub handled_net: Vec<String>,
    /// Scopes (IPC that may not leave the run's domain).
    pub scoped: Vec<String>,
    /// Number of path rules added.
    pub path_rules: usize,
    /// Number of port rules added.
    pub port_rules: usize,
    /// Paths of the policy that do not exist, so no rule was added (which
    /// grants less, never more).
    pub missing: Vec<PathBuf>,
    /// Program interpreters (the ELF `PT_INTERP` of allowed programs) that
    /// were granted exec so the programs can start.
    pub interpreters: Vec<PathBuf>,
}

/// A Landlock ruleset built before `fork`, ready for [`restrict_self`].
#[derive(Debug)]
pub struct PreparedLandlock {
    fd: OwnedFd,
    /// What it enforces.
    pub report: LandlockReport,
    /// Shapes Landlock enforces more widely than the policy.
    pub widenings: Vec<Widening>,
}

impl PreparedLandlock {
    /// The ruleset's file descriptor, for [`restrict_self`] in the child.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn fs_access(access: FileRights, is_dir: bool, abi: ABI) -> BitFlags<AccessFs> {
    let mut out = BitFlags::<AccessFs>::empty();
    if access.contains(FileRights::READ) {
        out |= AccessFs::ReadFile | AccessFs::ReadDir;
    }
    if access.contains(FileRights::WRITE) {
        out |= AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
    }
    if access.contains(FileRights::CREATE) {
        out |= AccessFs::MakeReg | AccessFs::MakeDir | AccessFs::MakeSym;
    }
    if access.contains(FileRights::REMOVE) {
        out |= AccessFs::RemoveFile | AccessFs::RemoveDir;
    }
    if access.contains(FileRights::EXEC) {
        // The kernel opens a program for reading to load it.
        out |= AccessFs::Execute | AccessFs::ReadFile;
    }
    if access.contains(FileRights::MAKE_SOCK) {
        out |= AccessFs::MakeSock;
    }
    let known = AccessFs::from_all(abi);
    let applicable = if is_dir {
        known
    } else {
        AccessFs::from_file(abi)
    };
    out & applicable
}

fn names<I>(set: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: std::fmt::Debug,
{
    set.into_iter().map(|a| format!("{a:?}")).collect()
}

/// Builds the ruleset for `policy` with everything the kernel's ABI handles.
///
/// Fails when the kernel has no Landlock (the caller decides whether the
/// layer was required) or when a rule cannot be added.
pub fn prepare(policy: &KernelPolicy) -> Result<PreparedLandlock, LayerError> {
    let version = abi_version().map_err(|e| LayerError::Landlock(format!("not available: {e}")))?;
    let abi = ABI::from(version);
    let handled_fs = AccessFs::from_all(abi);
    let handled_net = AccessNet::from_all(abi);
    let scopes = Scope::from_all(abi);
    let err = |e: ::landlock::RulesetError| LayerError::Landlock(e.to_string());

    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(handled_fs)
        .map_err(err)?;
    if !handled_net.is_empty() {
        ruleset = ruleset.handle_access(handled_net).map_err(err)?;
    }
    if !scopes.is_empty() {
        ruleset = ruleset.scope(scopes).map_err(err)?;
    }
    let mut created = ruleset.create().map_err(err)?;
    let mut report = LandlockReport {
        abi: version,
        handled_fs: names(handled_fs),
        handled_net: names(handled_net),
        scoped: names(scopes),
        ..LandlockReport::default()
    };
    let mut widenings = Vec::new();

    // Exec: the program, and the ELF interpreter it needs to start.
    let mut grants: Vec<(PathBuf, FileScope, FileRights)> = policy
        .files
        .iter()
        .map(|r| (r.path.clone(), r.scope, r.access))
        .collect();
    for program in &policy.exec {
        grants.push((program.clone(), FileScope::File, FileRights::EXEC));
        if let Some(interp) = elf_interpreter(program)
            && !report.interpreters.contains(&interp)
        {
            widenings.push(Widening {
                shape: format!("exec {:?}", program.display().to_string()),
                enforced: format!(
                    "exec {:?} too (its loader), which can load any ELF file the run may read",
                    interp.display().to_string()
                ),
                layer: "landlock".into(),
                narrowed_by: None,
            });
            report.interpreters.push(interp.clone());
            grants.push((interp, FileScope::File, FileRights::EXEC));
        }
    }

    for (path, scope, access) in grants {
        // A rule follows the symlinks on its path only where nobody but
        // root could have put them (see `planted_symlink`).
        if let Some(why) = planted_symlink(&path, policy) {
            return Err(LayerError::Landlock(why));
        }
        let fd = match PathFd::new(&path) {
            Ok(fd) => fd,
            Err(_) if !path.exists() => {
                report.missing.push(path);
                continue;
            }
            Err(e) => {
                return Err(LayerError::Landlock(format!(
                    "cannot open {} for a rule: {e}",
                    path.display()
                )));
            }
        };
        let is_dir = path.is_dir();
        if is_dir && scope == FileScope::File {
            widenings.push(Widening {
                shape: format!("{access} {:?}", path.display().to_string()),
                enforced: format!("{access} under {:?}", path.display().to_string()),
                layer: "landlock".into(),
                narrowed_by: None,
            });
        }
        let rights = fs_access(access, is_dir, abi);
        if rights.is_empty() {
            continue;
        }
        created = created
            .add_rule(PathBeneath::new(fd, rights))
            .map_err(err)?;
        report.path_rules += 1;
    }

    if !handled_net.is_empty() {
        for port in policy.tcp_connect_ports() {
            created = created
                .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
                .map_err(err)?;
            report.port_rules += 1;
        }
        for port in policy.tcp_bind_ports() {
            created = created
                .add_rule(NetPort::new(port, AccessNet::BindTcp))
                .map_err(err)?;
            report.port_rules += 1;
        }
        for rule in policy
            .net
            .iter()
            .filter(|r| r.proto == crate::policy::Proto::Tcp)
        {
            let full = match rule.cidr {
                ipnet::IpNet::V4(n) => n.prefix_len() == 0,
                ipnet::IpNet::V6(n) => n.prefix_len() == 0,
            };
            if !full {
                widenings.push(Widening {
                    shape: format!(
                        "{:?} tcp {} ports {}-{}",
                        rule.direction, rule.cidr, rule.ports.first, rule.ports.last
                    ),
                    enforced: format!(
                        "{:?} tcp any address ports {}-{}",
                        rule.direction, rule.ports.first, rule.ports.last
                    ),
                    layer: "landlock".into(),
                    narrowed_by: Some("ebpf-cgroup-sock-addr".into()),
                });
            }
        }
    }

    let fd: Option<OwnedFd> = created.into();
    let fd = fd.ok_or_else(|| LayerError::Landlock("the kernel returned no ruleset".into()))?;
    Ok(PreparedLandlock {
        fd,
        report,
        widenings,
    })
}

/// Sets `no_new_privs` and restricts the calling thread with the ruleset.
///
/// Async-signal-safe: meant for the child between `fork` and `exec`.
pub fn restrict_self(ruleset_fd: RawFd) -> std::io::Result<()> {
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, ruleset_fd, 0u32) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Why the rule path `path` must not be followed, when it leads through a
/// symlink that could have been planted to redirect the grant: one in a
/// directory the run itself may create or remove entries in (a run, now or
/// an earlier one under the same envelope, could have put it there), or
/// one that is not root's or lies in a directory others than root may
/// write (`/tmp`). The machine's own symlinks (`/bin` → `usr/bin`,
/// `/var/run` → `/run`, `/etc/alternatives/*`) pass, and the run-start
/// check names what they reach ([`crate::proven::Exception::Alias`]).
pub fn planted_symlink(path: &Path, policy: &KernelPolicy) -> Option<String> {
    planted_within(path, policy, 40)
}

fn planted_within(path: &Path, policy: &KernelPolicy, hops: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if hops == 0 {
        return Some(format!(
            "refusing a rule on {}: too many symlinks on its path",
            path.display()
        ));
    }
    let writable = |dir: &Path| {
        policy.files.iter().any(|r| {
            r.access
                .contains(FileRights::CREATE)
                || r.access.contains(FileRights::REMOVE)
                || r.access.contains(FileRights::MAKE_SOCK)
        } && match r.scope {
            FileScope::Tree => dir.starts_with(&r.path),
            FileScope::File => dir == r.path,
        })
    };
    let mut at = PathBuf::from("/");
    for part in path.components().skip(1) {
        at.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            // The rest does not exist: nothing more to follow.
            return None;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let dir = at.parent().unwrap_or(Path::new("/")).to_path_buf();
        let dir_meta = std::fs::metadata(&dir).ok();
        let others_write = dir_meta
            .as_ref()
            .is_none_or(|m| m.uid() != 0 || m.mode() & 0o022 != 0);
        let why = if writable(&dir) {
            "in a directory the run may create entries in"
        } else if meta.uid() != 0 {
            "not root's"
        } else if others_write {
            "in a directory others than root may write"
        } else {
            // Follow it (with the rest of the path).
            let target = std::fs::read_link(&at).ok()?;
            let rest: PathBuf = path.strip_prefix(&at).ok()?.to_path_buf();
            let next = if target.is_absolute() {
                target
            } else {
                dir.join(target)
            };
            let next = next.join(rest);
            return planted_within(&normalize_lexically(&next), policy, hops - 1);
        };
        return Some(format!(
            "refusing a rule on {}: it leads through the symlink {}, which is {why} (a symlink planted there would redirect the grant)",
            path.display(),
            at.display()
        ));
    }
    None
}

/// `.` and `..` resolved without the file system (a symlink's target joined
/// to its directory).
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The `PT_INTERP` path of an ELF program (its dynamic loader), if any.
pub fn elf_interpreter(program: &Path) -> Option<PathBuf> {
    let mut f = std::fs::File::open(program).ok()?;
    let mut head = vec![0u8; 64 * 1024];
    let n = f.read(&mut head).ok()?;
    head.truncate(n);
    parse_interp(&head)
}

fn parse_interp(elf: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        return None; // only 64-bit little-endian ELF
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = u32::from_le_bytes(elf.get(ph..ph + 4)?.try_into().ok()?);
        if p_type == 3 {
            let off = usize::try_from(u64_at(ph + 8)?).ok()?;
            let size = usize::try_from(u64_at(ph + 32)?).ok()?;
            let raw = elf.get(off..off.checked_add(size)?)?;
            let raw = raw.split(|b| *b == 0).next()?;
            return Some(PathBuf::from(std::ffi::OsStr::from_bytes(raw)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_the_run_could_plant_refuses_its_rule() {
        // The test's directory and symlink must be root's.
        if !testkit::root_or_skip!("a directory and a symlink that root owns") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let link = d.join("report.txt");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let mut policy = KernelPolicy::new();
        policy
            .allow_path(&link, FileScope::File, FileRights::WRITE)
            .unwrap();
        // Nothing lets the run create entries in `d`, which only root may
        // write: the machine's own symlink, followed.
        assert_eq!(planted_symlink(&link, &policy), None);
        // Now the run may create entries in `d`: the symlink could be its.
        policy
            .allow_path(d, FileScope::Tree, FileRights::WRITE | FileRights::CREATE)
            .unwrap();
        let why = planted_symlink(&link, &policy).unwrap();
        assert!(
            why.contains("a directory the run may create entries in"),
            "{why}"
        );
        assert!(
            prepare(&policy)
                .unwrap_err()
                .to_string()
                .contains("report.txt")
        );
        // One in a directory others may write (like /tmp) is refused too.
        let open = d.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap();
        let there = open.join("l");
        std::os::unix::fs::symlink("/etc/hostname", &there).unwrap();
        let why = planted_symlink(&there, &KernelPolicy::new()).unwrap();
        assert!(why.contains("others than root may write"), "{why}");
        // The machine's layout passes: /bin/sh on a merged-/usr system.
        assert_eq!(
            planted_symlink(Path::new("/bin/sh"), &KernelPolicy::new()),
            None
        );
    }

    #[test]
    fn the_kernel_reports_an_abi() {
        // This machine (and CI) run Linux 6.18: ABI 7.
        let v = abi_version().expect("landlock is enabled on the test machines");
        assert!(v >= 4, "ABI {v} lacks TCP rules");
    }

    #[test]
    fn dynamic_programs_have_a_loader() {
        let interp = elf_interpreter(Path::new("/bin/sh")).expect("/bin/sh is dynamic");
        assert!(interp.to_string_lossy().contains("ld-linux"), "{interp:?}");
        assert_eq!(parse_interp(b"#!/bin/sh\n"), None);
        assert_eq!(parse_interp(&[0x7f, b'E', b'L', b'F', 2, 1]), None);
    }

    #[test]
    fn file_rules_drop_directory_only_rights() {
        let abi = ABI::V7;
        let on_file = fs_access(FileRights::READ | FileRights::CREATE, false, abi);
        assert!(on_file.contains(AccessFs::ReadFile));
        assert!(!on_file.contains(AccessFs::ReadDir));
        assert!(!on_file.contains(AccessFs::MakeReg));
        let exec = fs_access(FileRights::EXEC, false, abi);
        assert_eq!(exec, AccessFs::Execute | AccessFs::ReadFile);
    }

    #[test]
    fn prepare_reports_what_it_handles() {
        let mut p = KernelPolicy::new();
        p.allow_path("/usr", FileScope::Tree, FileRights::READ)
            .unwrap()
            .allow_path("/does/not/exist", FileScope::Tree, FileRights::READ)
            .unwrap()
            .allow_exec("/bin/sh")
            .unwrap();
        let prepared = prepare(&p).unwrap();
        let r = &prepared.report;
        assert!(r.handled_fs.iter().any(|a| a == "Execute"));
        assert!(r.handled_net.iter().any(|a| a == "ConnectTcp"));
        assert_eq!(r.missing, vec![PathBuf::from("/does/not/exist")]);
        assert_eq!(r.path_rules, 3); // /usr, /bin/sh, its loader
        assert_eq!(r.interpreters.len(), 1);
        assert!(!prepared.widenings.is_empty());
    }
}
