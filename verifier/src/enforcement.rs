//! The `enforcement` claim: for each enforcement profile (the kernel layer
//! sets a run can have), the digest of the envelope those layers really
//! enforce and whether the verifier proved it inside the spec
//! ([`crate::proof`]). Issuing computes it; `warden exec` starts a run
//! only under a proven entry whose digest is that of the envelope its
//! layers enforce.
//!
//! ```
//! use verifier::enforcement::prove_profiles;
//! use warden_core::claims::proven;
//! use warden_core::envelope::{Envelope, FileAccess, FileGrant, PathTarget};
//! let mut env = Envelope::default();
//! env.files.push(FileGrant {
//!     access: FileAccess::Write,
//!     target: PathTarget::Glob { glob: "/tmp/out/*.tmp".into() },
//! });
//! let spec = planlang::load_spec_str(
//!     r#"spec "s" { allow write under "/tmp/out/" when path endswith ".tmp" }"#, "s.spec").unwrap();
//! let spec = verifier::CompiledSpec::compile(&spec).unwrap();
//! let proofs = prove_profiles(&spec, &env).unwrap();
//! // Only BPF LSM enforces `*.tmp` exactly.
//! let names: Vec<_> = proven(&proofs).map(|p| p.profile.as_str()).collect();
//! assert_eq!(names, ["root+bpf-lsm"]);
//! ```

use crate::CompiledSpec;
use crate::containment::{self, ContainmentError};
use crate::proof::{self, ProveError, WideningCounterexample};
use warden_core::claims::{AlternativeProof, Claims, EnforcementProof, digest};
use warden_core::envelope::{Envelope, FileGrant};
use warden_core::shape::{self, Profile};

