//! The OTLP trace schema, walked in encoded form: every message is checked as prost would check it (wire types
//! of known fields, UTF-8 of strings, nesting depth; unknown fields skipped) without allocating, and only what
//! assembly and the detectors read is picked out of a span. Field numbers are those of
//! `opentelemetry/proto/{trace,common,resource}/v1/*.proto`.
//!
//! Each message is a loop over its fields matching whole keys (`field << 3 | wire type`, written as
//! `key(field, wire)`): one predictable branch per field. A key that matches nothing is either a known field with
//! the wrong wire type (an error, as in prost) or an unknown field (skipped): [`Reader::other`] tells them apart
//! by the message's `known` field set.

use crate::wire::{utf8, Reader, WireError, MAX_DEPTH};

/// What the pipeline reads of a span; everything else stays in its bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpanFields<'a> {
    /// `trace_id` (field 1) as sent.
    pub trace_id: &'a [u8],
    /// `span_id` (2).
    pub span_id: &'a [u8],
    /// `parent_span_id` (4); empty for a root.
    pub parent_span_id: &'a [u8],
    /// `name` (5).
    pub name: &'a str,
    /// `start_time_unix_nano` (7).
    pub start_time_unix_nano: u64,
    /// `end_time_unix_nano` (8).
    pub end_time_unix_nano: u64,
    /// Number of `attributes` (9).
    pub attributes: u32,
    /// Encoded size of the largest attribute: a bound on its value's length, so limits need no decode when it
    /// is within them.
    pub longest_attribute: u32,
    /// Some attribute key starts with `anomaly.`: spanguard's own namespace, replaced on the way out.
    pub anomaly_keys: bool,
}

fn depth_ok(depth: u32) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        Err(WireError::Depth)
    } else {
        Ok(())
    }
}

const fn key(field: u32, wire: u8) -> u32 {
    field << 3 | wire as u32
}

const fn fields(from: u32, to: u32) -> u32 {
    let mut m = 0;
    let mut f = from;
    while f <= to {
        m |= 1 << f;
        f += 1;
    }
    m
}

use crate::wire::{I32, I64, LEN, VARINT};

/// A `Span`.
pub fn span(buf: &[u8]) -> Result<SpanFields<'_>, WireError> {
    const DEPTH: u32 = 4; // request → resource spans → scope spans → span, counted with a margin
    const KNOWN: u32 = fields(1, 16);
    let mut s = SpanFields::default();
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            k if k == key(1, LEN) => s.trace_id = r.bytes()?,
            k if k == key(2, LEN) => s.span_id = r.bytes()?,
            k if k == key(3, LEN) => {
                utf8(3, r.bytes()?)?;
            }
            k if k == key(4, LEN) => s.parent_span_id = r.bytes()?,
            k if k == key(5, LEN) => s.name = utf8(5, r.bytes()?)?,
            k if k == key(6, VARINT) || k == key(10, VARINT) || k == key(12, VARINT) || k == key(14, VARINT) => {
                r.read_varint()?;
            }
            k if k == key(7, I64) => s.start_time_unix_nano = r.read_fixed64()?,
            k if k == key(8, I64) => s.end_time_unix_nano = r.read_fixed64()?,
            k if k == key(9, LEN) => {
                let kv = r.bytes()?;
                let (key, _) = key_value(kv, DEPTH + 1)?;
                s.attributes += 1;
                s.longest_attribute = s.longest_attribute.max(kv.len() as u32);
                s.anomaly_keys |= key.starts_with("anomaly.");
            }
            k if k == key(11, LEN) => event(r.bytes()?, DEPTH + 1)?,
            k if k == key(13, LEN) => link(r.bytes()?, DEPTH + 1)?,
            k if k == key(15, LEN) => status(r.bytes()?, DEPTH + 1)?,
            k if k == key(16, I32) => {
                r.read_fixed32()?;
            }
            k => r.other(k, KNOWN, DEPTH)?,
        }
    }
    Ok(s)
}

/// A `KeyValue`: its key and, when it is a string, its value.
#[inline]
pub fn key_value(buf: &[u8], depth: u32) -> Result<(&str, Option<&str>), WireError> {
    const KNOWN: u32 = fields(1, 3);
    depth_ok(depth)?;
    let (mut k, mut value) = ("", None);
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) => k = utf8(1, r.bytes()?)?,
            t if t == key(2, LEN) => value = any_value(r.bytes()?, depth + 1)?,
            t if t == key(3, VARINT) => {
                r.read_varint()?;
            }
            t => r.other(t, KNOWN, depth)?,
        }
    }
    Ok((k, value))
}

