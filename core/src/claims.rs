//! What a token says: who issued it, for which agent, for how long, for which
//! plan and spec, and the envelope the agent may act in.
//!
//! The claims are the PASETO payload, one JSON object. The registered PASETO
//! claims keep their standard names and formats (`iss`, `sub`, `jti`, and
//! `iat`/`nbf`/`exp` as RFC 3339 UTC timestamps), so any PASETO library can
//! check lifetime and issuer; the rest are Warden's.

use crate::envelope::Envelope;
use crate::shape::Situation;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The version of the claims layout this crate writes.
pub const CLAIMS_VERSION: u32 = 2;

/// The versions of the claims layout this crate reads. A token of any other
/// version is refused, naming its version and this range, never misread.
pub const ACCEPTED_VERSIONS: std::ops::RangeInclusive<u32> = 2..=2;

/// The token lifetime when neither the plan nor the command line asks for one.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// Why claims could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// A timestamp that is not RFC 3339.
    #[error("invalid timestamp `{0}` (expected RFC 3339, e.g. 2026-01-31T12:00:00Z)")]
    Timestamp(String),
    /// A token id that is not 32 lowercase hex digits.
    #[error("invalid token id `{0}` (expected 32 lowercase hex digits)")]
    TokenId(String),
    /// A digest that is not `sha256:` and 64 lowercase hex digits.
    #[error("invalid digest `{0}` (expected sha256: and 64 hex digits)")]
    Digest(String),
    /// A lifetime under one second (`0s`, or a spec `max ttl` of zero).
    #[error("the token lifetime must be at least one second")]
    ZeroTtl,
    /// Now plus the lifetime is past the year 9999, the end of RFC 3339.
    #[error("the token lifetime is too long to represent")]
    TtlOverflow,
    /// The operating system's random source failed.
    #[error("could not draw a random token id: {0}")]
    Random(String),
    /// The claims' `warden` version is outside [`ACCEPTED_VERSIONS`].
    #[error(
        "the token's claims are version {found}, outside the versions this Warden reads ({}..={})",
        accepted.start(),
        accepted.end()
    )]
    Version {
        /// The version the claims carry.
        found: u64,
        /// The versions this Warden reads.
        accepted: std::ops::RangeInclusive<u32>,
    },
    /// The payload is not JSON, or not the claims layout of its version: a
    /// member missing, unknown or of the wrong type, or a value the layout
    /// refuses (docs/token-format.md).
    #[error("the claims are not Warden claims: {0}")]
    Json(String),
}

/// Serialize a type as its `Display` text and deserialize it with `FromStr`.
macro_rules! serde_via_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parse exactly `out.len() * 2` lowercase hex digits into `out`.
fn unhex_lower(s: &str, out: &mut [u8]) -> bool {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return false;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for (i, o) in out.iter_mut().enumerate() {
        match (digit(b[2 * i]), digit(b[2 * i + 1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

// ───────────────────────────── time ─────────────────────────────

/// A point in time, whole seconds since the Unix epoch (UTC). Serialized as
/// RFC 3339 (`2026-01-31T12:00:00Z`), as PASETO's registered claims are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `secs` seconds after the Unix epoch (before it, when
    /// negative).
    pub const fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }
    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }
    /// Now, by the system clock.
    pub fn now() -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }
    /// `self + d`, or `None` past the representable range.
    pub fn checked_add(self, d: Duration) -> Option<Timestamp> {
        let secs = i64::try_from(d.as_secs()).ok()?;
        let t = self.0.checked_add(secs)?;
        // RFC 3339 years end at 9999.
        (t <= 253_402_300_799).then_some(Timestamp(t))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = ClaimsError;
    fn from_str(s: &str) -> Result<Timestamp, ClaimsError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Timestamp(t.unix_timestamp()))
            .map_err(|_| ClaimsError::Timestamp(s.to_string()))
    }
}

serde_via_text!(Timestamp);

