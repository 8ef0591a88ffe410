# SPDX-License-Identifier: MIT
"""The Markdown tables bench/compare.py prints (and docs/benchmarks.md
carries): every figure per system with its repetitions side by side, a
noisy window marked *, then each system's figures as ratios to nginx +
nchan's from the same repetition."""

P99_BOUND_MS = 50.0
FULL = 0.95


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.{digits}f}"


def rate_k(v):
    return "–" if v is None else f"{v / 1000:g}k"


def windows(r):
    return r.get("rates", []) + r.get("ramp", [])


def at(r, rate):
    for w in r.get("rates", []):
        if w["offered"] == rate:
            return w
    return None


def saturation(r):
    """(highest offered rate delivered in full, highest also with p99 <=
    50 ms, peak delivered rate, "+" when the first step that fell short was
    client-bound: the server's own limit is then higher); None when no step
    qualified."""
    ws = sorted(windows(r), key=lambda w: w["offered"])
    full = [w["offered"] for w in ws if w["delivered_share"] >= FULL]
    ok = [w["offered"] for w in ws
          if w["delivered_share"] >= FULL and w["p99_ms"] <= P99_BOUND_MS]
    peak = max((w["delivered_per_s"] for w in ws), default=None)
    short = [w for w in ws if w["delivered_share"] < FULL]
    limit = "+" if short and short[0].get("client_bound") else ""
    return (max(full) if full else None, max(ok) if ok else None, peak, limit)


def marks(w):
    """* noisy, + client-bound (see compare.py)."""
    return ("*" if w.get("noisy") else "") + ("+" if w.get("client_bound") else "")


def figures(args, r):
    """{figure name: (value, marks)} of one result."""
    f = {}
    for rate in args.rates:
        w = at(r, rate)
        if not w:
            continue
        k, m = rate_k(rate), marks(w)
        f[f"CPU µs per delivery @ {k}/s"] = (w["us_per_delivery"], m)
        if w.get("bridge_us_per_delivery") is not None:
            f[f"  of which the bridge @ {k}/s"] = (w["bridge_us_per_delivery"], m)
        f[f"delivered @ {k}/s (%)"] = (100 * w["delivered_share"], m)
        f[f"p50 ms @ {k}/s"] = (w["p50_ms"], m)
        f[f"p99 ms @ {k}/s"] = (w["p99_ms"], m)
        if w.get("rss_kb") is not None:
            f[f"server RSS at the window's end @ {k}/s (MB)"] = (w["rss_kb"] / 1024, m)
        if w.get("writes_per_delivery") is not None:
            f[f"socket writes per delivery @ {k}/s"] = (w["writes_per_delivery"], m)
    first = min(windows(r), key=lambda w: w["offered"], default=None)
    if first and first.get("warmup_events"):
        f[f"deliveries in each warm-up second of the first load ({rate_k(first['offered'])}/s)"] = (
            " + ".join(fmt(x) for x in first["warmup_events"]), "")
    full, ok, peak, limit = saturation(r)
    f["highest rate delivered in full (≥ 95 %)"] = (full, limit)
    f[f"highest rate in full with p99 ≤ {P99_BOUND_MS:g} ms"] = (ok, "")
    f["peak delivered rate (deliveries/s)"] = (peak, limit)
    idle = r.get("idle")
    f["RSS per idle connection (KiB)"] = (r.get("rss_per_conn_kb"), "")
    if idle:
        f[f"idle CPU, {args.conns} connections (% of a core)"] = (100 * idle["cpu_share"],
                                                                  marks(idle))
    ing = r.get("ingest")
    if ing:
        if ing["bridge_cpu_s"] >= 0.9 * ing["seconds"]:
            ing = dict(ing, client_bound=False)  # the bridge is the limit (compare.py)
        f["ingest, validated QoS 1 msgs/s"] = (ing["ingest_per_s"], marks(ing))
        f["  bridge CPU µs per ingested msg"] = (ing["bridge_us_per_msg"], marks(ing))
        f["  broker CPU during ingest (% of a core)"] = (100 * ing["broker_cpu_share"], "")
        peer = ing.get("peer")
        if peer:
            f["  peer: mosquitto_sub (libmosquitto) in the bridge's place, QoS 1 msgs/s"] = (
                peer["ingest_per_s"], "")
            f["  peer: mosquitto_sub CPU µs per msg"] = (peer["us_per_msg"], "")
            f["  peer: broker CPU (% of a core)"] = (100 * peer["broker_cpu_share"], "")
            f["  bridge ingest rate ÷ peer's"] = (
                ing["ingest_per_s"] / peer["ingest_per_s"] if peer["ingest_per_s"] else None, "")
    f["load average at start"] = (r.get("load1_before"), "")
    f["cores busy with others at start"] = (r.get("busy_before"), "")
    ws = windows(r) + ([idle] if idle else [])
    f["most foreign CPU on the server core (%)"] = (
        100 * max((w["foreign_server"] for w in ws), default=0), "")
    f["most run-queue wait of the server (%)"] = (
        100 * max((w["server_wait"] for w in ws), default=0), "")
    return f


