#!/usr/bin/env python3
"""Summarize `scripts/bench hashmap` runs: medians per configuration of throughput, get and put
latency, round trips and messages per operation against the theory, and the checker's time.
Usage: hashmap-figures.py RUNS_DIR OUT.json"""
import glob
import json
import statistics
import sys

runs, out = sys.argv[1:3]
result = {"configurations": [], "checker": []}


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(f"{runs}/{pattern}"))]


for name, label in (("np4-n3", "np 4, 3 replicas"), ("np8-n3", "np 8, 3 replicas"),
                    ("np8-n5", "np 8, 5 replicas"), ("np8-n3-weak", "np 8, 3 replicas, R=W=1"),
                    ("np8-raft", "np 8, raft backend (5 servers)")):
    reports = load(f"{name}-[0-9]*.json")
    if not reports:
        continue
    med = lambda f: statistics.median(f(j) for j in reports)
    a = reports[0]["args"]
    raft = a["backend"] == "raft"
    row = {
        "configuration": label, "np": reports[0]["np"], "runs": len(reports),
        "backend": a["backend"],
        "replicas": reports[0]["np"] - a["clients"] if a["replicas"] == 0 or raft else a["replicas"],
        "read_quorum": a["read_quorum"], "write_quorum": a["write_quorum"],
        "operations": reports[0]["operations"],
        "ops_per_s": med(lambda j: j["ops_per_s"]),
        "get_p50_us": med(lambda j: j["get_latency"]["p50_ms"] * 1e3),
        "get_p99_us": med(lambda j: j["get_latency"]["p99_ms"] * 1e3),
        "put_p50_us": med(lambda j: j["put_latency"]["p50_ms"] * 1e3),
        "put_p99_us": med(lambda j: j["put_latency"]["p99_ms"] * 1e3),
        "round_trips_per_get": None if raft else med(lambda j: j["round_trips_per_get"]),
        "round_trips_per_put": None if raft else med(lambda j: j["round_trips_per_put"]),
        "messages_per_op": med(lambda j: j["messages_per_op"]),
        "theoretical_messages_per_op": None if raft else med(lambda j: j["theoretical_messages_per_op"]),
        "runs_not_linearizable": sum(
            any(c["name"] == "linearizability" and not c["passed"] for c in j["checks"]) for j in reports),
        "other_checks_failed": sorted({c["name"] for j in reports for c in j["checks"]
                                       if not c["passed"] and c["name"] != "linearizability"}),
    }
    result["configurations"].append(row)
    trips = "" if raft else f" ({row['round_trips_per_get']:.2f} / {row['round_trips_per_put']:.2f} round trips)"
    theory = "" if raft else f" (theory {row['theoretical_messages_per_op']:.2f})"
    print(f"{label}: {row['ops_per_s']:,.0f} ops/s; get p50 {row['get_p50_us']:.0f} us p99 "
          f"{row['get_p99_us']:.0f} us, put p50 {row['put_p50_us']:.0f} us p99 {row['put_p99_us']:.0f} us{trips}; "
          f"{row['messages_per_op']:.2f} messages per op{theory}; "
          f"not linearizable in {row['runs_not_linearizable']} of {len(reports)} runs")

result["checker"] = []
for keys, method in (("1000", "auto"), ("1000", "search"), ("10", "auto")):
    c = [j["checker"] for j in load(f"checker-k{keys}-{method}-*.json")]
    if not c:
        continue
    k = {
        "operations": c[0]["operations"], "keys": c[0]["keys"], "clients": 16, "runs": len(c),
        "method": method,
        "seconds": statistics.median(x["seconds"] for x in c),
        "ms_per_10k_ops": statistics.median(x["ms_per_10k_ops"] for x in c),
        "linearizable": all(x["violations"] == 0 for x in c),
    }
    result["checker"].append(k)
    print(f"checker ({method}): {k['operations']:,} operations over {k['keys']} keys from 16 "
          f"clients in {k['seconds']:.3f} s ({k['ms_per_10k_ops']:.1f} ms per 10,000 operations)"
          + ("" if k["linearizable"] else "; NOT DECIDED LINEARIZABLE"))
by = {(k["keys"], k["method"]): k["seconds"] for k in result["checker"]}
if (1000, "auto") in by and (1000, "search") in by:
    result["search_over_exact"] = by[(1000, "search")] / by[(1000, "auto")]
    print(f"the search takes {result['search_over_exact']:.2f}x the exact check's time on the same history")

json.dump(result, open(out, "w"), indent=2)
print(f"wrote {out}")