/// Where "now" comes from when a token is issued or checked. Tests use a
/// [`FixedClock`] to step over expiry.
pub trait Clock: Send + Sync {
    /// The current time, by this clock.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    /// A clock that reads `t` until it is set or advanced.
    pub fn new(t: Timestamp) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(t.unix()))
    }
    /// Makes the clock read `t` from now on (also backwards).
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.unix(), std::sync::atomic::Ordering::SeqCst);
    }
    /// Moves the clock forward by `d`, in whole seconds (the fraction is
    /// dropped).
    pub fn advance(&self, d: Duration) {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The lifetime of a token: the requested one (or [`DEFAULT_TTL`]), capped by
/// the spec's `max ttl`.
pub fn effective_ttl(
    requested: Option<Duration>,
    spec_max: Option<Duration>,
) -> Result<Duration, ClaimsError> {
    let ttl = requested.unwrap_or(DEFAULT_TTL);
    let ttl = match spec_max {
        Some(max) => ttl.min(max),
        None => ttl,
    };
    if ttl.as_secs() == 0 {
        return Err(ClaimsError::ZeroTtl);
    }
    Ok(ttl)
}

// ───────────────────────────── ids and digests ─────────────────────────────

/// A token's id: 128 random bits, written as 32 lowercase hex digits. This is
/// what a revocation list names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId([u8; 16]);

impl TokenId {
    /// A fresh id from the operating system's random source.
    pub fn random() -> Result<TokenId, ClaimsError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| ClaimsError::Random(e.to_string()))?;
        Ok(TokenId(b))
    }
    /// The id with these 16 bytes.
    pub const fn from_bytes(b: [u8; 16]) -> TokenId {
        TokenId(b)
    }
    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

impl FromStr for TokenId {
    type Err = ClaimsError;
    fn from_str(s: &str) -> Result<TokenId, ClaimsError> {
        let mut b = [0u8; 16];
        if unhex_lower(s, &mut b) {
            Ok(TokenId(b))
        } else {
            Err(ClaimsError::TokenId(s.to_string()))
        }
    }
}

serde_via_text!(TokenId);

/// A SHA-256 digest, written `sha256:` and 64 lowercase hex digits. Plans
/// and specs are hashed in their canonical `fmt` text, so reformatting a file
/// does not change its hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The SHA-256 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The SHA-256 of `text` (its UTF-8 bytes).
    pub fn of_text(text: &str) -> Digest {
        Digest(Sha256::digest(text.as_bytes()).into())
    }
    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex(&self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = ClaimsError;
    fn from_str(s: &str) -> Result<Digest, ClaimsError> {
        let mut b = [0u8; 32];
        match s.strip_prefix("sha256:") {
            Some(h) if unhex_lower(h, &mut b) => Ok(Digest(b)),
            _ => Err(ClaimsError::Digest(s.to_string())),
        }
    }
}

serde_via_text!(Digest);

// ───────────────────────────── claims ─────────────────────────────

/// The payload of a Warden token.
///
/// Unknown fields are refused when a token is read: a token written by a
/// newer Warden that says more than this one understands must not be taken
/// as saying less.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// The layout version, [`CLAIMS_VERSION`].
    pub warden: u32,
    /// Who issued the token (`--issuer`; default `warden`).
    pub iss: String,
    /// The agent the plan names (`agent "..."`); absent when it names none.
    pub sub: Option<String>,
    /// The token id, for revocation and the audit log.
    pub jti: TokenId,
    /// Issued at.
    pub iat: Timestamp,
    /// Not valid before.
    pub nbf: Timestamp,
    /// Not valid from this instant on.
    pub exp: Timestamp,
    /// The plan's name (`plan "NAME"`), for people.
    pub plan: Option<String>,
    /// SHA-256 of the plan's canonical `fmt` text.
    pub plan_hash: Digest,
    /// The spec's name (`spec "NAME"`), for people.
    pub spec: Option<String>,
    /// SHA-256 of the spec's canonical `fmt` text.
    pub spec_hash: Digest,
    /// For an attenuated token: the ids of the tokens it was narrowed from,
    /// the root first and its direct parent last. Revoking any of them
    /// revokes this token too.
    pub ancestors: Vec<TokenId>,
    /// The least privilege the plan needs, with the spec's runtime-only
    /// `baseline` grants (loader, libc, locale) in `envelope.baseline`
    /// (see docs/token-format.md for its schema).
    pub envelope: Envelope,
    /// The enforcement profiles proven at issue time: for each set of
    /// kernel layers a run may have, the digest of the envelope those layers
    /// really enforce (widenings included) and whether the verifier proved
    /// it inside the spec. `warden exec` starts a run only when the layers it
    /// has give an enforced envelope whose digest is listed here as proven.
    pub enforcement: Vec<EnforcementProof>,
}

