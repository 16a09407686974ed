use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

    /// Registers (or finds) a counter series.
    pub fn counter(&self, name: &'static str, help: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        match self.register(name, help, labels, || Value::Counter(Counter::default())) {
            Value::Counter(c) => c,
            Value::Gauge(_) => panic!("metric {name} registered as both counter and gauge"),
        }
    }

    /// Registers (or finds) a gauge series.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        match self.register(name, help, labels, || Value::Gauge(Gauge::default())) {
            Value::Gauge(g) => g,
            Value::Counter(_) => panic!("metric {name} registered as both gauge and counter"),
        }
    }

    fn register(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        make: impl FnOnce() -> Value,
    ) -> Value {
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
    pub fn counter_total(&self, name: &str) -> u64 {
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
    pub fn counter_value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
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
                        Value::Counter(_) => "counter",
                        Value::Gauge(_) => "gauge",
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

    #[test]
    fn renders_prometheus_text_and_shares_series() {
        let r = Registry::new();
        let a = r.counter("x_total", "x things", &[("reason", "full")]);
        let b = r.counter("x_total", "x things", &[("reason", "full")]);
        a.add(2);
        b.inc();
        r.gauge("y", "y level", &[]).set(-4);
        let text = r.render();
        assert!(
            text.contains("# TYPE x_total counter\nx_total{reason=\"full\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE y gauge\ny -4\n"), "{text}");
        assert_eq!(r.counter_total("x_total"), 3);
        assert_eq!(r.counter_value("x_total", &[("reason", "full")]), 3);
    }
}
