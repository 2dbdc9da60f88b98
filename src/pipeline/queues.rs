//! Queue depths of the pipeline, for the run report: how many inputs are being read, how
//! many are in the CPU stage (queued or running), and how many finished rows wait for the
//! sink, sampled each time a row reaches the sink. The queue that sits at its bound is the
//! one waiting on the next stage: reads at `read_concurrency` with few images in the CPU
//! stage means storage is the bottleneck; the CPU stage at `in_flight` means the cores are;
//! rows waiting near `RESULT_CHANNEL` means encoding and upload are.

use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A queue counted while an input is in it.
#[derive(Debug, Clone, Copy)]
pub enum Queue {
    /// Fetching the input's bytes.
    Reading,
    /// Decoding and transforming on the CPU pool.
    Processing,
}

/// Live occupancy and the samples taken of it.
#[derive(Debug, Default)]
pub struct Queues {
    reading: AtomicUsize,
    processing: AtomicUsize,
    /// Most inputs ever reading, and in the CPU stage, at once (counted at every entry).
    peaks: [AtomicUsize; 2],
    samples: Mutex<Samples>,
}

#[derive(Debug, Default)]
struct Samples {
    n: u64,
    sum: [u64; 3],
    max: [usize; 3],
}

/// Counts one input in a queue until dropped.
pub struct Occupied {
    queues: Arc<Queues>,
    queue: Queue,
}

impl Drop for Occupied {
    fn drop(&mut self) {
        self.queues.gauge(self.queue).fetch_sub(1, Ordering::Relaxed);
    }
}

impl Queues {
    fn gauge(&self, q: Queue) -> &AtomicUsize {
        match q {
            Queue::Reading => &self.reading,
            Queue::Processing => &self.processing,
        }
    }

    /// Count an input in `queue` until the returned guard drops.
    pub fn enter(self: &Arc<Self>, queue: Queue) -> Occupied {
        let now = self.gauge(queue).fetch_add(1, Ordering::Relaxed) + 1;
        self.peaks[queue as usize].fetch_max(now, Ordering::Relaxed);
        Occupied { queues: self.clone(), queue }
    }

    /// Take one sample, with `waiting` finished rows queued for the sink.
    pub fn sample(&self, waiting: usize) {
        let now = [self.reading.load(Ordering::Relaxed), self.processing.load(Ordering::Relaxed), waiting];
        let mut s = self.samples.lock().expect("queue samples lock");
        s.n += 1;
        for (i, v) in now.into_iter().enumerate() {
            s.sum[i] += v as u64;
            s.max[i] = s.max[i].max(v);
        }
    }

    /// Mean and maximum depth of each queue, with its bound.
    pub fn report(&self, read_concurrency: usize, in_flight: usize, result_channel: usize) -> QueueReport {
        let s = self.samples.lock().expect("queue samples lock");
        let depth = |i: usize, bound: usize| Depth {
            mean: if s.n == 0 { 0.0 } else { s.sum[i] as f64 / s.n as f64 },
            max: s.max[i],
            // The rows waiting for the sink are only seen at the samples.
            peak: self.peaks.get(i).map_or(s.max[i], |p| p.load(Ordering::Relaxed).max(s.max[i])),
            bound,
        };
        QueueReport {
            samples: s.n,
            reading: depth(0, read_concurrency),
            processing: depth(1, in_flight),
            waiting_for_sink: depth(2, result_channel),
        }
    }
}

/// Queue depths in `run_report.json`, sampled once per row that reached the sink.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueReport {
    /// Number of samples.
    pub samples: u64,
    /// Inputs being fetched.
    pub reading: Depth,
    /// Inputs in the CPU stage (queued or running).
    pub processing: Depth,
    /// Finished rows waiting for the sink (encode + upload).
    pub waiting_for_sink: Depth,
}

/// One queue's depth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Depth {
    /// Mean over the samples.
    pub mean: f64,
    /// Largest seen at a sample.
    pub max: usize,
    /// Largest ever, between samples too (the bound holds when this is at most `bound`).
    pub peak: usize,
    /// The configured bound.
    pub bound: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_occupancy_and_samples_average_it() {
        let q = Arc::new(Queues::default());
        let a = q.enter(Queue::Reading);
        let b = q.enter(Queue::Reading);
        let c = q.enter(Queue::Processing);
        q.sample(3);
        drop((a, b));
        // Three at once between two samples: only the peak sees them.
        let more: Vec<Occupied> = (0..3).map(|_| q.enter(Queue::Reading)).collect();
        drop(more);
        q.sample(1);
        drop(c);
        q.sample(0);
        let r = q.report(8, 4, 16);
        assert_eq!(r.samples, 3);
        assert_eq!((r.reading.max, r.reading.peak, r.reading.bound), (2, 3, 8));
        assert_eq!((r.processing.peak, r.waiting_for_sink.peak), (1, 3));
        assert!((r.reading.mean - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!((r.processing.max, r.waiting_for_sink.max), (1, 3));
        assert!((r.waiting_for_sink.mean - 4.0 / 3.0).abs() < 1e-9);
    }
}
