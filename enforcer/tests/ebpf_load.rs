//! The eBPF object built by the workspace build loads into this kernel.

#[test]
fn object_is_a_bpf_elf() {
    let object = enforcer::ebpf::object_bytes();
    assert!(
        object.len() > 64,
        "eBPF object missing: was it built with AYA_BUILD_SKIP?"
    );
    assert_eq!(&object[..4], b"\x7fELF");
    // e_machine EM_BPF = 247
    assert_eq!(u16::from_le_bytes([object[18], object[19]]), 247);
}

#[test]
fn connect4_loads_into_the_kernel() {
    let mut ebpf = aya::Ebpf::load(enforcer::ebpf::object_bytes()).expect("parse eBPF object");
    let program: &mut aya::programs::CgroupSockAddr = ebpf
        .program_mut("connect4")
        .expect("connect4 in object")
        .try_into()
        .expect("connect4 is cgroup_sock_addr");
    program.load().expect("kernel accepts connect4");
}
