//! The client: the service's closed-loop client ([`ServiceClient`]) whose commands are opaque
//! payloads, a function of their id so that a resent command is the same.

use std::sync::Arc;

use super::SequencePaxos;
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::service::{self, Commands, ServiceClient};
use crate::shared::Rank;

/// Sequence Paxos's client.
pub type Client = ServiceClient<Payloads>;

/// A client rank.
pub fn new(me: Rank, cfg: Arc<service::Config>) -> Client {
    ServiceClient::new(me, cfg, Payloads)
}

/// Commands whose payload is a hash of their id (splitmix64).
#[derive(Debug, Clone, Copy)]
pub struct Payloads;

impl Commands for Payloads {
    type S = SequencePaxos;
    type Report = ClientReport;

    fn op(&self, id: CommandId) -> u64 {
        let mut z = ((id.client as u64) << 32 | id.seq as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn answered(&mut self, _seq: u32, _op: &u64, _out: ()) {}

    fn report(&self, work: ClientReport) -> ClientReport {
        work
    }
}
