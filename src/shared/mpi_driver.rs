//! The MPI driver: one process per rank, a single-threaded event loop around a [`Node`].
//!
//! This module and `rma` are the only places that touch MPI. The loop:
//! 1. receive every matched-probed message (`MPI_Improbe` + `MPI_Mrecv`), decode, deliver;
//! 2. fire due timers; release messages whose `--delay` has elapsed;
//! 3. post non-blocking sends and test the outstanding ones (every request is completed);
//! 4. when nothing happened, back off: spin briefly, then yield, then sleep up to 200 µs (never
//!    past the next timer), so that oversubscribed ranks on few cores do not starve each other.
//!
//! Ending a run without hanging, even with crashed ranks:
//! - a rank that is done, crashed or past `--timeout` joins a non-blocking barrier and keeps
//!   serving messages; the barrier completes once every rank is in that state;
//! - then waves of `MPI_Allreduce` over (sent, received, timed-out, held) detect quiescence:
//!   two consecutive waves with equal totals and sent == received mean no message is in
//!   flight (Mattern's four-counter method), and any timed-out rank ends the run at once;
//! - outstanding sends are completed while draining, a second barrier closes the drain, and
//!   the outputs, metrics and events are gathered to rank 0 (`MPI_Gatherv`).
//!
//! A crashed rank keeps draining and discarding its messages so that senders' requests
//! complete, and it joins every collective, so the job ends cleanly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};

use super::faults::FaultPlan;
use super::history::{Event, History};
use super::node::{Envelope, Node, Outgoing};
use super::process::{Algorithm, Process, Rank};
use super::report::{Ending, RankResult, RunResult};

/// The one tag of algorithm messages; the kind is in the payload.
const DATA_TAG: i32 = 7;
/// How long a finished run may take to complete its last sends before giving up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A non-blocking send and the buffer it owns until MPI is done with it.
struct InFlight {
    req: Request<'static, [u8], StaticScope>,
    buf: *mut [u8],
}

impl InFlight {
    fn post(world: &SimpleCommunicator, to: Rank, bytes: Vec<u8>) -> InFlight {
        // The buffer is leaked so the request may borrow it for 'static, and reclaimed once
        // MPI_Test reports the send complete.
        let buf: *mut [u8] = Box::leak(bytes.into_boxed_slice());
        // SAFETY: `buf` came from Box::leak just above and is only read through this shared
        // reference until the request completes; nothing else aliases it mutably.
        let data: &'static [u8] = unsafe { &*buf };
        let req =
            world
                .process_at_rank(to as i32)
                .immediate_send_with_tag(StaticScope, data, DATA_TAG);
        InFlight { req, buf }
    }

    /// `Ok` once the send has completed (the buffer is freed), else the request back.
    fn test(self) -> Result<(), InFlight> {
        match self.req.test() {
            Ok(_) => {
                // SAFETY: the request completed, so MPI no longer reads the buffer, and the
                // reference handed to it was consumed with the request. `buf` came from
                // Box::leak in `post` and is freed exactly once, here.
                drop(unsafe { Box::from_raw(self.buf) });
                Ok(())
            }
            Err(req) => Err(InFlight { req, buf: self.buf }),
        }
    }
}

/// A message waiting out its `--delay`: (release µs, order, destination, bytes).
type Held = Reverse<(u64, u64, Rank, Vec<u8>)>;

/// Parameters of one MPI run (the same on every rank).
pub struct MpiConfig {
    pub seed: u64,
    pub faults: FaultPlan,
    pub timeout: Duration,
    pub record: bool,
}

struct Driver<P: Process> {
    world: SimpleCommunicator,
    node: Node<P>,
    start: Instant,
    crash_at: Option<Duration>,
    held: BinaryHeap<Held>,
    held_seq: u64,
    sending: Vec<InFlight>,
    out: Vec<Outgoing<P::Msg>>,
    sent: u64,
    received: u64,
}

