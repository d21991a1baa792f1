//! What a token says: who issued it, for which agent, for how long, for which
//! plan and spec, and the envelope the agent may act in.
//!
//! The claims are the PASETO payload, one JSON object. The registered PASETO
//! claims keep their standard names and formats (`iss`, `sub`, `jti`, and
//! `iat`/`nbf`/`exp` as RFC 3339 UTC timestamps), so any PASETO library can
//! check lifetime and issuer; the rest are Warden's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use verifier::envelope::Envelope;

/// The version of the claims layout this crate writes and reads.
pub const CLAIMS_VERSION: u32 = 1;

/// The token lifetime when neither the plan nor the command line asks for one.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// Why claims could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("invalid timestamp `{0}` (expected RFC 3339, e.g. 2026-01-31T12:00:00Z)")]
    Timestamp(String),
    #[error("invalid token id `{0}` (expected 32 lowercase hex digits)")]
    TokenId(String),
    #[error("invalid digest `{0}` (expected sha256: and 64 hex digits)")]
    Digest(String),
    #[error("the token lifetime must be at least one second")]
    ZeroTtl,
    #[error("the token lifetime is too long to represent")]
    TtlOverflow,
    #[error("could not draw a random token id: {0}")]
    Random(String),
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

// ───────────────────────────── time ─────────────────────────────

/// A point in time, whole seconds since the Unix epoch (UTC). Serialized as
/// RFC 3339 (`2026-01-31T12:00:00Z`), as PASETO's registered claims are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }
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
    pub fn new(t: Timestamp) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(t.unix()))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.unix(), std::sync::atomic::Ordering::SeqCst);
    }
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
    pub fn random() -> Result<TokenId, ClaimsError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| ClaimsError::Random(e.to_string()))?;
        Ok(TokenId(b))
    }
    pub const fn from_bytes(b: [u8; 16]) -> TokenId {
        TokenId(b)
    }
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex(&self.0))
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
        if crate::unhex_lower(s, &mut b) {
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
    /// The SHA-256 of `text`.
    pub fn of_text(text: &str) -> Digest {
        Digest(Sha256::digest(text.as_bytes()).into())
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", crate::hex(&self.0))
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
            Some(h) if crate::unhex_lower(h, &mut b) => Ok(Digest(b)),
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The layout version, [`CLAIMS_VERSION`].
    pub warden: u32,
    /// Who issued the token (`--issuer`; default `warden`).
    pub iss: String,
    /// The agent the plan names (`agent "..."`); absent when it names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// SHA-256 of the plan's canonical `fmt` text.
    pub plan_hash: Digest,
    /// The spec's name (`spec "NAME"`), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// SHA-256 of the spec's canonical `fmt` text.
    pub spec_hash: Digest,
    /// For an attenuated token: the ids of the tokens it was narrowed from,
    /// the root first and its direct parent last. Revoking any of them
    /// revokes this token too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<TokenId>,
    /// The least privilege the plan needs, with the spec's runtime-only
    /// `baseline` grants (loader, libc, locale) in `envelope.baseline`
    /// (see the README for its schema).
    pub envelope: Envelope,
    /// The enforcement profiles proven at issue time: for each set of
    /// kernel layers a run may have, the digest of the envelope those layers
    /// really enforce (widenings included) and whether the verifier proved
    /// it inside the spec. `warden exec` starts a run only when the layers it
    /// has give an enforced envelope whose digest is listed here as proven.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enforcement: Vec<EnforcementProof>,
}

/// The proof of one enforcement profile (an entry of the `enforcement`
/// claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementProof {
    /// The profile's name (`unprivileged`, `root`, `root+bpf-lsm`).
    pub profile: String,
    /// The layers whose shapes make up the enforced envelope.
    pub layers: Vec<String>,
    /// SHA-256 of the enforced envelope's canonical JSON.
    pub digest: Digest,
    /// Whether the verifier proved the enforced envelope inside the spec
    /// with every path of an alternative a file (its exact shape); the
    /// wide shapes are proven one by one in `alternatives`.
    pub proven: bool,
    /// When not proven: the action the widening would let through and the
    /// spec rule that refuses it, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<String>,
    /// The grants whose shape the file system decides when the run starts
    /// (`verifier::enforced::Alternative`), each with the proof of its wide
    /// shape on its own: a run starts only when every grant whose path is
    /// in its wide situation then has a proven wide shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<AlternativeProof>,
}

/// The proof of one grant's wide shape ([`EnforcementProof::alternatives`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternativeProof {
    /// The envelope's grant, as the plan language writes it
    /// (`write "/tmp/out.txt"`).
    pub grant: String,
    /// When the wide shape applies.
    pub situation: verifier::enforced::Situation,
    /// The wide shape (`write under "/tmp"`).
    pub widened: String,
    pub proven: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<String>,
}

impl Claims {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

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

    pub(crate) fn sample() -> Claims {
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
                    layers: vec!["landlock".into(), "seccomp".into()],
                    digest: Digest::of_text("enforced"),
                    proven: false,
                    counterexample: Some("write \"/tmp/out/evil.sh\"".into()),
                    alternatives: Vec::new(),
                },
                EnforcementProof {
                    profile: "root+bpf-lsm".into(),
                    layers: vec!["landlock".into(), "bpf-lsm".into()],
                    digest: Digest::of_text("exact"),
                    proven: true,
                    counterexample: None,
                    alternatives: Vec::new(),
                },
            ],
        }
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
