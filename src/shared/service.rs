//! Replicated services with client ranks: the scaffolding that `raft`, `sequence-paxos` and the
//! hashmap's Raft backend share, and that any algorithm with servers and clients builds on.
//!
//! Roles by rank: servers `[0, S)`, clients `[S, np)` (`--clients C`, so S = np - C).
//!
//! - [`Msg`]: what travels. The clients' protocol is the same in every service (a [`Request`]
//!   of commands, a [`Redirect`] to the leader, a [`Reply`] with results); the servers' own
//!   protocol is the service's [`Service::Peer`], carried in [`Msg::Peer`]. Timers are kept
//!   apart the same way ([`Timer`]).
//! - [`ServerRole`] and [`ClientRole`]: what a service writes, one handler per message it
//!   can get; [`Roles`] makes the pair one [`Process`], so dispatch is written once here.
//! - [`LeaderSeeker`]: a client's guess of the leader (follow redirects and answers, move to
//!   the next server after a silent period).
//! - [`ServiceClient`]: the closed-loop client (a window of commands in flight, retries,
//!   give-up) for services whose commands are a function of their id ([`Commands`]).
//! - [`ServiceArgs`] and [`Config`]: the options every such binary has, and their values;
//!   [`CommitFigures`]: the figures every replicated log reports.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::clients::{ClientReport, CommandId, Workload};
use super::observe::latency::{self, Latency, Steps};
use super::observe::metrics::Metrics;
use super::process::{Ctx, Kind, Process, Rank};
use super::quorum::majority;

// ---- options ----

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
    /// Ranks stop waiting after this long, so that a run whose faults forbid progress ends (ms).
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

// ---- messages and timers ----

/// The types a service plugs into the scaffolding (implemented by its algorithm marker).
pub trait Service: 'static {
    /// The servers' own messages.
    type Peer: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Kind;
    /// The servers' own timers.
    type PeerTimer: Clone + Debug + PartialEq;
    /// A client's command.
    type Op: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
    /// A command's result.
    type Out: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
}

/// Client to server: commands (seq, op), and the client's lowest unanswered seq, below which
/// the server may forget its answers (the client session's watermark).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request<Op> {
    pub low: u32,
    pub cmds: Vec<(u32, Op)>,
}

/// Server to client: not the leader; the leader if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub leader: Option<Rank>,
}

/// Leader to client: the results of these commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply<Out>(pub Vec<(u32, Out)>);

/// A message of a service: the clients' protocol, or the servers' own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg<P, Op, Out> {
    Request(Request<Op>),
    Redirect(Redirect),
    Reply(Reply<Out>),
    Peer(P),
}

impl<P: Kind, Op, Out> Kind for Msg<P, Op, Out> {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Request(_) => "Request",
            Msg::Redirect(_) => "Redirect",
            Msg::Reply(_) => "Reply",
            Msg::Peer(p) => p.kind(),
        }
    }
}

impl<P, Op, Out> From<P> for Msg<P, Op, Out> {
    fn from(p: P) -> Self {
        Msg::Peer(p)
    }
}

/// A client's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientTimer {
    /// Resend unanswered commands.
    Retry,
    /// Stop waiting.
    GiveUp,
}

/// A timer of a service: a client's, or the servers' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer<P> {
    Client(ClientTimer),
    Server(P),
}

impl<P> From<P> for Timer<P> {
    fn from(p: P) -> Self {
        Timer::Server(p)
    }
}

/// The message type of service `S`.
pub type MsgOf<S> = Msg<<S as Service>::Peer, <S as Service>::Op, <S as Service>::Out>;
/// The timer type of service `S`.
pub type TimerOf<S> = Timer<<S as Service>::PeerTimer>;
/// The effect collector of service `S`'s handlers.
pub type CtxOf<'a, S> = Ctx<'a, MsgOf<S>, TimerOf<S>>;