impl<P: Process> Driver<P> {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// One pass of the event loop; returns whether anything happened.
    fn step(&mut self, running: bool) -> bool {
        let mut busy = false;
        let now = self.now_us();
        if let Some(at) = self.crash_at {
            if !self.node.crashed() && self.start.elapsed() >= at {
                self.node.crash(now);
            }
        }
        // A bounded batch, so timers and sends are not starved by a flood.
        for _ in 0..256 {
            let Some(probed) = self
                .world
                .any_process()
                .immediate_matched_probe_with_tag(DATA_TAG)
            else {
                break;
            };
            let (bytes, status) = probed.matched_receive_vec::<u8>();
            self.received += 1;
            busy = true;
            let from = status.source_rank() as Rank;
            match postcard::from_bytes::<Envelope<P::Msg>>(&bytes) {
                Ok(env) => self.node.deliver(from, env, self.now_us(), &mut self.out),
                Err(e) => {
                    log::warn!(
                        "rank {}: undecodable message from rank {from}: {e}",
                        self.node.rank
                    );
                    self.node.metrics.decode_failures += 1;
                }
            }
        }
        if running {
            busy |= self.node.fire_due_timers(self.now_us(), &mut self.out);
        }
        let now = self.now_us();
        for o in std::mem::take(&mut self.out) {
            let bytes = postcard::to_allocvec(&o.env).expect("messages serialize");
            if o.delay_us == 0 {
                self.post(o.to, bytes);
            } else {
                self.held_seq += 1;
                self.held
                    .push(Reverse((now + o.delay_us, self.held_seq, o.to, bytes)));
            }
            busy = true;
        }
        while self.held.peek().is_some_and(|Reverse(h)| h.0 <= now) {
            let Reverse((_, _, to, bytes)) = self.held.pop().expect("peeked");
            // Already on the (emulated) wire: a sender crash does not recall it.
            self.post(to, bytes);
            busy = true;
        }
        let before = self.sending.len();
        self.sending = std::mem::take(&mut self.sending)
            .into_iter()
            .filter_map(|s| s.test().err())
            .collect();
        busy | (self.sending.len() != before)
    }

    fn post(&mut self, to: Rank, bytes: Vec<u8>) {
        self.sent += 1;
        self.sending.push(InFlight::post(&self.world, to, bytes));
    }

    /// How long to rest after an idle pass.
    fn back_off(&self, idle_since: Instant) {
        let idle = idle_since.elapsed();
        if idle < Duration::from_micros(50) {
            std::hint::spin_loop();
        } else if idle < Duration::from_millis(1) {
            std::thread::yield_now();
        } else {
            let mut nap = Duration::from_micros(200);
            if let Some(t) = self.node.next_timer() {
                nap = nap.min(Duration::from_micros(t.saturating_sub(self.now_us())));
            }
            if let Some(Reverse(h)) = self.held.peek() {
                nap = nap.min(Duration::from_micros(h.0.saturating_sub(self.now_us())));
            }
            std::thread::sleep(nap);
        }
    }

    /// Serve messages until `req` completes.
    fn serve_until<D: ?Sized>(&mut self, mut req: Request<'static, D, StaticScope>, running: bool) {
        let mut idle_since = Instant::now();
        loop {
            match req.test() {
                Ok(_) => return,
                Err(r) => req = r,
            }
            if self.step(running) {
                idle_since = Instant::now();
            } else {
                self.back_off(idle_since);
            }
        }
    }
}

