//! Whether the supervisor works on this machine (`warden doctor`): a thread
//! of this process installs the filter (on itself only: without
//! `SECCOMP_FILTER_FLAG_TSYNC` a filter binds the thread that installs it)
//! and changes the mode of two files by path (`process_vm_readv`), one the
//! decision allows and one it refuses, and of the first by descriptor
//! (`pidfd_getfd`); every answer must be the expected one.

use super::run::{Prepared, Supervisor};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

fn chmod(path: &Path, mode: u32) -> Result<(), i32> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    // SAFETY: a valid C string.
    if unsafe { libc::chmod(c.as_ptr(), mode) } != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    Ok(())
}

fn fchmod(path: &Path, mode: u32) -> Result<(), i32> {
    let file = std::fs::File::open(path).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    // SAFETY: an open descriptor.
    if unsafe { libc::fchmod(std::os::fd::AsRawFd::as_raw_fd(&file), mode) } != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    Ok(())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0)
}

fn scratch() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("warden-doctor-{}-{nanos:x}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    dir.canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// `Ok(what works)` or `Err(why not)`.
pub fn probe() -> Result<String, String> {
    let dir = scratch()?;
    let result = probe_in(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn probe_in(dir: &Path) -> Result<String, String> {
    let (inside, outside) = (dir.join("inside"), dir.join("outside"));
    for f in [&inside, &outside] {
        std::fs::write(f, "").map_err(|e| format!("{}: {e}", f.display()))?;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let prepared = Prepared::new().map_err(|e| e.to_string())?;
    let answers = std::thread::scope(|s| -> Result<_, String> {
        let (installed_tx, installed_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let prepared = &prepared;
        let (ins, outs) = (inside.as_path(), outside.as_path());
        let caller = s.spawn(move || {
            let installed = prepared.install_in_child();
            let ok = installed.is_ok();
            let _ = installed_tx.send(installed);
            if !ok || go_rx.recv().is_err() {
                return None;
            }
            let by_path = (chmod(ins, 0o640), chmod(outs, 0o600));
            Some((by_path, fchmod(ins, 0o600)))
        });
        let installed = installed_rx
            .recv()
            .map_err(|_| "the probing thread ended".to_owned())?;
        installed.map_err(|e| format!("installing a filter with a listener: {e}"))?;
        let listener = prepared.receive().map_err(|e| e.to_string())?;
        let allowed = inside.clone();
        let supervisor = Supervisor::start(listener, Box::new(move |t| t.path == allowed), false)
            .map_err(|e| e.to_string())?;
        let _ = go_tx.send(());
        let answers = caller
            .join()
            .map_err(|_| "the probing thread panicked".to_owned())?;
        let stats = supervisor.stop();
        Ok(answers.map(|a| (a, stats)))
    })?;
    let Some((((inside_answer, outside_answer), by_fd), stats)) = answers else {
        return Err("the probing thread made no call".into());
    };
    match (inside_answer.and(by_fd), outside_answer) {
        (Ok(()), Err(libc::EPERM))
            if mode(&inside) == 0o600 && mode(&outside) == 0o644 && stats.refused_total == 1 =>
        {
            Ok("metadata supervisor works (seccomp user notification, process_vm_readv, pidfd_getfd; no SECCOMP_ADDFD needed): chmod and fchmod inside the write rules made, chmod outside refused".into())
        }
        (i, o) => Err(format!(
            "metadata supervisor does not work: a chmod and an fchmod it should make answered {i:?} (mode {:o}), a chmod it should refuse {o:?} (mode {:o})",
            mode(&inside),
            mode(&outside)
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_supervisor_works_on_this_machine() {
        // Linux 6.18 here and in CI: user notification, pidfd_getfd.
        let r = super::probe();
        assert!(r.is_ok(), "{r:?}");
    }
}
