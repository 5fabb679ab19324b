//! The MPI driver: one process per rank, a single-threaded event loop around a [`RankRunner`].
//!
//! With the rest of `shared::mpi`, the only code that touches MPI (and `unsafe`). The loop:
//! 1. test the pre-posted `MPI_Irecv(ANY_SOURCE)`; on completion copy the bytes out, re-post,
//!    decode (failures are counted, never a panic) and deliver;
//! 2. fire due timers; release messages whose `--delay` has elapsed;
//! 3. post non-blocking sends and test the outstanding ones (every request is completed);
//! 4. when nothing happened, back off: poll again for a while (a reply is usually microseconds
//!    away), then yield, then sleep up to 200 µs (never past the next timer), so that
//!    oversubscribed ranks on few cores do not starve each other.
//!
//! Ending a run without hanging, even with crashed ranks:
//! - a rank that is done, crashed or past `--timeout` joins a non-blocking barrier and keeps
//!   serving messages; the barrier completes once every rank is in that state;
//! - then waves of `MPI_Allreduce` over (sent, received, timed-out, held) detect quiescence:
//!   two consecutive waves with equal totals and sent == received mean no message is in
//!   flight (Mattern's four-counter method), and any timed-out rank ends the run at once;
//! - SIGINT or SIGTERM ([`crate::shared::interrupt`]) ends a rank's run as `--timeout` does,
//!   and the waves end every rank's with it (mpirun passes a signal on to every rank);
//! - outstanding sends are completed while draining, a second barrier closes the drain, and
//!   the outputs, metrics and events are gathered to rank 0 (`MPI_Gatherv`), with what each
//!   role group of the algorithm reduced over its own communicator (`MPI_Comm_split`).
//!
//! A crashed rank keeps draining and discarding its messages so that senders' requests
//! complete, and it joins every collective, so the job ends cleanly.
//! A rank whose stable storage fails (a write or sync error, or a restart whose file does not
//! read back whole) is stopped the same way, after one line on stderr naming the file; the
//! run's `stable-storage` check then fails. Never a panic, never `MPI_Abort`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::CommunicatorCollectives;

use super::primitives::{Cell, RmaCell, RmaCellHost};
use super::world::World;
use crate::shared::algorithm::Algorithm;
use crate::shared::faults::FaultPlan;
use crate::shared::interrupt::{self, Signal};
use crate::shared::observe::history::{Event, History};
use crate::shared::observe::report::{ClockSync, Ending, GroupView, RankResult, RunResult};
use crate::shared::process::{Process, Rank};
use crate::shared::runtime::runner::{Envelope, Outgoing, RankRunner};
use crate::shared::runtime::store::FileStore;

/// The tag of algorithm messages; the kind is in the payload.
const DATA_TAG: i32 = 7;
/// The tag of messages larger than the pre-posted receive buffer, received by a matched probe
/// into a buffer of their size.
const LARGE_TAG: i32 = 8;
/// How long a finished run may take to complete its last sends before giving up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A non-blocking send and the buffer it owns until MPI is done with it.
struct InFlight {
    /// `None` once completed.
    req: Option<Request<'static, [u8], StaticScope>>,
    /// The raw parts of the `Vec` holding the bytes, rebuilt once the send completed.
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

impl InFlight {
    fn post(world: &SimpleCommunicator, to: Rank, bytes: Vec<u8>, inbox: usize) -> InFlight {
        let tag = if bytes.len() > inbox {
            LARGE_TAG
        } else {
            DATA_TAG
        };
        // The Vec is taken apart so the request may borrow its bytes for 'static; it is put
        // back together (and reused) once MPI_Test reports the send complete.
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        let (ptr, len, cap) = (bytes.as_mut_ptr(), bytes.len(), bytes.capacity());
        // SAFETY: `ptr` points to `len` initialized bytes of a Vec that nobody else owns any
        // more (ManuallyDrop); they are only read, through this reference, until completion.
        let data: &'static [u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
        let req = world
            .process_at_rank(to as i32)
            .immediate_send_with_tag(StaticScope, data, tag);
        InFlight {
            req: Some(req),
            ptr,
            len,
            cap,
        }
    }