/// Declares a service's peer messages, one type each: an enum with one variant per message
/// type, named as the type, and `From` every type into the enum and into the service's wire
/// message `$wire`, so that a server sends a message as it is (`ctx.send(to, Vote { .. })`)
/// and dispatches on it in one `match`.
#[macro_export]
macro_rules! peer_messages {
    ($(#[$meta:meta])* $vis:vis enum $name:ident for $wire:ty { $($v:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        $vis enum $name { $($v($v)),+ }
        $(
            impl From<$v> for $name {
                fn from(m: $v) -> Self {
                    $name::$v(m)
                }
            }
            impl From<$v> for $wire {
                fn from(m: $v) -> Self {
                    $crate::shared::service::Msg::Peer($name::$v(m))
                }
            }
        )+
    };
}

// ---- the two roles as one process ----

/// A server of service `S`: one handler per thing it can get.
pub trait ServerRole {
    type S: Service;
    /// What it reports at the end of the run.
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn on_start(&mut self, ctx: &mut CtxOf<Self::S>);
    /// Commands from client `client`.
    fn on_request(
        &mut self,
        client: Rank,
        req: Request<<Self::S as Service>::Op>,
        ctx: &mut CtxOf<Self::S>,
    );
    /// A message of another server.
    fn on_peer(&mut self, from: Rank, msg: <Self::S as Service>::Peer, ctx: &mut CtxOf<Self::S>);
    fn on_timer(&mut self, t: <Self::S as Service>::PeerTimer, ctx: &mut CtxOf<Self::S>);
    fn is_done(&self) -> bool;
    fn report(&self) -> Self::Report;
}

/// A client of service `S`.
pub trait ClientRole {
    type S: Service;
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn on_start(&mut self, ctx: &mut CtxOf<Self::S>);
    fn on_reply(
        &mut self,
        from: Rank,
        reply: Reply<<Self::S as Service>::Out>,
        ctx: &mut CtxOf<Self::S>,
    );
    fn on_redirect(&mut self, from: Rank, r: Redirect, ctx: &mut CtxOf<Self::S>);
    fn on_timer(&mut self, t: ClientTimer, ctx: &mut CtxOf<Self::S>);
    fn is_done(&self) -> bool;
    fn report(&self) -> Self::Report;
}

/// Deliver `msg` from `from` to server `s`, as [`Roles`] does (a message meant for clients is
/// ignored): how unit tests drive a server alone.
pub fn deliver<Srv: ServerRole>(
    s: &mut Srv,
    from: Rank,
    msg: MsgOf<Srv::S>,
    ctx: &mut CtxOf<Srv::S>,
) {
    match msg {
        Msg::Request(r) => s.on_request(from, r, ctx),
        Msg::Peer(m) => s.on_peer(from, m, ctx),
        Msg::Redirect(_) | Msg::Reply(_) => {
            log::debug!("rank {}: ignored {} from {from}", ctx.rank(), msg.kind())
        }
    }
}

/// A rank of a service: a server or a client.
#[derive(Debug, Clone)]
pub enum Roles<Srv, Cli> {
    Server(Box<Srv>),
    Client(Box<Cli>),
}

/// What a rank of a service reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleReport<A, B> {
    Server(A),
    Client(B),
}

impl<Srv, Cli> Process for Roles<Srv, Cli>
where
    Srv: ServerRole,
    Cli: ClientRole<S = Srv::S>,
{
    type Msg = MsgOf<Srv::S>;
    type Timer = TimerOf<Srv::S>;
    type Output = RoleReport<Srv::Report, Cli::Report>;

    fn on_start(&mut self, ctx: &mut CtxOf<Srv::S>) {
        match self {
            Roles::Server(s) => s.on_start(ctx),
            Roles::Client(c) => c.on_start(ctx),
        }
    }
    fn on_message(&mut self, from: Rank, msg: Self::Msg, ctx: &mut CtxOf<Srv::S>) {
        match (self, msg) {
            (Roles::Server(s), msg) => deliver(s.as_mut(), from, msg, ctx),
            (Roles::Client(c), Msg::Reply(r)) => c.on_reply(from, r, ctx),
            (Roles::Client(c), Msg::Redirect(r)) => c.on_redirect(from, r, ctx),
            // A message meant for servers (a misdirected one): nothing to do.
            (Roles::Client(_), m) => {
                log::debug!("rank {}: ignored {} from {from}", ctx.rank(), m.kind())
            }
        }
    }
    fn on_timer(&mut self, t: Self::Timer, ctx: &mut CtxOf<Srv::S>) {
        match (self, t) {
            (Roles::Server(s), Timer::Server(t)) => s.on_timer(t, ctx),
            (Roles::Client(c), Timer::Client(t)) => c.on_timer(t, ctx),
            _ => {}
        }
    }
    fn is_done(&self) -> bool {
        match self {
            Roles::Server(s) => s.is_done(),
            Roles::Client(c) => c.is_done(),
        }
    }
    fn output(&self) -> Self::Output {
        match self {
            Roles::Server(s) => RoleReport::Server(s.report()),
            Roles::Client(c) => RoleReport::Client(c.report()),
        }
    }
}

