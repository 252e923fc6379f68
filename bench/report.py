#!/usr/bin/env python3
"""Helpers and report of bench/run.sh (not part of the test suite).

  report.py machine                 the machine and its load now, as JSON
  report.py load                    the load average now, as JSON
  report.py p99 SCRAPE METRIC SCALE [BEFORE]
      p99 of a histogram in a saved /metrics scrape (or of the observations
      between BEFORE and SCRAPE), times SCALE; null if none
  report.py per-event SCRAPE NUMERATOR DENOMINATOR
      the sum of a metric's series over another's in a saved scrape (e.g.
      commit bytes per event applied); null if either is missing or zero
  report.py live-progress FILE      whole-run and last-quarter events/s of
  report.py peer-progress LOG SUMMARY"SECONDS CONSUMED" lines / the peer's
                                    "progress SECONDS RECORDS" lines
  report.py report RAW OUT CMD QUICK
      RAW (JSON lines written by run.sh) -> OUT.json, OUT.md, OUT.png
      (OUT.png needs matplotlib: bench/soak-requirements.txt)
"""
import json
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import p99 as bucket_p99, scrape  # noqa: E402


def load():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "load_before": load()}


def hist_p99(path, metric, scale, before=None):
    _, after = scrape("file://" + os.path.abspath(path))
    prior = [(le, 0.0) for le, _ in after.get(metric, [])]
    if before:
        prior = scrape("file://" + os.path.abspath(before))[1].get(metric, prior)
    v = bucket_p99(prior, after.get(metric, []))
    return None if v == "" else round(v * scale, 3)


def per_event(path, numerator, denominator):
    values, _ = scrape("file://" + os.path.abspath(path))

    def total(metric):
        return sum(v for k, v in values.items() if k == metric or k.startswith(metric + "{"))

    num, den = total(numerator), total(denominator)
    return round(num / den, 1) if num > 0 and den > 0 else None


def rates(points):
    """Whole-run and last-quarter events/s from (seconds, count) points."""
    points = [(t, n) for t, n in points if n > 0] or [(1, 0)]
    t_end, total = points[-1]
    out = {"eps": round(total / t_end) if t_end > 0 else None, "last_quarter_eps": None}
    for t, n in points:
        if n >= 0.75 * total and t < t_end:
            out["last_quarter_eps"] = round((total - n) / (t_end - t))
            break
    return out


def median(xs):
    return statistics.median(xs) if xs else None


def summarize(rows, case):
    """Per contender of a case: runs, medians, events/s, CPU us/event."""
    meta = next((r for r in rows if r.get("case") == case and "events" in r), None)
    if meta is None:
        return None, {}
    events = meta["events"]
    out = {}
    for r in rows:
        if r.get("case") != case or "contender" not in r:
            continue
        c = out.setdefault(r["contender"], {"wall_s": [], "cpu_s": [], "rss_mb": [], "extra": []})
        c["wall_s"].append(r["wall_s"])
        c["cpu_s"].append(r["cpu_s"])
        c["rss_mb"].append(r["rss_mb"])
        c["extra"].append({k: v for k, v in r.items()
                           if k not in ("case", "contender", "run", "wall_s", "cpu_s", "rss_mb")})
    for c in out.values():
        c["median_wall_s"] = median(c["wall_s"])
        c["median_cpu_s"] = median(c["cpu_s"])
        c["median_rss_mb"] = median(c["rss_mb"])
        c["eps"] = round(events / c["median_wall_s"]) if c["median_wall_s"] else None
        c["cpu_us_per_event"] = round(c["median_cpu_s"] / events * 1e6, 3)
    return meta, out


def get(contenders, name, field):
    return contenders.get(name, {}).get(field)


def commit_bytes(contenders):
    """Median over encore run's runs of the bytes its commits wrote per event."""
    return median([e["commit_bytes_per_event"] for e in
                   contenders.get("encore_live", {}).get("extra", [])
                   if e.get("commit_bytes_per_event") is not None])


NAMES = {
    "consume_only": "consume-only (librdkafka, no decoding)",
    "decode_only": "decode-only (+ protobuf decoding)",
    "encore_live": "encore run (live from the beginning, fsync per commit)",
    "encore_live_w1": "encore run --workers 1",
    "encore_backfill": "encore backfill",
    "kstreams": "Kafka Streams peer, at-least-once",
    "kstreams_eos": "Kafka Streams peer, exactly_once_v2",
}

