//! What the tests of `warden serve` (one server: serve.rs; a fleet of
//! replicas: fleet.rs) share: a directory with a signing key, specs and a
//! configuration with three credentials, a server process read up to its
//! `listening on` line, and gRPC requests with a credential.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use service::proto::warden_client::WardenClient;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tonic::transport::Channel;

pub const SUBMITTER: &str = "submitter-secret-for-tests-0001";
pub const APPROVER: &str = "approver-secret-for-tests-0001";
pub const ADMIN: &str = "admin-secret-for-tests-000001";

/// A plan that reads a statement and asks for the balance.
pub const PLAN_LOOK: &str = r#"plan "look" {
  agent "bot"
  read "/srv/data/statement.txt"
  call get_balance()
}
"#;

/// A plan that pays 10 to UK1.
pub const PLAN_PAY: &str = r#"plan "pay" {
  agent "bot"
  call get_balance()
  call send_money(recipient = "UK1", amount = 10)
}
"#;

/// The `warden` binary under test.
pub fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

/// A service's directory: `keys/warden.key` (from `seed`) and
/// `keys/warden.pub`, `specs/`, and `serve.toml` once written.
pub struct ServeDir {
    pub dir: tempfile::TempDir,
}

impl ServeDir {
    /// Keys from `seed` and the spec `specs/bank.spec`.
    pub fn new(seed: u8, bank_spec: &str) -> ServeDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let kp = token::SigningKey::from_seed(&[seed; 32]).unwrap();
        std::fs::create_dir_all(d.join("keys")).unwrap();
        let key = d.join("keys/warden.key");
        std::fs::write(&key, &*kp.to_paserk()).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        std::fs::write(d.join("keys/warden.pub"), kp.public_key().to_paserk()).unwrap();
        std::fs::create_dir_all(d.join("specs")).unwrap();
        std::fs::write(d.join("specs/bank.spec"), bank_spec).unwrap();
        ServeDir { dir }
    }

    /// A path in the directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes `serve.toml`: `settings` (the store, limits, tables), the
    /// key, the specs, and the three credentials. Returns its path.
    pub fn write_config(&self, settings: &str) -> PathBuf {
        let cfg = format!(
            r#"
listen = "127.0.0.1:0"
specs = "specs"
key = "keys/warden.key"
{settings}
[[credentials]]
name = "orchestrator"
role = "submitter"
secret = "{SUBMITTER}"

[[credentials]]
name = "alice"
role = "approver"
secret = "{APPROVER}"

[[credentials]]
name = "root"
role = "admin"
secret = "{ADMIN}"
"#
        );
        let p = self.path("serve.toml");
        std::fs::write(&p, cfg).unwrap();
        p
    }
}

/// A running `warden serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `warden serve --config CONFIG`, read up to its `listening on` line
    /// and the `more` lines after it (the console's, the metrics').
    pub fn start(config: &Path, more: usize) -> (Server, Vec<String>) {
        let mut child = warden()
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..=more {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            lines.push(line.trim().to_owned());
        }
        let addr = lines[0]
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("warden serve did not start: {lines:?}"))
            .to_owned();
        (Server { child, addr }, lines.split_off(1))
    }

    /// SIGKILL: nothing flushed on the way out.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait: the graceful path (final checkpoint).
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub async fn client(endpoint: &str) -> WardenClient<Channel> {
    let ch = service::loadgen::connect(endpoint, None).await.unwrap();
    WardenClient::new(ch).max_encoding_message_size(usize::MAX)
}

/// A request with `secret` as its bearer credential.
pub fn req<T>(msg: T, secret: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    r
}
