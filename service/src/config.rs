//! The service's configuration file (TOML).
//!
//! ```toml
//! listen = "127.0.0.1:50051"
//! db = "warden.db"
//! # store = "postgres://warden:…@db:5432/warden"   # a fleet's shared store (instead of db)
//! specs = "specs/"
//! key = "keys/warden.key"        # signs tokens and audit checkpoints
//! max_plan_bytes = 65536          # larger plans: INVALID_ARGUMENT, nothing recorded
//! checkpoint_every = 1000         # sign a checkpoint after this many records
//! reload_poll_ms = 1000           # look for changed spec files this often (0: only on Reload)
//!
//! [tls]                           # omit for plaintext on a trusted loopback only
//! cert = "tls/server.crt"
//! key = "tls/server.key"
//! client_ca = "tls/ca.crt"        # optional: require client certificates
//!
//! [console]                      # the approvers' web console (crate `console`); omit for none
//! listen = "127.0.0.1:8080"       # an IP address and port; not loopback only with [tls]
//! sign_in_per_minute = 10         # failed sign-ins allowed per client address per minute
//! session_minutes = 480           # a sign-in lasts this long
//!
//! [metrics]                      # Prometheus metrics, GET /metrics over plain HTTP; omit for none
//! listen = "127.0.0.1:9464"       # an IP address and port (counts and latencies only, no names)
//!
//! [[credentials]]
//! name = "orchestrator-1"
//! role = "submitter"
//! secret_sha256 = "…"             # `warden serve --hash-secret` prints it
//! ```
//!
//! Relative paths are relative to the configuration file's directory.

use crate::auth::CredentialConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// TLS certificate files (PEM).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// A CA certificate: when given, every client must present a
    /// certificate it signed (mutual TLS).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// The web console (`[console]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The address to listen on: an IP address and a port, a loopback one
    /// unless `[tls]` is configured.
    pub listen: String,
    /// Failed sign-ins allowed per client address per minute (default 10;
    /// at least 1).
    #[serde(default = "default_sign_in")]
    pub sign_in_per_minute: u32,
    /// How long a sign-in lasts, in minutes (default 480; at least 1).
    #[serde(default = "default_session")]
    pub session_minutes: u64,
}

/// The Prometheus endpoint (`[metrics]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The address to serve `GET /metrics` on (plain HTTP): an IP address
    /// and a port.
    pub listen: String,
}

fn default_sign_in() -> u32 {
    10
}
fn default_session() -> u64 {
    480
}

