//! `--service` of `warden exec` and `warden mcp`: follow a service's
//! revocations (`WatchRevocations`, every replica's on a fleet).

use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct ServiceArgs {
    /// Follow this service's revocations (`http://host:port`, `https://…`;
    /// any replica of a fleet): a token revoked before is refused, and one
    /// revoked while it is in use (or one it was narrowed from), through any
    /// replica, stops the run at once: `warden exec` kills it, `warden mcp`
    /// refuses every call and its confined server is killed. The
    /// credential: WARDEN_SECRET (any role). A service out of reach for
    /// --service-grace seconds stops the run too.
    #[arg(long, value_name = "URL")]
    pub service: Option<String>,
    /// The CA certificate (PEM) of an https --service.
    #[arg(long, value_name = "FILE", requires = "service")]
    pub service_ca: Option<PathBuf>,
    /// Seconds --service may stay out of reach while the run runs.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub service_grace: u64,
    /// The bearer secret of a credential of the service, for --service
    /// (any role) and, with `warden mcp`, --approvals (a submitter). Prefer
    /// WARDEN_SECRET: a command line is visible to other users.
    #[arg(long, env = "WARDEN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// Why `--service` cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("--service needs a credential: set WARDEN_SECRET")]
    NoSecret,
    #[error("--service-ca {0}: {1}")]
    Ca(String, std::io::Error),
    #[error(transparent)]
    Watch(#[from] service::watch::WatchError),
    #[error("the token {0} was revoked")]
    Revoked(String),
}

impl ServiceArgs {
    /// The watch's options (`None` without --service).
    fn options(&self) -> Result<Option<service::watch::WatchOptions>, FollowError> {
        let Some(endpoint) = &self.service else {
            return Ok(None);
        };
        let secret = self.secret.clone().ok_or(FollowError::NoSecret)?;
        let tls_ca = match &self.service_ca {
            Some(p) => {
                Some(std::fs::read(p).map_err(|e| FollowError::Ca(p.display().to_string(), e))?)
            }
            None => None,
        };
        Ok(Some(service::watch::WatchOptions {
            endpoint: endpoint.clone(),
            tls_ca,
            secret,
            give_up_after: Duration::from_secs(self.service_grace),
        }))
    }

    /// Starts following (`None` without --service): the list the service's
    /// revocations are kept in, complete with those made before (the call
    /// returns after the service sent them), and `on_change` called with it
    /// after each change, on the watch's thread.
    pub fn follow(
        &self,
        mut on_change: impl FnMut(&service::watch::WatchedRevocations) + Send + 'static,
    ) -> Result<
        Option<(
            service::watch::WatchedRevocations,
            service::watch::RevocationWatcher,
        )>,
        FollowError,
    > {
        let Some(opts) = self.options()? else {
            return Ok(None);
        };
        let list = service::watch::WatchedRevocations::default();
        let fed = list.clone();
        let watcher = service::watch::watch_revocations(opts, move |event| {
            fed.apply(&event);
            on_change(&fed);
        })?;
        Ok(Some((list, watcher)))
    }

    /// The same flags for a `warden exec` started on the caller's behalf
    /// (WARDEN_SECRET is inherited).
    pub fn pass_on(&self, c: &mut tokio::process::Command) {
        if let Some(url) = &self.service {
            c.arg("--service").arg(url);
            c.arg("--service-grace").arg(self.service_grace.to_string());
            if let Some(ca) = &self.service_ca {
                c.arg("--service-ca").arg(ca);
            }
        }
    }
}