RATE_FIGURES = ("highest rate", "peak delivered")


def cell(vals):
    out = []
    for v, m in vals:
        s = fmt(v, 2)
        if v is not None and isinstance(v, (int, float)) and v >= 1000:
            s = fmt(v)
        out.append(s + (m if v is not None else ""))
    return " / ".join(out) if out else "–"


def markdown(args, info, results, names):
    by = {n: [r for r in results if r["system"] == n] for n in names}
    labels = {r["system"]: r["label"] for r in results}
    figs = {n: [figures(args, r) for r in by[n]] for n in names}
    order = []  # every system's figures, each after the one it follows
    for n in names:
        for f in figs[n]:
            prev = None
            for k in f:
                if k not in order:
                    order.insert(order.index(prev) + 1 if prev else len(order), k)
                prev = k
    lines = [f"Machine: {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB, "
             f"kernel {info['kernel']}; {info['nginx']}; {info['mosquitto']}; "
             f"statusbus {info['commit']}.",
             f"{args.conns} subscribers on {args.channels} channels, server on CPU "
             f"{sorted(args.server_cpus)}, load on CPU {sorted(args.load_cpus)}; "
             f"windows {args.window:g} s (fixed rates), {args.ramp_window:g} s (ramp), "
             f"{args.idle_window:g} s (idle), every process at nice {getattr(args, 'nice', 0)}. "
             "Each cell: repetition 1 / 2 …; * = noisy window, + = client-bound "
             "(the load core was full: the server's own limit is higher).",
             "", "| figure | " + " | ".join(labels.get(n, n) for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for k in order:
        row = []
        for n in names:
            vals = [f.get(k, (None, "")) for f in figs[n]]
            if any(x in k for x in RATE_FIGURES):
                vals = [(rate_k(v) if v is not None and "highest" in k else v, m)
                        for v, m in vals]
            row.append(cell(vals))
        lines.append(f"| {k} | " + " | ".join(row) + " |")
    if "nchan" in names and len(names) > 1:
        lines += ["", "Ratios to nginx + nchan in the same repetition (lower is better except "
                  "for rates; rep 1 / rep 2 …):", "",
                  "| figure | " + " | ".join(labels.get(n, n) for n in names if n != "nchan") + " |",
                  "|---|" + "---:|" * (len(names) - 1)]
        keys = [k for k in order if k.startswith(("CPU µs", "p99", "RSS", "idle CPU", "highest"))]
        for k in keys:
            row = []
            for n in names:
                if n == "nchan":
                    continue
                rs = []
                for mine, ref in zip(figs[n], figs["nchan"]):
                    a, b = mine.get(k, (None, "")), ref.get(k, (None, ""))
                    if a[0] is None or not b[0]:
                        rs.append("–")
                    else:
                        rs.append(f"{a[0] / b[0]:.2f}" + "".join(sorted(set(a[1] + b[1]))))
                row.append(" / ".join(rs))
            lines.append(f"| {k} | " + " | ".join(row) + " |")
    if "statusbus" in names and "nchan" in names:
        lines += ["", "Issue 13's targets (rep 1 / rep 2 …; met = in every repetition):", ""]
        lines += targets(args, names, labels, figs)
    return "\n".join(lines)


def targets(args, names, labels, figs):
    """The rows of issue 13's targets: statusbus beside the others."""
    def vals(n, k):
        return [f.get(k, (None, "")) for f in figs.get(n, [])]

    def ratio_ok(k, bound):
        mine, ref = vals("statusbus", k), vals("nchan", k)
        rs = [a[0] / b[0] if a[0] is not None and b[0] else None for a, b in zip(mine, ref)]
        return rs, all(r is not None and r <= bound for r in rs) and bool(rs)

    rows = []
    cols = [n for n in names if n != "statusbus"] + ["statusbus"]
    head = "| target | " + " | ".join(labels.get(n, n) for n in cols) + " | met |"
    out = [head, "|---|" + "---:|" * len(cols) + ":---:|"]
    for rate in (20000, 200000):
        k = f"CPU µs per delivery @ {rate_k(rate)}/s"
        rs, ok = ratio_ok(k, 0.3)
        rows.append((f"CPU per delivery @ {rate_k(rate)}/s ≤ 0.3 × nchan (µs; ratio)", k, ok,
                     " / ".join("–" if r is None else f"{r:.2f}" for r in rs)))
    k = "p99 ms @ 20k/s"
    rows.append(("p99 @ 20k/s ≤ nchan's (ms)", k, ratio_ok(k, 1.0)[1], None))
    k = "p99 ms @ 100k/s"
    mine = vals("statusbus", k)
    rows.append(("p99 @ 100k/s ≤ 2 ms and ≤ nchan's (ms)", k, ratio_ok(k, 1.0)[1] and bool(mine)
                 and all(v is not None and v <= 2 for v, _ in mine), None))
    k = f"highest rate in full with p99 ≤ {P99_BOUND_MS:g} ms"
    mine = vals("statusbus", k)
    rows.append(("sustained ≥ 500k/s with p99 ≤ 50 ms (server pinned to "
                 f"{len(args.server_cpus)} core(s))", k,
                 bool(mine) and all(v is not None and v >= 500000 for v, _ in mine), None))
    k = "RSS per idle connection (KiB)"
    mine = vals("statusbus", k)
    rows.append(("≤ 3 KiB RSS per idle connection", k,
                 bool(mine) and all(v is not None and v <= 3 for v, _ in mine), None))
    k = f"idle CPU, {args.conns} connections (% of a core)"
    mine = vals("statusbus", k)
    rows.append((f"{args.conns} idle connections ≤ 2 % of a core", k,
                 bool(mine) and all(v is not None and v <= 2 for v, _ in mine), None))
    k = "ingest, validated QoS 1 msgs/s"
    mine = vals("statusbus", k)
    peer = [v for v, _ in vals("statusbus", "  peer: mosquitto_sub (libmosquitto) in the bridge's place, QoS 1 msgs/s")
            if v is not None]
    rows.append(("ingest ≥ 150k validated QoS 1 msgs/s", k,
                 bool(mine) and all(v is not None and v >= 150000 for v, _ in mine),
                 ("mosquitto_sub on the same broker: " + " / ".join(fmt(v) for v in peer))
                 if peer else None))
    for title, k, ok, extra in rows:
        cells = []
        for n in cols:
            v = vals(n, k)
            if "highest" in k:
                v = [(rate_k(x) if x is not None else None, m) for x, m in v]
            c = cell(v)
            if n == "statusbus" and extra:
                c += f" ({extra})"
            cells.append(c)
        out.append(f"| {title} | " + " | ".join(cells) + f" | {'yes' if ok else 'no'} |")
    return out
