//! Map keys, map values and event records shared by user space (`enforcer`)
//! and the kernel side (`enforcer-ebpf`). Defined once, here.
#![no_std]

pub mod lsm;