/// The proof of one enforcement profile (an entry of the `enforcement`
/// claim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnforcementProof {
    /// The profile's name (`unprivileged`, `root`, `root+bpf-lsm`).
    pub profile: String,
    /// SHA-256 of the enforced envelope's canonical JSON.
    pub digest: Digest,
    /// Whether the verifier proved the enforced envelope inside the spec
    /// with every path of an alternative a file (its exact shape); the
    /// wide shapes are proven one by one in `alternatives`.
    pub proven: bool,
    /// When not proven: the action the widening would let through and the
    /// spec rule that refuses it, for people.
    pub counterexample: Option<String>,
    /// The grants whose shape the file system decides when the run starts
    /// ([`crate::shape::Alternative`]), each with the proof of its wide
    /// shape on its own: a run starts only when every grant whose path is
    /// in its wide situation then has a proven wide shape.
    pub alternatives: Vec<AlternativeProof>,
}

/// The proof of one grant's wide shape ([`EnforcementProof::alternatives`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlternativeProof {
    /// The envelope's grant, as the plan language writes it
    /// (`write "/tmp/out.txt"`).
    pub grant: String,
    /// When the wide shape applies.
    pub situation: Situation,
    /// The wide shape (`write under "/tmp"`).
    pub widened: String,
    /// Whether the verifier proved the wide shape inside the spec.
    pub proven: bool,
    /// When not proven: an action the wide shape would let through and the
    /// spec rule that refuses it, for people.
    pub counterexample: Option<String>,
}

impl EnforcementProof {
    /// The kernel layers of the proof's profile (none for a profile this
    /// Warden does not know).
    pub fn layers(&self) -> &'static [&'static str] {
        crate::shape::Profile::ALL
            .into_iter()
            .find(|p| p.name() == self.profile)
            .map(|p| p.layers())
            .unwrap_or(&[])
    }
}

/// Why a token is not valid at some time: outside `[nbf, exp)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutsideLifetime {
    /// `now` is before `nbf`.
    #[error("the token is not valid before {nbf} (it is now {now})")]
    NotYetValid {
        /// The start of the lifetime (`nbf` claim).
        nbf: Timestamp,
        /// The time checked.
        now: Timestamp,
    },
    /// `now` is at or after `exp`.
    #[error("the token expired at {exp} (it is now {now})")]
    Expired {
        /// The end of the lifetime (`exp` claim), excluded.
        exp: Timestamp,
        /// The time checked.
        now: Timestamp,
    },
}

impl Claims {
    /// Whether the token is valid at `now`: from `nbf` (included) to `exp`
    /// (excluded). The one lifetime check, of verification and of every
    /// monitored action alike.
    pub fn lifetime_at(&self, now: Timestamp) -> Result<(), OutsideLifetime> {
        if now < self.nbf {
            return Err(OutsideLifetime::NotYetValid { nbf: self.nbf, now });
        }
        if now >= self.exp {
            return Err(OutsideLifetime::Expired { exp: self.exp, now });
        }
        Ok(())
    }

    /// Reads claims from their JSON (a token's payload). This checks only
    /// the shape: a token's signature is the `token` crate's to check.
    pub fn from_json(text: &str) -> Result<Claims, ClaimsError> {
        Claims::from_slice(text.as_bytes())
    }