BEYOND = (
    "What encore computes beyond the peer (the peer keeps only the decayed "
    "play/skip/ms-played counters, the per-arm Beta evidence and what "
    "attribution needs): the feature set (completion mean/variance, early "
    "and late skip rates, hour-of-day and day-of-week activity), the top-"
    "artist Space-Saving sketch, distinct artists (exact then HyperLogLog), "
    "sessions, the last 50 plays, the NIG completion evidence per arm, the "
    "context vector kept with every pending impression, per-partition arm "
    "aggregates (population posteriors, linear-model sums, off-policy sums), "
    "the dead-letter topic, Prometheus metrics, and published snapshots.")


def report(raw_path, out, cmd, quick):
    rows = [json.loads(line) for line in open(raw_path) if line.strip()]
    mach = next(r["machine"] for r in rows if "machine" in r)
    load_after = next((r["load_after"] for r in rows if "load_after" in r), None)
    result = {"command": cmd, "quick": quick == "1", "machine": mach, "load_after": load_after}
    meta, small = summarize(rows, "small")
    not_run = {}
    if meta:
        result.update({
            "events": meta["events"], "users": meta["users"], "runs": meta["runs"],
            "consume_only_eps": get(small, "consume_only", "eps"),
            "decode_only_eps": get(small, "decode_only", "eps"),
            "encore_live_eps": get(small, "encore_live", "eps"),
            "encore_live_w1_eps": get(small, "encore_live_w1", "eps"),
            "encore_backfill_eps": get(small, "encore_backfill", "eps"),
            "kstreams_eps": get(small, "kstreams", "eps"),
            "kstreams_eos_eps": get(small, "kstreams_eos", "eps"),
            "encore_cpu_us_per_event": get(small, "encore_live", "cpu_us_per_event"),
            "encore_backfill_cpu_us_per_event": get(small, "encore_backfill", "cpu_us_per_event"),
            "consume_only_cpu_us_per_event": get(small, "consume_only", "cpu_us_per_event"),
            "decode_only_cpu_us_per_event": get(small, "decode_only", "cpu_us_per_event"),
            "kstreams_cpu_us_per_event": get(small, "kstreams", "cpu_us_per_event"),
            "kstreams_eos_cpu_us_per_event": get(small, "kstreams_eos", "cpu_us_per_event"),
            "encore_peak_rss_mb": get(small, "encore_live", "median_rss_mb"),
            "encore_backfill_peak_rss_mb": get(small, "encore_backfill", "median_rss_mb"),
            "kstreams_peak_rss_mb": get(small, "kstreams", "median_rss_mb"),
            "kstreams_eos_peak_rss_mb": get(small, "kstreams_eos", "median_rss_mb"),
            "commit_p99_ms": median([e["commit_p99_ms"] for e in
                                     small.get("encore_live", {}).get("extra", [])
                                     if e.get("commit_p99_ms") is not None]),
            "commit_bytes_per_event": commit_bytes(small),
            "agreement": {k: r[k] for r in rows if r.get("case") == "small"
                          for k in r if k.startswith("agreement_")},
            "small_detail": small,
        })
    else:
        not_run["small"] = "not in --cases"
    hmeta, heavy = summarize(rows, "heavy")
    result["heavy"] = None
    if hmeta:
        result["heavy"] = {
            "events": hmeta["events"], "users": hmeta["users"],
            "encore_eps": get(heavy, "encore_live", "eps"),
            "encore_backfill_eps": get(heavy, "encore_backfill", "eps"),
            "kstreams_eps": get(heavy, "kstreams", "eps"),
            "kstreams_eos_eps": get(heavy, "kstreams_eos", "eps"),
            "consume_only_eps": get(heavy, "consume_only", "eps"),
            "encore_cpu_us_per_event": get(heavy, "encore_live", "cpu_us_per_event"),
            "commit_bytes_per_event": commit_bytes(heavy),
            "agreement": {k: r[k] for r in rows if r.get("case") == "heavy"
                          for k in r if k.startswith("agreement_")},
            "detail": heavy}
    else:
        not_run["heavy"] = "not run (--quick runs the small case only)" if quick == "1" else "not in --cases"
    smeta, sus = summarize(rows, "sustained")
    result["sustained"] = None
    if smeta:
        live = (sus.get("encore_live", {}).get("extra") or [{}])[0].get("progress", {})
        peer = (sus.get("kstreams", {}).get("extra") or [{}])[0].get("progress", {})
        result["sustained"] = {
            "events": smeta["events"], "users": smeta["users"],
            "encore_eps": live.get("eps"), "encore_last_quarter_eps": live.get("last_quarter_eps"),
            "kstreams_eps": peer.get("eps"), "kstreams_last_quarter_eps": peer.get("last_quarter_eps"),
            "event_commit_p99_ms": next((r["event_commit_p99_ms"] for r in rows
                                         if r.get("case") == "sustained" and "event_commit_p99_ms" in r), None),
            "encore_peak_rss_mb": get(sus, "encore_live", "median_rss_mb"),
            "kstreams_peak_rss_mb": get(sus, "kstreams", "median_rss_mb"),
            "detail": sus}
    else:
        not_run["sustained"] = "not run (--quick runs the small case only)" if quick == "1" else "not in --cases"
    tmeta, st = summarize(rows, "state_10m")
    result["state_10m"] = None
    if tmeta:
        extra = (st.get("encore_live", {}).get("extra") or [{}])[0]
        lookup = next((r["lookup"] for r in rows if r.get("case") == "state_10m" and "lookup" in r), {})
        lookup_full = next((r["lookup_full"] for r in rows
                            if r.get("case") == "state_10m" and "lookup_full" in r), {})
        result["state_10m"] = {
            "events": tmeta["events"], "users": tmeta["users"],
            "publish_s": extra.get("publish_s"),
            "snapshot_bytes": extra.get("snapshot", {}).get("bytes"),
            "snapshot_users": extra.get("snapshot", {}).get("users"),
            "lookup_p50_us": lookup.get("lookup_p50_us"), "lookup_p99_us": lookup.get("lookup_p99_us"),
            "lookup_p999_us": lookup.get("lookup_p999_us"), "lookups_per_s": lookup.get("lookups_per_s"),
            "lookup": lookup, "lookup_full": lookup_full,
            "encore_peak_rss_mb": get(st, "encore_live", "median_rss_mb")}
    else:
        not_run["state_10m"] = "not run (--quick runs the small case only)" if quick == "1" else "not in --cases"
    result["not_run"] = not_run
    result["beyond_the_peer"] = BEYOND
    with open(out + ".json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    write_markdown(result, out + ".md", [("small", small), ("heavy", heavy)])
    plot(out + ".png", [("small", small, meta), ("heavy", heavy, hmeta)], result)


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def write_markdown(r, path, cases):
    m = r["machine"]
    lines = ["# Benchmark: encore vs the physical limit vs Kafka Streams", "",
             f"Command: `{r['command']}`. Machine: {m['cores']} cores ({m['cpu']}), "
             f"{m['mem_gib']} GiB, Linux {m['kernel']}; load average before "
             f"{' '.join(map(str, m['load_before']))}, after "
             f"{' '.join(map(str, r['load_after'] or []))} (other work shares the "
             "machine: compare ratios within one run). Local single-node Kafka "
             "on the same machine, 4 partitions, `encore gen` events.", "",
             "Wall: process start to the last message handled (encore run: "
             "polling /metrics every 50 ms; backfill: final flush and snapshot "
             "included; the peer: JVM start to caught up, from its own clock). "
             "CPU: user + system seconds of the process, all threads. Peak RSS: "
             "VmHWM of the process. Medians of the runs.", ""]
    for name, cs in cases:
        if not cs:
            continue
        ev = r["events"] if name == "small" else r[name]["events"]
        us = r["users"] if name == "small" else r[name]["users"]
        lines += [f"## {name}: {ev:,} events over {us:,} users", "",
                  "| contender | wall s (runs) | median s | events/s | CPU s | CPU µs/event | peak RSS MiB |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for key, label in NAMES.items():
            c = cs.get(key)
            if not c:
                continue
            lines.append(f"| {label} | {', '.join(f'{x:.2f}' for x in c['wall_s'])} | "
                         f"{c['median_wall_s']:.2f} | {c['eps']:,} | {c['median_cpu_s']:.2f} | "
                         f"{c['cpu_us_per_event']:.2f} | {c['median_rss_mb']:.0f} |")
        g = lambda k, f="eps": cs.get(k, {}).get(f)  # noqa: E731
        lines += ["",
                  f"- encore run (default workers) / encore run --workers 1 = "
                  f"{ratio(g('encore_live'), g('encore_live_w1'))}",
                  f"- encore run / consume-only = {ratio(g('encore_live'), g('consume_only'))}; "
                  f"encore backfill / consume-only = {ratio(g('encore_backfill'), g('consume_only'))}",
                  f"- encore run / Kafka Streams = {ratio(g('encore_live'), g('kstreams'))} "
                  f"(exactly-once: {ratio(g('encore_live'), g('kstreams_eos'))}); "
                  f"encore backfill / Kafka Streams = {ratio(g('encore_backfill'), g('kstreams'))}",
                  f"- CPU per event, encore run / Kafka Streams = "
                  f"{ratio(g('encore_live', 'cpu_us_per_event'), g('kstreams', 'cpu_us_per_event'))}",
                  ""]
        agreement = r.get("agreement") if name == "small" else r[name].get("agreement")
        for k, v in (agreement or {}).items():
            lines.append(f"- same work ({k[10:]}): {v.get('users_compared')} users, "
                         f"{v.get('arms_compared')} arms compared with `encore read --json`, "
                         f"{v.get('differences')} differences (relative tolerance {v.get('rel')})")
        lines.append("")
    if r.get("commit_p99_ms") is not None:
        lines += [f"encore run's commit p99 (small case): {r['commit_p99_ms']} ms.", ""]
    for name, per in (("small", r.get("commit_bytes_per_event")),
                      ("heavy", (r.get("heavy") or {}).get("commit_bytes_per_event"))):
        if per is not None:
            lines += [f"Bytes encore run's commits wrote to RocksDB per event ({name} case): "
                      f"{per} (encore_commit_bytes_total / encore_events_applied_total).", ""]
    for key in ("sustained", "state_10m"):
        lines.append(f"{key}: " + (json.dumps({k: v for k, v in r[key].items() if k != 'detail'})
                                   if r[key] else "null: " + r["not_run"].get(key, "")))
        lines.append("")
    if r["not_run"].get("heavy"):
        lines += [f"heavy: null: {r['not_run']['heavy']}", ""]
    lines += [BEYOND, ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(path, cases, r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = [(n, c, m) for n, c, m in cases if c]
    if not shown:  # neither small nor heavy: the sustained rates, if any
        fig, ax = plt.subplots(figsize=(8, 4))
        sus = r.get("sustained") or {}
        keys = ["encore_eps", "encore_last_quarter_eps", "kstreams_eps", "kstreams_last_quarter_eps"]
        ax.bar([k.replace("_", "\n") for k in keys], [sus.get(k) or 0 for k in keys])
        ax.set_title("sustained: events/s (whole run, last quarter)")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        return
    fig, axes = plt.subplots(len(shown), 2, figsize=(12, 4 * len(shown)), squeeze=False)
    for row, (name, cs, meta) in enumerate(shown):
        keys = [k for k in NAMES if k in cs]
        labels = [k.replace("_", "\n") for k in keys]
        ax = axes[row][0]
        ax.bar(labels, [cs[k]["eps"] for k in keys], color="tab:blue")
        ax.set_title(f"{name}: events/s (median, {meta['events']:,} events)")
        ax.tick_params(axis="x", labelsize=8)
        ax = axes[row][1]
        ax.bar(labels, [cs[k]["cpu_us_per_event"] for k in keys], color="tab:orange")
        ax.set_title(f"{name}: CPU µs per event (all threads)")
        ax.tick_params(axis="x", labelsize=8)
    m = r["machine"]
    fig.suptitle(f"{r['command']} — {m['cores']} cores, load {m['load_before'][0]} → "
                 f"{(r['load_after'] or ['?'])[0]}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    cmd = sys.argv[1]
    if cmd == "machine":
        print(json.dumps(machine()))
    elif cmd == "load":
        print(json.dumps(load()))
    elif cmd == "p99":
        print(json.dumps(hist_p99(sys.argv[2], sys.argv[3], float(sys.argv[4]),
                                  sys.argv[5] if len(sys.argv) > 5 else None)))
    elif cmd == "per-event":
        print(json.dumps(per_event(*sys.argv[2:5])))
    elif cmd == "live-progress":
        pts = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
        print(json.dumps(rates(pts)))
    elif cmd == "peer-progress":
        pts = [tuple(map(float, l.split()[1:3])) for l in open(sys.argv[2])
               if l.startswith("progress ")]
        end = json.load(open(sys.argv[3]))
        pts.append((end["seconds"], float(end["records"])))
        print(json.dumps(rates(pts)))
    elif cmd == "report":
        report(*sys.argv[2:6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
