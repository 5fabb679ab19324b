//! Latency percentiles for the report, with an HDR histogram (3 significant digits).

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

/// Percentiles of latencies, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// The percentiles of latencies given in µs (None if none).
pub fn latency_ms(latencies_us: impl IntoIterator<Item = u64>) -> Option<Latency> {
    let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    for l in latencies_us {
        h.record(l.max(1)).expect("auto-resizing histogram");
    }
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1e3;
    Some(Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1e3,
    })
}

/// `{count, p50_ms, p90_ms, p99_ms, max_ms, mean_ms}` of latencies given in µs (null if none).
pub fn summary_ms(latencies_us: impl IntoIterator<Item = u64>) -> Value {
    serde_json::to_value(latency_ms(latencies_us)).unwrap_or_default()
}

/// The median and the longest of the communication steps from an operation's submission to
/// its answer (4 for one command alone in a replicated log: request, Accept, Accepted, Reply;
/// more when pipelined commands chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Steps {
    pub p50: u32,
    pub max: u32,
}

/// [`Steps`] of these counts (None if none).
pub fn steps_summary(steps: impl Iterator<Item = u32>) -> Option<Steps> {
    let mut v: Vec<u32> = steps.collect();
    v.sort_unstable();
    Some(Steps {
        p50: *v.get(v.len() / 2)?,
        max: *v.last()?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_of_a_known_distribution() {
        let s = super::summary_ms((1..=1000).map(|i| i * 10));
        assert_eq!(s["count"], 1000);
        let p50 = s["p50_ms"].as_f64().unwrap();
        let p99 = s["p99_ms"].as_f64().unwrap();
        assert!((p50 - 5.0).abs() < 0.01, "{s}");
        assert!((p99 - 9.9).abs() < 0.01, "{s}");
        assert!(super::summary_ms([]).is_null());
    }
}
