//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and writes the encoded file
//! descriptor set next to the generated code, for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protox does not emit rerun-if-changed itself.
    println!("cargo:rerun-if-changed=proto");

    let file_descriptors = protox::compile(["meetings/v1/meeting_service.proto"], ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("meetings_v1_descriptor.bin"), file_descriptors.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // The meeting is most of a request's 3 KB; boxed, a call in flight keeps a pointer to it
        // in every future that holds the request.
        .boxed(".meetings.v1.CreateRequest.meeting")
        .boxed(".meetings.v1.CreateResponse.meeting")
        .boxed(".meetings.v1.GetResponse.meeting")
        .boxed(".meetings.v1.FindResponse.meeting")
        .boxed(".meetings.v1.UpdateRequest.meeting")
        .boxed(".meetings.v1.UpdateResponse.meeting")
        .boxed(".meetings.v1.ScheduleRequest.meeting_options")
        .boxed(".meetings.v1.ScheduleResponse.meeting")
        // An IdentitySet holds ten optional identities, usually one: boxed, a participant is
        // small where it is moved (in vectors, at every boundary) instead of 2 KB.
        .boxed(".meetings.v1.IdentitySet.application")
        .boxed(".meetings.v1.IdentitySet.device")
        .boxed(".meetings.v1.IdentitySet.user")
        .boxed(".meetings.v1.IdentitySet.application_instance")
        .boxed(".meetings.v1.IdentitySet.asserted_identity")
        .boxed(".meetings.v1.IdentitySet.azure_communication_services_user")
        .boxed(".meetings.v1.IdentitySet.encrypted")
        .boxed(".meetings.v1.IdentitySet.guest")
        .boxed(".meetings.v1.IdentitySet.on_premises")
        .boxed(".meetings.v1.IdentitySet.phone")
        .compile_fds(file_descriptors)?;
    Ok(())
}
