//! Builds the kernel side (`enforcer-ebpf/`) for the bpf target with aya-build,
//! so that an ordinary `cargo build` of the workspace produces the eBPF object
//! in `OUT_DIR/enforcer-ebpf`, which `enforcer::ebpf` embeds.
//!
//! Needs the nightly toolchain with `rust-src` and `bpf-linker` on `PATH`;
//! `scripts/deps.sh` installs both. `AYA_BUILD_SKIP=1` skips the eBPF build
//! (for tools that only need the host code); the enforcer then reports
//! at run time that its eBPF layers are unavailable.

use std::{env, fs, path::PathBuf};

const EBPF_PACKAGE: &str = "enforcer-ebpf";

fn main() -> aya_build::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir.join("..").join(EBPF_PACKAGE).canonicalize()?;
    let common_dir = manifest_dir
        .join("..")
        .join("enforcer-common")
        .canonicalize()?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    // The kernel side reads the shared map and event layouts.
    println!(
        "cargo:rerun-if-changed={}",
        common_dir.join("src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        common_dir.join("Cargo.toml").display()
    );
    // A new bpf-linker must rebuild the object.
    if let Some(linker) = find_in_path("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    }
    println!("cargo:rerun-if-env-changed=PATH");

    let skip = env::var("AYA_BUILD_SKIP")
        .map(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    if !skip && find_in_path("bpf-linker").is_none() {
        return Err(std::io::Error::other(
            "bpf-linker is not on PATH: run scripts/deps.sh (or `make deps`) to install it \
             with the nightly toolchain and rust-src, or set AYA_BUILD_SKIP=1 to build \
             without the eBPF layers",
        )
        .into());
    }

    // The eBPF crate is its own workspace (excluded from the host one), so
    // cargo must run inside its directory to find it by name.
    env::set_current_dir(&ebpf_dir)?;
    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| std::io::Error::other("the enforcer-ebpf path is not UTF-8"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: EBPF_PACKAGE,
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )?;

    let object = out_dir.join(EBPF_PACKAGE);
    if !object.exists() {
        // AYA_BUILD_SKIP: an empty object, which `EbpfLayers::load` refuses
        // with a clear error instead of failing the host build.
        fs::write(&object, [])?;
        println!("cargo:warning=eBPF object not built; the eBPF layers will be unavailable");
    }
    // The node of this object is pinned under its version (a hash of the
    // object's bytes): another build never reuses programs or maps whose
    // layout it does not share.
    let bytes = fs::read(&object)?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in &bytes {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    println!("cargo:rustc-env=WARDEN_EBPF_VERSION={hash:016x}");
    Ok(())
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