    /// The buffer back once the send has completed, for reuse.
    fn test(&mut self) -> Option<Vec<u8>> {
        let req = self.req.take()?;
        match req.test() {
            // SAFETY: the request completed, so MPI no longer reads the bytes, and the
            // reference handed to it was consumed with the request. The parts came from a
            // Vec in `post` and are reassembled exactly once, here (`req` is now None).
            Ok(_) => Some(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }),
            Err(req) => {
                self.req = Some(req);
                None
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Still pending (a run abandoned it): MPI may yet read the bytes, so leak them rather
        // than free them, and do not let rsmpi's Request drop panic.
        if let Some(req) = self.req.take() {
            std::mem::forget(req);
        }
    }
}

/// The pre-posted receive: matching a message straight into it on arrival is what keeps the
/// driver near the raw MPI latency (a probe-then-receive pays an unexpected-queue copy).
/// Larger messages than its buffer travel with their own tag (rare: a long log suffix, a big
/// snapshot).
struct Inbox {
    req: Option<Request<'static, [u8], StaticScope>>,
    buf: *mut [u8],
}

impl Inbox {
    fn new(world: &SimpleCommunicator, bytes: usize) -> Inbox {
        let buf: *mut [u8] = Box::leak(vec![0u8; bytes].into_boxed_slice());
        let mut inbox = Inbox { req: None, buf };
        inbox.post(world);
        inbox
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    fn post(&mut self, world: &SimpleCommunicator) {
        // SAFETY: `buf` is owned by this inbox (leaked in `new`) and, while a receive is
        // pending, only MPI writes it: `take` reads it only after the request completed.
        let data: &'static mut [u8] = unsafe { &mut *self.buf };
        let req = world
            .any_process()
            .immediate_receive_into_with_tag(StaticScope, data, DATA_TAG);
        self.req = Some(req);
    }

    /// The next received message: its source and `read` of its bytes, after which the
    /// receive is re-posted.
    fn take<T>(
        &mut self,
        world: &SimpleCommunicator,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Option<(Rank, T)> {
        let req = self.req.take()?;
        match req.test() {
            Ok(status) => {
                let n = status.count(u8::equivalent_datatype()) as usize;
                // SAFETY: the receive completed; MPI no longer writes the buffer and the
                // request's reference was consumed with it. It is re-posted only after `read`.
                let data: &[u8] = unsafe { &*self.buf };
                let value = read(&data[..n]);
                self.post(world);
                Some((status.source_rank() as Rank, value))
            }
            Err(req) => {
                self.req = Some(req);
                None
            }
        }
    }

    /// Cancel the pending receive and free the buffer.
    fn close(mut self) {
        if let Some(req) = self.req.take() {
            req.cancel();
            req.wait();
        }
        // SAFETY: no request is pending any more (cancelled and completed above), so MPI
        // no longer holds the buffer; `buf` came from Box::leak in `new`.
        drop(unsafe { Box::from_raw(self.buf) });
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Only reached with a pending receive if `close` was skipped (a panic): leak the
        // buffer, which MPI may still write, and keep rsmpi's Request drop from panicking.
        if let Some(req) = self.req.take() {
            std::mem::forget(req);
        }
    }
}

/// A message waiting out its `--delay`: (release µs, order, destination, bytes).
type Held = Reverse<(u64, u64, Rank, Vec<u8>)>;

/// Parameters of one MPI run (the same on every rank).
#[derive(Debug, Clone)]
pub struct MpiConfig {
    pub seed: u64,
    pub faults: FaultPlan,
    pub timeout: Duration,
    pub record: bool,
    /// Where ranks that recover keep their stable storage (one file each), and whether
    /// writes are synced (`fdatasync`) before the sends that depend on them.
    pub data_dir: std::path::PathBuf,
    pub fsync: bool,
    /// Bytes of the pre-posted receive buffer (larger messages take the large-message tag).
    pub recv_buffer: usize,
}

struct Driver<'w, A: Algorithm> {
    args: &'w A::Args,
    np: usize,
    /// The run's ticket counter, when the algorithm draws tickets.
    tickets: Option<&'w RmaCell<'w>>,
    world: &'w SimpleCommunicator,
    runner: RankRunner<A::Proc>,
    start: Instant,
    /// µs since the start, as of the current pass.
    now: u64,
    /// Event-loop passes so far.
    passes: u64,
    held: BinaryHeap<Held>,
    held_seq: u64,
    sending: Vec<InFlight>,
    inbox: Inbox,
    /// Send buffers whose sends completed, reused to spare an allocation per message.
    pool: Vec<Vec<u8>>,
    out: Vec<Outgoing<<A::Proc as Process>::Msg>>,
    sent: u64,
    received: u64,
    /// Messages received or held after the run ended (a timeout), discarded.
    late: u64,
    /// [`Algorithm::needs_clocks`]: every message's arrival time is read.
    clocks: bool,
}

impl<A: Algorithm> Driver<'_, A> {
    /// Read the clock once per pass: `clock_gettime` dominated the loop when called per use.
    fn tick_clock(&mut self) -> u64 {
        let e = self.start.elapsed();
        // Not `as_micros()`: its u128 division shows up at a few hundred ns per message.
        self.now = e.as_secs() * 1_000_000 + u64::from(e.subsec_micros());
        self.now
    }

