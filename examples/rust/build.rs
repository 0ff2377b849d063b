//! Generates the meetings.v1 client from the service's own proto (../../proto) with protox,
//! a pure-Rust protobuf compiler, so building this example needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protox does not emit rerun-if-changed itself.
    println!("cargo:rerun-if-changed=../../proto");

    let file_descriptors = protox::compile(["meetings/v1/meeting_service.proto"], ["../../proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(false).compile_fds(file_descriptors)?;
    Ok(())
}