    /// [`Claims::from_json`] of bytes. A version outside
    /// [`ACCEPTED_VERSIONS`] is refused as such, whatever else the claims
    /// say; so is a layout that does not match its version.
    pub fn from_slice(json: &[u8]) -> Result<Claims, ClaimsError> {
        #[derive(Deserialize)]
        struct Version {
            warden: u64,
        }
        let version_error = |found: u64| ClaimsError::Version {
            found,
            accepted: ACCEPTED_VERSIONS,
        };
        let accepted = |v: u64| u32::try_from(v).is_ok_and(|v| ACCEPTED_VERSIONS.contains(&v));
        match serde_json::from_slice::<Claims>(json) {
            Ok(c) if accepted(u64::from(c.warden)) => Ok(c),
            Ok(c) => Err(version_error(u64::from(c.warden))),
            Err(e) => match serde_json::from_slice::<Version>(json) {
                Ok(v) if !accepted(v.warden) => Err(version_error(v.warden)),
                _ => Err(ClaimsError::Json(e.to_string())),
            },
        }
    }

    /// The proven enforcement entry whose enforced envelope has `digest`.
    pub fn proven_enforcement(&self, digest: &Digest) -> Option<&EnforcementProof> {
        self.enforcement
            .iter()
            .find(|e| e.proven && e.digest == *digest)
    }

    /// Whether the token is valid at `now`: `nbf <= now < exp`.
    pub fn is_live_at(&self, now: Timestamp) -> bool {
        self.nbf <= now && now < self.exp
    }

    /// Seconds of life left at `now` (zero once expired).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        Duration::from_secs(u64::try_from(self.exp.unix() - now.unix()).unwrap_or(0))
    }
}

/// The lifetime fields of new claims: issued now, valid from now, for `ttl`.
pub fn lifetime(
    clock: &dyn Clock,
    ttl: Duration,
) -> Result<(Timestamp, Timestamp, Timestamp), ClaimsError> {
    if ttl.as_secs() == 0 {
        return Err(ClaimsError::ZeroTtl);
    }
    let now = clock.now();
    let exp = now.checked_add(ttl).ok_or(ClaimsError::TtlOverflow)?;
    Ok((now, now, exp))
}

// ───────────────────────────── example ─────────────────────────────

/// Claims for tests: a ten-minute token from Unix 1_700_000_000 with an
/// empty envelope, one profile refused with its counterexample and one
/// proven. Not for anything else.
#[doc(hidden)]
pub fn sample() -> Claims {
    Claims {
        warden: CLAIMS_VERSION,
        iss: "warden".into(),
        sub: Some("banking-assistant".into()),
        jti: TokenId::from_bytes([7; 16]),
        iat: Timestamp::from_unix(1_700_000_000),
        nbf: Timestamp::from_unix(1_700_000_000),
        exp: Timestamp::from_unix(1_700_000_600),
        plan: Some("pay".into()),
        plan_hash: Digest::of_text("plan"),
        spec: Some("banking".into()),
        spec_hash: Digest::of_text("spec"),
        ancestors: Vec::new(),
        envelope: Envelope::default(),
        enforcement: vec![
            EnforcementProof {
                profile: "unprivileged".into(),
                digest: Digest::of_text("enforced"),
                proven: false,
                counterexample: Some("write \"/tmp/out/evil.sh\"".into()),
                alternatives: Vec::new(),
            },
            EnforcementProof {
                profile: "root+bpf-lsm".into(),
                digest: Digest::of_text("exact"),
                proven: true,
                counterexample: None,
                alternatives: Vec::new(),
            },
        ],
    }
}

