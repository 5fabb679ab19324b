#!/usr/bin/env python3
"""The figures of `anti-entropy`: rounds to spread one update against log3 n + ln ln n (push,
pull, push-pull), bytes for full state, deltas and Merkle sync, and gossip / Merkle / allreduce
at np 4..64 in the simulator and at np 4 and 8 under mpirun. Prints the README's tables and
writes them as JSON.

Usage: scripts/anti-entropy-figures.py [OUT.json] (default target/bench/anti-entropy.json)
Env: SEEDS (simulator seeds per point, default 20), ROUNDS (mpirun runs per point, default 3),
     BIN (default $CARGO_TARGET_DIR or target, /release/anti-entropy; build it first with
     `cargo build --release --bin anti-entropy`).
"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
BIN = os.environ.get("BIN", os.path.join(target, "release", "anti-entropy"))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/bench/anti-entropy.json")
SEEDS = int(os.environ.get("SEEDS", "20"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
tmp = tempfile.mkdtemp(prefix="ae-figures-")


def run(flags, np, seed=1, mpi=False):
    """One run's report (every check must pass)."""
    report = os.path.join(tmp, "r.json")
    if mpi:
        cmd = [os.path.join(root, "scripts/mpirun"), "-np", str(np), BIN]
    else:
        cmd = [BIN, "--sim", "--np", str(np), "--seed", str(seed)]
    cmd += flags.split() + ["--report", report]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    r = json.load(open(report))
    assert all(c["passed"] for c in r["checks"]), r["checks"]
    return r


def theory(n):
    return math.log(n, 3) + math.log(math.log(n))


result = {"spreading": [], "bytes": [], "comparison_sim": [], "comparison_mpi": []}

# 1. One update at rank 0, spread by gossip: rounds until every replica holds it.
print("| one update, rounds to reach every rank (mean, max of %d seeds) | np 4 | 8 | 16 | 32 | 64 |" % SEEDS)
print("|---|---|---|---|---|---|")
rows = {}
for mode in ("push", "pull", "push-pull"):
    cells = []
    for np in (4, 8, 16, 32, 64):
        rs = [run(f"--mode {mode} --writers 1 --updates 1", np, s)["rounds_to_converge"] for s in range(1, SEEDS + 1)]
        result["spreading"].append({"mode": mode, "np": np, "mean": statistics.mean(rs), "max": max(rs)})
        cells.append(f"{statistics.mean(rs):.1f} ({max(rs):.1f})")
    print(f"| {mode} | " + " | ".join(cells) + " |")
print("| log3 n + ln ln n | " + " | ".join(f"{theory(n):.1f}" for n in (4, 8, 16, 32, 64)) + " |")
print()

# 2. Bytes: full state against deltas against Merkle, np 16, every rank 20 updates, on 16
# keys (a small state, rewritten often) and on 1024 (a large state, each key written rarely).
print("| np 16, 20 updates per rank (mean of %d seeds) | bytes per rank-round | bytes in all | rounds to converge after the last update |" % SEEDS)
print("|---|---|---|---|")
for crdt, keys in (("orset", 16), ("lwwmap", 16), ("orset", 1024), ("lwwmap", 1024)):
    for name, flags in (("full state", ""), ("deltas", "--deltas"), ("Merkle", "--sync merkle")):
        rs = [run(f"--crdt {crdt} --keys {keys} {flags}", 16, s) for s in range(1, SEEDS + 1)]
        row = {
            "crdt": crdt,
            "keys": keys,
            "sync": name,
            "bytes_per_rank_round": statistics.mean(r["bytes_per_rank_round"] for r in rs),
            "bytes": statistics.mean(r["bytes_sent"] for r in rs),
            "rounds": statistics.mean(r["rounds_to_converge"] for r in rs),
        }
        result["bytes"].append(row)
        how = "Merkle sync" if name == "Merkle" else f"push-pull, {name}"
        print(f"| {crdt}, {keys} keys, {how} | {row['bytes_per_rank_round']:.0f} | {row['bytes']:.0f} | {row['rounds']:.1f} |")
print()

# 3. Gossip, deltas and Merkle as np grows (simulator; allreduce has no simulation).
print("| OR-Set, 20 updates per rank, simulator: ms from the last update to convergence / kB in all | np 4 | 8 | 16 | 32 | 64 |")
print("|---|---|---|---|---|---|")
for name, flags in (("gossip push-pull", ""), ("gossip deltas", "--deltas"), ("Merkle", "--sync merkle")):
    cells = []
    for np in (4, 8, 16, 32, 64):
        rs = [run(f"--crdt orset {flags}", np, s) for s in range(1, min(SEEDS, 5) + 1)]
        ms = statistics.mean(r["converged_ms"] - r["updates_end_ms"] for r in rs)
        kb = statistics.mean(r["bytes_sent"] for r in rs) / 1e3
        result["comparison_sim"].append({"sync": name, "np": np, "ms": ms, "kb": kb})
        cells.append(f"{ms:.0f} ms / {kb:.0f} kB")
    print(f"| {name} | " + " | ".join(cells) + " |")
print()

# 4. Under mpirun, np 4 and 8 (2 cores: oversubscribed), medians of ROUNDS runs.
print("| OR-Set, 20 updates per rank, mpirun (median of %d) | np 4: wall s / ms after the last update / kB | np 8 |" % ROUNDS)
print("|---|---|---|")
for name, flags in (
    ("gossip push-pull", ""),
    ("gossip deltas", "--deltas"),
    ("Merkle", "--sync merkle"),
    ("allreduce (gather/bcast)", "--sync allreduce --updates 20"),
):
    cells = []
    for np in (4, 8):
        rs = [run(f"--crdt orset {flags}", np, mpi=True) for _ in range(ROUNDS)]
        wall = statistics.median(r["elapsed_s"] for r in rs)
        after = statistics.median((r["converged_ms"] or 0) - r["updates_end_ms"] for r in rs)
        kb = statistics.median(r["bytes_sent"] for r in rs) / 1e3
        result["comparison_mpi"].append({"sync": name, "np": np, "wall_s": wall, "ms_after_updates": after, "kb": kb})
        cells.append(f"{wall:.3f} s / {after:.0f} ms / {kb:.1f} kB")
    print(f"| {name} | " + " | ".join(cells) + " |")

os.makedirs(os.path.dirname(OUT), exist_ok=True)
json.dump(result, open(OUT, "w"), indent=2)
print(f"\nwrote {OUT}")
