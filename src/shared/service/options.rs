//! The options every service binary has, and the configuration they give.

use std::fmt::Debug;
use std::time::Duration;

use serde::Serialize;

use crate::shared::quorum::majority;

/// Each rank's role when the last `clients` of `np` ranks are clients and the others servers
/// (for the diagram's lanes).
pub fn server_client_roles(np: usize, clients: usize) -> Vec<String> {
    let servers = np.saturating_sub(clients);
    (0..np)
        .map(|r| if r < servers { "server" } else { "client" }.to_string())
        .collect()
}

/// Options of every binary with servers and client ranks (flattened into its clap options).
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct ServiceArgs {
    /// Client ranks (the last C ranks; the others are servers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub clients: u64,
    /// Commands each client submits.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000_000))]
    pub requests: u32,
    /// Commands a client keeps unanswered at most.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub inflight: u64,
    /// A client that hears nothing for this long resends to the next server (ms).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub retry: u64,
    /// A rank stops waiting after this long without progress (nothing committed, applied,
    /// answered or learned), so that a run whose faults forbid progress ends (ms).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub give_up: u64,
    #[command(flatten)]
    #[serde(flatten)]
    pub log: LogArgs,
}

/// Options of a replicated log: batching and the leader's timing.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct LogArgs {
    /// Most entries per replication message, AppendEntries or Accept (1: no batching).
    #[arg(long, default_value_t = 64, value_parser = parse_batch)]
    pub batch: u64,
    /// Base election timeout T (a follower waits T..2T) (ms).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(2..=600_000))]
    pub election_timeout: u64,
    /// Leader heartbeat and resend period (ms).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub heartbeat: u64,
}

/// The largest `--batch`; an algorithm may bound it lower in its `validate`.
pub const MAX_BATCH: u64 = 1_000_000;

fn parse_batch(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(b) if (1..=MAX_BATCH).contains(&b) => Ok(b),
        _ => Err(format!(
            "--batch is the most entries per replication message, from 1 (no batching) to {MAX_BATCH}, got '{s}'"
        )),
    }
}

/// The servers left at `np` once `clients` ranks are clients, or the sentence that refuses it.
pub fn servers_at(binary: &str, clients: u64, np: usize) -> Result<usize, String> {
    let c = clients as usize;
    if c >= np {
        return Err(format!(
            "--clients {c} leaves no server at np={np}: {binary} needs at least one server rank besides the clients (three to survive a crash)"
        ));
    }
    Ok(np - c)
}

/// A service's configuration, shared by all ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub servers: usize,
    pub clients: usize,
    /// A majority of the servers.
    pub quorum: usize,
    pub requests: u32,
    pub inflight: usize,
    pub batch: usize,
    pub election: Duration,
    pub heartbeat: Duration,
    pub retry: Duration,
    pub give_up: Duration,
}

impl Config {
    /// What the unit tests of servers use: `servers` servers and one client, 4 commands in
    /// flight, batch 2, T = 50 ms, heartbeat 10 ms, retry 40 ms.
    #[cfg(test)]
    pub fn for_tests(servers: usize) -> Config {
        Config {
            servers,
            clients: 1,
            quorum: majority(servers),
            requests: 4,
            inflight: 4,
            batch: 2,
            election: Duration::from_millis(50),
            heartbeat: Duration::from_millis(10),
            retry: Duration::from_millis(40),
            give_up: Duration::from_millis(10_000),
        }
    }
}

impl ServiceArgs {
    /// The configuration at `np` ranks (after [`servers_at`] accepted it).
    pub fn config(&self, np: usize) -> Config {
        let servers = np - self.clients as usize;
        Config {
            servers,
            clients: self.clients as usize,
            quorum: majority(servers),
            requests: self.requests,
            inflight: self.inflight as usize,
            batch: self.log.batch as usize,
            election: Duration::from_millis(self.log.election_timeout),
            heartbeat: Duration::from_millis(self.log.heartbeat),
            retry: Duration::from_millis(self.retry),
            give_up: Duration::from_millis(self.give_up),
        }
    }
}
