//! Who is signed in, their CSRF tokens, and how often a client may try.
//!
//! A session is a random 256-bit id in an `HttpOnly`, `SameSite=Strict`
//! cookie (`Secure` under TLS); the server keeps only its SHA-256, with the
//! identity, the session's CSRF token and its expiry. Every state change
//! carries the CSRF token in the form and is refused without it. Sign-in
//! itself is protected by a double-submit token (a cookie set by the sign-in
//! page and the same value in its form) and rate-limited per client address.

use service::auth::Identity;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "warden_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "warden_login";

/// At most this many live sessions: a flood of sign-ins cannot exhaust memory.
const MAX_SESSIONS: usize = 10_000;
/// At most this many client addresses are remembered by the rate limiter.
const MAX_CLIENTS: usize = 10_000;

/// No randomness: nothing can be issued (fail closed).
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a session id: {0}")]
pub struct NoRandomness(String);

/// 32 random bytes, hex.
pub fn random_token() -> Result<String, NoRandomness> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| NoRandomness(e.to_string()))?;
    Ok(hex::encode(b))
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Whether two secrets are equal, in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in approver.
#[derive(Clone, Debug)]
pub struct Session {
    pub identity: Identity,
    pub csrf: String,
    expires: Instant,
}

/// The live sessions.
pub struct Sessions {
    lifetime: Duration,
    by_key: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Self {
        Sessions {
            lifetime,
            by_key: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session: its id (for the cookie) and the session.
    pub fn start(&self, identity: Identity) -> Result<(String, Session), NoRandomness> {
        let id = random_token()?;
        let session = Session {
            identity,
            csrf: random_token()?,
            expires: Instant::now() + self.lifetime,
        };
        let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
        }
        if map.len() >= MAX_SESSIONS {
            // Drop the session closest to its end rather than refuse to sign in.
            if let Some(k) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k) {
                map.remove(&k);
            }
        }
        map.insert(key(&id), session.clone());
        Ok((id, session))
    }

    /// The live session with this id, if any.
    pub fn get(&self, id: &str) -> Option<Session> {
        let k = key(id);
        let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.by_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key(id));
    }
}

/// Sign-in attempts per client address in a sliding minute.
pub struct RateLimiter {
    per_minute: usize,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as usize,
            window: Duration::from_secs(60),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip`: `Err(wait)` if it is over the limit
    /// (then it is not counted and must not be tried).
    pub fn attempt(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CLIENTS && !map.contains_key(&ip) {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
            if map.len() >= MAX_CLIENTS {
                // Too many addresses at once: refuse new ones for now.
                return Err(self.window);
            }
        }
        let q = map.entry(ip).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.per_minute {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::auth::Role;

    fn alice() -> Identity {
        Identity {
            name: "alice".into(),
            role: Role::Approver,
        }
    }

    #[test]
    fn sessions_are_found_by_id_only_and_end() {
        let s = Sessions::new(Duration::from_secs(60));
        let (id, session) = s.start(alice()).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, session.csrf);
        assert_eq!(s.get(&id).unwrap().identity, alice());
        assert!(s.get(&session.csrf).is_none());
        assert!(s.get("").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn an_expired_session_is_gone() {
        let s = Sessions::new(Duration::ZERO);
        let (id, _) = s.start(alice()).unwrap();
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn the_limiter_counts_per_address() {
        let r = RateLimiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            r.attempt(a).unwrap();
        }
        assert!(r.attempt(a).is_err());
        assert!(r.attempt(b).is_ok());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
