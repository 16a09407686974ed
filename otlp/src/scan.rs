//! The OTLP trace schema, walked in encoded form: every message is checked as prost would check it (wire types
//! of known fields, UTF-8 of strings, nesting depth; unknown fields skipped) without allocating, and only what
//! assembly and the detectors read is picked out of a span. Field numbers are those of
//! `opentelemetry/proto/{trace,common,resource}/v1/*.proto`.

use crate::wire::{fixed32, fixed64, len, string, varint, Reader, WireError, MAX_DEPTH};

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

/// A `Span`.
pub fn span(buf: &[u8]) -> Result<SpanFields<'_>, WireError> {
    const DEPTH: u32 = 4; // request → resource spans → scope spans → span
    let mut s = SpanFields::default();
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(DEPTH)? {
        match f {
            1 => s.trace_id = len(f, v)?,
            2 => s.span_id = len(f, v)?,
            3 => {
                string(f, v)?;
            }
            4 => s.parent_span_id = len(f, v)?,
            5 => s.name = string(f, v)?,
            6 | 10 | 12 | 14 => {
                varint(f, v)?;
            }
            7 => s.start_time_unix_nano = fixed64(f, v)?,
            8 => s.end_time_unix_nano = fixed64(f, v)?,
            9 => {
                let kv = len(f, v)?;
                let (key, _) = key_value(kv, DEPTH + 1)?;
                s.attributes += 1;
                s.longest_attribute = s.longest_attribute.max(kv.len() as u32);
                s.anomaly_keys |= key.starts_with("anomaly.");
            }
            11 => event(len(f, v)?, DEPTH + 1)?,
            13 => link(len(f, v)?, DEPTH + 1)?,
            15 => status(len(f, v)?, DEPTH + 1)?,
            16 => {
                fixed32(f, v)?;
            }
            _ => {}
        }
    }
    Ok(s)
}

/// A `KeyValue`: its key and, when it is a string, its value.
pub fn key_value(buf: &[u8], depth: u32) -> Result<(&str, Option<&str>), WireError> {
    depth_ok(depth)?;
    let (mut key, mut value) = ("", None);
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            1 => key = string(f, v)?,
            2 => value = any_value(len(f, v)?, depth + 1)?,
            3 => {
                varint(f, v)?;
            }
            _ => {}
        }
    }
    Ok((key, value))
}

/// An `AnyValue`; returns its string value, if that is what it holds.
fn any_value(buf: &[u8], depth: u32) -> Result<Option<&str>, WireError> {
    depth_ok(depth)?;
    let mut out = None;
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        // A oneof: the last member seen wins, as in prost.
        out = None;
        match f {
            1 => out = Some(string(f, v)?),
            2 | 3 | 8 => {
                varint(f, v)?;
            }
            4 => {
                fixed64(f, v)?;
            }
            5 => {
                let mut a = Reader::new(len(f, v)?);
                while let Some((f, v)) = a.next_field(depth + 1)? {
                    if f == 1 {
                        any_value(len(f, v)?, depth + 2)?;
                    }
                }
            }
            6 => {
                let mut l = Reader::new(len(f, v)?);
                while let Some((f, v)) = l.next_field(depth + 1)? {
                    if f == 1 {
                        key_value(len(f, v)?, depth + 2)?;
                    }
                }
            }
            7 => {
                len(f, v)?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn event(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            1 => {
                fixed64(f, v)?;
            }
            2 => {
                string(f, v)?;
            }
            3 => {
                key_value(len(f, v)?, depth + 1)?;
            }
            4 => {
                varint(f, v)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn link(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            1 | 2 => {
                len(f, v)?;
            }
            3 => {
                string(f, v)?;
            }
            4 => {
                key_value(len(f, v)?, depth + 1)?;
            }
            5 => {
                varint(f, v)?;
            }
            6 => {
                fixed32(f, v)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn status(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            2 => {
                string(f, v)?;
            }
            3 => {
                varint(f, v)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `Resource`; returns its first `service.name` string, if any.
pub fn resource(buf: &[u8], depth: u32) -> Result<Option<&str>, WireError> {
    let mut service = None;
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            1 => {
                let (key, value) = key_value(len(f, v)?, depth + 1)?;
                if key == "service.name" && service.is_none() {
                    // prost's lookup takes the first `service.name`, string or not.
                    service = Some(value);
                }
            }
            2 => {
                varint(f, v)?;
            }
            3 => entity_ref(len(f, v)?, depth + 1)?,
            _ => {}
        }
    }
    Ok(service.flatten())
}

fn entity_ref(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        if (1..=4).contains(&f) {
            string(f, v)?;
        }
    }
    Ok(())
}

/// An `InstrumentationScope`.
pub fn scope(buf: &[u8], depth: u32) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next_field(depth)? {
        match f {
            1 | 2 => {
                string(f, v)?;
            }
            3 => {
                key_value(len(f, v)?, depth + 1)?;
            }
            4 => {
                varint(f, v)?;
            }
            _ => {}
        }
    }
    Ok(())
}
