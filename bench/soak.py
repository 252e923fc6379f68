#!/usr/bin/env python3
"""Sampler and report of bench/soak.sh (not part of the test suite).

  soak.py sample PID METRICS_URL INTERVAL_S DURATION_S CSV
      every INTERVAL_S: RSS (VmRSS), open fds (/proc/PID/fd), and over the
      interval just ended the p99 of encore_commit_duration_seconds and of
      encore_event_commit_latency_seconds (from the histograms' bucket
      deltas, interpolated like Prometheus' histogram_quantile), events
      consumed, cache bytes. Standard library only.
  soak.py report CSV PNG MARKDOWN TITLE
      plots the CSV and writes a summary with RSS and fd slopes (least
      squares, per hour). Needs bench/soak-requirements.txt.
"""
import csv
import math
import os
import sys
import time
import urllib.request

FIELDS = ["t_s", "rss_mib", "fds", "commit_p99_s", "event_commit_p99_s",
          "events_per_s", "cache_mib", "consumed"]


def scrape(url):
    """{name: value} and {histogram: [(le, cumulative)]} of one scrape."""
    values, buckets = {}, {}
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            if "_bucket{" in name and 'le="' in name:
                base = name.split("_bucket{")[0]
                le = name.split('le="')[1].split('"')[0]
                buckets.setdefault(base, []).append(
                    (math.inf if le == "+Inf" else float(le), float(value)))
            else:
                values[name] = float(value)
    return values, buckets


def p99(before, after):
    """p99 of the observations between two cumulative bucket lists."""
    if not before or not after:
        return ""
    delta = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = delta[-1][1]
    if total <= 0:
        return ""
    rank, lower, below = 0.99 * total, 0.0, 0.0
    for le, cum in delta:
        if cum >= rank:
            if math.isinf(le):
                return lower  # above the last finite bucket: its bound
            return lower + (le - lower) * (rank - below) / max(cum - below, 1e-12)
        lower, below = le, cum
    return ""


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sample(pid, url, interval, duration, out):
    start = time.monotonic()
    prev_values, prev_buckets = scrape(url)
    prev_t = start
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        while time.monotonic() - start < duration:
            time.sleep(max(0.0, prev_t + interval - time.monotonic()))
            if not os.path.exists(f"/proc/{pid}"):
                sys.exit(f"soak.py: encore (pid {pid}) is gone")
            values, buckets = scrape(url)
            now = time.monotonic()
            consumed = values.get("encore_events_consumed_total", 0.0)
            rate = (consumed - prev_values.get("encore_events_consumed_total", 0.0)) / (now - prev_t)
            row = [
                round(now - start, 1),
                round(rss_mib(pid), 1),
                len(os.listdir(f"/proc/{pid}/fd")),
                p99(prev_buckets.get("encore_commit_duration_seconds"),
                    buckets.get("encore_commit_duration_seconds")),
                p99(prev_buckets.get("encore_event_commit_latency_seconds"),
                    buckets.get("encore_event_commit_latency_seconds")),
                round(rate),
                round(values.get("encore_cache_bytes", 0.0) / 2**20, 1),
                int(consumed),
            ]
            w.writerow(row)
            f.flush()
            print("soak: " + " ".join(f"{k}={v}" for k, v in zip(FIELDS, row)),
                  file=sys.stderr)
            prev_values, prev_buckets, prev_t = values, buckets, now


def slope_per_hour(ts, ys):
    """Least-squares slope of ys over ts (seconds), per hour."""
    n = len(ts)
    if n < 2:
        return float("nan")
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    return 3600 * sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else float("nan")


def report(csv_path, png, md, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    t = [float(r["t_s"]) for r in rows]
    col = lambda k: [float(r[k]) if r[k] != "" else float("nan") for r in rows]
    rss, fds = col("rss_mib"), col("fds")
    commit, e2c, rate = col("commit_p99_s"), col("event_commit_p99_s"), col("events_per_s")
    # Slopes after the first minute (start-up: caches and queues filling).
    warm = [i for i, x in enumerate(t) if x >= 60] or list(range(len(t)))
    rss_slope = slope_per_hour([t[i] for i in warm], [rss[i] for i in warm])
    fd_slope = slope_per_hour([t[i] for i in warm], [fds[i] for i in warm])

    fig, ax = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    minutes = [x / 60 for x in t]
    ax[0].plot(minutes, rss)
    ax[0].set_ylabel("RSS (MiB)")
    ax[0].set_title(f"{title.splitlines()[0].lstrip('# ')}\nRSS slope {rss_slope:+.2f} MiB/h, fd slope {fd_slope:+.2f}/h (after 1 min)")
    ax[1].plot(minutes, fds)
    ax[1].set_ylabel("open fds")
    ax[2].plot(minutes, commit, label="commit duration p99")
    ax[2].plot(minutes, e2c, label="event -> commit p99")
    ax[2].set_yscale("log")
    ax[2].set_ylabel("seconds")
    ax[2].legend()
    ax[3].plot(minutes, rate)
    ax[3].set_ylabel("events/s")
    ax[3].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(png, dpi=80)

    finite = lambda xs: [x for x in xs if not math.isnan(x)]
    q = lambda xs, f: f(finite(xs)) if finite(xs) else float("nan")
    with open(md, "w") as f:
        f.write(f"{title}\n\n")
        f.write(f"![soak]({os.path.basename(png)})\n\n")
        f.write("| figure | value |\n|---|---:|\n")
        f.write(f"| samples (10 s apart) | {len(rows)} |\n")
        f.write(f"| RSS first / max / last (MiB) | {rss[0]:.0f} / {max(rss):.0f} / {rss[-1]:.0f} |\n")
        f.write(f"| RSS slope after 1 min (MiB/h) | {rss_slope:+.2f} |\n")
        f.write(f"| open fds min / max | {min(fds):.0f} / {max(fds):.0f} |\n")
        f.write(f"| fd slope after 1 min (/h) | {fd_slope:+.2f} |\n")
        f.write(f"| commit duration p99 per interval, median / max (s) | {q(commit, lambda x: sorted(x)[len(x)//2]):.4f} / {q(commit, max):.4f} |\n")
        f.write(f"| event -> commit p99 per interval, median / max (s) | {q(e2c, lambda x: sorted(x)[len(x)//2]):.3f} / {q(e2c, max):.3f} |\n")
        f.write(f"| events/s per interval, median | {q(rate, lambda x: sorted(x)[len(x)//2]):.0f} |\n")
    print(f"RSS slope {rss_slope:+.2f} MiB/h, fd slope {fd_slope:+.2f}/h", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "sample":
        sample(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    elif len(sys.argv) == 6 and sys.argv[1] == "report":
        report(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
