//! `scripts/bench shared-counter`: one mpirun job per np. In each, every rank runs operations
//! on one cell hosted by rank 0 (K at first, more until a measurement lasts a second), in turn: a bare `MPI_Fetch_and_op` + flush loop
//! (the floor), our `SharedCounter::fetch_add`, the compare-and-swap increment, and the
//! originals' locked scheme. Prints total ops/s and the ratios, and merges them into a JSON
//! file keyed by np (or `--label`).
//!
//! Usage: `counter-bench --ops K --out FILE [--label NAME]` under mpirun (the row's key: NAME,
//! default np).

use std::time::Instant;

use serde_json::{json, Value};

use mpidist::shared::mpi::primitives::{LegacyCell, RmaCellHost, SharedCounter};
use mpidist::shared::mpi::World;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// At least this long per measurement, so that one descheduling does not decide a figure.
const MIN_SECONDS: f64 = 1.0;

/// Total operations per second when every rank runs `f(k)` (k operations), timed on rank 0's
/// clock from before a barrier (no rank starts earlier) to after the closing one (every rank
/// is done). `k` starts at `k0` and grows until one measurement lasts `MIN_SECONDS`.
fn timed(world: &World, k0: u64, f: impl Fn(u64)) -> f64 {
    let mut k = k0.max(1);
    loop {
        let t = Instant::now();
        world.barrier();
        f(k);
        world.barrier();
        // Rank 0's reading decides for everyone (the others' are 0 in the max).
        let own = if world.rank() == 0 {
            t.elapsed().as_secs_f64()
        } else {
            0.0
        };
        let secs = world.max_f64(own);
        if secs >= MIN_SECONDS || k >= 1 << 34 {
            return (k * world.size() as u64) as f64 / secs;
        }
        let grow = (MIN_SECONDS * 1.2 / secs.max(1e-6)).ceil() as u64;
        k *= grow.clamp(2, 1000);
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let k: u64 = flag("--ops").and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let out = flag("--out").expect("--out FILE");
    let label = flag("--label");
    let world = World::init().expect("MPI init");
    let np = world.size();

    let host = RmaCellHost::new(&world, 0, 0);
    let (raw, fetch_add, cas) = {
        let cell = host.open();
        let counter = SharedCounter(&cell);
        cell.raw_fetch_add_loop(k / 10); // warm-up
                                         // Alternate the floor and ours, three rounds, and keep the medians: the order and
                                         // the noise of shared cores then favour neither.
        let (mut raws, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            raws.push(timed(&world, k, |k| {
                cell.raw_fetch_add_loop(k);
            }));
            ours.push(timed(&world, k, |k| {
                for _ in 0..k {
                    counter.fetch_add(1);
                }
            }));
        }
        let (raw, fetch_add) = (median(raws), median(ours));
        let cas = timed(&world, k, |k| {
            for _ in 0..k {
                counter.cas_increment();
            }
        });
        (raw, fetch_add, cas)
    };
    drop(host);
    // The locked scheme is far slower: fewer operations, same rate computation.
    let k_legacy = (k / 10).max(100);
    let legacy_cell = LegacyCell::new(&world, 0, 0);
    let legacy = timed(&world, k_legacy, |k| {
        let counter = SharedCounter(&legacy_cell);
        for _ in 0..k {
            counter.fetch_add(1);
        }
    });
    drop(legacy_cell);

    if world.rank() == 0 {
        let prefix = label.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        let key = label.unwrap_or_else(|| np.to_string());
        println!(
            "{prefix}np={np}: raw MPI_Fetch_and_op {raw:.0} ops/s; fetch_add {fetch_add:.0} ({:.2}x raw); cas {cas:.0} ({:.2}x raw); legacy {legacy:.0}; fetch_add / legacy = {:.1}x",
            fetch_add / raw,
            cas / raw,
            fetch_add / legacy
        );
        let mut all: Value = std::fs::read_to_string(&out)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| json!({}));
        all[key] = json!({
            "np": np,
            "raw": raw,
            "fetch_add": fetch_add,
            "cas": cas,
            "legacy": legacy,
            "fetch_add_vs_raw": fetch_add / raw,
            "fetch_add_vs_legacy": fetch_add / legacy,
            "min_seconds_per_measurement": MIN_SECONDS,
            "timing": "whole run on rank 0's clock between two barriers",
        });
        std::fs::write(&out, serde_json::to_string_pretty(&all).unwrap()).expect("write");
    }
}
