#!/usr/bin/env python3
"""Checks a Grafana dashboard against the metrics encore actually exposes.

usage: python3 check_dashboard.py DASHBOARD.json METRICS.txt

DASHBOARD.json must parse, and every panel (rows excepted, nested rows
included) must have a title and at least one target. Every metric name
(encore_...) used in a panel target's `expr` or in a query variable must be
one of the series names in METRICS.txt, a Prometheus text exposition (e.g.
`curl -s 127.0.0.1:9464/metrics`): the name of a sample line is the text up
to '{' or a space; lines starting with '#' are ignored. Names are compared
exactly, so a histogram `x` must be used as x_bucket, x_sum or x_count (the
names it is exposed as), not as `x`. Recording-rule names (containing ':')
are not checked.

Take METRICS.txt from an instance that owns at least one partition: the
per-partition families (encore_consumer_lag_messages, encore_rocksdb_*...)
expose no sample line before a partition is assigned.

Exit status: 0 when everything is present, 1 otherwise, 2 on bad usage.
Python 3 standard library only.
"""
import json
import re
import sys

# A metric name starting with encore_, not preceded by a name character (so
# `xencore_foo` or a label name like `my_encore_x` do not count).
METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])encore_[a-zA-Z0-9_:]*")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def exposed_names(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def walk_panels(panels):
    for panel in panels or []:
        yield panel
        # Collapsed rows carry their panels inside.
        yield from walk_panels(panel.get("panels"))


def variable_queries(dashboard):
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        if isinstance(query, str) and query:
            yield "variable ${}".format(var.get("name", "?")), query


def main(argv):
    if len(argv) != 3:
        print("usage: check_dashboard.py DASHBOARD.json METRICS.txt", file=sys.stderr)
        return 2
    dashboard_path, metrics_path = argv[1], argv[2]
    try:
        with open(dashboard_path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        print("{}: not valid JSON: {}".format(dashboard_path, e))
        return 1
    try:
        exposed = exposed_names(metrics_path)
    except OSError as e:
        print("{}: {}".format(metrics_path, e))
        return 1

    problems = []
    exprs = []  # (where, expr)
    for panel in walk_panels(dashboard.get("panels")):
        if panel.get("type") == "row":
            continue
        title = panel.get("title", "")
        where = "panel {!r} (id {})".format(title, panel.get("id"))
        if not isinstance(title, str) or not title.strip():
            problems.append("{}: no title".format(where))
        targets = panel.get("targets") or []
        if not targets:
            problems.append("{}: no targets".format(where))
        for target in targets:
            expr = target.get("expr", "")
            if not isinstance(expr, str) or not expr.strip():
                problems.append("{}: target {} has no expr".format(
                    where, target.get("refId", "?")))
                continue
            exprs.append((where, expr))
    exprs.extend(variable_queries(dashboard))

    used = {}  # name -> first place it is used
    for where, expr in exprs:
        for name in METRIC_RE.findall(expr):
            if ":" in name:
                continue  # a recording rule's output, not an exposed series
            used.setdefault(name, where)

    missing = sorted(n for n in used if n not in exposed)
    for name in missing:
        hint = ""
        if any(name + s in exposed for s in HISTOGRAM_SUFFIXES):
            hint = " (a histogram: use {0}_bucket, {0}_sum or {0}_count)".format(name)
        problems.append("missing metric {} used in {}{}".format(name, used[name], hint))

    if problems:
        for p in problems:
            print(p)
        print("dashboard check: {} problem(s), {} of {} metric names missing".format(
            len(problems), len(missing), len(used)))
        return 1
    print("dashboard metrics: all {} names present".format(len(used)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
