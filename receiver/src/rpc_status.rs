//! `google.rpc.Status` and `google.rpc.RetryInfo`: the error payloads OTLP uses on both transports. Defined
//! here with prost derives because they are four small messages and not worth a dependency.

use prost::Message;
use serde::Serialize;

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `google.rpc.RetryInfo`: tells OTLP clients how long to back off.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    code: i32,
    message: &'a str,
}

/// How long clients are asked to wait when the pipeline is full.
pub(crate) const RETRY_AFTER_SECS: i64 = 1;

/// `RpcStatus` with a `RetryInfo` detail, encoded: the `grpc-status-details-bin` payload for backpressure.
pub(crate) fn retry_details(code: tonic::Code, message: &str) -> Vec<u8> {
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: RETRY_AFTER_SECS,
            nanos: 0,
        }),
    };
    RpcStatus {
        code: code as i32,
        message: message.to_owned(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".to_owned(),
            value: retry.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// An OTLP/HTTP error body in the request's encoding.
pub(crate) fn http_error_body(encoding: crate::Encoding, code: tonic::Code, message: &str) -> Vec<u8> {
    match encoding {
        crate::Encoding::Protobuf => RpcStatus {
            code: code as i32,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        crate::Encoding::Json => serde_json::to_vec(&JsonStatus {
            code: code as i32,
            message,
        })
        .unwrap_or_default(),
    }
}
