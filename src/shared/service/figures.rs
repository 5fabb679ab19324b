//! What every replicated log reports.

use std::fmt::Debug;

use serde::Serialize;

use super::options::*;
use crate::shared::clients::ClientReport;
use crate::shared::observe::latency::{self, Latency, Steps};
use crate::shared::observe::metrics::Metrics;

/// What every replicated log reports: commits, their rate and latency on the clients' clocks,
/// and the messages they cost (flattened into each algorithm's figures).
#[derive(Debug, Clone, Serialize)]
pub struct CommitFigures {
    pub commits: u64,
    pub commits_per_s: Option<f64>,
    pub client_span_s: f64,
    pub commit_latency: Option<Latency>,
    pub communication_steps_per_commit: Option<Steps>,
    pub messages_per_commit: Option<f64>,
    pub bytes_per_commit: Option<f64>,
    /// The replication messages per commit, and what theory says: one message to each
    /// follower and one answer, for a batch of commands.
    pub server_messages_per_commit: Option<f64>,
    pub theoretical_server_messages_per_commit: f64,
}

impl CommitFigures {
    /// `commits` commands executed, answered to `clients`; `replication` names the two message
    /// kinds that carry entries and acknowledge them.
    pub fn of(
        commits: u64,
        clients: &[&ClientReport],
        m: &Metrics,
        replication: [&str; 2],
        cfg: &Config,
    ) -> Self {
        let first = clients.iter().filter_map(|c| c.first_submit_us).min();
        let last = clients.iter().map(|c| c.last_reply_us).max();
        let span_s = match (first, last) {
            (Some(f), Some(l)) if l > f => (l - f) as f64 / 1e6,
            _ => 0.0,
        };
        let per_commit = |x: u64| (commits > 0).then(|| x as f64 / commits as f64);
        CommitFigures {
            commits,
            commits_per_s: (span_s > 0.0).then(|| commits as f64 / span_s),
            client_span_s: span_s,
            commit_latency: latency::latency_ms(
                clients
                    .iter()
                    .flat_map(|c| c.done.iter().map(|d| d.1 as u64)),
            ),
            communication_steps_per_commit: latency::steps_summary(
                clients.iter().flat_map(|c| c.done.iter().map(|d| d.2)),
            ),
            messages_per_commit: per_commit(m.total.sent),
            bytes_per_commit: per_commit(m.total.bytes_sent),
            server_messages_per_commit: per_commit(replication.iter().map(|k| m.sent_of(k)).sum()),
            theoretical_server_messages_per_commit: 2.0 * (cfg.servers as f64 - 1.0)
                / cfg.batch as f64,
        }
    }

    /// The summary's words for them: "N commits, R commits/s ...; latency p50 ..., p99 ...",
    /// or "no command answered, no latency" when none was (never a NaN).
    pub fn headline(&self) -> String {
        let latency = match &self.commit_latency {
            Some(l) => format!("latency p50 {:.3} ms, p99 {:.3} ms", l.p50_ms, l.p99_ms),
            None => "no command answered, no latency".to_string(),
        };
        format!(
            "{} commits, {:.0} commits/s on the client's clock; {latency}",
            self.commits,
            self.commits_per_s.unwrap_or(0.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_no_answer_says_so_instead_of_nan() {
        let f = CommitFigures {
            commits: 0,
            commits_per_s: None,
            client_span_s: 0.0,
            commit_latency: None,
            communication_steps_per_commit: None,
            messages_per_commit: None,
            bytes_per_commit: None,
            server_messages_per_commit: None,
            theoretical_server_messages_per_commit: 4.0,
        };
        let line = f.headline();
        assert!(!line.contains("NaN"), "{line}");
        assert!(line.ends_with("no command answered, no latency"), "{line}");
    }
}
