//! A real PostgreSQL for a test: the distribution's server binaries
//! (`postgresql`, installed by `scripts/deps.sh`), a cluster `initdb`'d
//! into a fresh directory under the system's temporary directory (outside
//! the checkout, so the unprivileged `postgres` user can reach it), on a
//! free port, stopped and removed when dropped.
//!
//! As root the server runs as the `postgres` user (PostgreSQL refuses to
//! run as root); as anyone else (the unprivileged re-run of the tests, uid
//! 65534) it runs as that user. Without the binaries [`Postgres::start`](crate::postgres::Postgres::start)
//! panics with what to install: a test that needs PostgreSQL never passes
//! without it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The directory of the newest installed server's binaries
/// (`/usr/lib/postgresql/<version>/bin`), or `WARDEN_PG_BIN`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WARDEN_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// A running PostgreSQL cluster of one test.
pub struct Postgres {
    /// Removed on drop (after the server is stopped).
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `(uid, gid)` to run the server's commands as (root's tests: `postgres`).
    run_as: Option<(u32, u32)>,
}

/// The `postgres` user's uid and gid.
fn postgres_user() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: getpwnam with a valid C string; the result is read at once
    // (tests do not call getpwnam concurrently with this).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: pw is non-null and points to a passwd entry.
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

impl Postgres {
    /// `initdb`s a cluster and starts it. Panics, saying what to install,
    /// when the PostgreSQL server binaries are missing.
    pub fn start() -> Postgres {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb): \
                 run `bash scripts/deps.sh` (make test does), or `apt-get install postgresql`, \
                 or set WARDEN_PG_BIN"
            )
        });
        let run_as = if crate::is_root() {
            Some(postgres_user().unwrap_or_else(|| {
                panic!("running as root, PostgreSQL needs the `postgres` user: apt-get install postgresql")
            }))
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "warden-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).expect("create the cluster's directory");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .expect("give the cluster's directory to postgres");
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            run_as,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().to_string_lossy(),
                "-U",
                "warden",
                "--auth=trust",
                "--no-instructions",
                "-E",
                "UTF8",
            ],
        );
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.stdin(Stdio::null()).env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid).gid(gid);
        }
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
        out
    }

    fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &self.dir.join("server.log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// `postgres://warden@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://warden@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (`-m fast`: clients are disconnected, everything
    /// committed is on disk).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts it again after [`Postgres::stop`], on the same port.
    pub fn restart(&self) {
        self.start_server();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
