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
use super::kv::{self, Kv, Op};
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
    /// Per server: it said it applied the whole workload, and when this server last heard
    /// it answer an AppendEntries (µs): a leader done with its own work serves the others
    /// until they are done or silent for [`Server::catch_up_patience`].
    peer_done: Vec<bool>,
    peers_done: u64,
    heard_us: Vec<u64>,
    /// A leader done with its own work and no follower left to serve.
    released: bool,
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
            peer_done: vec![false; cfg.service.servers],
            peers_done: 0,
            heard_us: vec![0; cfg.service.servers],
            released: false,
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

    /// It applied every command of every client.
    pub(super) fn executed_all(&self) -> bool {
        self.sm.executed >= self.cfg.service.clients as u64 * self.cfg.service.requests as u64
    }

    /// How long a leader done with its own work keeps serving a follower that does not
    /// answer (crashed, or cut off): 20 election timeouts.
    fn catch_up_patience(&self) -> u64 {
        20 * self.cfg.service.election.as_micros() as u64
    }

    /// An AppendEntries answer from `from`: when, and whether it is done.
    fn heard(&mut self, from: Rank, done: bool, ctx: &C) {
        self.heard_us[from] = ctx.now().as_micros() as u64;
        if done && !self.peer_done[from] {
            self.peer_done[from] = true;
            self.peers_done += 1;
        }
    }

    /// A leader done with its own work stops once every follower is done or has been silent
    /// for the whole patience: until then it heartbeats, so a follower that was cut off or
    /// lost the last AppendEntries still learns the end of the log.
    fn release_if_served(&mut self, ctx: &mut C) {
        if self.released || self.role != Role::Leader || !self.executed_all() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        let patience = self.catch_up_patience();
        let waiting: Vec<Rank> = self
            .others()
            .filter(|&f| !self.peer_done[f] && now.saturating_sub(self.heard_us[f]) < patience)
            .collect();
        if waiting.is_empty() {
            self.released = true;
            let silent: Vec<Rank> = self.others().filter(|&f| !self.peer_done[f]).collect();
            if !silent.is_empty() {
                ctx.note(format!(
                    "stopped serving {silent:?}: no answer for {} ms",
                    patience / 1000
                ));
            }
        }
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
            Peer::AppendResp(m) => {
                self.heard(from, m.done, ctx);
                self.on_append_resp(from, m, ctx)
            }
            Peer::InstallSnapshot(m) => self.on_install_snapshot(from, m, ctx),
        }
    }

    fn on_timer(&mut self, t: PeerTimer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        match t {
            PeerTimer::Election => self.start_prevote(ctx),
            PeerTimer::Heartbeat => {
                self.on_heartbeat(ctx);
                self.release_if_served(ctx);
            }
            PeerTimer::CheckQuorum => self.on_check_quorum(ctx),
        }
    }

    fn progress(&self) -> u64 {
        self.commit + self.applied + self.log.last_index() + self.peers_done
    }

    fn give_up(&mut self, ctx: &mut C) {
        self.gave_up = true;
        for t in [
            PeerTimer::Election,
            PeerTimer::Heartbeat,
            PeerTimer::CheckQuorum,
        ] {
            ctx.cancel_timer(t);
        }
    }

    fn is_done(&self) -> bool {
        // Every client's every command executed, and a leader has served the followers
        // (servers do not know of client crashes: a crashed client's servers stop at
        // `--give-up`, after that long without progress).
        self.gave_up || (self.executed_all() && (self.role != Role::Leader || self.released))
    }

    fn leads(&self) -> bool {
        self.role == Role::Leader
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
            kv: Some((self.applied, kv::digest(&self.sm.map))),
        })
    }
}
