#!/usr/bin/env python3
"""Summarize `scripts/bench consensus` runs: medians per configuration, as ratios to the MPI floor.
Usage: consensus-figures.py FLOOR.json RUNS_DIR OUT.json"""
import glob
import json
import statistics
import sys

floor_path, runs, out = sys.argv[1:4]
floor = json.load(open(floor_path))
rtt_us = 2 * floor["raw_latency_us"]
result = {"mpi_round_trip_us": rtt_us, "configurations": []}
for servers in (3, 5):
    for name, what in (
        ("latency", "one command at a time, no batching (--inflight 1 --batch 1)"),
        ("nobatch", "64 in flight, no batching (--inflight 64 --batch 1)"),
        ("batch", "1024 in flight, 256 per Accept (--inflight 1024 --batch 256)"),
    ):
        reports = [json.load(open(p)) for p in sorted(glob.glob(f"{runs}/s{servers}-{name}-*.json"))]
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
        row["latency_p50_in_round_trips"] = row["latency_p50_us"] / rtt_us
        result["configurations"].append(row)
        print(
            f"{servers} servers, {what}: {row['commits_per_s']:,.0f} commits/s "
            f"({row['commits_per_s_whole_run']:,.0f} over the whole run), latency p50 "
            f"{row['latency_p50_us']:.1f} us = {row['latency_p50_in_round_trips']:.2f} MPI round trips "
            f"({rtt_us:.2f} us), p99 {row['latency_p99_us']:.1f} us; Accept+Accepted per commit "
            f"{row['server_messages_per_commit']:.4f} (theory 2(n-1)/batch = "
            f"{row['theoretical_server_messages_per_commit']:.4f}); checks failed: {failed or 'none'}"
        )
json.dump(result, open(out, "w"), indent=2)
print(f"wrote {out}")
