//! `scripts/bench runtime`: the MPI driver against a raw rsmpi ping-pong, and the simulator's
//! speed. Two modes:
//! - `runtime-bench mpi --out FILE` under `mpirun -np 2`: one-way latency of a raw blocking
//!   `MPI_Send`/`MPI_Recv` ping-pong, then of the same exchange as a sans-IO process under the
//!   MPI driver (probe, decode, dispatch, non-blocking send), in one job;
//! - `runtime-bench sim --merge FILE --out FILE`: delivered messages per second of the
//!   simulator on one core (a hot-potato workload, no history), merged with the MPI figures.

use std::time::{Duration, Instant};

use mpi::traits::*;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use mpidist::shared::faults::FaultPlan;
use mpidist::shared::mpi::{run_mpi, MpiConfig, World};
use mpidist::shared::runtime::sim::{simulate, SimConfig};
use mpidist::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

const ROUND_TRIPS: u64 = 20_000;
const WARMUP: u64 = 2_000;

// ---- ping-pong as a sans-IO process ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Ping {
    Ping(u64),
    Pong(u64),
}
impl Kind for Ping {
    fn kind(&self) -> &'static str {
        match self {
            Ping::Ping(_) => "Ping",
            Ping::Pong(_) => "Pong",
        }
    }
}

#[derive(clap::Args, Debug, Clone, Serialize)]
struct PingArgs {
    #[arg(long, default_value_t = ROUND_TRIPS)]
    trips: u64,
}

struct PingPong {
    trips: u64,
    done_trips: u64,
    /// µs at the end of the warm-up and at the last pong.
    t0: u64,
    t1: u64,
}

impl Process for PingPong {
    type Msg = Ping;
    type Timer = ();
    type Output = (u64, u64);
    fn on_start(&mut self, ctx: &mut Ctx<Ping, ()>) {
        if ctx.rank() == 0 {
            ctx.send(1, Ping::Ping(0));
        }
    }
    fn on_message(&mut self, from: Rank, msg: Ping, ctx: &mut Ctx<Ping, ()>) {
        match msg {
            Ping::Ping(n) => {
                self.done_trips = n + 1;
                ctx.send(from, Ping::Pong(n));
            }
            Ping::Pong(n) => {
                self.done_trips = n + 1;
                if self.done_trips == WARMUP {
                    self.t0 = ctx.now().as_micros() as u64;
                }
                if self.done_trips < WARMUP + self.trips {
                    ctx.send(from, Ping::Ping(n + 1));
                } else {
                    self.t1 = ctx.now().as_micros() as u64;
                }
            }
        }
    }
    fn on_timer(&mut self, _: (), _: &mut Ctx<Ping, ()>) {}
    fn is_done(&self) -> bool {
        self.done_trips >= WARMUP + self.trips
    }
    fn output(&self) -> (u64, u64) {
        (self.t0, self.t1)
    }
}

struct PingPongAlgo;
impl Algorithm for PingPongAlgo {
    const NAME: &'static str = "ping-pong";
    const ABOUT: &'static str = "driver latency benchmark";
    type Args = PingArgs;
    type Proc = PingPong;
    fn build(args: &PingArgs, _rank: Rank, _np: usize) -> PingPong {
        PingPong {
            // Both ranks count trips, so neither waits in the end-of-run barrier meanwhile.
            trips: args.trips,
            done_trips: 0,
            t0: 0,
            t1: 0,
        }
    }
    fn check(_: &PingArgs, _: &RunResult<(u64, u64)>) -> Vec<Check> {
        Vec::new()
    }
    fn summarize(_: &PingArgs, _: &RunResult<(u64, u64)>) -> Vec<String> {
        Vec::new()
    }
}

