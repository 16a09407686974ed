//! spanguard under test runs as its own process (`spanguard run`), so its CPU time and memory can be read from
//! `/proc` apart from the generator's and the sink's, which share the machine.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestkitError;

/// A `spanguard run` child process.
pub struct Spanguard {
    child: Child,
    /// Its metrics endpoint (`host:port`).
    pub metrics: String,
}

/// What differs between runs of `spanguard run` under load. The rest is fixed: OTLP/gRPC in on a loopback port,
/// OTLP/gRPC out to the sink, metrics on loopback, windows of 50 traces closing 1 s after they open.
pub struct RunConfig<'a> {
    /// `processors.anomaly.trace_wait`.
    pub trace_wait: Duration,
    /// Extra YAML lines for `processors.anomaly` (indented 4 spaces): detectors, limits, queue sizes.
    pub processor: &'a str,
    /// Extra YAML lines for `exporters.otlp` (indented 4 spaces): compression, batch, queue, retry.
    pub exporter: &'a str,
    /// `service.telemetry.logs.level`.
    pub log_level: &'a str,
}

impl RunConfig<'_> {
    /// The config text, for these ports and this sink.
    pub fn text(&self, grpc: u16, metrics: u16, sink: &str) -> String {
        format!(
            r#"receivers:
  otlp:
    protocols:
      grpc: {{ endpoint: "127.0.0.1:{grpc}" }}
processors:
  anomaly:
    trace_wait: {wait}ms
    window: {{ traces: 50, timeout: 1s }}
{processor}
exporters:
  otlp:
    endpoint: "{sink}"
{exporter}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [otlp] }}
  telemetry:
    metrics: {{ address: "127.0.0.1:{metrics}" }}
    logs: {{ level: {level} }}
  shutdown_timeout: 30s
"#,
            wait = self.trace_wait.as_millis(),
            processor = self.processor,
            exporter = self.exporter,
            level = self.log_level,
        )
    }
}

/// A free loopback port (bound then released: the child binds it a moment later).
pub fn free_port() -> Result<u16, TestkitError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| TestkitError::io("binding a loopback port", e))?;
    Ok(port.port())
}

impl Spanguard {
    /// Writes `run`'s config into `dir` and starts the binary at `exe` on it, forwarding to `sink`; returns it and
    /// its OTLP/gRPC endpoint.
    pub fn launch(exe: &Path, dir: &Path, sink: &str, run: &RunConfig) -> Result<(Spanguard, String), TestkitError> {
        let (grpc, metrics) = (free_port()?, free_port()?);
        let path = dir.join("spanguard.yaml");
        std::fs::write(&path, run.text(grpc, metrics, sink))
            .map_err(|e| TestkitError::io(format!("cannot write {}", path.display()), e))?;
        let sg = Self::start_exe(exe, &path, format!("127.0.0.1:{metrics}"))?;
        Ok((sg, format!("http://127.0.0.1:{grpc}")))
    }

    /// Starts `exe run --config config` and waits until `/healthz` answers at `metrics`.
    pub fn start_exe(exe: &Path, config: &Path, metrics: String) -> Result<Spanguard, TestkitError> {
        let child = Command::new(exe)
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| TestkitError::io("cannot start spanguard run", e))?;
        let mut s = Spanguard { child, metrics };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(&s.metrics, "/healthz").is_err() {
            let exited = s
                .child
                .try_wait()
                .map_err(|e| TestkitError::io("waiting for spanguard run", e))?;
            if let Some(status) = exited {
                return Err(TestkitError::Child(format!("spanguard run exited at start ({status})")));
            }
            if Instant::now() > deadline {
                return Err(TestkitError::Child(
                    "spanguard run did not become healthy in 20 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(s)
    }

    /// CPU seconds (user + system) used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm)".
        // SAFETY: sysconf takes no pointers.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        (ticks(11) + ticks(12)) as f64 / hz
    }

    /// (current RSS, peak RSS) in bytes.
    pub fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }

    /// One gauge or counter from `/metrics`, summed over its label sets.
    pub fn metric(&self, metric: &spanguard_telemetry::names::Metric) -> f64 {
        let name = metric.name;
        let Ok(text) = http_get(&self.metrics, "/metrics") else {
            return 0.0;
        };
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for the drain; returns whether it exited 0.
    pub fn stop(mut self) -> Result<bool, TestkitError> {
        // SAFETY: kill(2) with a pid of our own child and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self
            .child
            .wait()
            .map_err(|e| TestkitError::io("waiting for spanguard run to exit", e))?;
        Ok(status.success())
    }
}

impl Drop for Spanguard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A minimal HTTP/1.0 GET (the admin endpoints), without pulling an HTTP client into the binary.
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    if !text.starts_with("HTTP/1.1 200") && !text.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(text.lines().next().unwrap_or("").to_owned()));
    }
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}