/// An `AnyValue`; returns its string value, if that is what it holds.
#[inline]
fn any_value(buf: &[u8], depth: u32) -> Result<Option<&str>, WireError> {
    const KNOWN: u32 = fields(1, 8);
    depth_ok(depth)?;
    let mut out = None;
    let mut r = Reader::new(buf);
    while !r.at_end() {
        let t = r.tag()?;
        // A oneof: the last member seen wins, as in prost.
        out = None;
        match t {
            t if t == key(1, LEN) => out = Some(utf8(1, r.bytes()?)?),
            t if t == key(2, VARINT) || t == key(3, VARINT) || t == key(8, VARINT) => {
                r.read_varint()?;
            }
            t if t == key(4, I64) => {
                r.read_fixed64()?;
            }
            t if t == key(5, LEN) => nested(5, r.bytes()?, depth + 1)?,
            t if t == key(6, LEN) => nested(6, r.bytes()?, depth + 1)?,
            t if t == key(7, LEN) => {
                r.bytes()?;
            }
            t => r.other(t, KNOWN, depth)?,
        }
    }
    Ok(out)
}

/// An `ArrayValue` (5) or a `KeyValueList` (6) inside an `AnyValue`: out of line, so that the common scalar and
/// string attributes are walked without a call.
#[inline(never)]
fn nested(kind: u32, buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) => {
                let b = r.bytes()?;
                if kind == 5 {
                    any_value(b, depth + 1)?;
                } else {
                    key_value(b, depth + 1)?;
                }
            }
            t => r.other(t, fields(1, 1), depth)?,
        }
    }
    Ok(())
}

fn event(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, I64) => {
                r.read_fixed64()?;
            }
            t if t == key(2, LEN) => {
                utf8(2, r.bytes()?)?;
            }
            t if t == key(3, LEN) => {
                key_value(r.bytes()?, depth + 1)?;
            }
            t if t == key(4, VARINT) => {
                r.read_varint()?;
            }
            t => r.other(t, fields(1, 4), depth)?,
        }
    }
    Ok(())
}

fn link(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) || t == key(2, LEN) => {
                r.bytes()?;
            }
            t if t == key(3, LEN) => {
                utf8(3, r.bytes()?)?;
            }
            t if t == key(4, LEN) => {
                key_value(r.bytes()?, depth + 1)?;
            }
            t if t == key(5, VARINT) => {
                r.read_varint()?;
            }
            t if t == key(6, I32) => {
                r.read_fixed32()?;
            }
            t => r.other(t, fields(1, 6), depth)?,
        }
    }
    Ok(())
}

fn status(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(2, LEN) => {
                utf8(2, r.bytes()?)?;
            }
            t if t == key(3, VARINT) => {
                r.read_varint()?;
            }
            t => r.other(t, fields(2, 3), depth)?,
        }
    }
    Ok(())
}

/// A `Resource`; returns its first `service.name` string, if any.
pub fn resource(buf: &[u8], depth: u32) -> Result<Option<&str>, WireError> {
    let mut service = None;
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) => {
                let (k, value) = key_value(r.bytes()?, depth + 1)?;
                if k == "service.name" && service.is_none() {
                    // prost's lookup takes the first `service.name`, string or not.
                    service = Some(value);
                }
            }
            t if t == key(2, VARINT) => {
                r.read_varint()?;
            }
            t if t == key(3, LEN) => entity_ref(r.bytes()?, depth + 1)?,
            t => r.other(t, fields(1, 3), depth)?,
        }
    }
    Ok(service.flatten())
}

fn entity_ref(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) || t == key(2, LEN) || t == key(3, LEN) || t == key(4, LEN) => {
                utf8(t >> 3, r.bytes()?)?;
            }
            t => r.other(t, fields(1, 4), depth)?,
        }
    }
    Ok(())
}

/// An `InstrumentationScope`.
pub fn scope(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while !r.at_end() {
        match r.tag()? {
            t if t == key(1, LEN) || t == key(2, LEN) => {
                utf8(t >> 3, r.bytes()?)?;
            }
            t if t == key(3, LEN) => {
                key_value(r.bytes()?, depth + 1)?;
            }
            t if t == key(4, VARINT) => {
                r.read_varint()?;
            }
            t => r.other(t, fields(1, 4), depth)?,
        }
    }
    Ok(())
}
