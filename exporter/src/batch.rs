//! Batching counts spans, not requests: a batch is cut when it holds `send_batch_size` spans or `timeout` after
//! its first span.

use std::time::Duration;

use tokio::sync::mpsc;

use spanguard_otlp::SpanRecord;

/// A batch ready to send.
pub(crate) struct Batch {
    pub records: Vec<SpanRecord>,
    pub spans: usize,
}

/// Reads requests from `input`, sends batches to `queue`; on input close, flushes and returns (closing `queue`).
pub(crate) async fn run_batcher(
    mut input: mpsc::Receiver<Vec<SpanRecord>>,
    queue: mpsc::Sender<Batch>,
    size: usize,
    timeout: Duration,
    on_queue: impl Fn(&mpsc::Sender<Batch>),
) {
    let mut current: Vec<SpanRecord> = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(deadline);
    let mut armed = false;
    loop {
        tokio::select! {
            msg = input.recv() => match msg {
                Some(records) => {
                    if records.is_empty() {
                        continue;
                    }
                    if current.is_empty() {
                        deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
                        armed = true;
                        current = records;
                    } else {
                        current.extend(records);
                    }
                    if current.len() >= size {
                        if !flush(&queue, &mut current, &on_queue).await { return; }
                        armed = false;
                    }
                }
                None => break,
            },
            _ = &mut deadline, if armed => {
                if !flush(&queue, &mut current, &on_queue).await { return; }
                armed = false;
            }
        }
    }
    flush(&queue, &mut current, &on_queue).await;
}

async fn flush(
    queue: &mpsc::Sender<Batch>,
    current: &mut Vec<SpanRecord>,
    on_queue: &impl Fn(&mpsc::Sender<Batch>),
) -> bool {
    if current.is_empty() {
        return true;
    }
    let records = std::mem::take(current);
    let batch = Batch {
        spans: records.len(),
        records,
    };
    let ok = queue.send(batch).await.is_ok();
    on_queue(queue);
    ok
}
