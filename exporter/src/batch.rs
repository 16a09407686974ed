//! Batching counts spans, not requests: a batch is cut when it holds `send_batch_size` spans or `timeout` after
//! its first span.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::{span_count, Request};

/// A batch ready to send.
pub(crate) struct Batch {
    pub request: Request,
    pub spans: usize,
}

/// Reads requests from `input`, sends batches to `queue`; on input close, flushes and returns (closing `queue`).
pub(crate) async fn run_batcher(
    mut input: mpsc::Receiver<Request>,
    queue: mpsc::Sender<Batch>,
    size: usize,
    timeout: Duration,
    on_queue: impl Fn(&mpsc::Sender<Batch>),
) {
    let mut current = Request::default();
    let mut spans = 0usize;
    let deadline = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(deadline);
    let mut armed = false;
    loop {
        tokio::select! {
            msg = input.recv() => match msg {
                Some(req) => {
                    let n = span_count(&req);
                    if n == 0 {
                        continue;
                    }
                    if spans == 0 {
                        deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
                        armed = true;
                    }
                    current.resource_spans.extend(req.resource_spans);
                    spans += n;
                    if spans >= size {
                        if !flush(&queue, &mut current, &mut spans, &on_queue).await { return; }
                        armed = false;
                    }
                }
                None => break,
            },
            _ = &mut deadline, if armed => {
                if !flush(&queue, &mut current, &mut spans, &on_queue).await { return; }
                armed = false;
            }
        }
    }
    flush(&queue, &mut current, &mut spans, &on_queue).await;
}

async fn flush(
    queue: &mpsc::Sender<Batch>,
    current: &mut Request,
    spans: &mut usize,
    on_queue: &impl Fn(&mpsc::Sender<Batch>),
) -> bool {
    if *spans == 0 {
        return true;
    }
    let batch = Batch {
        request: std::mem::take(current),
        spans: std::mem::take(spans),
    };
    let ok = queue.send(batch).await.is_ok();
    on_queue(queue);
    ok
}
