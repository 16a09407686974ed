//! Limits on what one span may carry (`receivers.otlp.limits`): a hostile or buggy sender must not be able to
//! make every downstream hop carry megabytes of attributes. Over the limit, attributes are dropped (and the
//! span's own `dropped_attributes_count` says so, as an SDK would) and long strings are cut at a character
//! boundary; both are counted. Applied at the door, before anything is queued.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
pub use spanguard_config::LimitsConfig as Limits;

/// What limiting one span did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// Attributes dropped.
    pub attributes: u64,
    /// String values shortened.
    pub values: u64,
}

/// Applies the attribute limits to `span`.
pub fn limit_span(span: &mut Span, limits: &Limits) -> Truncated {
    let mut t = Truncated::default();
    if span.attributes.len() > limits.max_attributes_per_span {
        let dropped = span.attributes.len() - limits.max_attributes_per_span;
        span.attributes.truncate(limits.max_attributes_per_span);
        span.dropped_attributes_count = span.dropped_attributes_count.saturating_add(dropped as u32);
        t.attributes = dropped as u64;
    }
    for kv in &mut span.attributes {
        if let Some(v) = kv.value.as_mut() {
            t.values += limit_value(v, limits.max_attribute_value_length);
        }
    }
    t
}

/// Shortens the strings in `v` (recursively through arrays and maps) to `max` bytes; returns how many it cut.
fn limit_value(v: &mut AnyValue, max: usize) -> u64 {
    match v.value.as_mut() {
        Some(Value::StringValue(s)) if s.len() > max => {
            let mut cut = max;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            1
        }
        Some(Value::BytesValue(b)) if b.len() > max => {
            b.truncate(max);
            1
        }
        Some(Value::ArrayValue(a)) => a.values.iter_mut().map(|x| limit_value(x, max)).sum(),
        Some(Value::KvlistValue(l)) => l
            .values
            .iter_mut()
            .filter_map(|kv| kv.value.as_mut())
            .map(|x| limit_value(x, max))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue};

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn attributes_beyond_the_limit_are_dropped_and_recorded_on_the_span() {
        let limits = Limits {
            max_attributes_per_span: 3,
            max_attribute_value_length: 4,
            ..Limits::default()
        };
        let mut span = Span {
            attributes: (0..5).map(|i| kv(&format!("k{i}"), Value::IntValue(i))).collect(),
            dropped_attributes_count: 1,
            ..Default::default()
        };
        span.attributes[0] = kv("long", Value::StringValue("héllo wörld".into()));
        span.attributes[1] = kv(
            "list",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("abcdef".into())),
                }],
            }),
        );
        let t = limit_span(&mut span, &limits);
        assert_eq!(
            t,
            Truncated {
                attributes: 2,
                values: 2
            }
        );
        assert_eq!(span.attributes.len(), 3);
        assert_eq!(
            span.dropped_attributes_count, 3,
            "the SDK's own count is kept and added to"
        );
        // "hé" is 3 bytes; cutting at 4 would split "l"? no: "hél" is 4 bytes — cut lands on a boundary.
        assert_eq!(
            span.attributes[0].value.as_ref().unwrap().value,
            Some(Value::StringValue("hél".into()))
        );
        let Some(Value::ArrayValue(a)) = &span.attributes[1].value.as_ref().unwrap().value else {
            panic!()
        };
        assert_eq!(a.values[0].value, Some(Value::StringValue("abcd".into())));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let limits = Limits {
            max_attribute_value_length: 2,
            ..Limits::default()
        };
        let mut span = Span {
            attributes: vec![kv("k", Value::StringValue("aé".into()))],
            ..Default::default()
        };
        limit_span(&mut span, &limits);
        assert_eq!(
            span.attributes[0].value.as_ref().unwrap().value,
            Some(Value::StringValue("a".into()))
        );
    }
}