/// Why the enforcement profiles could not be proven or refuted.
#[derive(Debug, thiserror::Error)]
pub enum EnforcementError {
    /// A proof question could not be built or checked.
    #[error(transparent)]
    Prove(#[from] ProveError),
    /// The parent's enforced envelope could not be made a spec (for
    /// [`prove_attenuated`]).
    #[error(transparent)]
    Containment(#[from] ContainmentError),
}

pub use crate::proof::PROOF_TIMEOUT_MS;

fn entry(
    profile: Profile,
    enforced: &Envelope,
    proof: Result<(), WideningCounterexample>,
) -> EnforcementProof {
    EnforcementProof {
        profile: profile.name().to_owned(),
        digest: digest(enforced),
        proven: proof.is_ok(),
        counterexample: proof.err().map(|c| c.to_string()),
        alternatives: Vec::new(),
    }
}

/// A grant in the plan language's words.
fn shown(g: &FileGrant) -> String {
    shape::describe_grant(g)
}

/// Proves every profile's enforced envelope for `envelope` (which `spec`
/// accepted or a human approved) against `spec`: the envelope with every
/// grant whose shape the file system decides in its exact shape, then each
/// such grant's wide shape on its own (unless the widest envelope is
/// proven at once, which proves them all).
pub fn prove_profiles(
    spec: &CompiledSpec,
    envelope: &Envelope,
) -> Result<Vec<EnforcementProof>, EnforcementError> {
    Profile::ALL
        .iter()
        .map(|&p| {
            let widest = shape::enforced_envelope(envelope, p);
            let alternatives = shape::alternatives(envelope, p);
            let all = proof::prove(spec, envelope, &widest)?;
            let mut proofs = Vec::with_capacity(alternatives.len());
            let base = if all.is_ok() || alternatives.is_empty() {
                for a in &alternatives {
                    proofs.push((a, Ok(())));
                }
                all
            } else {
                let exact = shape::enforced_exact(envelope, p);
                let base = proof::prove(spec, envelope, &exact)?;
                if base.is_ok() {
                    for a in &alternatives {
                        let one = shape::enforced_widening(envelope, p, &a.grant);
                        proofs.push((a, proof::prove(spec, envelope, &one)?));
                    }
                }
                base
            };
            let mut e = entry(p, &widest, base);
            e.alternatives = proofs
                .into_iter()
                .map(|(a, proof)| AlternativeProof {
                    grant: shown(&a.grant),
                    situation: a.situation,
                    widened: shown(&a.widened),
                    proven: proof.is_ok(),
                    counterexample: proof.err().map(|c| c.to_string()),
                })
                .collect();
            Ok(e)
        })
        .collect()
}

/// The profiles of an attenuated token: a profile is proven for the child
/// when the parent's is, and everything the child's enforced envelope
/// permits beyond the child's envelope lies inside the parent's enforced
/// envelope for that profile (proven by the verifier with the parent's
/// enforced envelope as the spec). The parent's entry must carry the digest
/// of its enforced envelope as computed here, or it does not count.
pub fn prove_attenuated(
    parent: &Claims,
    child: &Envelope,
) -> Result<Vec<EnforcementProof>, EnforcementError> {
    let mut out = Vec::new();
    for p in Profile::ALL {
        let parent_enforced = shape::enforced_envelope(&parent.envelope, p);
        let enforced = shape::enforced_envelope(child, p);
        let parent_proven = parent
            .proven_enforcement(&digest(&parent_enforced))
            .is_some();
        let proof = if parent_proven {
            let spec = containment::envelope_spec(&parent_enforced)?;
            proof::prove(&spec, child, &enforced)?
        } else {
            Err(WideningCounterexample {
                grant: format!("the {} profile", p.name()),
                action: "any action of the child".into(),
                reason: crate::report::Reason::CouldNotProve,
                needs_approval: false,
                rule: None,
                rule_text: Some("the parent token is not proven for this profile".into()),
            })
        };
        out.push(entry(p, &enforced, proof));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::claims::{Digest, describe, profile_digest, proven};

    use warden_core::claims::sample;

    fn spec(src: &str) -> CompiledSpec {
        let loaded = planlang::load_spec_str(src, "t.spec").expect("test spec loads");
        let mut compiled = CompiledSpec::compile(&loaded).expect("test spec compiles");
        // A loaded machine must not turn a proof into a timeout.
        compiled.options.timeout_ms = 60_000;
        compiled
    }

    fn glob_env() -> Envelope {
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "files": [{"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}],
            "exec": [], "connect": [], "listen": [], "calls": [], "params": [],
            "limits": [], "ordering": [], "baseline": []
        }))
        .expect("test envelope follows the schema")
    }

    #[test]
    fn profiles_carry_their_digest_and_the_counterexample() {
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" when path endswith ".tmp" }"#);
        let env = glob_env();
        let proofs = prove_profiles(&s, &env).unwrap();
        assert_eq!(proofs.len(), 3);
        for p in &proofs {
            let profile = Profile::ALL
                .into_iter()
                .find(|x| x.name() == p.profile)
                .unwrap();
            assert_eq!(p.digest, profile_digest(&env, profile));
        }
        let unpriv = &proofs[0];
        assert!(!unpriv.proven);
        let cx = unpriv.counterexample.as_deref().unwrap();
        assert!(cx.contains("lets `write \"/tmp/out/"), "{cx}");
        assert!(proofs[2].proven && proofs[2].counterexample.is_none());
        assert!(describe(&proofs).contains("root+bpf-lsm: proven"));
    }

    #[test]
    fn an_attenuated_token_inherits_only_what_the_parent_proved() {
        let s = spec(r#"spec "s" { allow write under "/tmp/out/" when path endswith ".tmp" }"#);
        let mut parent = sample();
        parent.envelope = glob_env();
        parent.enforcement = prove_profiles(&s, &parent.envelope).unwrap();
        let child = glob_env();
        let proofs = prove_attenuated(&parent, &child).unwrap();
        let names: Vec<_> = proven(&proofs).map(|p| p.profile.as_str()).collect();
        assert_eq!(names, ["root+bpf-lsm"]);
        // A parent whose entries do not match its envelope proves nothing.
        parent
            .enforcement
            .iter_mut()
            .for_each(|e| e.digest = Digest::of_text("x"));
        let proofs = prove_attenuated(&parent, &child).unwrap();
        assert_eq!(proven(&proofs).count(), 0);
    }
}
