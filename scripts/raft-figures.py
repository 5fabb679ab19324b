#!/usr/bin/env python3
"""Summarize `scripts/bench raft` runs: medians per configuration; latency as ratios to the MPI
floor measured in the same job; raft beside sequence-paxos on the same workload.
Usage: raft-figures.py RUNS_DIR OUT.json"""
import glob
import json
import statistics
import sys

runs, out = sys.argv[1:3]
result = {"latency": [], "throughput": [], "elections": None, "catch_up": []}


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(f"{runs}/{pattern}"))]


def failed_checks(reports):
    return sorted({c["name"] for j in reports for c in j["checks"] if not c["passed"]})


for servers in (3, 5):
    floors = load(f"s{servers}-floor-*.json")
    if floors:
        med = lambda k: statistics.median(f[k] for f in floors)
        keys = ("raw_round_trip_us", "raw_commit_chain_us", "sequence_paxos_p50_us",
                "p50_in_round_trips", "raft_p50_us", "raft_p99_us", "raft_p50_in_round_trips",
                "raft_p50_in_commit_chains", "raft_fsync_p50_us", "raft_fsync_p99_us",
                "raft_fsync_p50_in_round_trips")
        row = {"servers": servers, "np": servers + 1, "runs": len(floors),
               "checks_passed": all(f["checks_passed"] for f in floors),
               **{k: med(k) for k in keys}}
        result["latency"].append(row)
        print(
            f"{servers} servers, one command at a time: raft p50 {row['raft_p50_us']:.1f} us "
            f"(p99 {row['raft_p99_us']:.1f}) unsynced = {row['raft_p50_in_round_trips']:.2f}x the raw "
            f"round trip ({row['raw_round_trip_us']:.2f} us), {row['raft_p50_in_commit_chains']:.2f}x the "
            f"raw commit chain; sequence-paxos {row['sequence_paxos_p50_us']:.1f} us "
            f"({row['p50_in_round_trips']:.2f}x); raft with fdatasync on disk {row['raft_fsync_p50_us']:.0f} us "
            f"({row['raft_fsync_p50_in_round_trips']:.0f}x); checks passed: {row['checks_passed']}"
        )
    for name, what in (("nobatch", "--inflight 64 --batch 1"), ("batch", "--inflight 1024 --batch 256")):
        for algo, storage in (("seqpaxos", "none (crash-stop)"), ("raft-nofsync", "file, not synced"),
                              ("raft-tmpfs", "file on tmpfs, fdatasync"),
                              ("raft-disk", "file on disk, fdatasync")):
            reports = load(f"s{servers}-{name}-{algo}-*.json")
            if not reports:
                continue
            med = lambda f: statistics.median(f(j) for j in reports)
            row = {
                "servers": servers, "np": servers + 1, "algorithm": algo.split("-")[0],
                "storage": storage, "configuration": what, "runs": len(reports),
                "checks_failed": failed_checks(reports),
                "commits": reports[0]["commits"],
                "commits_per_s": med(lambda j: j["commits_per_s"]),
                "latency_p50_us": med(lambda j: j["commit_latency"]["p50_ms"] * 1e3),
                "latency_p99_us": med(lambda j: j["commit_latency"]["p99_ms"] * 1e3),
                "messages_per_commit": med(lambda j: j["messages_per_commit"]),
                "server_messages_per_commit": med(lambda j: j["server_messages_per_commit"]),
                "theoretical_server_messages_per_commit": reports[0]["theoretical_server_messages_per_commit"],
                "storage_syncs_per_commit": med(lambda j: j.get("storage_syncs_per_commit") or 0.0),
            }
            result["throughput"].append(row)
            print(
                f"{servers} servers, {what}, {algo}: {row['commits_per_s']:,.0f} commits/s, p50 "
                f"{row['latency_p50_us']:.0f} us, p99 {row['latency_p99_us']:.0f} us, "
                f"{row['server_messages_per_commit']:.4f} replication messages per commit (theory "
                f"{row['theoretical_server_messages_per_commit']:.4f}), "
                f"{row['storage_syncs_per_commit']:.4f} syncs per commit; checks failed: "
                f"{row['checks_failed'] or 'none'}"
            )

elections = load("election-*.json")
if elections:
    times = [e["after_ms"] for j in elections for e in j["election_after_leader_crash"]["each"]]
    result["elections"] = {
        "runs": len(elections), "count": len(times),
        "mean_ms": statistics.mean(times) if times else None,
        "max_ms": max(times) if times else None,
        "checks_failed": failed_checks(elections),
    }
    if times:
        print(f"election after a leader crash under load (5 servers, {len(times)} runs): mean "
              f"{statistics.mean(times):.1f} ms, max {max(times):.1f} ms; checks failed: "
              f"{failed_checks(elections) or 'none'}")

for snap in (0, 20000):
    reports = load(f"catchup-snap{snap}-*.json")
    if not reports:
        continue
    restarts = [r for j in reports for r in j["restarts"]]
    ups = [r["caught_up_after_ms"] for r in restarts if r["caught_up_after_ms"] is not None]
    behind = [r["target_index"] - r["stored_last_index"] for r in restarts if r.get("target_index")]
    row = {
        "snapshot_every": snap, "runs": len(reports),
        "caught_up_after_ms": statistics.median(ups) if ups else None,
        "entries_behind": statistics.median(behind) if behind else None,
        "snapshots_installed": statistics.median(j["snapshots_installed"] for j in reports),
        "checks_failed": failed_checks(reports),
    }
    result["catch_up"].append(row)
    print(f"restarted server catching up (3 servers), snapshot every {snap or 'never'}: "
          f"{row['caught_up_after_ms']} ms for {row['entries_behind']} entries behind, "
          f"{row['snapshots_installed']} snapshots installed; checks failed: {row['checks_failed'] or 'none'}")

json.dump(result, open(out, "w"), indent=2)
print(f"wrote {out}")
