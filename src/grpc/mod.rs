//! The gRPC boundary: the only module that names tonic or prost types. Converts requests to
//! domain commands (validating them), runs the pipeline, and converts results and errors back.

mod call;
mod convert;
mod gate;
mod service;
pub mod status;

// For the micro-benchmarks (benches/hot_paths.rs): the boundary's conversions alone.
#[doc(hidden)]
pub use convert::{create_command, create_response};
pub use gate::GateLayer;
pub use service::{MeetingApi, ShutdownFlag};

/// The code generated from `proto/meetings/v1/meeting_service.proto`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("meetings.v1");

    /// The encoded descriptor set of the proto, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/meetings_v1_descriptor.bin"));
}
