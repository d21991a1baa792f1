//! The BPF LSM layer, tested inside a QEMU guest whose kernel loads `lsm` programs.
//!
//! This machine's hypervisor refuses BPF trampoline programs, so on the host this
//! test boots a guest with `scripts/guest/run.sh` and runs this same binary inside
//! it (`WARDEN_GUEST_INNER=1`), where the checks below run as root under a kernel
//! booted with `lsm=...,bpf`. The test fails when the guest cannot boot: it never
//! skips. Run inside a guest already (`WARDEN_IN_GUEST=1`, as `make guest-test`
//! does), it runs the checks directly.

mod lsm_cases;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Check = (&'static str, fn() -> Result<(), String>);

/// The checks that run inside the guest, in order.
const CHECKS: &[Check] = &[
    ("guest kernel lists bpf among its LSMs", lsm_list_has_bpf),
    (
        "kernel file systems are mounted in the chroot",
        kernel_filesystems_mounted,
    ),
    ("kernel BTF is readable", btf_readable),
    (
        "the LSM layer loads and attaches here",
        lsm_cases::layer_is_available,
    ),
    (
        "escapes are refused and the envelope works",
        lsm_cases::envelope_cases,
    ),
    (
        "warden exec's launcher with --require bpf-lsm",
        lsm_cases::launcher_requires_bpf_lsm,
    ),
    (
        "a suffix envelope proven only with bpf-lsm runs exactly under it",
        lsm_cases::proven_suffix_envelope,
    ),
    (
        "overhead of the LSM layer on an open/close loop",
        lsm_cases::overhead,
    ),
];

fn main() -> ExitCode {
    if std::env::var_os(lsm_cases::CHILD_ENV).is_some() {
        return lsm_cases::child_main();
    }
    let in_guest = std::env::var_os("WARDEN_GUEST_INNER").is_some()
        || std::env::var("WARDEN_IN_GUEST").is_ok_and(|v| v == "1");
    if in_guest { run_checks() } else { boot_guest() }
}

/// On the host: check that the launcher refuses `--require bpf-lsm` where
/// the layer does not load (or runs with it where it does), then boot the
/// guest and run this binary in it.
fn boot_guest() -> ExitCode {
    if !testkit::root_or_skip!(
        "the host check loads the eBPF layers, and the guest's checks run as root there"
    ) {
        return ExitCode::SUCCESS;
    }
    match lsm_cases::launcher_requires_bpf_lsm() {
        Ok(()) => println!("test (host) warden exec's launcher with --require bpf-lsm ... ok"),
        Err(why) => {
            println!("test (host) warden exec's launcher with --require bpf-lsm ... FAILED: {why}");
            return ExitCode::FAILURE;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/guest/run.sh");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("guest_lsm: cannot find this test binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("guest_lsm: booting a guest to run {}", exe.display());
    let status = Command::new("bash")
        .arg(&script)
        .args(["--timeout", "900", "--env", "WARDEN_GUEST_INNER=1", "--"])
        .arg(&exe)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("guest_lsm: FAILED: {} exited with {s}", script.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("guest_lsm: FAILED: cannot run {}: {e}", script.display());
            ExitCode::FAILURE
        }
    }
}

/// In the guest: run every check, report each, fail if any failed.
fn run_checks() -> ExitCode {
    let mut failed = 0;
    for (name, check) in CHECKS {
        match check() {
            Ok(()) => println!("test {name} ... ok"),
            Err(why) => {
                println!("test {name} ... FAILED: {why}");
                failed += 1;
            }
        }
    }
    println!(
        "guest_lsm: {} passed, {failed} failed",
        CHECKS.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read(path: impl AsRef<Path>) -> Result<String, String> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn lsm_list_has_bpf() -> Result<(), String> {
    let list = read("/sys/kernel/security/lsm")?;
    if list.trim().split(',').any(|l| l == "bpf") {
        Ok(())
    } else {
        Err(format!("/sys/kernel/security/lsm is {list:?}"))
    }
}

fn kernel_filesystems_mounted() -> Result<(), String> {
    let mounts = read("/proc/self/mounts")?;
    for (fstype, at) in [
        ("cgroup2", "/sys/fs/cgroup"),
        ("bpf", "/sys/fs/bpf"),
        ("securityfs", "/sys/kernel/security"),
        ("tracefs", "/sys/kernel/tracing"),
        ("tmpfs", "/tmp"),
    ] {
        let found = mounts.lines().any(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next(), f.next(), f.next());
            point == Some(at) && kind == Some(fstype)
        });
        if !found {
            return Err(format!("no {fstype} mounted at {at}"));
        }
    }
    Ok(())
}

fn btf_readable() -> Result<(), String> {
    let btf = PathBuf::from("/sys/kernel/btf/vmlinux");
    let bytes = std::fs::read(&btf).map_err(|e| format!("read {}: {e}", btf.display()))?;
    // struct btf_header starts with the magic 0xeB9F (little endian on x86).
    if bytes.len() > 24 && bytes[0] == 0x9f && bytes[1] == 0xeb {
        Ok(())
    } else {
        Err(format!("{} has no BTF magic", btf.display()))
    }
}
