//! Latency percentiles for the report, with an HDR histogram (3 significant digits).

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// `{count, p50_ms, p90_ms, p99_ms, max_ms, mean_ms}` of latencies given in µs (null if none).
pub fn summary_ms(latencies_us: impl IntoIterator<Item = u64>) -> Value {
    let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    for l in latencies_us {
        h.record(l.max(1)).expect("auto-resizing histogram");
    }
    if h.is_empty() {
        return Value::Null;
    }
    let ms = |us: u64| us as f64 / 1e3;
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "max_ms": ms(h.max()),
        "mean_ms": h.mean() / 1e3,
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