/// Claims for examples and doc tests: the banking assistant's token for
/// `pay-bill.plan` (`send_money` to one payee with `amount <= 100`, at
/// most 3 times, and `get_balance`), valid for ten minutes from
/// 2027-01-15T08:00:00Z (Unix 1_800_000_000). Not for anything else.
#[doc(hidden)]
pub fn example() -> Claims {
    use crate::cond::{Cond, Pattern};
    use crate::envelope::{CallGrant, CountLimit, Location, ValueMatch};
    use crate::vocab::ActionKind;
    let mut envelope = Envelope::default();
    envelope
        .params
        .push(crate::envelope::example_amount_param());
    envelope.calls.push(CallGrant {
        name: "send_money".into(),
        args: [
            (
                "recipient".to_owned(),
                ValueMatch::Exact {
                    value: "UK12345678901234567890".into(),
                },
            ),
            (
                "amount".to_owned(),
                ValueMatch::Param {
                    param: "amount".into(),
                },
            ),
        ]
        .into_iter()
        .collect(),
    });
    envelope.calls.push(CallGrant {
        name: "get_balance".into(),
        args: Default::default(),
    });
    envelope.limits.push(CountLimit {
        limit: 3,
        pattern: Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec!["send_money".into()]),
            when: Cond::True,
        },
        rule: Location {
            file: "banking.spec".into(),
            line: 13,
            col: 3,
        },
    });
    let now = Timestamp::from_unix(1_800_000_000);
    Claims {
        warden: CLAIMS_VERSION,
        iss: "warden".into(),
        sub: Some("banking-assistant".into()),
        jti: TokenId::from_bytes([7; 16]),
        iat: now,
        nbf: now,
        exp: Timestamp::from_unix(now.unix() + 600),
        plan: Some("pay-december-bill".into()),
        plan_hash: Digest::of_text("plan"),
        spec: Some("banking".into()),
        spec_hash: Digest::of_text("spec"),
        ancestors: Vec::new(),
        envelope,
        enforcement: Vec::new(),
    }
}

// ───────────────────────────── signing ─────────────────────────────

/// What signs claims into a token: the `token` crate's `SigningKey`
/// (PASETO v4.public). The verifier issues tokens through it without
/// knowing the token format.
pub trait Signer {
    /// The signed token text of `claims`, or why it could not be made.
    fn sign(&self, claims: &Claims) -> Result<String, SignError>;
}

/// Why claims could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not sign the token: {0}")]
pub struct SignError(pub String);

// ───────────────────────────── enforcement ─────────────────────────────

/// The digest of an enforced envelope (SHA-256 of its canonical JSON).
pub fn digest(enforced: &Envelope) -> Digest {
    Digest::of_text(&crate::shape::canonical_json(enforced))
}

/// The digest of the envelope `profile`'s layers enforce for `envelope`.
pub fn profile_digest(envelope: &Envelope, profile: crate::shape::Profile) -> Digest {
    digest(&crate::shape::enforced_envelope(envelope, profile))
}

/// The proven entries.
pub fn proven(proofs: &[EnforcementProof]) -> impl Iterator<Item = &EnforcementProof> {
    proofs.iter().filter(|p| p.proven)
}

