//! Following a service's revocations from a process that runs work under a
//! token (`warden exec --service`): `WatchRevocations` on a thread of its
//! own, reconnecting when the stream breaks, and failing closed when the
//! service stays out of reach.

use crate::proto::{WatchRevocationsRequest, warden_client::WardenClient};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Where the service is and how to reach it.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// `http://host:port` or `https://…`.
    pub endpoint: String,
    /// PEM of the CA that signed the server's certificate, for https.
    pub tls_ca: Option<Vec<u8>>,
    /// A bearer secret (any role).
    pub secret: String,
    /// How long the stream may stay broken (reconnecting) before the
    /// watch gives up: after that nobody could tell a revocation.
    pub give_up_after: Duration,
}

/// What the watch reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// Every token id revoked so far (after each change).
    Revoked(HashSet<String>),
    /// The service could not be reached for `give_up_after`: the watch has
    /// stopped.
    Lost(String),
}

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The service cannot be reached.
    #[error("cannot reach the service at {endpoint}: {why}")]
    Connect {
        /// The service's URL.
        endpoint: String,
        /// Why the connection failed.
        why: String,
    },
    /// The service answered, but no list of revocations came: the call
    /// was refused (a bad secret, a role), or the stream ended before its
    /// first message.
    #[error("the service refused to stream revocations: {0}")]
    Refused(String),
    /// The watch's thread or its runtime could not start.
    #[error("cannot start the watch: {0}")]
    Start(String),
}

/// A running watch; dropping it does not stop the thread, which ends with
/// the process (or on [`WatchEvent::Lost`]).
pub struct RevocationWatcher {
    _thread: std::thread::JoinHandle<()>,
}

/// The ids of one stream message, or why the stream ended.
type Next = Result<Option<Vec<String>>, String>;

async fn open(
    opts: &WatchOptions,
) -> Result<tonic::Streaming<crate::proto::Revocations>, WatchError> {
    let ch = crate::loadgen::connect(&opts.endpoint, opts.tls_ca.as_deref())
        .await
        .map_err(|e| WatchError::Connect {
            endpoint: opts.endpoint.clone(),
            why: e.to_string(),
        })?;
    let req = crate::auth::authorized(WatchRevocationsRequest {}, &opts.secret)
        .map_err(|e| WatchError::Refused(e.to_string()))?;
    WardenClient::new(ch)
        .watch_revocations(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| WatchError::Refused(format!("{}: {}", s.code(), s.message())))
}

async fn next(stream: &mut tonic::Streaming<crate::proto::Revocations>) -> Next {
    match stream.message().await {
        Ok(Some(m)) => Ok(Some(m.token_ids)),
        Ok(None) => Err("the service ended the stream".into()),
        Err(s) => Err(format!("{}: {}", s.code(), s.message())),
    }
}

/// Starts watching: returns once the service has sent every id revoked so
/// far, which `on_event` has already seen (so a caller can refuse to start
/// work under a token revoked before). Then `on_event` gets the whole set
/// after each change, on the watch's thread, and [`WatchEvent::Lost`] once
/// the stream stayed broken for `give_up_after`.
pub fn watch_revocations(
    opts: WatchOptions,
    mut on_event: impl FnMut(WatchEvent) + Send + 'static,
) -> Result<RevocationWatcher, WatchError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), WatchError>>(1);
    let thread = std::thread::Builder::new()
        .name("warden-revocations".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(WatchError::Start(e.to_string())));
                    return;
                }
            };
            rt.block_on(async move {
                let mut revoked = HashSet::new();
                let first = async {
                    let mut s = open(&opts).await?;
                    match next(&mut s).await {
                        Ok(Some(ids)) => Ok((s, ids)),
                        Ok(None) => Err(WatchError::Refused("no first message".into())),
                        Err(why) => Err(WatchError::Refused(why)),
                    }
                };
                let mut stream = match first.await {
                    Ok((s, ids)) => {
                        revoked.extend(ids);
                        on_event(WatchEvent::Revoked(revoked.clone()));
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    match next(&mut stream).await {
                        Ok(Some(ids)) => {
                            revoked.extend(ids);
                            on_event(WatchEvent::Revoked(revoked.clone()));
                        }
                        Ok(None) => {}
                        Err(why) => {
                            tracing::warn!("revocation watch: {why}; reconnecting");
                            // Reconnect until `give_up_after`; the first
                            // message then brings every id again.
                            let since = Instant::now();
                            let mut last = why;
                            loop {
                                if since.elapsed() >= opts.give_up_after {
                                    on_event(WatchEvent::Lost(last));
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(200)).await;
                                match open(&opts).await {
                                    Ok(s) => {
                                        stream = s;
                                        break;
                                    }
                                    Err(e) => last = e.to_string(),
                                }
                            }
                        }
                    }
                }
            });
        })
        .map_err(|e| WatchError::Start(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(RevocationWatcher { _thread: thread }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(WatchError::Start("the watch thread ended".into())),
    }
}

/// The revocations a watch has seen, as a [`token::RevocationList`]: a
/// token is revoked once the service said so; once the watch is lost every
/// check fails (fail closed).
#[derive(Clone, Debug)]
pub struct WatchedRevocations(std::sync::Arc<std::sync::RwLock<Result<HashSet<String>, String>>>);

impl Default for WatchedRevocations {
    /// Nothing revoked yet.
    fn default() -> Self {
        WatchedRevocations(std::sync::Arc::new(std::sync::RwLock::new(Ok(
            HashSet::new(),
        ))))
    }
}

impl WatchedRevocations {
    /// Takes in what the watch reported.
    pub fn apply(&self, event: &WatchEvent) {
        let mut state = self.0.write().unwrap_or_else(|p| p.into_inner());
        *state = match event {
            WatchEvent::Revoked(ids) => Ok(ids.clone()),
            WatchEvent::Lost(why) => Err(why.clone()),
        };
    }
}

impl token::RevocationList for WatchedRevocations {
    fn is_revoked(&self, id: &token::TokenId) -> Result<bool, token::RevocationError> {
        match &*self.0.read().unwrap_or_else(|p| p.into_inner()) {
            Ok(ids) => Ok(ids.contains(&id.to_string())),
            Err(why) => Err(token::RevocationError::Store(format!(
                "the service's revocations are out of reach: {why}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use token::RevocationList;

    #[test]
    fn watched_revocations_fail_closed_once_lost() {
        let list = WatchedRevocations::default();
        let id = token::TokenId::random().unwrap();
        assert!(!list.is_revoked(&id).unwrap());
        list.apply(&WatchEvent::Revoked([id.to_string()].into_iter().collect()));
        assert!(list.is_revoked(&id).unwrap());
        list.apply(&WatchEvent::Lost("gone".into()));
        assert!(list.is_revoked(&id).is_err());
    }
}
