#!/usr/bin/env python3
"""Figures of `swim` against `failure-detector` (`scripts/bench swim`): message load per member,
detection time and false positives under loss, in the simulator (virtual time: np 8..64, the
same for any build of the same code) and under mpirun (np 4 and 8, wall clock).

Usage: swim-figures.py BIN_DIR OUT.json [RUNS_DIR]
  BIN_DIR holds the swim and failure-detector binaries; scripts/mpirun runs the MPI jobs."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

bin_dir, out = sys.argv[1:3]
runs = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="swim-figures-")
os.makedirs(runs, exist_ok=True)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = int(os.environ.get("SEEDS", "5"))
# The detectors as configured: SWIM with its defaults (period 20 ms, ping timeout 8 ms, k 3,
# suspicion 400 ms), the heartbeat detector with its own (period 10 ms, timeout 30 ms, adaptive).
SWIM_MPI = "--period 50 --ping-timeout 20 --suspicion 1000"
FD_MPI = "--period 20 --timeout-initial 100 --delta 50"


def run(cmd, report):
    r = subprocess.run(cmd + ["--report", report], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"swim-figures: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return json.load(open(report))


def sim(name, np, seed, flags):
    report = os.path.join(runs, f"{name}-np{np}-s{seed}-{abs(hash(flags))}.json")
    return run([os.path.join(bin_dir, name), "--sim", "--np", str(np), "--seed", str(seed)]
               + flags.split(), report)


def mpi(name, np, flags):
    report = os.path.join(runs, f"mpi-{name}-np{np}-{abs(hash(flags))}.json")
    return run([os.path.join(root, "scripts/mpirun"), "-np", str(np),
                os.path.join(bin_dir, name)] + flags.split(), report)


def per_member_per_s(rep, duration_ms):
    return rep["metrics"]["messages_sent"] / rep["np"] / (duration_ms / 1000)


def detection(rep):
    return [d["latency_ms"] for d in rep["detection"] if d["latency_ms"] is not None]


def false_susp(name, rep):
    return rep["false_suspicions"] if name == "swim" else rep["false_suspicions"]["total"]


def mean(v):
    return statistics.mean(v) if v else None


res = {"seeds": SEEDS, "load": [], "loss": [], "mpirun": []}

# Load: no faults, 1 s runs.
for np in (8, 16, 32, 64):
    swim = [sim("swim", np, s, "--duration 1000") for s in range(SEEDS)]
    fd = [sim("failure-detector", np, s, "--duration 1000") for s in range(SEEDS)]
    row = {
        "np": np,
        "swim_per_member_per_period": mean([r["messages_per_member_per_period"] for r in swim]),
        "swim_per_member_per_s": mean([per_member_per_s(r, 1000) for r in swim]),
        "fd_per_member_per_period": mean([per_member_per_s(r, 1000) / 100 for r in fd]),
        "fd_per_member_per_s": mean([per_member_per_s(r, 1000) for r in fd]),
        "swim_checks_passed": all(c["passed"] for r in swim for c in r["checks"]),
    }
    res["load"].append(row)
    print(f"np {np}: messages per member per period: swim {row['swim_per_member_per_period']:.2f} "
          f"(per s {row['swim_per_member_per_s']:.0f}), failure-detector "
          f"{row['fd_per_member_per_period']:.2f} (per s {row['fd_per_member_per_s']:.0f})")

# Detection and false positives under loss: rank np-1 crashes at 500 ms, 4 s runs.
for np in (8, 16, 32, 64):
    for drop in (0.0, 0.05, 0.1, 0.2):
        flags = f"--duration 4000 --crash {np - 1}@500 --drop {drop}"
        row = {"np": np, "drop": drop}
        for name in ("swim", "failure-detector"):
            reps = [sim(name, np, s, flags) for s in range(SEEDS)]
            lat = [l for r in reps for l in detection(r)]
            key = "swim" if name == "swim" else "fd"
            row[f"{key}_detection_ms_mean"] = mean(lat)
            row[f"{key}_detection_ms_max"] = max(lat) if lat else None
            row[f"{key}_detected"] = f"{len(lat)}/{len(reps)}"
            row[f"{key}_false_suspicions_per_run"] = mean([false_susp(name, r) for r in reps])
            if name == "swim":
                row["swim_false_positives_per_run"] = mean([r["false_positives"] for r in reps])
                row["swim_first_suspicion_ms_mean"] = mean(
                    [d["first_suspicion_ms"] for r in reps for d in r["detection"]
                     if d["first_suspicion_ms"] is not None])
            row[f"{key}_checks_failed"] = sum(1 for r in reps for c in r["checks"] if not c["passed"])
        res["loss"].append(row)
        fmt = lambda v: "-" if v is None else f"{v:.0f}"
        print(f"np {np} drop {drop}: detection mean swim {fmt(row['swim_detection_ms_mean'])} ms "
              f"(first suspicion {fmt(row['swim_first_suspicion_ms_mean'])}), failure-detector "
              f"{fmt(row['fd_detection_ms_mean'])} ms; false suspicions per run swim "
              f"{row['swim_false_suspicions_per_run']:.1f}, failure-detector "
              f"{row['fd_false_suspicions_per_run']:.1f}; swim false positives (dead) per run "
              f"{row['swim_false_positives_per_run']:.2f}")

# Under mpirun (oversubscribed on this machine's cores): same plan, longer timeouts.
for np in (4, 8):
    flags = f"--duration 4000 --crash {np - 1}@500 --drop 0.05"
    s = mpi("swim", np, f"{flags} {SWIM_MPI}")
    f = mpi("failure-detector", np, f"{flags} {FD_MPI}")
    row = {
        "np": np,
        "swim_per_member_per_s": per_member_per_s(s, 4000),
        "fd_per_member_per_s": per_member_per_s(f, 4000),
        "swim_detection_ms": (detection(s) or [None])[0],
        "fd_detection_ms": (detection(f) or [None])[0],
        "swim_false_suspicions": s["false_suspicions"],
        "swim_false_positives": s["false_positives"],
        "fd_false_suspicions": f["false_suspicions"]["total"],
        "checks_passed": all(c["passed"] for r in (s, f) for c in r["checks"]),
    }
    res["mpirun"].append(row)
    print(f"mpirun np {np}, drop 0.05: messages per member per s swim {row['swim_per_member_per_s']:.0f}, "
          f"failure-detector {row['fd_per_member_per_s']:.0f}; detection swim {row['swim_detection_ms']} ms, "
          f"failure-detector {row['fd_detection_ms']} ms; false suspicions swim {row['swim_false_suspicions']} "
          f"(dead {row['swim_false_positives']}), failure-detector {row['fd_false_suspicions']}; "
          f"checks passed {row['checks_passed']}")

json.dump(res, open(out, "w"), indent=2)
print(f"wrote {out}")
