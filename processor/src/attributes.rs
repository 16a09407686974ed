//! The `anomaly.*` attributes spanguard adds to spans. These names are a contract with users' Jaeger searches and
//! dashboards: add new ones, never rename.

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, ArrayValue, KeyValue};

/// Id of the window the span's trace was scored in (string).
pub const WINDOW_ID: &str = "anomaly.window.id";
/// Traces in that window (int).
pub const WINDOW_TRACES: &str = "anomaly.window.traces";
/// Present and true when the window closed before filling (timeout or shutdown).
pub const WINDOW_PARTIAL: &str = "anomaly.window.partial";
/// Whether any detector fired on the window (bool).
pub const DETECTED: &str = "anomaly.detected";
/// Names of the detectors that fired (string array), present only when one did.
pub const DETECTORS: &str = "anomaly.detectors";
/// Present and true on spans that arrived after their trace had been forwarded.
pub const LATE: &str = "anomaly.late";

/// A string attribute.
pub fn string(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

/// An integer attribute.
pub fn int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

/// A boolean attribute.
pub fn boolean(key: &str, value: bool) -> KeyValue {
    kv(key, Value::BoolValue(value))
}

/// A floating-point attribute.
pub fn double(key: &str, value: f64) -> KeyValue {
    kv(key, Value::DoubleValue(value))
}

/// A string-array attribute.
pub fn strings<I: IntoIterator<Item = S>, S: Into<String>>(key: &str, values: I) -> KeyValue {
    let values = values
        .into_iter()
        .map(|s| AnyValue {
            value: Some(Value::StringValue(s.into())),
        })
        .collect();
    kv(key, Value::ArrayValue(ArrayValue { values }))
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// The value of attribute `key` in `attrs`, if present.
pub fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}
