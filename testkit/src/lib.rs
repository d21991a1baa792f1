//! Test support for the workspace: a test that needs root says, when it is
//! not root, that it was skipped and why, instead of failing or passing in
//! silence.
//!
//! ```no_run
//! #[test]
//! fn a_run_gets_its_own_cgroup() {
//!     if !testkit::root_or_skip!("creating the run's cgroup") {
//!         return;
//!     }
//!     // ... the test, as root
//! }
//! ```
//!
//! A skip prints one line on stderr (which libtest shows with
//! `--nocapture`) and, when `WARDEN_SKIP_LOG` names a file, appends the
//! same line to it: `scripts/test-unprivileged.sh` (the unprivileged step
//! of `make test`) collects them and prints them with a count.
#![warn(missing_docs)]

pub mod imports;

use std::io::Write;

#[cfg(feature = "service")]
pub mod service;

/// A real PostgreSQL cluster per test (the fleet's tests).
pub mod postgres;

/// Prometheus scrapes, parsed.
pub mod metrics;

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG: &str = "WARDEN_SKIP_LOG";

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `true` as root; otherwise records that the calling test is skipped
/// because it needs root for `why`, and returns `false`. The test's package
/// and module come from the call site; prefer [`root_or_skip!`].
pub fn root_or_skip(package: &str, module: &str, why: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(package, module, &format!("needs root ({why})"));
    false
}

/// Records that the calling test is skipped, for `reason`: one line on
/// stderr, and one appended to the file `WARDEN_SKIP_LOG` names, if any.
pub fn skip(package: &str, module: &str, reason: &str) {
    let line = format!("{}: {reason}", test_name(package, module));
    eprintln!("skipped: {line}");
    if let Some(path) = std::env::var_os(SKIP_LOG) {
        // One write of one line: appends from parallel tests do not mix.
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            panic!("{SKIP_LOG}={}: {e}", path.to_string_lossy());
        }
    }
}

/// `PACKAGE TARGET::TEST`: the package, the test target (the first segment
/// of the module path: the integration test's file name, or the library's
/// crate name), and the test (libtest names each test's thread after it;
/// a harness-less test or bench runs on `main` and is named by its target).
fn test_name(package: &str, module: &str) -> String {
    let target = module.split("::").next().unwrap_or(module);
    match std::thread::current().name() {
        Some(test) if test != "main" => format!("{package} {target}::{test}"),
        _ => format!("{package} {target}"),
    }
}

/// `root_or_skip!("why")`: [`root_or_skip`](fn@root_or_skip) with the calling test's package
/// and module filled in.
#[macro_export]
macro_rules! root_or_skip {
    ($why:expr) => {
        $crate::root_or_skip(env!("CARGO_PKG_NAME"), module_path!(), $why)
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_is_named_by_package_target_and_thread() {
        let name = super::test_name("enforcer", "escape::inner");
        assert_eq!(
            name,
            "enforcer escape::tests::a_test_is_named_by_package_target_and_thread"
        );
    }

    #[test]
    fn a_skip_is_appended_to_the_log() {
        let dir = std::env::temp_dir().join(format!("testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("skipped");
        // SAFETY: no other test of this binary reads or sets this variable.
        unsafe { std::env::set_var(super::SKIP_LOG, &log) };
        super::skip("p", "t", "needs root (a reason)");
        super::skip("p", "t", "needs root (another)");
        unsafe { std::env::remove_var(super::SKIP_LOG) };
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            text,
            "p t::tests::a_skip_is_appended_to_the_log: needs root (a reason)\n\
             p t::tests::a_skip_is_appended_to_the_log: needs root (another)\n"
        );
    }
}