// ---- the client's side ----

/// A client's guess of the leader. Each client starts at a different server (spreading the
/// first requests), follows redirects and answers, and after a retry period in which nothing
/// new came back moves on to the next server: the leader may have crashed or been cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSeeker {
    servers: usize,
    leader: Rank,
    /// News since the last retry tick.
    progressed: bool,
}

/// What a client does after a [`Redirect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirected {
    /// A new leader: resend everything unanswered to it now.
    Resend,
    /// No leader known there (an election is on): retry this soon.
    RetrySoon(Duration),
    /// Nothing new.
    Ignore,
}

impl LeaderSeeker {
    /// Client rank `me` of a service with `servers` servers.
    pub fn new(me: Rank, servers: usize) -> Self {
        LeaderSeeker {
            servers,
            leader: (me - servers) % servers,
            progressed: false,
        }
    }
    /// The server it sends to.
    pub fn leader(&self) -> Rank {
        self.leader
    }
    /// A reply from `from` (a leader answers); `news`: it answered something not answered yet.
    pub fn replied(&mut self, from: Rank, news: bool) {
        self.leader = from;
        self.progressed |= news;
    }
    /// A redirect from a server; `retry` is the client's retry period.
    pub fn redirected(&mut self, r: Redirect, retry: Duration) -> Redirected {
        match r.leader {
            Some(l) if l != self.leader && l < self.servers => {
                self.leader = l;
                Redirected::Resend
            }
            Some(_) => Redirected::Ignore,
            None => Redirected::RetrySoon((retry / 4).max(Duration::from_millis(1))),
        }
    }
    /// The retry period ended: true if nothing new came back in it, and the seeker moved on to
    /// the next server (resend everything unanswered there).
    pub fn tick(&mut self) -> bool {
        if std::mem::replace(&mut self.progressed, false) {
            return false;
        }
        self.leader = (self.leader + 1) % self.servers;
        true
    }
}

/// A service whose commands are a function of their id (so a resent command is the same), for
/// [`ServiceClient`]: what to submit, and what to keep of each answer.
pub trait Commands: Debug + Clone {
    type S: Service;
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn op(&self, id: CommandId) -> <Self::S as Service>::Op;
    /// The first answer of command `seq`.
    fn answered(&mut self, seq: u32, op: &<Self::S as Service>::Op, out: <Self::S as Service>::Out);
    fn report(&self, work: ClientReport) -> Self::Report;
}

/// Most commands in one Request: a window of a million commands goes in bounded pieces.
pub const MAX_PER_REQUEST: usize = 4096;

/// The closed-loop client: at most `--inflight` commands unanswered, each new one submitted as
/// an answer frees room, all unanswered ones resent to the next server after a silent
/// `--retry`, stops at `--give-up`.
#[derive(Debug, Clone)]
pub struct ServiceClient<K> {
    cfg: Arc<Config>,
    pub work: Workload,
    pub seek: LeaderSeeker,
    pub gave_up: bool,
    pub commands: K,
}

impl<K: Commands> ServiceClient<K> {
    pub fn new(me: Rank, cfg: Arc<Config>, commands: K) -> Self {
        ServiceClient {
            work: Workload::new(me, cfg.requests, cfg.inflight),
            seek: LeaderSeeker::new(me, cfg.servers),
            gave_up: false,
            commands,
            cfg,
        }
    }

    /// The lowest unanswered seq: everything below it was answered.
    fn low(&self) -> u32 {
        self.work
            .outstanding()
            .next()
            .unwrap_or(self.work.submitted())
    }

    fn send(&self, seqs: impl Iterator<Item = u32>, ctx: &mut CtxOf<K::S>) {
        let cmds: Vec<_> = seqs
            .map(|s| (s, self.commands.op(self.work.id(s))))
            .collect();
        let low = self.low();
        for part in cmds.chunks(MAX_PER_REQUEST) {
            let req = Request {
                low,
                cmds: part.to_vec(),
            };
            ctx.send(self.seek.leader(), Msg::Request(req));
        }
    }

    fn submit_new(&mut self, ctx: &mut CtxOf<K::S>) {
        let now = ctx.now().as_micros() as u64;
        let seqs = self.work.take_new(now, ctx.steps());
        self.send(seqs.into_iter(), ctx);
    }

    fn resend(&mut self, ctx: &mut CtxOf<K::S>) {
        let seqs: Vec<u32> = self.work.outstanding().collect();
        self.send(seqs.into_iter(), ctx);
    }
}

