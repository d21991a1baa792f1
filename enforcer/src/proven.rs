//! Starting a run only inside a proven envelope.
//!
//! A token's `enforcement` claim lists, per enforcement profile, the digest
//! of the envelope that profile's layers enforce and whether the verifier
//! proved it inside the spec ([`verifier::enforced`]). Before a run starts,
//! [`select`] recomputes the enforced envelope of each profile this machine
//! can apply and picks the richest one whose digest the token lists as
//! proven; the launcher then requires that profile's layers, so a run never
//! starts with fewer layers than its proof assumed. With none, the run is
//! refused with what the token recorded (the counterexample) and what this
//! machine lacks.
//!
//! ```
//! use enforcer::proven::select;
//! use verifier::enforced::Profile;
//! let claims: token::Claims = serde_json::from_str(r#"{"warden": 1, "iss": "warden",
//!   "jti": "00000000000000000000000000000001", "iat": "2026-01-01T00:00:00Z",
//!   "nbf": "2026-01-01T00:00:00Z", "exp": "2026-01-01T00:10:00Z",
//!   "plan_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
//!   "spec_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
//!   "envelope": {"version": 1, "files": [], "exec": [], "connect": [], "listen": [],
//!     "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []}}"#)?;
//! // A token without the claim starts nothing.
//! assert!(select(&claims, &[], |_| Ok(())).is_err());
//! # Ok::<(), serde_json::Error>(())
//! ```

use crate::layer::{Layer, LayerSet};
use std::fmt;
use token::Claims;
use token::claims::Digest;
use token::enforcement::profile_digest;
use verifier::enforced::Profile;

/// The profile a run starts under, and the digest of its proven envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub profile: Profile,
    pub digest: Digest,
}

/// Why no profile may start the run: one line per profile, richest first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct NotProven {
    pub reasons: Vec<String>,
}

impl fmt::Display for NotProven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "refusing to start: no enforcement profile this machine can apply has a proven envelope in the token",
        )?;
        for r in &self.reasons {
            write!(f, "\n  {r}")?;
        }
        Ok(())
    }
}

/// The layers a profile's proof relies on: the run must not start without
/// them.
pub fn required_layers(profile: Profile) -> LayerSet {
    let mut set: LayerSet = [Layer::Landlock, Layer::Seccomp].into_iter().collect();
    if profile.addresses() {
        set.insert(Layer::EbpfCgroupSockAddr);
    }
    if profile.exact_files() {
        set.insert(Layer::BpfLsm);
    }
    set
}

/// Every layer of a profile.
pub fn profile_layers(profile: Profile) -> LayerSet {
    profile
        .layers()
        .iter()
        .filter_map(|l| l.parse::<Layer>().ok())
        .collect()
}

