//! The enforcer. (Being built: issue 5.)