impl<K: Commands> ClientRole for ServiceClient<K> {
    type S = K::S;
    type Report = K::Report;

    fn on_start(&mut self, ctx: &mut CtxOf<K::S>) {
        self.submit_new(ctx);
        ctx.set_timer(Timer::Client(ClientTimer::Retry), self.cfg.retry);
        ctx.set_timer(Timer::Client(ClientTimer::GiveUp), self.cfg.give_up);
    }

    fn on_reply(
        &mut self,
        from: Rank,
        reply: Reply<<K::S as Service>::Out>,
        ctx: &mut CtxOf<K::S>,
    ) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        let mut news = false;
        for (seq, out) in reply.0 {
            if self.work.complete(seq, now, ctx.steps()) {
                news = true;
                let op = self.commands.op(self.work.id(seq));
                self.commands.answered(seq, &op, out);
            }
        }
        self.seek.replied(from, news);
        if self.work.is_done() {
            ctx.note(format!("{} answered", self.cfg.requests));
            ctx.cancel_timer(Timer::Client(ClientTimer::Retry));
            ctx.cancel_timer(Timer::Client(ClientTimer::GiveUp));
        } else {
            self.submit_new(ctx);
        }
    }

    fn on_redirect(&mut self, from: Rank, r: Redirect, ctx: &mut CtxOf<K::S>) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        match self.seek.redirected(r, self.cfg.retry) {
            Redirected::Resend => self.resend(ctx),
            Redirected::RetrySoon(soon) => ctx.set_timer(Timer::Client(ClientTimer::Retry), soon),
            Redirected::Ignore => {}
        }
    }

    fn on_timer(&mut self, t: ClientTimer, ctx: &mut CtxOf<K::S>) {
        if self.is_done() {
            return;
        }
        match t {
            ClientTimer::Retry => {
                if self.seek.tick() {
                    self.resend(ctx);
                }
                ctx.set_timer(Timer::Client(ClientTimer::Retry), self.cfg.retry);
            }
            ClientTimer::GiveUp => {
                self.gave_up = true;
                ctx.note("gave up");
                ctx.cancel_timer(Timer::Client(ClientTimer::Retry));
            }
        }
    }

    fn is_done(&self) -> bool {
        self.gave_up || self.work.is_done()
    }

    fn report(&self) -> K::Report {
        self.commands.report(self.work.report())
    }
}

// ---- figures ----

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

    /// The summary's words for them: "N commits, R commits/s ...; latency p50 ..., p99 ...".
    pub fn headline(&self) -> String {
        let ms = |p: fn(&Latency) -> f64| self.commit_latency.as_ref().map_or(f64::NAN, p);
        format!(
            "{} commits, {:.0} commits/s on the client's clock; latency p50 {:.3} ms, p99 {:.3} ms",
            self.commits,
            self.commits_per_s.unwrap_or(0.0),
            ms(|l| l.p50_ms),
            ms(|l| l.p99_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeker_follows_answers_and_redirects_and_rotates_when_silent() {
        let mut s = LeaderSeeker::new(7, 5);
        assert_eq!(s.leader(), 2, "clients start at different servers");
        let retry = Duration::from_millis(40);
        assert_eq!(
            s.redirected(Redirect { leader: Some(4) }, retry),
            Redirected::Resend
        );
        assert_eq!(s.leader(), 4);
        assert_eq!(
            s.redirected(Redirect { leader: Some(4) }, retry),
            Redirected::Ignore
        );
        assert_eq!(
            s.redirected(Redirect { leader: Some(9) }, retry),
            Redirected::Ignore,
            "not a server"
        );
        assert_eq!(
            s.redirected(Redirect { leader: None }, retry),
            Redirected::RetrySoon(Duration::from_millis(10))
        );
        s.replied(1, true);
        assert!(!s.tick(), "news in the period: stay");
        assert_eq!(s.leader(), 1);
        s.replied(1, false);
        assert!(s.tick(), "a duplicate answer is no news: move on");
        assert_eq!(s.leader(), 2);
        assert!(s.tick());
        assert!(s.tick());
        assert!(s.tick());
        assert_eq!(s.leader(), 0, "wraps around the servers");
    }

    #[test]
    fn servers_at_refuses_no_server() {
        assert_eq!(servers_at("raft", 2, 5), Ok(3));
        let e = servers_at("raft", 5, 5).unwrap_err();
        assert!(e.contains("--clients 5 leaves no server at np=5"), "{e}");
    }
}
