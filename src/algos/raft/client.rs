//! The client: the service's closed-loop client ([`ServiceClient`]) with put/get commands on
//! the replicated map; it records what every get returned, for the linearizability check.

use std::sync::Arc;

use super::kv::{op_of, Op};
use super::{Config, Raft, RaftClientReport};
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::service::{Commands, ServiceClient};
use crate::shared::Rank;

/// Raft's client.
pub type Client = ServiceClient<KvCommands>;

/// A client rank.
pub fn new(me: Rank, cfg: &Config) -> Client {
    let commands = KvCommands {
        keys: cfg.keys,
        read_permille: cfg.read_permille,
        reads: Vec::new(),
    };
    ServiceClient::new(me, Arc::new(cfg.service.clone()), commands)
}

/// Put/get commands drawn from their ids, and the answers of the gets.
#[derive(Debug, Clone)]
pub struct KvCommands {
    keys: u32,
    read_permille: u32,
    /// (seq, value) of every answered get.
    reads: Vec<(u32, Option<u64>)>,
}

impl Commands for KvCommands {
    type S = Raft;
    type Report = RaftClientReport;

    fn op(&self, id: CommandId) -> Op {
        op_of(id, self.keys, self.read_permille)
    }

    fn answered(&mut self, seq: u32, op: &Op, out: Option<u64>) {
        if matches!(op, Op::Get { .. }) {
            self.reads.push((seq, out));
        }
    }

    fn report(&self, work: ClientReport) -> RaftClientReport {
        RaftClientReport {
            work,
            reads: self.reads.clone(),
        }
    }
}
