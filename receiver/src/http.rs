//! OTLP/HTTP `POST /v1/traces`: protobuf or JSON bodies, optionally gzip, answered in the request's encoding with
//! the status codes of the OTLP specification (400 bad data, 413 too large, 415 unknown type, 429 + Retry-After
//! when the pipeline is full).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use prost::Message;
use tonic::Code;

use crate::admission::{EarlyRefusal, Protocol};
use crate::decode::{decode_request, inflate, DecodeError, Encoding};
use crate::rpc_status::{http_error_body, RETRY_AFTER_SECS};
use crate::{Admission, Refusal};

#[derive(Clone)]
struct HttpState {
    admission: Admission,
    max_request_bytes: usize,
}

pub(crate) fn router(admission: Admission, max_request_bytes: usize) -> Router {
    Router::new().route("/v1/traces", post(export)).with_state(HttpState {
        admission,
        max_request_bytes,
    })
}

fn error(encoding: Encoding, status: StatusCode, code: Code, message: &str) -> Response {
    let mut resp = (status, http_error_body(encoding, code, message)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    resp
}

async fn export(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if !state.admission.authorize(Protocol::Http, authorization) {
        let encoding = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(Encoding::from_content_type)
            .unwrap_or(Encoding::Json);
        let mut resp = error(
            encoding,
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "missing or wrong bearer token (Authorization: Bearer <token>)",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        state
            .admission
            .count_early_refusal(Protocol::Http, EarlyRefusal::MediaType);
        return error(
            Encoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            &format!("unsupported Content-Type {content_type:?}; use application/x-protobuf or application/json"),
        );
    };
    let limit = state.max_request_bytes;
    let too_large = |state: &HttpState| {
        state
            .admission
            .count_early_refusal(Protocol::Http, EarlyRefusal::TooLarge);
        error(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            &format!("request body exceeds max_request_bytes ({limit} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(&state);
    }
    let raw = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let is_limit = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if is_limit {
                return too_large(&state);
            }
            state
                .admission
                .count_early_refusal(Protocol::Http, EarlyRefusal::Malformed);
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                &format!("cannot read body: {e}"),
            );
        }
    };
    let content_encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let malformed = |state: &HttpState, e: DecodeError| {
        state
            .admission
            .count_early_refusal(Protocol::Http, EarlyRefusal::Malformed);
        error(encoding, StatusCode::BAD_REQUEST, Code::InvalidArgument, &e.to_string())
    };
    let body = match inflate(raw, content_encoding, limit) {
        Ok(b) => b,
        Err(DecodeError::TooLarge { .. }) => return too_large(&state),
        Err(e) => return malformed(&state, e),
    };
    // Protobuf spans can be counted without a scan; a JSON body must be parsed to be counted at all.
    let body = if encoding == Encoding::Protobuf {
        if let Err(why) = state.admission.refuse_when_full(Protocol::Http, &body) {
            return refused(encoding, why);
        }
        match state.admission.hold(Protocol::Http, body) {
            Ok(b) => b,
            Err(why) => return refused(encoding, why),
        }
    } else {
        body
    };
    let records = match decode_request(body, encoding) {
        Ok(r) => r,
        Err(e) => return malformed(&state, e),
    };
    let records = if encoding == Encoding::Json {
        match state.admission.hold_records(Protocol::Http, records) {
            Ok(r) => r,
            Err(why) => return refused(encoding, why),
        }
    } else {
        records
    };
    let spans = records.len();
    match state.admission.admit(Protocol::Http, records) {
        Ok(admitted) => {
            let response = admitted.response();
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
            };
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
            resp
        }
        Err(why) => {
            tracing::debug!(spans, "pipeline full: refusing");
            refused(encoding, why)
        }
    }
}

fn refused(encoding: Encoding, why: Refusal) -> Response {
    match why {
        Refusal::Backpressure | Refusal::MemoryLimit => {
            let mut resp = error(
                encoding,
                StatusCode::TOO_MANY_REQUESTS,
                Code::Unavailable,
                if why == Refusal::MemoryLimit {
                    "spanguard is at its memory limit; retry after backoff"
                } else {
                    "spanguard pipeline is full; retry after backoff"
                },
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            resp
        }
        Refusal::ShuttingDown => error(
            encoding,
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            "spanguard is shutting down",
        ),
    }
}
