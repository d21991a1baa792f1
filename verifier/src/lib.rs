//! The verifier: decides a plan against a spec. (Being built: issue 3.)