fn raw_ping_pong(world: &mpi::topology::SimpleCommunicator) -> f64 {
    let rank = world.rank();
    let peer = world.process_at_rank(1 - rank);
    let mut buf = [0u64; 2];
    let mut t0 = Instant::now();
    for i in 0..WARMUP + ROUND_TRIPS {
        if i == WARMUP {
            t0 = Instant::now();
        }
        if rank == 0 {
            buf[0] = i;
            peer.send(&buf[..]);
            peer.receive_into(&mut buf[..]);
        } else {
            peer.receive_into(&mut buf[..]);
            peer.send(&buf[..]);
        }
    }
    t0.elapsed().as_secs_f64() * 1e6 / (2 * ROUND_TRIPS) as f64
}

/// The same exchange with the primitives an event loop must use: a pre-posted
/// `MPI_Irecv(ANY_SOURCE)` polled with `MPI_Test`, and `MPI_Isend` completed with `MPI_Test`.
fn raw_nonblocking_ping_pong(world: &mpi::topology::SimpleCommunicator) -> f64 {
    let rank = world.rank();
    let peer = world.process_at_rank(1 - rank);
    let mut inbuf = [0u64; 2];
    let mut t0 = Instant::now();
    for i in 0..WARMUP + ROUND_TRIPS {
        if i == WARMUP {
            t0 = Instant::now();
        }
        let outbuf = [i, 0u64];
        mpi::request::scope(|scope| {
            let send = || {
                let mut s = peer.immediate_send(scope, &outbuf[..]);
                while let Err(r) = s.test() {
                    s = r;
                }
            };
            if rank == 0 {
                send();
            }
            let mut r = world
                .any_process()
                .immediate_receive_into(scope, &mut inbuf[..]);
            while let Err(x) = r.test() {
                r = x;
            }
            if rank == 1 {
                send();
            }
        });
    }
    t0.elapsed().as_secs_f64() * 1e6 / (2 * ROUND_TRIPS) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of (raw, non-blocking raw, driver) in one job; each round gives a ratio, and the
/// median ratio is the figure (timing on shared cores is noisy, ratios in one round less so).
fn mpi_mode(out: &str) {
    const ROUNDS: usize = 5;
    let mpi = World::init().expect("MPI init");
    let world = mpi.comm();
    assert_eq!(world.size(), 2, "run under mpirun -np 2");
    let cfg = MpiConfig {
        seed: 1,
        faults: FaultPlan::default(),
        timeout: Duration::from_secs(120),
        record: false,
        // Crash-stop: no stable storage.
        data_dir: std::env::temp_dir(),
        fsync: false,
        recv_buffer: 1024 * 1024,
    };
    let args = PingArgs { trips: ROUND_TRIPS };
    let (mut raw, mut nonblocking, mut driver, mut ratios) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        world.barrier();
        let raw_us = raw_ping_pong(world);
        world.barrier();
        let nonblocking_us = raw_nonblocking_ping_pong(world);
        world.barrier();
        let run = run_mpi::<PingPongAlgo>(&mpi, &args, &cfg);
        if let Ok(Some(run)) = run {
            let (t0, t1) = run.ranks[0].output;
            let driver_us = (t1 - t0) as f64 / (2 * ROUND_TRIPS) as f64;
            println!(
                "round {round}: one-way latency raw {raw_us:.2} us, non-blocking raw {nonblocking_us:.2} us, mpidist driver {driver_us:.2} us: ratio {:.2}x",
                driver_us / raw_us
            );
            raw.push(raw_us);
            nonblocking.push(nonblocking_us);
            driver.push(driver_us);
            ratios.push(driver_us / raw_us);
        }
    }
    if world.rank() == 0 {
        let ratio = median(ratios.clone());
        let v = json!({
            "round_trips": ROUND_TRIPS,
            "rounds": ROUNDS,
            "raw_latency_us": median(raw),
            "raw_nonblocking_latency_us": median(nonblocking),
            "driver_latency_us": median(driver),
            "latency_ratio": ratio,
            "latency_ratios": ratios,
        });
        std::fs::write(out, serde_json::to_string_pretty(&v).unwrap()).expect("write");
        println!("median one-way latency ratio, driver / raw: {ratio:.2}x (target <= 2x)");
    }
}