/// For people: one line per profile, `proven` or the counterexample, then
/// each grant whose wide shape was not proven.
pub fn describe(proofs: &[EnforcementProof]) -> String {
    let mut s = String::new();
    for p in proofs {
        match &p.counterexample {
            None if p.proven => s.push_str(&format!("  {}: proven\n", p.profile)),
            Some(cx) => s.push_str(&format!("  {}: refused: {cx}\n", p.profile)),
            None => s.push_str(&format!("  {}: refused\n", p.profile)),
        }
        for a in p.alternatives.iter().filter(|a| !a.proven) {
            s.push_str(&format!(
                "    only if {} is a file when the run starts: where {}, the kernel would grant `{}`, not proven{}\n",
                a.grant,
                a.situation,
                a.widened,
                a.counterexample
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ));
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A token is valid from `nbf` (included) to `exp` (excluded), and the
    /// monitor refuses with the same reason verification gives.
    #[test]
    fn the_lifetime_includes_nbf_and_excludes_exp() {
        let c = example();
        let at = |s: i64| c.lifetime_at(Timestamp::from_unix(s));
        let (nbf, exp) = (c.nbf.unix(), c.exp.unix());
        assert_eq!(at(nbf), Ok(()));
        assert_eq!(at(exp - 1), Ok(()));
        assert!(matches!(
            at(nbf - 1),
            Err(OutsideLifetime::NotYetValid { .. })
        ));
        let e = at(exp).unwrap_err();
        assert_eq!(
            e,
            OutsideLifetime::Expired {
                exp: c.exp,
                now: c.exp
            }
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Timestamp::from_unix(1_700_000_000);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20Z");
        assert_eq!("2023-11-14T22:13:20Z".parse::<Timestamp>().unwrap(), t);
        assert_eq!("2023-11-14T23:13:20+01:00".parse::<Timestamp>().unwrap(), t);
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn ttl_defaults_and_caps() {
        let m = |s| Duration::from_secs(s);
        assert_eq!(effective_ttl(None, None).unwrap(), DEFAULT_TTL);
        assert_eq!(effective_ttl(Some(m(600)), None).unwrap(), m(600));
        assert_eq!(
            effective_ttl(Some(m(3600)), Some(m(1800))).unwrap(),
            m(1800)
        );
        assert_eq!(effective_ttl(None, Some(m(60))).unwrap(), m(60));
        assert_eq!(effective_ttl(Some(m(30)), Some(m(60))).unwrap(), m(30));
        assert_eq!(effective_ttl(Some(m(0)), None), Err(ClaimsError::ZeroTtl));
        assert_eq!(effective_ttl(None, Some(m(0))), Err(ClaimsError::ZeroTtl));
    }

    #[test]
    fn digest_of_text_is_sha256() {
        assert_eq!(
            Digest::of_text("abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!("sha256:BA78".parse::<Digest>().is_err());
        assert!("md5:00".parse::<Digest>().is_err());
    }

    #[test]
    fn token_ids_are_random_and_parse_back() {
        let a = TokenId::random().unwrap();
        let b = TokenId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 32);
        assert_eq!(a.to_string().parse::<TokenId>().unwrap(), a);
        assert!("0123".parse::<TokenId>().is_err());
        assert!(
            "0123456789ABCDEF0123456789abcdef"
                .parse::<TokenId>()
                .is_err()
        );
    }

    #[test]
    fn unknown_claims_are_refused() {
        let c = sample();
        let mut v = serde_json::to_value(&c).unwrap();
        assert_eq!(serde_json::from_value::<Claims>(v.clone()).unwrap(), c);
        v["admin"] = serde_json::Value::Bool(true);
        assert!(serde_json::from_value::<Claims>(v).is_err());
    }

    #[test]
    fn enforcement_claim_round_trips_and_finds_the_proven_digest() {
        let c = sample();
        let json = serde_json::to_string(&c).unwrap();
        let back: Claims = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // A refused profile is never taken as proven, whatever its digest.
        assert!(
            back.proven_enforcement(&Digest::of_text("enforced"))
                .is_none()
        );
        let p = back.proven_enforcement(&Digest::of_text("exact")).unwrap();
        assert_eq!(p.profile, "root+bpf-lsm");
        assert!(back.proven_enforcement(&Digest::of_text("other")).is_none());
        // Tokens without the claim read back with none (and so start no run).
        let mut v = serde_json::to_value(&c).unwrap();
        v.as_object_mut().unwrap().remove("enforcement");
        let old: Claims = serde_json::from_value(v.clone()).unwrap();
        assert!(old.enforcement.is_empty());
        v["enforcement"] = serde_json::json!([{"profile": "root", "layers": [],
            "digest": Digest::of_text("x").to_string(), "proven": true, "extra": 1}]);
        assert!(serde_json::from_value::<Claims>(v).is_err());
    }

    proptest! {
        #[test]
        fn timestamp_text_round_trips(secs in -62_135_596_800i64..253_402_300_799) {
            let t = Timestamp::from_unix(secs);
            prop_assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }

        #[test]
        fn ids_round_trip(b in any::<[u8; 16]>()) {
            let id = TokenId::from_bytes(b);
            prop_assert_eq!(id.to_string().parse::<TokenId>().unwrap(), id);
        }
    }
}
