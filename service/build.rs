//! Generates the gRPC server and client code from `proto/warden.proto`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../proto/warden.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../proto"])?;
    Ok(())
}