fn default_listen() -> String {
    "127.0.0.1:50051".into()
}
fn default_db() -> PathBuf {
    "warden.db".into()
}
fn default_specs() -> PathBuf {
    "specs".into()
}
fn default_key() -> PathBuf {
    "keys/warden.key".into()
}
fn default_max_plan() -> usize {
    64 * 1024
}
fn default_checkpoint() -> u64 {
    1000
}
fn default_poll() -> u64 {
    1000
}
fn default_issuer() -> String {
    "warden".into()
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// The gRPC address, `host:port` (default `127.0.0.1:50051`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The SQLite store's file (default `warden.db`), used when `store` is
    /// unset.
    #[serde(default = "default_db")]
    pub db: PathBuf,
    /// A PostgreSQL URL (`postgres://…`): replicas that share it are one
    /// service. Unset: the SQLite file `db`.
    #[serde(default)]
    pub store: Option<String>,
    /// The spec directory: every `*.spec` file in it is in force under its
    /// file stem (default `specs`).
    #[serde(default = "default_specs")]
    pub specs: PathBuf,
    /// The Ed25519 signing key that signs tokens and the audit log's
    /// checkpoints and heads (default `keys/warden.key`).
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// A key set file (`token::keyset`): the public keys trusted beside
    /// `key`'s, each active, verify-only or retired. Rotation: a new `key`
    /// signs, the old one stays here as verify-only until its tokens have
    /// expired, then retired (its audit history still verifies).
    #[serde(default)]
    pub keys: Option<PathBuf>,
    /// The `iss` of issued tokens.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The largest plan accepted, in bytes (default 64 KiB, at most
    /// 16 MiB); a larger one is refused with `INVALID_ARGUMENT` and nothing
    /// is recorded.
    #[serde(default = "default_max_plan")]
    pub max_plan_bytes: usize,
    /// Sign a checkpoint after this many audit records (default 1000).
    #[serde(default = "default_checkpoint")]
    pub checkpoint_every: u64,
    /// How often to look for changed spec files, in milliseconds (default
    /// 1000; 0: only on `Reload`).
    #[serde(default = "default_poll")]
    pub reload_poll_ms: u64,
    /// TLS for the gRPC server (and the console); `None`: plaintext, for a
    /// trusted loopback only.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The credentials callers present, each with its role.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// The approvers' web console; `None`: no console.
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
    /// The Prometheus endpoint; `None`: no metrics served.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or not this configuration (an unknown key, a
    /// value of the wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// Where the text came from (a file name).
        path: String,
        /// The TOML parser's message.
        message: String,
    },
    /// `max_plan_bytes` is 0 or above 16 MiB.
    #[error("max_plan_bytes must be between 1 and 16 MiB, not {0}")]
    PlanLimit(usize),
    /// `[console] listen` is not an IP address and a port.
    #[error("[console] listen = {0:?}: give an IP address and a port, like \"127.0.0.1:8080\"")]
    ConsoleAddress(String),
    /// `[console] listen` is not a loopback address and there is no
    /// `[tls]`.
    #[error(
        "[console] listen = {0:?} is not a loopback address: approvers' credentials and session cookies would cross the network in clear; configure [tls] or listen on 127.0.0.1"
    )]
    ConsoleNeedsTls(String),
    /// `[metrics] listen` is not an IP address and a port.
    #[error("[metrics] listen = {0:?}: give an IP address and a port, like \"127.0.0.1:9464\"")]
    MetricsAddress(String),
    /// `[console] sign_in_per_minute` or `session_minutes` is 0.
    #[error("[console] sign_in_per_minute and session_minutes must be at least 1")]
    ConsoleLimits,
    /// `store` (or `--store`) is not a `postgres://` or `postgresql://`
    /// URL. Holds only the scheme: the URL may carry a password.
    #[error("store = {0:?}: give a PostgreSQL URL, postgres://user:password@host:port/database")]
    StoreUrl(String),
    /// The key set file `keys` cannot be read or parsed.
    #[error("keys = {path}: {source}")]
    Keys {
        /// The key set file.
        path: String,
        /// What is wrong with it.
        #[source]
        source: token::KeyError,
    },
    /// The key set lists the signing key as verify-only or retired.
    #[error(
        "the signing key ({kid}) is {state} in {path}: the service signs only with an active key (make it active, or set `key` to the new key)"
    )]
    SigningKeyNotActive {
        /// The signing key's id (PASERK `k4.pid`).
        kid: String,
        /// Its state in the key set.
        state: token::KeyState,
        /// The key set file.
        path: String,
    },
}

/// A store URL must name PostgreSQL (a typo must not fall back to SQLite).
fn check_store_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        // Never echo the URL: it may hold a password.
        let scheme = url.split_once("://").map_or("(none)", |(s, _)| s);
        Err(ConfigError::StoreUrl(format!("{scheme}://…")))
    }
}

