"""One run on the emulated hosts, from its JSON report: every check passed, the ranks spread
over h1..hN, and a rank crashed (the given one, or any; none with --no-crash, for map-reduce's
collective mode, which cannot lose a rank), and with --groups N the run counted N groups of
ranks (map-reduce's hosts). Prints one line; exit 0 when all hold. Used by scripts/cluster-test
and scripts/slurm-test.

Usage: report-hosts.py REPORT LABEL --hosts N [--crashed RANK | --no-crash] [--groups N]
                       [--started UNIX_TIME]
"""
import argparse
import json
import time

p = argparse.ArgumentParser()
p.add_argument("report")
p.add_argument("label")
p.add_argument("--hosts", type=int, required=True)
p.add_argument("--crashed", type=int)
p.add_argument("--no-crash", action="store_true")
p.add_argument("--groups", type=int)
p.add_argument("--started", type=float)
a = p.parse_args()
r = json.load(open(a.report))
bad = [c["name"] for c in r["checks"] if not c["passed"]]
hosts = sorted({x.get("host", "") for x in r["ranks"]})
crashed = [x["rank"] for x in r["ranks"] if x["crashed"]]
want_hosts = sorted(f"h{i}" for i in range(1, a.hosts + 1))
if a.no_crash:
    crash_ok = not crashed
else:
    crash_ok = crashed == [a.crashed] if a.crashed is not None else bool(crashed)
groups_ok = a.groups is None or r.get("groups") == a.groups
took = f"; {time.time() - a.started:.1f} s" if a.started is not None else ""
print(f"{a.label}: checks {'passed' if not bad else 'FAILED: ' + ', '.join(bad)}; "
      f"{len(r['ranks'])} ranks on {', '.join(hosts)}; crashed {crashed}"
      f"{'; groups %s' % r.get('groups') if a.groups is not None else ''}{took}")
raise SystemExit(0 if not bad and hosts == want_hosts and crash_ok and groups_ok else 1)
