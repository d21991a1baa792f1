//! Capability tokens. (Being built: issue 4.)