// ---- simulator speed: hot potatoes ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Potato {
    hops_left: u32,
}
impl Kind for Potato {
    fn kind(&self) -> &'static str {
        "Potato"
    }
}

#[derive(clap::Args, Debug, Clone, Serialize)]
struct PotatoArgs {
    #[arg(long, default_value_t = 16)]
    potatoes: u32,
    #[arg(long, default_value_t = 10_000)]
    hops: u32,
}

struct Juggler {
    potatoes: u32,
    hops: u32,
}

fn toss(ctx: &mut Ctx<Potato, ()>, hops_left: u32) {
    let (me, np) = (ctx.rank(), ctx.np());
    let peer = (me + ctx.rng().gen_range(1..np)) % np;
    ctx.send(peer, Potato { hops_left });
}

impl Process for Juggler {
    type Msg = Potato;
    type Timer = ();
    type Output = ();
    fn on_start(&mut self, ctx: &mut Ctx<Potato, ()>) {
        for _ in 0..self.potatoes {
            toss(ctx, self.hops);
        }
    }
    fn on_message(&mut self, _: Rank, msg: Potato, ctx: &mut Ctx<Potato, ()>) {
        if msg.hops_left > 0 {
            toss(ctx, msg.hops_left - 1);
        }
    }
    fn on_timer(&mut self, _: (), _: &mut Ctx<Potato, ()>) {}
    fn is_done(&self) -> bool {
        true
    }
    fn output(&self) {}
}

struct HotPotato;
impl Algorithm for HotPotato {
    const NAME: &'static str = "hot-potato";
    const ABOUT: &'static str = "simulator throughput benchmark";
    type Args = PotatoArgs;
    type Proc = Juggler;
    fn build(args: &PotatoArgs, _: Rank, _: usize) -> Juggler {
        Juggler {
            potatoes: args.potatoes,
            hops: args.hops,
        }
    }
    fn check(_: &PotatoArgs, _: &RunResult<()>) -> Vec<Check> {
        Vec::new()
    }
    fn summarize(_: &PotatoArgs, _: &RunResult<()>) -> Vec<String> {
        Vec::new()
    }
}

fn sim_mode(merge: Option<&str>, out: &str) {
    let args = PotatoArgs {
        potatoes: 16,
        hops: 10_000,
    };
    let cfg = SimConfig {
        np: 8,
        seed: 1,
        faults: FaultPlan::default(),
        timeout_us: u64::MAX / 2,
        record: false,
    };
    let t = Instant::now();
    let run = simulate::<HotPotato>(&args, &cfg);
    let secs = t.elapsed().as_secs_f64();
    let delivered = run.metrics().total.delivered;
    let rate = delivered as f64 / secs;
    println!(
        "simulator: {delivered} messages delivered in {secs:.3} s = {:.2} M messages/s (target >= 1 M/s)",
        rate / 1e6
    );
    let mut v = match merge {
        Some(path) => {
            serde_json::from_str(&std::fs::read_to_string(path).expect("read mpi figures"))
                .expect("json")
        }
        None => json!({}),
    };
    v["sim_messages_per_s"] = json!(rate);
    v["sim_messages"] = json!(delivered);
    std::fs::write(out, serde_json::to_string_pretty(&v).unwrap()).expect("write");
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .map(|i| argv[i + 1].as_str())
    };
    match argv.get(1).map(String::as_str) {
        Some("mpi") => mpi_mode(flag("--out").expect("--out FILE")),
        Some("sim") => sim_mode(flag("--merge"), flag("--out").expect("--out FILE")),
        _ => {
            eprintln!(
                "usage: runtime-bench mpi --out FILE | runtime-bench sim [--merge FILE] --out FILE"
            );
            std::process::exit(2);
        }
    }
}
