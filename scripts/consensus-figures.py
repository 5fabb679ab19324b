#!/usr/bin/env python3
"""Summarize `scripts/bench consensus` runs: medians per configuration; latency as ratios to
the MPI floor measured in the same job. Usage: consensus-figures.py RUNS_DIR OUT.json"""
import glob
import json
import statistics
import sys

runs, out = sys.argv[1:3]
result = {"latency": [], "throughput": []}


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(f"{runs}/{pattern}"))]


for servers in (3, 5):
    floors = load(f"s{servers}-floor-*.json")
    if floors:
        med = lambda k: statistics.median(f[k] for f in floors)
        row = {
            "servers": servers,
            "np": servers + 1,
            "runs": len(floors),
            "checks_passed": all(f["checks_passed"] for f in floors),
            **{k: med(k) for k in (
                "raw_round_trip_us", "raw_commit_chain_us", "sequence_paxos_p50_us",
                "sequence_paxos_p99_us", "p50_in_round_trips", "p50_in_commit_chains")},
        }
        result["latency"].append(row)
        print(
            f"{servers} servers, one command at a time, no batching: p50 {row['sequence_paxos_p50_us']:.1f} us "
            f"(p99 {row['sequence_paxos_p99_us']:.1f}) = {row['p50_in_round_trips']:.2f}x the raw MPI round trip "
            f"({row['raw_round_trip_us']:.2f} us) and {row['p50_in_commit_chains']:.2f}x the raw commit chain "
            f"({row['raw_commit_chain_us']:.2f} us), same job; checks passed: {row['checks_passed']}"
        )
    for name, what in (
        ("nobatch", "64 in flight, no batching (--inflight 64 --batch 1)"),
        ("batch", "1024 in flight, 256 per Accept (--inflight 1024 --batch 256)"),
    ):
        reports = load(f"s{servers}-{name}-*.json")
        if not reports:
            continue
        failed = [c["name"] for j in reports for c in j["checks"] if not c["passed"]]
        med = lambda f: statistics.median(f(j) for j in reports)
        row = {
            "servers": servers,
            "np": servers + 1,
            "configuration": what,
            "runs": len(reports),
            "checks_failed": failed,
            "commits": reports[0]["commits"],
            "commits_per_s": med(lambda j: j["commits_per_s"]),
            "commits_per_s_whole_run": med(lambda j: j["commits"] / j["elapsed_s"]),
            "latency_p50_us": med(lambda j: j["commit_latency"]["p50_ms"] * 1e3),
            "latency_p99_us": med(lambda j: j["commit_latency"]["p99_ms"] * 1e3),
            "messages_per_commit": med(lambda j: j["messages_per_commit"]),
            "bytes_per_commit": med(lambda j: j["bytes_per_commit"]),
            "server_messages_per_commit": med(lambda j: j["server_messages_per_commit"]),
            "theoretical_server_messages_per_commit": reports[0]["theoretical_server_messages_per_commit"],
        }
        result["throughput"].append(row)
        print(
            f"{servers} servers, {what}: {row['commits_per_s']:,.0f} commits/s "
            f"({row['commits_per_s_whole_run']:,.0f} over the whole run), latency p50 "
            f"{row['latency_p50_us']:.1f} us, p99 {row['latency_p99_us']:.1f} us; Accept+Accepted per commit "
            f"{row['server_messages_per_commit']:.4f} (theory 2(n-1)/batch = "
            f"{row['theoretical_server_messages_per_commit']:.4f}); checks failed: {failed or 'none'}"
        )
json.dump(result, open(out, "w"), indent=2)
print(f"wrote {out}")