impl ServeConfig {
    /// Parses configuration text; relative paths resolve against `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<ServeConfig, ConfigError> {
        let mut c: ServeConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        if c.max_plan_bytes == 0 || c.max_plan_bytes > 16 * 1024 * 1024 {
            return Err(ConfigError::PlanLimit(c.max_plan_bytes));
        }
        if let Some(console) = &c.console {
            let addr: std::net::SocketAddr = console
                .listen
                .parse()
                .map_err(|_| ConfigError::ConsoleAddress(console.listen.clone()))?;
            if !addr.ip().is_loopback() && c.tls.is_none() {
                return Err(ConfigError::ConsoleNeedsTls(console.listen.clone()));
            }
            if console.sign_in_per_minute == 0 || console.session_minutes == 0 {
                return Err(ConfigError::ConsoleLimits);
            }
        }
        if let Some(m) = &c.metrics
            && m.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::MetricsAddress(m.listen.clone()));
        }
        if let Some(url) = &c.store {
            check_store_url(url)?;
        }
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut c.db);
        abs(&mut c.specs);
        abs(&mut c.key);
        if let Some(k) = &mut c.keys {
            abs(k);
        }
        if let Some(t) = &mut c.tls {
            abs(&mut t.cert);
            abs(&mut t.key);
            if let Some(ca) = &mut t.client_ca {
                abs(ca);
            }
        }
        Ok(c)
    }

    /// Uses the PostgreSQL store at `url` (`warden serve --store`).
    pub fn set_store(&mut self, url: &str) -> Result<(), ConfigError> {
        check_store_url(url)?;
        self.store = Some(url.to_owned());
        Ok(())
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// The keys whose tokens and audit history the service accepts: those
    /// of `keys`, and `signing` (the public half of `key`), which must not
    /// be verify-only or retired there.
    pub fn trusted_keys(&self, signing: &token::PublicKey) -> Result<token::KeySet, ConfigError> {
        let mut set = token::KeySet::new();
        if let Some(path) = &self.keys {
            let shown = path.display().to_string();
            set = token::KeySet::load(&shown).map_err(|source| ConfigError::Keys {
                path: shown.clone(),
                source,
            })?;
            if let Some((_, state)) = set.get(signing.key_id())
                && state != token::KeyState::Active
            {
                return Err(ConfigError::SigningKeyNotActive {
                    kid: signing.key_id().to_string(),
                    state,
                    path: shown,
                });
            }
        }
        set.insert(signing.clone(), token::KeyState::Active);
        Ok(set)
    }

    /// Where the service keeps its state (the one place that picks the
    /// store's back end).
    pub fn store(&self) -> crate::store::StoreConfig {
        if let Some(url) = &self.store {
            return crate::store::StoreConfig::Postgres(crate::store::postgres::PgOptions {
                checkpoint_every: self.checkpoint_every,
                ..crate::store::postgres::PgOptions::new(url.clone())
            });
        }
        crate::store::StoreConfig::Sqlite {
            path: self.db.clone(),
            options: crate::store::sqlite::SqliteOptions {
                checkpoint_every: self.checkpoint_every,
                ..Default::default()
            },
        }
    }

    /// The largest gRPC message the server decodes: room for the largest
    /// plan plus the other fields. Larger messages are refused by the
    /// transport before any handler runs.
    pub fn max_message_bytes(&self) -> usize {
        self.max_plan_bytes + 64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn parses_with_defaults_and_resolves_paths() {
        let c = ServeConfig::parse(
            r#"
            specs = "s"
            [[credentials]]
            name = "o"
            role = "submitter"
            secret = "0123456789abcdef"
            "#,
            "t.toml",
            Path::new("/etc/warden"),
        )
        .unwrap();
        assert_eq!(c.specs, Path::new("/etc/warden/s"));
        assert_eq!(c.db, Path::new("/etc/warden/warden.db"));
        assert_eq!(c.max_plan_bytes, 65536);
        assert_eq!(c.credentials[0].role, Role::Submitter);
    }

    #[test]
    fn metrics_need_an_address_and_the_deployed_configuration_has_one() {
        let base = Path::new("/etc/warden");
        let c = ServeConfig::parse("[metrics]\nlisten = \"0.0.0.0:9464\"", "t", base).unwrap();
        assert_eq!(c.metrics.unwrap().listen, "0.0.0.0:9464");
        let name = ServeConfig::parse("[metrics]\nlisten = \"localhost:9464\"", "t", base);
        assert!(
            matches!(name, Err(ConfigError::MetricsAddress(_))),
            "{name:?}"
        );
        let deployed = include_str!("../../deploy/base/config/warden.toml");
        let c = ServeConfig::parse(deployed, "warden.toml", base).unwrap();
        assert_eq!(c.metrics.unwrap().listen, "0.0.0.0:9464");
    }

    #[test]
    fn the_console_listens_on_loopback_unless_tls_is_configured() {
        let base = Path::new("/etc/warden");
        let c = ServeConfig::parse("[console]\nlisten = \"127.0.0.1:8080\"", "t", base).unwrap();
        let console = c.console.unwrap();
        assert_eq!(console.listen, "127.0.0.1:8080");
        assert_eq!(console.sign_in_per_minute, 10);
        assert!(ServeConfig::parse("[console]\nlisten = \"[::1]:8080\"", "t", base).is_ok());
        let open = ServeConfig::parse("[console]\nlisten = \"0.0.0.0:8080\"", "t", base);
        assert!(
            matches!(open, Err(ConfigError::ConsoleNeedsTls(_))),
            "{open:?}"
        );
        let name = ServeConfig::parse("[console]\nlisten = \"localhost:8080\"", "t", base);
        assert!(
            matches!(name, Err(ConfigError::ConsoleAddress(_))),
            "{name:?}"
        );
        let tls = "[tls]\ncert = \"c\"\nkey = \"k\"\n[console]\nlisten = \"0.0.0.0:8443\"";
        assert!(ServeConfig::parse(tls, "t", base).is_ok());
        let zero = "[console]\nlisten = \"127.0.0.1:1\"\nsign_in_per_minute = 0";
        assert!(matches!(
            ServeConfig::parse(zero, "t", base),
            Err(ConfigError::ConsoleLimits)
        ));
    }

    #[test]
    fn refuses_unknown_keys_and_bad_limits() {
        let e = ServeConfig::parse("lisen = \"x\"", "t.toml", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        assert!(ServeConfig::parse("max_plan_bytes = 0", "t", Path::new("/")).is_err());
        assert!(
            ServeConfig::parse(
                "[[credentials]]\nname=\"x\"\nrole=\"god\"\nsecret=\"0123456789abcdef\"",
                "t",
                Path::new("/")
            )
            .is_err()
        );
    }
}