/// Run algorithm `A` on every rank of `world`. Rank 0 gets the run's result.
pub fn run_mpi<A: Algorithm>(
    world: &SimpleCommunicator,
    args: &A::Args,
    cfg: &MpiConfig,
) -> Option<RunResult<<A::Proc as Process>::Output>> {
    let np = world.size() as usize;
    let rank = world.rank() as Rank;
    let record = cfg.record || A::NEEDS_HISTORY;
    let node = Node::new(
        A::build(args, rank, np),
        rank,
        np,
        cfg.seed,
        cfg.faults.clone(),
        record,
    );
    world.barrier();
    let mut me = Driver {
        world: world.duplicate(),
        node,
        start: Instant::now(),
        crash_at: cfg.faults.crash_time_ms(rank).map(Duration::from_millis),
        held: BinaryHeap::new(),
        held_seq: 0,
        sending: Vec::new(),
        out: Vec::new(),
        sent: 0,
        received: 0,
    };
    if me.crash_at == Some(Duration::ZERO) {
        me.node.crash(0);
    }
    me.node.start(0, &mut me.out);

    // Phase 1: run until done, crashed or out of time.
    let mut idle_since = Instant::now();
    while !me.node.finished() && me.start.elapsed() < cfg.timeout {
        if me.step(true) {
            idle_since = Instant::now();
        } else {
            me.back_off(idle_since);
        }
    }
    let mut timed_out = !me.node.finished();
    let barrier = me.world.immediate_barrier();
    me.serve_until(barrier, true);

    // Phase 2: quiescence waves.
    let mut last = (u64::MAX, u64::MAX);
    let ending = loop {
        timed_out |= me.start.elapsed() >= cfg.timeout;
        let mine = [
            me.sent,
            me.received,
            u64::from(timed_out),
            me.held.len() as u64,
        ];
        let mut total = [0u64; 4];
        me.world
            .all_reduce_into(&mine[..], &mut total[..], SystemOperation::sum());
        if total[2] > 0 {
            break Ending::TimedOut;
        }
        if total[3] == 0 && total[0] == total[1] && (total[0], total[1]) == last {
            break Ending::Finished;
        }
        last = (total[0], total[1]);
        let pass_end = Instant::now() + Duration::from_micros(200);
        while Instant::now() < pass_end {
            if !me.step(true) {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    };
    let elapsed_s = me.start.elapsed().as_secs_f64();

    // Phase 3: complete our sends while draining, then close the drain with a barrier.
    let drain_end = Instant::now() + DRAIN_LIMIT;
    while !me.sending.is_empty() && Instant::now() < drain_end {
        if !me.step(false) {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    if !me.sending.is_empty() {
        log::warn!(
            "rank {rank}: {} sends did not complete; abandoning them",
            me.sending.len()
        );
        // Leaking is the safe choice: MPI may still read those buffers.
        std::mem::forget(std::mem::take(&mut me.sending));
    }
    let barrier = me.world.immediate_barrier();
    me.serve_until(barrier, false);

    // Phase 4: gather results at rank 0.
    let (result, events) = me.node.finish();
    let blob = postcard::to_allocvec(&(result, events)).expect("results serialize");
    let root = world.process_at_rank(0);
    let len = blob.len() as i32;
    if rank != 0 {
        root.gather_into(&len);
        root.gather_varcount_into(&blob[..]);
        return None;
    }
    let mut lens = vec![0i32; np];
    root.gather_into_root(&len, &mut lens[..]);
    let displs: Vec<i32> = lens
        .iter()
        .scan(0i32, |acc, &l| {
            let d = *acc;
            *acc += l;
            Some(d)
        })
        .collect();
    let mut all = vec![0u8; lens.iter().map(|&l| l as usize).sum()];
    {
        let mut part = PartitionMut::new(&mut all[..], &lens[..], &displs[..]);
        root.gather_varcount_into_root(&blob[..], &mut part);
    }
    let mut ranks = Vec::with_capacity(np);
    let mut history = History::default();
    for (d, l) in displs.iter().zip(&lens) {
        let bytes = &all[*d as usize..(*d + *l) as usize];
        let (r, e): (RankResult<<A::Proc as Process>::Output>, Vec<Event>) =
            postcard::from_bytes(bytes).expect("rank results decode");
        ranks.push(r);
        history.ranks.push(e);
    }
    Some(RunResult {
        algorithm: A::NAME,
        driver: "mpi",
        np,
        seed: cfg.seed,
        faults: cfg.faults.clone(),
        ending,
        elapsed_s,
        ranks,
        history: record.then_some(history),
    })
}

/// Broadcast rank 0's exit code so that every rank exits with it.
pub fn agree_on_exit_code(world: &SimpleCommunicator, code: u8) -> u8 {
    let mut c = code;
    world.process_at_rank(0).broadcast_into(&mut c);
    c
}
