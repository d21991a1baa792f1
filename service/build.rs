//! Generates the gRPC server and client code from `proto/warden.proto`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../proto/warden.proto";
    println!("cargo:rerun-if-changed={proto}");
    // Decode errors of requests are INVALID_ARGUMENT, not tonic's INTERNAL
    // (service/src/codec.rs).
    tonic_prost_build::configure()
        .codec_path("crate::codec::WardenCodec")
        .compile_protos(&[proto], &["../proto"])?;
    Ok(())
}
