//! The server: follower, pre-candidate, candidate or leader of Raft, with its persisted state
//! (term, vote, log, snapshot) and the key-value state machine it applies the log to. One
//! file per concern, as the paper separates them: [`log`], [`storage`], `election`,
//! `leader`, `follower`, `apply`.

mod apply;
mod election;
mod follower;
mod leader;
pub mod log;
pub mod storage;

use std::sync::Arc;

use self::leader::Progress;
use self::log::Log;
use super::kv::{Kv, Op};
use super::messages::{Peer, PeerTimer};
use super::{Applied, Config, Led, Raft, ServerReport, Snapshot};
use crate::shared::clients::IdSet;
use crate::shared::service::{CtxOf, Request, ServerRole};
use crate::shared::Rank;

type C<'a> = CtxOf<'a, Raft>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for PreVotes: its term is unchanged.
    PreCandidate,
    Candidate,
    Leader,
}

/// A server rank.
#[derive(Debug, Clone)]
pub struct Server {
    pub me: Rank,
    cfg: Arc<Config>,
    // Persisted.
    pub term: u64,
    pub vote: Option<Rank>,
    pub log: Log,
    pub snapshot: Option<Snapshot>,
    // Volatile.
    pub role: Role,
    pub leader: Option<Rank>,
    pub commit: u64,
    pub applied: u64,
    pub sm: Kv,
    votes: Vec<bool>,
    /// When it last heard from a leader (µs), for the lease that makes it ignore candidates.
    heard_leader_us: Option<u64>,
    peers: Vec<Progress>,
    /// Client commands in the leader's log and not applied yet (deduplication).
    in_log: IdSet,
    // Report.
    led: Vec<Led>,
    commits: Vec<(u64, u64)>,
    applied_runs: Vec<(u64, Vec<Applied>)>,
    leader_overwrites: Vec<(u64, u64)>,
    recovered: Option<(usize, u64)>,
    started_us: u64,
    /// After a restart: the leader's commit index when it first heard from it, and when it
    /// had applied that much.
    catch_up_target: Option<u64>,
    caught_up_us: Option<u64>,
    snapshots_taken: u32,
    snapshots_installed: u32,
    /// As leader: refusals below a follower's match index (its log shrank).
    follower_logs_shrank: u32,
    pub gave_up: bool,
}

impl Server {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Server {
            me,
            term: 0,
            vote: None,
            log: Log::default(),
            snapshot: None,
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            sm: Kv::default(),
            votes: vec![false; cfg.service.servers],
            heard_leader_us: None,
            peers: vec![Progress::default(); cfg.service.servers],
            in_log: IdSet::default(),
            led: Vec::new(),
            commits: Vec::new(),
            applied_runs: vec![(1, Vec::new())],
            leader_overwrites: Vec::new(),
            recovered: None,
            started_us: 0,
            catch_up_target: None,
            caught_up_us: None,
            snapshots_taken: 0,
            snapshots_installed: 0,
            follower_logs_shrank: 0,
            gave_up: false,
            cfg,
        }
    }

    pub(super) fn quorum(&self) -> usize {
        self.cfg.service.quorum
    }

    /// Votes it needs besides its own.
    #[cfg(test)]
    pub fn votes_needed(&self) -> usize {
        self.cfg.service.quorum - 1
    }

    pub(super) fn others(&self) -> impl Iterator<Item = Rank> + '_ {
        (0..self.cfg.service.servers).filter(move |&r| r != self.me)
    }
}

impl ServerRole for Server {
    type S = Raft;
    type Report = Box<ServerReport>;

    fn on_start(&mut self, ctx: &mut C) {
        self.started_us = ctx.now().as_micros() as u64;
        if let Some((n, last)) = self.recovered {
            ctx.note(format!(
                "recovered term {} and {last} entries from {n} records",
                self.term
            ));
        }
        self.arm_election(ctx, self.recovered.is_none());
        ctx.set_timer(PeerTimer::GiveUp, self.cfg.service.give_up);
    }

    fn on_request(&mut self, client: Rank, req: Request<Op>, ctx: &mut C) {
        if client >= self.cfg.service.servers {
            self.on_client_request(client, req, ctx);
        }
    }

    fn on_peer(&mut self, from: Rank, msg: Peer, ctx: &mut C) {
        if from >= self.cfg.service.servers {
            return;
        }
        match msg {
            Peer::RequestVote(m) => self.on_request_vote(from, m, ctx),
            Peer::Vote(m) => self.on_vote(from, m, ctx),
            Peer::AppendEntries(m) => self.on_append_entries(from, m, ctx),
            Peer::AppendResp(m) => self.on_append_resp(from, m, ctx),
            Peer::InstallSnapshot(m) => self.on_install_snapshot(from, m, ctx),
        }
    }

    fn on_timer(&mut self, t: PeerTimer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        match t {
            PeerTimer::Election => self.start_prevote(ctx),
            PeerTimer::Heartbeat => self.on_heartbeat(ctx),
            PeerTimer::CheckQuorum => self.on_check_quorum(ctx),
            PeerTimer::GiveUp => {
                self.gave_up = true;
                ctx.note("gave up");
                for t in [
                    PeerTimer::Election,
                    PeerTimer::Heartbeat,
                    PeerTimer::CheckQuorum,
                ] {
                    ctx.cancel_timer(t);
                }
            }
        }
    }

    fn is_done(&self) -> bool {
        // Every client's every command executed (servers do not know of client crashes: a
        // crashed client's servers stop at `--give-up`).
        self.gave_up
            || self.sm.executed
                >= self.cfg.service.clients as u64 * self.cfg.service.requests as u64
    }

    fn report(&self) -> Box<ServerReport> {
        Box::new(ServerReport {
            term: self.term,
            led: self.led.clone(),
            commits: self.commits.clone(),
            applied: self.applied_runs.clone(),
            log_offset: self.log.offset,
            log: self.log.entries.iter().map(|e| (e.term, e.id())).collect(),
            leader_overwrites: self.leader_overwrites.clone(),
            commit: self.commit,
            recovered: self.recovered,
            started_us: self.started_us,
            catch_up_target: self.catch_up_target,
            caught_up_us: self.caught_up_us,
            snapshots_taken: self.snapshots_taken,
            snapshots_installed: self.snapshots_installed,
            follower_logs_shrank: self.follower_logs_shrank,
            leader_at_end: self.role == Role::Leader,
            gave_up: self.gave_up,
        })
    }
}
