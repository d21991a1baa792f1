//! The protobuf codec of the Warden API: prost's encoding, with decode
//! errors mapped to the status code that names whose fault they are.
//!
//! tonic's stock codec answers a request that is not valid protobuf with
//! `INTERNAL`, which tells the caller the server broke. A malformed request
//! is the caller's fault: the server answers `INVALID_ARGUMENT` (before any
//! handler runs, so nothing is recorded). A malformed *response*, seen by a
//! client, stays `INTERNAL`. Every message type the API decodes says which
//! it is through [`DecodeFailure`]; a new message that does not is a compile
//! error, not a silent default.

use crate::proto;
use prost::Message;
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// The status a message type gives when its bytes do not decode.
pub trait DecodeFailure {
    /// The status for bytes that do not decode as this message:
    /// `INVALID_ARGUMENT` for a request, `INTERNAL` for a response.
    fn decode_failure(e: prost::DecodeError) -> Status;
}

macro_rules! requests {
    ($($t:ident),* $(,)?) => {$(
        impl DecodeFailure for proto::$t {
            fn decode_failure(e: prost::DecodeError) -> Status {
                Status::invalid_argument(format!(
                    concat!("the request is not a valid warden.v1.", stringify!($t), " message: {}"),
                    e
                ))
            }
        }
    )*};
}

macro_rules! responses {
    ($($t:ident),* $(,)?) => {$(
        impl DecodeFailure for proto::$t {
            fn decode_failure(e: prost::DecodeError) -> Status {
                Status::internal(format!(
                    concat!("the server sent an invalid warden.v1.", stringify!($t), " message: {}"),
                    e
                ))
            }
        }
    )*};
}

requests!(
    SubmitPlanRequest,
    GetApprovalRequest,
    DecideRequest,
    CallApprovalRequest,
    RevokeRequest,
    CheckActionRequest,
    CheckResultRequest,
    EnforcementEvent,
    StreamEventsRequest,
    ReloadRequest,
    WatchRevocationsRequest,
    ProveInclusionRequest,
    ProveConsistencyRequest,
);

responses!(
    SubmitPlanResponse,
    Approval,
    RevokeResponse,
    CheckActionResponse,
    RecordEnforcementResponse,
    Event,
    ReloadResponse,
    Revocations,
    InclusionProof,
    ConsistencyProof,
);

/// The codec the generated server and client use (`codec_path` in
/// `build.rs`).
#[derive(Debug, Clone)]
pub struct WardenCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for WardenCodec<T, U> {
    fn default() -> Self {
        WardenCodec { _pd: PhantomData }
    }
}

impl<T, U> Codec for WardenCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + DecodeFailure + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = WardenDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        WardenDecoder { _pd: PhantomData }
    }
}

/// Decodes `U`, failing with [`DecodeFailure::decode_failure`].
#[derive(Debug, Clone)]
pub struct WardenDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: Message + Default + DecodeFailure> Decoder for WardenDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(U::decode_failure)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_the_callers_fault_and_responses_the_servers() {
        let bad = [0x0a, 0x05, b'a'];
        let e = proto::SubmitPlanRequest::decode(&bad[..]).unwrap_err();
        let s = proto::SubmitPlanRequest::decode_failure(e);
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert!(s.message().contains("SubmitPlanRequest"), "{}", s.message());
        let e = proto::Approval::decode(&bad[..]).unwrap_err();
        assert_eq!(
            proto::Approval::decode_failure(e).code(),
            tonic::Code::Internal
        );
    }
}
