//! The service as its tests and the console's tests run it: in process,
//! with the real verifier, token engine and SQLite store, the banking spec,
//! and one credential per role.

use service::audit::CheckpointSigner;
use service::auth::{Authenticator, CredentialConfig, Role};
use service::server::{Limits, WardenService};
use service::specs::SpecRegistry;
use service::store::sqlite::{SqliteOptions, SqliteStore};
use service::warden_engine::WardenEngine;
use std::path::PathBuf;
use std::sync::Arc;

/// The secret of `orch`, a submitter.
pub const SUBMITTER: &str = "submitter-secret-for-tests-0001";
/// The secret of `alice`, an approver.
pub const APPROVER: &str = "approver-secret-for-tests-0001";
/// The secret of `bob`, another approver.
pub const APPROVER2: &str = "approver-secret-for-tests-0002";
/// The secret of `root`, an admin.
pub const ADMIN: &str = "admin-secret-for-tests-000001";

/// `specs/bank.spec`: balances are allowed, payments up to 1000 need an
/// approval.
pub const BANK_SPEC: &str = r#"spec "bank" {
  allow call get_balance
  approve call send_money when amount <= 1000
}
"#;

/// The credentials: `orch` (submitter), `alice` and `bob` (approvers),
/// `root` (admin).
pub fn authenticator() -> Authenticator {
    let cred = |name: &str, role, secret: &str| CredentialConfig {
        name: name.into(),
        role,
        secret: Some(secret.into()),
        secret_sha256: None,
    };
    Authenticator::new(&[
        cred("orch", Role::Submitter, SUBMITTER),
        cred("alice", Role::Approver, APPROVER),
        cred("bob", Role::Approver, APPROVER2),
        cred("root", Role::Admin, ADMIN),
    ])
    .expect("the test credentials are valid")
}

/// A service's files in a temporary directory: the spec directory with
/// [`BANK_SPEC`], the store's path, and the signing key. Start (and
/// restart) services over them with [`Fixture::start`].
pub struct Fixture {
    /// The temporary directory holding everything below; removed when the
    /// fixture is dropped.
    pub dir: tempfile::TempDir,
    /// The SQLite store's path, `w.db` in `dir` (created by the first
    /// [`Fixture::start`]).
    pub db: PathBuf,
    /// The spec directory, `specs/` in `dir`, holding `bank.spec`.
    pub specs: PathBuf,
    /// A freshly generated key that signs the tokens and the audit
    /// checkpoints of every service started over the fixture.
    pub key: token::SigningKey,
}

impl Fixture {
    /// Creates the temporary directory, writes [`BANK_SPEC`] into its spec
    /// directory and generates the key. Panics when any of that fails (it
    /// is test support).
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let specs = dir.path().join("specs");
        std::fs::create_dir_all(&specs).expect("the spec directory");
        std::fs::write(specs.join("bank.spec"), BANK_SPEC).expect("the spec");
        Fixture {
            db: dir.path().join("w.db"),
            specs,
            key: token::SigningKey::generate().expect("a key"),
            dir,
        }
    }

    /// A service over the fixture's store (opened with `opts`), specs and
    /// key, its specs loaded; and its store.
    pub async fn start(
        &self,
        opts: SqliteOptions,
    ) -> (WardenService<WardenEngine>, Arc<SqliteStore>) {
        let signer = CheckpointSigner::new(self.key.clone());
        let store =
            Arc::new(SqliteStore::open(&self.db, Some(signer), opts).expect("the store opens"));
        let engine = Arc::new(WardenEngine::with_key(self.key.clone(), "warden-test"));
        let svc = WardenService::new(
            engine,
            store.clone(),
            authenticator(),
            Arc::new(SpecRegistry::new(&self.specs)),
            Limits {
                max_plan_bytes: 65536,
            },
        )
        .expect("the service starts");
        svc.reload_specs(false).await.expect("the specs load");
        (svc, store)
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}
