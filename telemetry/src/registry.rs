use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::names::{Kind, Metric};

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Adds `d` (may be negative).
    #[inline]
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

enum Value {
    Counter(Counter),
    Gauge(Gauge),
}

struct Series {
    name: &'static str,
    help: &'static str,
    labels: Vec<(&'static str, String)>,
    value: Value,
}

/// Where every stage registers its metrics at build time; rendered as Prometheus text on scrape. Registration
/// takes a lock, updates never do.
#[derive(Clone, Default)]
pub struct Registry {
    series: Arc<Mutex<Vec<Series>>>,
}

impl Registry {
    /// A new, empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or finds) a series of the counter `metric`, with one value per label of its descriptor.
    pub fn counter(&self, metric: &'static Metric, labels: &[(&'static str, &str)]) -> Counter {
        match self.register(metric, Kind::Counter, labels, || Value::Counter(Counter::default())) {
            Value::Counter(c) => c,
            Value::Gauge(_) => panic!("metric {} registered as both counter and gauge", metric.name),
        }
    }

    /// Registers (or finds) a series of the gauge `metric`.
    pub fn gauge(&self, metric: &'static Metric, labels: &[(&'static str, &str)]) -> Gauge {
        match self.register(metric, Kind::Gauge, labels, || Value::Gauge(Gauge::default())) {
            Value::Gauge(g) => g,
            Value::Counter(_) => panic!("metric {} registered as both gauge and counter", metric.name),
        }
    }

    /// Registration is at build time, from code: a series that does not match its descriptor (kind, label keys
    /// and their order) is a defect, caught by every test that builds the stage.
    fn register(
        &self,
        metric: &'static Metric,
        kind: Kind,
        labels: &[(&'static str, &str)],
        make: impl FnOnce() -> Value,
    ) -> Value {
        debug_assert_eq!(metric.kind, kind, "metric {} is a {}", metric.name, metric.kind.name());
        debug_assert!(
            labels.iter().map(|(k, _)| *k).eq(metric.labels.iter().copied()),
            "metric {} takes the labels {:?}",
            metric.name,
            metric.labels
        );
        let (name, help) = (metric.name, metric.help);
        let labels: Vec<(&'static str, String)> = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = series.iter().find(|s| s.name == name && s.labels == labels) {
            return match &s.value {
                Value::Counter(c) => Value::Counter(c.clone()),
                Value::Gauge(g) => Value::Gauge(g.clone()),
            };
        }
        let value = make();
        let handle = match &value {
            Value::Counter(c) => Value::Counter(c.clone()),
            Value::Gauge(g) => Value::Gauge(g.clone()),
        };
        series.push(Series {
            name,
            help,
            labels,
            value,
        });
        handle
    }

    /// Sum of a counter over all its label sets (for tests and summaries).
    pub fn counter_total(&self, metric: &Metric) -> u64 {
        let name = metric.name;
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series
            .iter()
            .filter(|s| s.name == name)
            .map(|s| match &s.value {
                Value::Counter(c) => c.get(),
                Value::Gauge(_) => 0,
            })
            .sum()
    }

    /// Value of one counter series with exactly these labels, 0 if absent.
    pub fn counter_value(&self, metric: &Metric, labels: &[(&str, &str)]) -> u64 {
        let name = metric.name;
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && s.labels.iter().zip(labels).all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|s| match &s.value {
                Value::Counter(c) => c.get(),
                Value::Gauge(_) => 0,
            })
            .unwrap_or(0)
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&'static str> = Vec::new();
        for s in series.iter() {
            if !names.contains(&s.name) {
                names.push(s.name);
            }
        }
        let mut out = String::new();
        for name in names {
            let mut first = true;
            for s in series.iter().filter(|s| s.name == name) {
                if first {
                    let kind = match s.value {
                        Value::Counter(_) => Kind::Counter.name(),
                        Value::Gauge(_) => Kind::Gauge.name(),
                    };
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {kind}", s.help);
                    first = false;
                }
                out.push_str(name);
                if !s.labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                        let _ = write!(out, "{k}=\"{escaped}\"");
                    }
                    out.push('}');
                }
                let _ = match &s.value {
                    Value::Counter(c) => writeln!(out, " {}", c.get()),
                    Value::Gauge(g) => writeln!(out, " {}", g.get()),
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static X: Metric = Metric {
        name: "x_total",
        help: "x things",
        kind: Kind::Counter,
        labels: &["reason"],
    };
    static Y: Metric = Metric {
        name: "y",
        help: "y level",
        kind: Kind::Gauge,
        labels: &[],
    };

    #[test]
    fn renders_prometheus_text_and_shares_series() {
        let r = Registry::new();
        let a = r.counter(&X, &[("reason", "full")]);
        let b = r.counter(&X, &[("reason", "full")]);
        a.add(2);
        b.inc();
        r.gauge(&Y, &[]).set(-4);
        let text = r.render();
        assert!(
            text.contains("# HELP x_total x things\n# TYPE x_total counter\nx_total{reason=\"full\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE y gauge\ny -4\n"), "{text}");
        assert_eq!(r.counter_total(&X), 3);
        assert_eq!(r.counter_value(&X, &[("reason", "full")]), 3);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "takes the labels")]
    fn a_series_must_give_its_descriptors_labels() {
        Registry::new().counter(&X, &[("protocol", "grpc")]);
    }
}
