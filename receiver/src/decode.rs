//! Request body decoding shared by the HTTP receiver and the file readers: protobuf or OTLP/JSON, optionally
//! gzip-compressed, never inflating past the configured limit (a 1 KiB gzip bomb must not become 1 GiB).

use std::io::Read;

use spanguard_otlp::{SpanRecord, WireError};

use crate::Request;

/// Body encoding of an OTLP/HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, integer enums, 64-bit integers as strings).
    Json,
}

impl Encoding {
    /// From a `Content-Type` header value; `None` for types OTLP does not define.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf") || mime.eq_ignore_ascii_case("application/protobuf") {
            Some(Encoding::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Larger than allowed (after decompression).
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The gzip stream is corrupt.
    #[error("request body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// The content encoding is not one we inflate.
    #[error("unsupported Content-Encoding {0:?}; use gzip or none")]
    ContentEncoding(String),
    /// Not a valid protobuf `ExportTraceServiceRequest`.
    #[error("request body is not a valid protobuf ExportTraceServiceRequest: {0}")]
    Protobuf(#[from] WireError),
    /// Not a valid OTLP/JSON `ExportTraceServiceRequest`.
    #[error("request body is not valid OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Inflates `body` according to `content_encoding` (None, `identity` or `gzip`) without exceeding `limit`.
pub fn inflate(body: bytes::Bytes, content_encoding: Option<&str>, limit: usize) -> Result<bytes::Bytes, DecodeError> {
    match content_encoding.map(str::trim) {
        None | Some("") | Some("identity") => {
            if body.len() > limit {
                Err(DecodeError::TooLarge { limit })
            } else {
                Ok(body)
            }
        }
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::with_capacity((body.len() * 4).min(limit));
            let mut reader = flate2::read::GzDecoder::new(&body[..]).take(limit as u64 + 1);
            reader.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(out.into())
        }
        Some(other) => Err(DecodeError::ContentEncoding(other.to_owned())),
    }
}

/// Decodes an `ExportTraceServiceRequest` body into span records. Protobuf is only scanned (each span keeps
/// its bytes, shared with `body`); OTLP/JSON is decoded, then encoded once.
pub fn decode_request(body: bytes::Bytes, encoding: Encoding) -> Result<Vec<SpanRecord>, DecodeError> {
    match encoding {
        Encoding::Protobuf => Ok(spanguard_otlp::parse_request(body)?),
        Encoding::Json => {
            let req: Request = serde_json::from_slice(&body)?;
            Ok(spanguard_otlp::from_request(&req)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_inflated_within_limit_only() {
        let raw = vec![b'a'; 10_000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        let gz = bytes::Bytes::from(enc.finish().unwrap());
        assert_eq!(inflate(gz.clone(), Some("gzip"), 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            inflate(gz, Some("gzip"), 9_999),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            inflate(bytes::Bytes::from_static(b"xx"), Some("gzip"), 10),
            Err(DecodeError::Gzip(_))
        ));
        assert!(matches!(
            inflate(bytes::Bytes::from_static(b"xx"), Some("br"), 10),
            Err(DecodeError::ContentEncoding(_))
        ));
    }

    #[test]
    fn json_uses_hex_ids_and_string_ints() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",
            "spanId":"0102030405060708","name":"x","kind":2,"startTimeUnixNano":"1700000000000000000",
            "attributes":[{"key":"n","value":{"intValue":"42"}}]}]}]}]}"#;
        let records = decode_request(bytes::Bytes::from_static(body), Encoding::Json).unwrap();
        let span = records[0].to_span().unwrap();
        assert_eq!(records[0].trace_id()[15], 0x10);
        assert_eq!(span.kind, 2);
        assert_eq!(records[0].start_time_unix_nano(), 1_700_000_000_000_000_000);
        assert_eq!(span.attributes.len(), 1);
        assert!(decode_request(
            bytes::Bytes::from_static(b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}"),
            Encoding::Json
        )
        .is_err());
        assert!(decode_request(bytes::Bytes::from_static(b"\xff\xff\xff"), Encoding::Protobuf).is_err());
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_content_type("application/x-protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }
}
