//! Our trees and proofs against the Certificate Transparency test vectors
//! (testdata/rfc6962.json, data from transparency-dev/merkle): the roots,
//! the proofs we generate, and their verification.

use transparency::merkle::{self, Hash, leaf_hash};

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../testdata/rfc6962.json")).unwrap()
}

fn h(v: &serde_json::Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn list(v: &serde_json::Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h).collect()
}

fn leaves(v: &serde_json::Value) -> Vec<Hash> {
    v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| leaf_hash(&hex::decode(l.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn roots_match_the_reference() {
    let v = vectors();
    let ls = leaves(&v);
    let roots = list(&v["roots"]);
    for (n, want) in roots.iter().enumerate() {
        assert_eq!(&merkle::root_of(&ls[..n]), want, "size {n}");
        let mut f = transparency::Frontier::new();
        for l in &ls[..n] {
            f.push(*l, |_, _, _| Ok::<_, ()>(())).unwrap();
        }
        assert_eq!(&f.root(), want, "frontier of size {n}");
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let v = vectors();
    let ls = leaves(&v);
    let roots = list(&v["roots"]);
    for case in v["inclusion"].as_array().unwrap() {
        let (i, n) = (
            case["index"].as_u64().unwrap(),
            case["size"].as_u64().unwrap(),
        );
        let want = list(&case["proof"]);
        let mut src = ls[..n as usize].to_vec();
        let got = merkle::inclusion_proof(src.as_mut_slice(), i, n).unwrap();
        assert_eq!(got, want, "inclusion {i} in {n}");
        merkle::verify_inclusion(&ls[i as usize], i, n, &want, &roots[n as usize]).unwrap();
        assert!(
            merkle::verify_inclusion(&ls[i as usize], i, n, &want, &roots[n as usize - 1]).is_err()
        );
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let v = vectors();
    let ls = leaves(&v);
    let roots = list(&v["roots"]);
    for case in v["consistency"].as_array().unwrap() {
        let (a, b) = (case["old"].as_u64().unwrap(), case["new"].as_u64().unwrap());
        let want = list(&case["proof"]);
        let mut src = ls[..b as usize].to_vec();
        let got = merkle::consistency_proof(src.as_mut_slice(), a, b).unwrap();
        assert_eq!(got, want, "consistency {a} to {b}");
        merkle::verify_consistency(a, b, &roots[a as usize], &roots[b as usize], &want).unwrap();
        if !want.is_empty() {
            // Swapped roots, and an old root from another size, fail.
            assert!(
                merkle::verify_consistency(a, b, &roots[b as usize], &roots[a as usize], &want)
                    .is_err()
            );
            assert!(
                merkle::verify_consistency(a, b, &roots[a as usize - 1], &roots[b as usize], &want)
                    .is_err()
            );
        }
    }
}

#[test]
fn degenerate_cases() {
    let v = vectors();
    let roots = list(&v["roots"]);
    assert_eq!(roots[0], merkle::EMPTY_ROOT);
    // Same size: the roots must agree and the proof be empty.
    assert!(merkle::verify_consistency(4, 4, &roots[4], &roots[4], &[]).is_ok());
    assert!(merkle::verify_consistency(4, 4, &roots[4], &roots[5], &[]).is_err());
    assert!(merkle::verify_consistency(4, 4, &roots[4], &roots[4], &[roots[1]]).is_err());
    // Shrinking is never consistent; a non-empty pair needs a proof.
    assert!(merkle::verify_consistency(5, 4, &roots[5], &roots[4], &[]).is_err());
    assert!(merkle::verify_consistency(3, 5, &roots[3], &roots[5], &[]).is_err());
    // No leaf 8 in a tree of 8.
    assert!(merkle::verify_inclusion(&roots[1], 8, 8, &[], &roots[8]).is_err());
}