/// Picks the richest profile that the token proves and this machine can
/// apply. `available(profile)` says whether the machine can apply it (or
/// what it lacks); it is asked only of profiles the token proves, richest
/// first, so an expensive probe runs only when it matters. Profiles that
/// lack a layer of `require` are passed over.
pub fn select(
    claims: &Claims,
    require: &[Layer],
    mut available: impl FnMut(Profile) -> Result<(), String>,
) -> Result<Selected, NotProven> {
    let mut reasons = Vec::new();
    for profile in Profile::ALL.into_iter().rev() {
        let digest = profile_digest(&claims.envelope, profile);
        let name = profile.name();
        let layers = profile_layers(profile);
        if let Some(missing) = require.iter().find(|l| !layers.contains(l)) {
            reasons.push(format!("{name}: lacks the required layer {missing}"));
            continue;
        }
        match claims.proven_enforcement(&digest) {
            Some(_) => match available(profile) {
                Ok(()) => return Ok(Selected { profile, digest }),
                Err(why) => reasons.push(format!(
                    "{name}: proven, but this machine cannot apply it: {why}"
                )),
            },
            None => {
                let recorded = claims
                    .enforcement
                    .iter()
                    .find(|e| e.digest == digest && !e.proven);
                reasons.push(match recorded.and_then(|e| e.counterexample.as_deref()) {
                    Some(cx) => format!("{name}: not proven at issue time: {cx}"),
                    None => format!(
                        "{name}: the token holds no proof of the envelope these layers enforce ({digest})"
                    ),
                });
            }
        }
    }
    Err(NotProven { reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use verifier::CompiledSpec;

    fn claims_for(spec: &str, envelope: serde_json::Value) -> Claims {
        let loaded = planlang::load_spec_str(spec, "t.spec").unwrap();
        let mut compiled = CompiledSpec::compile(&loaded).unwrap();
        compiled.options.timeout_ms = 60_000;
        let mut env = serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        });
        for (k, v) in envelope.as_object().unwrap() {
            env[k] = v.clone();
        }
        let env: verifier::envelope::Envelope = serde_json::from_value(env).unwrap();
        let mut claims: Claims = serde_json::from_value(serde_json::json!({
            "warden": 1, "iss": "warden", "jti": "00000000000000000000000000000001",
            "iat": "2026-01-01T00:00:00Z", "nbf": "2026-01-01T00:00:00Z",
            "exp": "2026-01-01T00:10:00Z",
            "plan_hash": Digest::of_text("p").to_string(),
            "spec_hash": Digest::of_text("s").to_string(),
            "envelope": env
        }))
        .unwrap();
        claims.enforcement =
            token::enforcement::prove_profiles(&compiled, &claims.envelope).unwrap();
        claims
    }

    fn glob_claims() -> Claims {
        claims_for(
            r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  deny write under "/tmp/out/" when path endswith ".sh"
}"#,
            serde_json::json!({"files": [
                {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}
            ]}),
        )
    }

    #[test]
    fn the_richest_proven_profile_the_machine_applies_is_chosen() {
        let claims = claims_for(
            r#"spec "s" { allow read under "/srv/" }"#,
            serde_json::json!({"files": [
                {"access": "read", "target": {"shape": "exact", "path": "/srv/a"}}
            ]}),
        );
        let s = select(&claims, &[], |_| Ok(())).unwrap();
        assert_eq!(s.profile, Profile::RootBpfLsm);
        let s = select(&claims, &[], |p| {
            if p == Profile::Unprivileged {
                Ok(())
            } else {
                Err("not root".into())
            }
        })
        .unwrap();
        assert_eq!(s.profile, Profile::Unprivileged);
        assert_eq!(required_layers(s.profile).len(), 2);
    }

    #[test]
    fn a_widening_refuses_to_start_without_the_lsm_with_the_counterexample() {
        let claims = glob_claims();
        let mut asked = Vec::new();
        let err = select(&claims, &[], |p| {
            asked.push(p);
            if p == Profile::RootBpfLsm {
                Err("the kernel refuses lsm programs (EPERM)".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        // Only the proven profile was probed.
        assert_eq!(asked, [Profile::RootBpfLsm]);
        let text = err.to_string();
        assert!(
            text.contains("root+bpf-lsm: proven, but this machine cannot apply it"),
            "{text}"
        );
        assert!(text.contains("root: not proven at issue time: the kernel would enforce `write under \"/tmp/out\"`"), "{text}");
        assert!(text.contains("lets `write \"/tmp/out/"), "{text}");
        // With the LSM, it starts, and requires the layer.
        let s = select(&claims, &[], |_| Ok(())).unwrap();
        assert_eq!(s.profile, Profile::RootBpfLsm);
        assert!(required_layers(s.profile).contains(&Layer::BpfLsm));
    }

    #[test]
    fn a_tampered_or_foreign_envelope_has_no_proof() {
        let mut claims = glob_claims();
        claims.envelope.files.clear();
        let err = select(&claims, &[], |_| Ok(())).unwrap_err();
        assert!(
            err.reasons.iter().all(|r| r.contains("holds no proof")),
            "{err}"
        );
        // --require narrows the candidates.
        let claims = glob_claims();
        let err = select(&claims, &[Layer::BpfLsm], |p| {
            if p == Profile::RootBpfLsm {
                Err("no".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(
            err.reasons[1].contains("lacks the required layer bpf-lsm"),
            "{err}"
        );
    }
}