    /// One pass of the event loop; returns whether anything happened. With `running` false
    /// the run is over: messages are received and discarded, held ones dropped, nothing runs.
    fn step(&mut self, running: bool) -> bool {
        let mut busy = false;
        self.passes = self.passes.wrapping_add(1);
        // Reading the clock is a large share of an idle pass: read it when something may be
        // due, when a message arrives, and every 64 passes (for the timeout).
        let mut now = if self.runner.next_life_us().is_some()
            || self.runner.next_timer().is_some()
            || !self.held.is_empty()
            || self.passes.is_multiple_of(64)
        {
            self.tick_clock()
        } else {
            self.now
        };
        if running && self.runner.next_life_us().is_some_and(|at| now >= at) {
            let (args, rank, np) = (self.args, self.runner.rank, self.np);
            self.runner.live(now, &mut self.out, |stored| {
                A::recover(args, rank, np, stored)
            });
            self.after_handler(now);
            busy = true;
        }
        // A bounded batch, so timers and sends are not starved by a flood; large messages are
        // looked for every 16th pass (a probe costs what a test does).
        for k in 0..256 {
            let decode = |b: &[u8]| postcard::from_bytes::<Envelope<<A::Proc as Process>::Msg>>(b);
            let large = (k == 0 && self.passes.is_multiple_of(16))
                .then(|| {
                    let probed = self
                        .world
                        .any_process()
                        .immediate_matched_probe_with_tag(LARGE_TAG)?;
                    let (bytes, status) = probed.matched_receive_vec::<u8>();
                    Some((status.source_rank() as Rank, decode(&bytes)))
                })
                .flatten();
            let Some((from, decoded)) = large.or_else(|| self.inbox.take(self.world, decode))
            else {
                break;
            };
            self.received += 1;
            // Once a pass is enough for timers; an algorithm whose checker compares times
            // across ranks needs each message's own arrival time (a stale one would record a
            // return earlier than it happened).
            if !busy || self.clocks {
                now = self.tick_clock();
                busy = true;
            }
            if !running {
                self.late += 1;
                continue;
            }
            match decoded {
                Ok(env) => self.runner.deliver(from, env, now, &mut self.out),
                Err(e) => {
                    log::warn!(
                        "rank {}: undecodable message from rank {from}: {e}",
                        self.runner.rank
                    );
                    self.runner.metrics.decode_failures += 1;
                }
            }
            // Answer before polling again: the reply is on the critical path.
            self.after_handler(now);
        }
        if running && self.runner.fire_due_timers(now, &mut self.out) {
            busy = true;
            self.after_handler(now);
        }
        if self.runner.store_dirty() {
            // Group commit: one sync for every write of this pass, then the sends that
            // depended on them (none if the sync failed: the rank stopped).
            self.runner.sync_store(now, &mut self.out);
            self.flush_out(now);
        }
        if let Some(alert) = self.runner.take_alert() {
            // One write, so that ranks' lines do not interleave; a closed stderr is no panic.
            let line = format!("error: rank {} {alert}\n", self.runner.rank);
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if !running {
            self.late += self.held.len() as u64;
            self.held.clear();
        }
        while self.held.peek().is_some_and(|Reverse(h)| h.0 <= now) {
            let Reverse((_, _, to, bytes)) = self.held.pop().expect("peeked");
            // Already on the (emulated) wire: a sender crash does not recall it.
            self.post(to, bytes);
            busy = true;
        }
        // Each MPI_Test runs MPI's progress engine, which the inbox test above just did:
        // completing sends every 16th pass keeps an idle pass to one progress call.
        if self.passes.is_multiple_of(16) || self.sending.len() > 64 {
            busy |= self.complete_sends();
        }
        busy
    }

    /// Test the outstanding sends; keep the buffers of completed ones for reuse.
    fn complete_sends(&mut self) -> bool {
        let before = self.sending.len();
        let pool = &mut self.pool;
        self.sending.retain_mut(|s| match s.test() {
            Some(buf) => {
                if pool.len() < 64 {
                    pool.push(buf);
                }
                false
            }
            None => true,
        });
        self.sending.len() != before
    }

    /// Hand over the tickets the handlers asked for (one RMA fetch-and-add each), then send,
    /// unless a write to storage is not yet durable: its sends wait for the pass's sync.
    fn after_handler(&mut self, now: u64) {
        if let Some(cell) = self.tickets {
            self.runner
                .serve_tickets(now, &mut self.out, || cell.fetch_add(1) as u64);
        }
        if !self.runner.store_dirty() {
            self.flush_out(now);
        }
    }

    /// Encode the handlers' outgoing messages and post them (or hold them for `--delay`).
    fn flush_out(&mut self, now: u64) {
        let mut out = std::mem::take(&mut self.out);
        for o in out.drain(..) {
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.clear();
            let bytes = postcard::to_extend(&o.env, buf).expect("messages serialize");
            if o.delay_us == 0 {
                self.post(o.to, bytes);
            } else {
                self.held_seq += 1;
                self.held
                    .push(Reverse((now + o.delay_us, self.held_seq, o.to, bytes)));
            }
        }
        self.out = out; // keep the allocation
    }

    fn post(&mut self, to: Rank, bytes: Vec<u8>) {
        self.sent += 1;
        let inbox = self.inbox.len();
        self.sending
            .push(InFlight::post(self.world, to, bytes, inbox));
    }

    /// Rest after `idle` consecutive idle passes: spin first (a reply is usually microseconds
    /// away), then yield, then sleep up to 200 µs but never past the next timer or release.
    fn back_off(&self, idle: u32) {
        if idle < 2_000 {
            // Poll again at once: a PAUSE here costs more latency than it saves power.
        } else if idle < 4_000 {
            std::thread::yield_now();
        } else {
            let mut nap = 200u64;
            for t in [self.runner.next_timer(), self.runner.next_life_us()]
                .into_iter()
                .flatten()
            {
                nap = nap.min(t.saturating_sub(self.now));
            }
            if let Some(Reverse(h)) = self.held.peek() {
                nap = nap.min(h.0.saturating_sub(self.now));
            }
            std::thread::sleep(Duration::from_micros(nap));
        }
    }

    /// Run the loop until `until` says stop (checked after every pass).
    fn serve(&mut self, running: bool, mut until: impl FnMut(&mut Self) -> bool) {
        let mut idle = 0u32;
        while !until(self) {
            if self.step(running) {
                idle = 0;
            } else {
                idle = idle.saturating_add(1);
                self.back_off(idle);
            }
        }
    }

    /// Serve messages until `req` completes (tested every 16 passes: each test runs MPI's
    /// progress engine, which the pass already does once).
    fn serve_until<D: ?Sized>(&mut self, req: Request<'static, D, StaticScope>, running: bool) {
        let mut req = Some(req);
        let mut n = 0u32;
        self.serve(running, |_| {
            n = n.wrapping_add(1);
            if !n.is_multiple_of(16) {
                return false;
            }
            match req.take().expect("pending").test() {
                Ok(_) => true,
                Err(r) => {
                    req = Some(r);
                    false
                }
            }
        });
    }
}

/// A rank could not set up the run (its stable storage); it said why, and every rank stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupFailed;

/// Run algorithm `A` on every rank. Rank 0 gets the run's result.
pub fn run_mpi<A: Algorithm>(
    mpi: &World,
    args: &A::Args,
    cfg: &MpiConfig,
) -> Result<Option<RunResult<<A::Proc as Process>::Output>>, SetupFailed> {
    let world = mpi.comm();
    let np = world.size() as usize;
    let rank = world.rank() as Rank;
    let record = cfg.record || A::NEEDS_HISTORY;
    let mut runner = RankRunner::new(
        A::build(args, rank, np),
        rank,
        np,
        cfg.seed,
        cfg.faults.clone(),
        record,
    );
    if A::RECOVERS {
        let mut failure = String::new();
        match FileStore::create(&cfg.data_dir, rank, cfg.fsync) {
            Ok(store) => runner = runner.with_store(Box::new(store)),
            Err(e) => {
                failure = format!(
                "rank {rank} cannot create its storage under {}: {e} (choose another --data-dir)",
                cfg.data_dir.display()
            )
            }
        }
        // Every rank needs its file: all stop together before the run if one has none, and
        // rank 0 says why, once (every rank saying it interleaved their sentences mid-line).
        let code = mpi.settle(&failure, |all| {
            let failed: Vec<&String> = all.iter().filter(|s| !s.is_empty()).collect();
            let Some(first) = failed.first() else {
                return 0;
            };
            let more = match failed.len() {
                1 => String::new(),
                n => format!(" ({} other ranks failed too)", n - 1),
            };
            let _ = writeln!(std::io::stderr(), "error: {first}{more}");
            2
        });
        if code != 0 {
            return Err(SetupFailed);
        }
    }
    // The ticket counter is created collectively, before anyone can draw.
    let ticket_host = A::USES_TICKETS.then(|| RmaCellHost::new(mpi, 0, 0));
    let ticket_cell = ticket_host.as_ref().map(|h| h.open());
    world.barrier();
    let (start, offset_us, uncertainty_us) = if A::needs_clocks(args) {
        mpi.synchronized_start(16)
    } else {
        (Instant::now(), 0, 0)
    };
    // The driver uses `world` itself with its own tag: a duplicated communicator made every
    // MPI_Test measurably slower (about 0.2 µs a message with Open MPI 4.1).
    let mut me = Driver::<A> {
        args,
        np,
        tickets: ticket_cell.as_ref(),
        inbox: Inbox::new(world, cfg.recv_buffer),
        world,
        runner,
        start,
        now: 0,
        passes: 0,
        held: BinaryHeap::new(),
        held_seq: 0,
        sending: Vec::new(),
        pool: Vec::new(),
        out: Vec::new(),
        sent: 0,
        received: 0,
        late: 0,
        clocks: A::needs_clocks(args),
    };
    // A crash at 0 ms comes before the start: that rank never runs.
    me.runner
        .live(0, &mut me.out, |stored| A::recover(args, rank, np, stored));
    me.runner.start(0, &mut me.out);
    me.after_handler(0);

    // Phase 1: run until done, crashed or out of time.
    let timeout_us = cfg.timeout.as_micros() as u64;
    me.serve(true, |me| {
        me.runner.finished() || me.now >= timeout_us || interrupt::requested()
    });
    let mut timed_out = !me.runner.finished();
    let barrier = me.world.immediate_barrier();
    me.serve_until(barrier, true);

    // Phase 2: quiescence waves.
    let mut last = (u64::MAX, u64::MAX);
    let ending = loop {
        timed_out |= me.start.elapsed() >= cfg.timeout;
        let signal = interrupt::signal();
        let mine = [
            me.sent,
            me.received,
            u64::from(timed_out),
            me.held.len() as u64,
            u64::from(signal == Some(Signal::Int)),
            u64::from(signal == Some(Signal::Term)),
        ];
        let mut total = [0u64; 6];
        me.world
            .all_reduce_into(&mine[..], &mut total[..], SystemOperation::sum());
        if total[4] + total[5] > 0 {
            // Every rank ends with the same signal (SIGTERM if any rank had one).
            interrupt::note(if total[5] > 0 {
                Signal::Term
            } else {
                Signal::Int
            });
            break Ending::Interrupted;
        }
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
        // Dropping them leaks their buffers: MPI may still read them.
        log::warn!(
            "rank {rank}: {} sends did not complete; abandoning them",
            me.sending.len()
        );
        me.sending.clear();
    }
    let barrier = me.world.immediate_barrier();
    me.serve_until(barrier, false);
    if me.late > 0 {
        log::info!(
            "rank {rank}: discarded {} messages after the run ended",
            me.late
        );
    }

    // Phase 4: gather results at rank 0.
    let Driver { runner, inbox, .. } = me;
    inbox.close();
    // Every rank is past the last barrier: free the counter's window together.
    drop(ticket_cell);
    drop(ticket_host);
    let (mut result, events) = runner.finish();
    result.clock = ClockSync {
        offset_us,
        uncertainty_us,
    };
    result.host = mpi.host_name();
    // Each role group reduces its members' values over its own communicator; the views
    // travel to rank 0 with the outputs.
    let value = A::group_value(&result.output);
    let views: Vec<GroupView> = A::groups(args, np)
        .into_iter()
        .filter_map(|(name, ranks)| {
            let [members, with_value, min, max] = mpi.group_view(ranks.contains(&rank), value)?;
            Some(GroupView {
                name: name.to_string(),
                members,
                with_value,
                min,
                max,
            })
        })
        .collect();
    let blob = postcard::to_allocvec(&(result, events, views)).expect("results serialize");
    let Some(blobs) = mpi.gather_to_root(&blob) else {
        return Ok(None);
    };
    let mut ranks = Vec::with_capacity(np);
    let mut history = History::default();
    let mut groups: Vec<GroupView> = Vec::new();
    for bytes in blobs {
        let (r, e, v): (
            RankResult<<A::Proc as Process>::Output>,
            Vec<Event>,
            Vec<GroupView>,
        ) = postcard::from_bytes(&bytes).expect("rank results decode");
        ranks.push(r);
        history.ranks.push(e);
        for view in v {
            if !groups.iter().any(|g| g.name == view.name) {
                groups.push(view);
            }
        }
    }
    // In the order the algorithm named them.
    let order = A::groups(args, np);
    groups.sort_by_key(|g| order.iter().position(|(n, _)| *n == g.name));
    Ok(Some(RunResult {
        algorithm: A::NAME,
        driver: "mpi",
        np,
        seed: cfg.seed,
        faults: RunResult::faults_with_hits(&cfg.faults, &ranks),
        ending,
        elapsed_s,
        ranks,
        history: record.then_some(history),
        groups,
    }))
}
